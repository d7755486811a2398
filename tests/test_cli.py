"""The ``community`` command, run in-process through ``community.cli.main``.

``main`` runs its own event loop, so these tests are plain functions; anything they check in
the database goes through a fresh engine inside ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts import services
from community.app import create_app
from community.cli import main
from community.db import create_engine, create_sessionmaker
from community.errors import ServiceError
from community.plugins import Plugins, active, set_enabled
from community.settings import Settings
from community.testing import BASE_URL, PASSWORD
from tests.plugins import hello

T = TypeVar("T")

LINK_RE = re.compile(rf"^{re.escape(BASE_URL)}/invite/([A-Za-z0-9_-]{{32}})$")


@pytest.fixture(autouse=True)
def cli_env(app: Litestar, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI reads the same settings as the test app (whose fixture empties the tables)."""
    for key in ("COMMUNITY_DATABASE_URL", "COMMUNITY_REDIS_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    root = logging.getLogger()
    level = root.level
    quiet_logging()
    yield
    root.setLevel(level)


def quiet_logging() -> None:
    """Log as a fresh `community` process does: warnings only. Creating a Litestar app (as the
    `app` fixture does) points the root logger at stderr at level INFO, which would put
    Alembic's progress messages among the CLI's own output."""
    logging.getLogger().setLevel(logging.WARNING)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    """Run a command that must succeed; its stdout lines."""
    capsys.readouterr()
    main(list(args))
    out = capsys.readouterr()
    assert out.err == "", out.err
    return out.out.splitlines()


def fail(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run a command that must fail: exit code 2 and exactly one line on stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    assert exit_.value.code == 2
    out = capsys.readouterr()
    lines = out.err.splitlines()
    assert len(lines) == 1, out.err
    assert lines[0].startswith("community: error: "), lines[0]
    return lines[0]


def with_db(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def go() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as db:
                return await work(db)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def add_member(settings: Settings, username: str, role: str = "member") -> None:
    with_db(
        settings,
        lambda db: services.create_member(db, username=username, password=PASSWORD, role=role),
    )


def service_error(settings: Settings, work: Callable[[AsyncSession], Awaitable[Any]]) -> str:
    """The code of the ServiceError that ``work`` raises."""
    with pytest.raises(ServiceError) as caught:
        with_db(settings, work)
    return caught.value.code


def members(capsys: pytest.CaptureFixture[str]) -> dict[str, list[str]]:
    """`user list` as {username: [role, status, joined, invited by]}."""
    header, *rows = run(capsys, "user", "list")
    assert header.split()[:3] == ["USERNAME", "ROLE", "STATUS"]
    return {row.split()[0]: row.split()[1:] for row in rows}


def invites(capsys: pytest.CaptureFixture[str]) -> list[list[str]]:
    """`invite list` rows, split on whitespace: id, state, uses, ..."""
    header, *rows = run(capsys, "invite", "list")
    assert header.split()[:3] == ["ID", "STATE", "USES"]
    return [row.split() for row in rows]


# ---------------------------------------------------------------------------------------------
# init


def test_init_prints_a_setup_link_that_a_second_run_replaces(
    capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    first = run(capsys, "init")
    match = LINK_RE.match(first[-1])
    assert match, first
    old_token = match.group(1)

    second = run(capsys, "init")
    match = LINK_RE.match(second[-1])
    assert match, second
    new_token = match.group(1)
    assert new_token != old_token

    assert service_error(settings, lambda db: services.find_invite(db, old_token)) == (
        "invite_revoked"
    )
    # The setup link is not an ordinary invite: admins do not see it in the list.
    assert invites(capsys) == []

    # The new link works and makes its user the admin; then init has nothing left to do.
    admin = with_db(
        settings,
        lambda db: services.redeem_invite(db, new_token, username="root", password=PASSWORD),
    )
    assert admin.role == "admin"
    third = run(capsys, "init")
    assert third == ["Database ready. Admin: root."]
    assert service_error(settings, lambda db: services.find_invite(db, new_token)) == (
        "invite_used"
    )


def test_init_creates_the_admin_once(
    capsys: pytest.CaptureFixture[str], settings: Settings, tmp_path: Path
) -> None:
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")

    out = run(
        capsys, "init", "--admin-username", "root", "--admin-password-file", str(password_file)
    )
    assert out == ["Database ready. Created the admin root."]
    assert members(capsys)["root"][:2] == ["admin", "active"]
    # The trailing newline of the file is not part of the password.
    signed_in = with_db(settings, lambda db: services.authenticate(db, "root", PASSWORD))
    assert signed_in.username == "root"

    again = run(
        capsys, "init", "--admin-username", "other", "--admin-password-file", str(password_file)
    )
    assert again == ["Database ready. Admin: root."]
    assert list(members(capsys)) == ["root"]


def test_init_password_file_needs_a_username(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD)
    line = fail(capsys, "init", "--admin-password-file", str(password_file))
    assert "--admin-username" in line
    assert members(capsys) == {}


def test_init_missing_password_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "no-such-password"
    line = fail(capsys, "init", "--admin-username", "root", "--admin-password-file", str(missing))
    assert "no-such-password" in line
    assert members(capsys) == {}


def test_commands_refuse_an_unmigrated_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMMUNITY_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    line = fail(capsys, "user", "list")
    assert "not migrated" in line and "community init" in line

    assert LINK_RE.match(run(capsys, "init")[-1])
    assert members(capsys) == {}


# ---------------------------------------------------------------------------------------------
# db


def test_db_current_and_check(capsys: pytest.CaptureFixture[str]) -> None:
    current = run(capsys, "db", "current")
    installed = Plugins()
    with_tables = [p for p in installed.loaded if installed.first(p.name, "register_migrations")]
    assert len(current) == 1 + len(with_tables), current  # the core, then each plugin's
    assert all(line.endswith("(head)") for line in current), current

    check = run(capsys, "db", "check")
    assert "Models and migrations agree." in check


# ---------------------------------------------------------------------------------------------
# invite


def test_invite_create_list_revoke(capsys: pytest.CaptureFixture[str], settings: Settings) -> None:
    with_db(settings, lambda db: services.create_group(db, "artists"))

    out = run(
        capsys,
        "invite",
        "create",
        "--uses",
        "3",
        "--expires",
        "2d",
        "--note",
        "x",
        "--group",
        "artists",
    )
    assert len(out) == 1, out
    match = LINK_RE.match(out[0])
    assert match, out
    token = match.group(1)

    invite = with_db(settings, lambda db: services.find_invite(db, token))
    assert invite.max_uses == 3
    assert invite.note == "x"
    assert [group.name for group in invite.groups] == ["artists"]
    assert invite.expires_at is not None
    in_two_days = datetime.now(UTC) + timedelta(days=2)
    assert abs(invite.expires_at - in_two_days) < timedelta(minutes=5)

    (row,) = invites(capsys)
    invite_id, state, uses = row[:3]
    assert int(invite_id) == invite.id
    assert (state, uses) == ("active", "0/3")
    assert f"{invite.expires_at:%Y-%m-%d}" in row
    assert row[-1] == "x"

    assert run(capsys, "invite", "revoke", invite_id) == [f"Revoked invite {invite_id}."]
    (row,) = invites(capsys)
    assert row[:2] == [invite_id, "revoked"]
    assert service_error(settings, lambda db: services.find_invite(db, token)) == ("invite_revoked")


def test_invite_create_with_unknown_group_creates_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = fail(capsys, "invite", "create", "--group", "nosuchgroup")
    assert "nosuchgroup" in line
    assert invites(capsys) == []


def test_invite_create_with_bad_expiry(capsys: pytest.CaptureFixture[str]) -> None:
    line = fail(capsys, "invite", "create", "--expires", "bogus")
    assert "bogus" in line
    assert invites(capsys) == []


def test_invite_revoke_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    line = fail(capsys, "invite", "revoke", "999999")
    assert "999999" in line


# ---------------------------------------------------------------------------------------------
# user


def test_user_list_and_set_role(capsys: pytest.CaptureFixture[str], settings: Settings) -> None:
    add_member(settings, "root", role="admin")
    add_member(settings, "alice")

    listed = members(capsys)
    assert list(listed) == ["alice", "root"]
    assert listed["alice"][:2] == ["member", "active"]
    assert listed["root"][:2] == ["admin", "active"]
    assert listed["alice"][2] == f"{datetime.now(UTC):%Y-%m-%d}"

    assert run(capsys, "user", "set-role", "alice", "moderator") == ["alice is now moderator."]
    assert members(capsys)["alice"][0] == "moderator"

    line = fail(capsys, "user", "set-role", "alice", "wizard")
    assert "moderator" in line and "admin" in line  # names the valid roles
    assert members(capsys)["alice"][0] == "moderator"

    line = fail(capsys, "user", "set-role", "ghost", "admin")
    assert "ghost" in line
    assert "ghost" not in members(capsys)

    line = fail(capsys, "user", "set-role", "root", "member")
    assert "last admin" in line
    assert members(capsys)["root"][0] == "admin"


def test_user_suspend_and_unsuspend(capsys: pytest.CaptureFixture[str], settings: Settings) -> None:
    add_member(settings, "alice")

    line = fail(capsys, "user", "suspend", "alice", "--until", "2000-01-01")
    assert "future" in line
    line = fail(capsys, "user", "suspend", "alice", "--until", "notadate")
    assert "notadate" in line
    assert members(capsys)["alice"][1] == "active"

    out = run(capsys, "user", "suspend", "alice", "--until", "2999-01-01", "--reason", "spam")
    assert out == ["Suspended alice until 2999-01-01."]
    assert members(capsys)["alice"][1] == "suspended"
    with pytest.raises(ServiceError) as caught:
        with_db(settings, lambda db: services.authenticate(db, "alice", PASSWORD))
    assert caught.value.code == "suspended"
    assert "2999-01-01" in caught.value.detail and "spam" in caught.value.detail

    assert run(capsys, "user", "unsuspend", "alice") == ["alice is no longer suspended."]
    assert members(capsys)["alice"][1] == "active"
    assert with_db(settings, lambda db: services.authenticate(db, "alice", PASSWORD))


def test_user_suspend_unknown_member(capsys: pytest.CaptureFixture[str]) -> None:
    line = fail(capsys, "user", "suspend", "ghost")
    assert "ghost" in line


# ---------------------------------------------------------------------------------------------
# token


def test_token_create_gives_a_working_api_token(
    capsys: pytest.CaptureFixture[str], settings: Settings, namespace: str
) -> None:
    add_member(settings, "alice")

    out = run(capsys, "token", "create", "alice")
    assert len(out) == 1, out
    token = out[0]
    assert token.startswith("cmt_") and " " not in token

    # A fresh app: the fixture's app holds connections bound to the test session's loop.
    fresh = create_app(settings, namespace=namespace, plugins=Plugins(discover=False))
    quiet_logging()
    with TestClient(app=fresh, base_url=BASE_URL) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        assert me.json()["username"] == "alice"

        wrong = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}x"})
        assert wrong.status_code == 401

        # Suspending from the command line stops the token at once.
        run(capsys, "user", "suspend", "alice", "--reason", "spam")
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 403, me.text


def test_token_create_for_unknown_member(capsys: pytest.CaptureFixture[str]) -> None:
    line = fail(capsys, "token", "create", "ghost")
    assert "ghost" in line


def test_an_unreachable_database_is_one_line_and_exit_2(cli_env, monkeypatch, capsys):
    monkeypatch.setenv("COMMUNITY_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert "Connect" in fail(capsys, "user", "list")


def test_several_workers_need_redis(cli_env, monkeypatch, capsys):
    monkeypatch.delenv("COMMUNITY_REDIS_URL", raising=False)
    assert "COMMUNITY_REDIS_URL" in fail(capsys, "serve", "--workers", "2")


@pytest.mark.hook("register_commands")
def test_a_plugin_adds_commands_that_run_only_while_it_is_enabled(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    manager = Plugins(modules=[hello], discover=False)
    capsys.readouterr()
    main(["--help"], plugins=manager)
    assert re.search(r"^  hello +Says hello", capsys.readouterr().out, re.MULTILINE)
    with pytest.raises(SystemExit) as exit_:
        main(["hello", "greet", "Ann"], plugins=manager)
    assert exit_.value.code == 2
    assert "plugin hello is disabled" in capsys.readouterr().err
    with_db(settings, lambda db: set_enabled(db, manager, "hello", True))
    main(["hello", "greet", "Ann"], plugins=manager)
    assert capsys.readouterr().out == "Hello, Ann!\n"
    assert active() is None  # the command's plugins are not left active
