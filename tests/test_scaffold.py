"""``community plugins new NAME``: the skeleton it writes is a plugin that loads, passes its
own tests on ``community.testing`` and lints clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from community.cli import main

ROOT = Path(__file__).parents[1]


def clean_env(target: Path) -> dict[str, str]:
    """The skeleton's tests run on their own SQLite database, never on this run's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMUNITY_")}
    return {**env, "PYTHONPATH": str(target)}


def test_a_new_plugin_passes_its_own_tests_and_lints_clean(tmp_path: Path) -> None:
    main(["plugins", "new", "scaffolded", "--directory", str(tmp_path)])
    target = tmp_path / "community-scaffolded"
    package = target / "community_scaffolded"
    for path in (
        target / "pyproject.toml",
        target / "README.md",
        package / "plugin.py",
        package / "templates" / "scaffolded" / "log.html",
        package / "static" / "scaffolded.css",
        package / "migrations" / "scaffolded_0001_log.py",
        target / "tests" / "test_plugin.py",
    ):
        assert path.is_file(), path
    assert 'scaffolded = "community_scaffolded.plugin"' in (target / "pyproject.toml").read_text()
    assert "__NAME__" not in "".join(p.read_text() for p in target.rglob("*") if p.is_file())

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=target,
        env=clean_env(target),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout
    lint = subprocess.run(
        [Path(sys.executable).parent / "ruff", "check", "--no-cache", "."],
        cwd=target,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Hello", "not a plugin name"),
        ("9lives", "not a plugin name"),
        ("my-plugin", "not a plugin name"),
        ("a" * 28, "at most 27"),
    ],
)
def test_bad_names_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["plugins", "new", name, "--directory", str(tmp_path)])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "community-taken").mkdir()
    (tmp_path / "community-taken" / "mine.txt").write_text("keep me")
    with pytest.raises(SystemExit) as exit_:
        main(["plugins", "new", "taken", "--directory", str(tmp_path)])
    assert exit_.value.code == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "community-taken" / "mine.txt").read_text() == "keep me"
