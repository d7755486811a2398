"""``load_settings``: defaults, normalisation, and one clear error per bad variable."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from community.settings import SettingsError, load_settings


def env_for(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"COMMUNITY_VAR_DIR": str(tmp_path), **values}


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(env_for(tmp_path))

    assert settings.var_dir == tmp_path.resolve()
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'community.db'}"
    assert settings.is_sqlite
    assert settings.redis_url is None
    assert settings.base_url == "http://127.0.0.1:8000"
    assert not settings.secure_cookies
    assert settings.name == "Community"


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings(env_for(tmp_path))
    key_file = tmp_path / "secret_key"

    assert len(first.secret_key) >= 32
    assert key_file.read_text().strip() == first.secret_key
    if os.name == "posix":
        assert stat.S_IMODE(key_file.stat().st_mode) & 0o077 == 0, "others can read the key"

    second = load_settings(env_for(tmp_path))
    assert second.secret_key == first.secret_key

    other = load_settings(env_for(tmp_path / "elsewhere"))
    assert other.secret_key != first.secret_key


def test_var_dir_is_created_for_the_secret_key(tmp_path: Path) -> None:
    var_dir = tmp_path / "new" / "var"
    settings = load_settings(env_for(var_dir))
    assert (var_dir / "secret_key").read_text().strip() == settings.secret_key


def test_given_secret_key_is_used_and_not_stored(tmp_path: Path) -> None:
    key = "k" * 32
    settings = load_settings(env_for(tmp_path, COMMUNITY_SECRET_KEY=key))
    assert settings.secret_key == key
    assert not (tmp_path / "secret_key").exists()


def test_given_values_are_used(tmp_path: Path) -> None:
    settings = load_settings(
        env_for(
            tmp_path,
            COMMUNITY_REDIS_URL="redis://cache.example:6379/2",
            COMMUNITY_BASE_URL="https://forum.example.org/",
            COMMUNITY_NAME="  Gardeners  ",
        )
    )
    assert settings.redis_url == "redis://cache.example:6379/2"
    assert settings.base_url == "https://forum.example.org"
    assert settings.secure_cookies
    assert settings.name == "Gardeners"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgresql://u:pw@db.example:5433/forum",
            "postgresql+asyncpg://u:pw@db.example:5433/forum",
        ),
        ("postgres://u@db.example/forum", "postgresql+asyncpg://u@db.example/forum"),
        ("postgresql+psycopg2://u@db.example/forum", "postgresql+asyncpg://u@db.example/forum"),
        ("sqlite:////srv/forum/forum.db", "sqlite+aiosqlite:////srv/forum/forum.db"),
        ("sqlite+aiosqlite:////srv/forum.db", "sqlite+aiosqlite:////srv/forum.db"),
    ],
)
def test_database_url_is_normalised_to_async_drivers(
    tmp_path: Path, given: str, expected: str
) -> None:
    settings = load_settings(env_for(tmp_path, COMMUNITY_DATABASE_URL=given))
    assert settings.database_url == expected
    assert settings.is_sqlite == expected.startswith("sqlite")


def test_password_with_special_characters_survives(tmp_path: Path) -> None:
    url = "postgresql://u:p%40ss%2Fw@db.example/forum"
    settings = load_settings(env_for(tmp_path, COMMUNITY_DATABASE_URL=url))
    assert settings.database_url == "postgresql+asyncpg://u:p%40ss%2Fw@db.example/forum"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("COMMUNITY_DATABASE_URL", "garbage"),
        ("COMMUNITY_DATABASE_URL", "mysql://u@db.example/forum"),
        ("COMMUNITY_DATABASE_URL", "postgresql://db.example:notaport/forum"),
        ("COMMUNITY_REDIS_URL", "http://x"),
        ("COMMUNITY_REDIS_URL", "redis://"),
        ("COMMUNITY_BASE_URL", "ftp://x"),
        ("COMMUNITY_BASE_URL", "not a url"),
        ("COMMUNITY_BASE_URL", "http://forum.example?lang=en"),
        ("COMMUNITY_BASE_URL", "http://forum.example/#top"),
        ("COMMUNITY_BASE_URL", "http://forum.example?"),
        ("COMMUNITY_SECRET_KEY", "short"),
        ("COMMUNITY_SECRET_KEY", "x" * 31),
        ("COMMUNITY_NAME", ""),
        ("COMMUNITY_NAME", "   "),
        ("COMMUNITY_NAME", "n" * 101),
    ],
)
def test_bad_value_names_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env_for(tmp_path, **{variable: value}))
    assert str(caught.value).startswith(variable + ":")


def test_cli_reports_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "community"
    env = {key: value for key, value in os.environ.items() if not key.startswith("COMMUNITY_")}
    env.update(COMMUNITY_VAR_DIR=str(tmp_path), COMMUNITY_DATABASE_URL="mysql://x")

    done = subprocess.run(
        [str(script), "user", "list"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("community: error: COMMUNITY_DATABASE_URL:")
    assert "mysql" in lines[0]
    assert done.stdout == ""


def test_a_damaged_generated_secret_key_is_refused(tmp_path):
    (tmp_path / "secret_key").write_text("")
    with pytest.raises(SettingsError, match="^COMMUNITY_SECRET_KEY: .*damaged"):
        load_settings({"COMMUNITY_VAR_DIR": str(tmp_path)})


def test_redis_namespace_is_read_and_checked(tmp_path: Path) -> None:
    assert load_settings(env_for(tmp_path)).redis_namespace == "community"
    given = load_settings(env_for(tmp_path, COMMUNITY_REDIS_NAMESPACE="forum-b"))
    assert given.redis_namespace == "forum-b"
    with pytest.raises(SettingsError, match="COMMUNITY_REDIS_NAMESPACE"):
        load_settings(env_for(tmp_path, COMMUNITY_REDIS_NAMESPACE="Forum B:"))
