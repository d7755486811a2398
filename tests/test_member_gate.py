"""The ``check_member`` gate at invite redemption (reject with a reason, hold as a pending
account that an admin approves or rejects, fail closed) and the account events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, update

from community.accounts import services
from community.accounts.models import Invite, Member
from community.accounts.security import hash_token
from community.cli import main
from community.db import create_engine, create_sessionmaker
from community.testing import (
    PASSWORD,
    api_token,
    browser,
    enable_plugin,
    make_invite,
    make_member,
    plugin_health,
    post_form,
    sign_in,
)
from tests.plugins import doorman

HELD = "New here: an admin will have a look."
WAITING = "waiting for approval by an admin"


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [doorman]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["doorman"]


@pytest.fixture(autouse=True)
def forget() -> None:
    doorman.asked.clear()
    doorman.seen.clear()


async def join(client: Any, token: str, username: str, email: str = "") -> Any:
    """Fill in the invite form as a browser does."""
    return await post_form(
        client,
        f"/invite/{token}",
        {
            "username": username,
            "email": email,
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
    )


async def register(client: Any, token: str, username: str) -> Any:
    body = {"invite": token, "username": username, "password": PASSWORD}
    return await client.post("/api/v1/auth/register", json=body)


async def uses(app: Any, token: str) -> int:
    async with app.state.sessionmaker() as db:
        return await db.scalar(select(Invite.uses).where(Invite.token_hash == hash_token(token)))


async def find(app: Any, username: str) -> Member | None:
    async with app.state.sessionmaker() as db:
        return await db.scalar(select(Member).where(Member.username_key == username.lower()))


async def settled() -> None:
    await asyncio.sleep(0.05)  # track_event runs as a task after the commit


async def forget_events() -> None:
    """Start counting events here (setup's own arrive a moment after their commit)."""
    await settled()
    doorman.seen.clear()


def seen(name: str) -> list[Any]:
    return [event for event in doorman.seen if event.name == name]


@pytest.mark.hook("check_member")
async def test_a_rejected_member_sees_the_reason_and_the_invite_stays_usable(app, client, admin):
    token = await make_invite(app, admin)
    await forget_events()
    page = await join(client, token, "spammer", "spam@example.com")
    assert page.status_code == 422
    assert "We do not let spammers in." in page.text
    assert 'value="spammer"' in page.text  # the form keeps what was typed
    assert doorman.asked == [("spammer", "spam@example.com")]
    api = await register(client, token, "spambot")
    assert api.status_code == 422
    assert api.json() == {"error": "rejected", "detail": "We do not let spammers in."}
    assert await uses(app, token) == 0
    assert await find(app, "spammer") is None and await find(app, "spambot") is None
    await settled()
    assert doorman.seen == []  # nothing was written, so nothing happened

    welcome = await join(client, token, "carol")
    assert welcome.url.path == "/" and "Welcome, carol" in welcome.text


@pytest.mark.hook("check_member")
async def test_a_held_member_waits_and_cannot_sign_in(app, client, admin):
    token = await make_invite(app, admin)
    page = await join(client, token, "newbie", "newbie@example.com")
    assert page.status_code == 200
    assert WAITING in page.text and HELD in page.text
    assert (await client.get("/")).url.path == "/signin"  # not signed in
    assert await uses(app, token) == 1  # the invite was used: the account exists
    held = await find(app, "newbie")
    assert held is not None and held.is_pending and held.pending_reason == HELD

    refused = await post_form(client, "/signin", {"username": "newbie", "password": PASSWORD})
    assert refused.status_code == 403 and WAITING in refused.text
    assert refused.url.path == "/signin"
    wrong = await post_form(client, "/signin", {"username": "newbie", "password": "x" * 12})
    assert wrong.status_code == 401  # without the password, nothing says the account exists
    api = await client.post("/api/v1/auth/token", json={"username": "newbie", "password": PASSWORD})
    assert api.status_code == 403 and api.json()["error"] == "pending"
    assert WAITING in api.json()["detail"]
    again = await join(client, await make_invite(app, admin), "NEWBIE")
    assert again.status_code == 409  # a pending account keeps its name


async def test_a_held_member_through_the_api_gets_202_and_no_token(app, client, admin):
    token = await make_invite(app, admin)
    response = await register(client, token, "newcomer")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and WAITING in body["detail"]
    assert body["member"]["username"] == "newcomer" and body["member"]["pending"] is True
    assert "token" not in body
    async with app.state.sessionmaker() as db:
        member = await services.member_by_username(db, "newcomer")
        assert await services.list_api_tokens(db, member) == []

    joined = await register(client, await make_invite(app, admin), "carol")
    assert joined.status_code == 201
    assert joined.json()["status"] == "active" and joined.json()["member"]["pending"] is False


async def test_an_admin_approves_a_held_member_who_then_joins(app, client, admin):
    token = await make_invite(app, admin)
    await forget_events()
    await join(client, token, "newbie")
    held = await find(app, "newbie")
    await settled()
    assert [e.member_id for e in seen("InviteRedeemed")] == [held.id]
    assert seen("MemberJoined") == []  # not yet: the account is not usable

    async with browser(app) as root:
        await sign_in(root, "admin")
        page = await root.get("/admin/members")
        assert "Waiting for approval" in page.text
        assert HELD in page.text and "Approve newbie" in page.text
        assert page.text.index("Waiting for approval") < page.text.index('id="members"')
        approved = await post_form(
            root, f"/admin/members/pending/{held.id}/approve", {}, page="/admin/members"
        )
        assert approved.status_code == 200
        assert "Approved newbie" in approved.text
        assert "Waiting for approval" not in approved.text
        twice = await post_form(
            root, f"/admin/members/pending/{held.id}/approve", {}, page="/admin/members"
        )
        assert twice.status_code == 409 and "not waiting for approval" in twice.text

    await settled()
    joined = seen("MemberJoined")
    assert len(joined) == 1 and joined[0].member_id == held.id
    assert joined[0].invited_by_id == admin.id and joined[0].invite_id == held.invite_id
    assert (await find(app, "newbie")).approved_at is not None
    await sign_in(client, "newbie")
    assert (await client.get("/")).url.path == "/"
    assert "Welcome, newbie" in (await client.get("/")).text


async def test_an_admin_rejects_a_held_member_and_the_account_is_gone(app, client, admin):
    token = await make_invite(app, admin, max_uses=2)
    await join(client, token, "newbie")
    held = await find(app, "newbie")
    await make_member(app, "alice")
    alice = await find(app, "alice")
    async with browser(app) as root:
        await sign_in(root, "admin")
        rejected = await post_form(
            root, f"/admin/members/pending/{held.id}/reject", {}, page="/admin/members"
        )
        assert rejected.status_code == 200 and "Rejected newbie" in rejected.text
        assert "Waiting for approval" not in rejected.text
        gone = await post_form(
            root, f"/admin/members/pending/{held.id}/reject", {}, page="/admin/members"
        )
        assert gone.status_code == 404 and f"No member has the id {held.id}" in gone.text
        # Only a pending account can be rejected: an approved one stays.
        kept = await post_form(
            root, f"/admin/members/pending/{alice.id}/reject", {}, page="/admin/members"
        )
        assert kept.status_code == 409 and "alice is not waiting for approval" in kept.text
        huge = await post_form(
            root, f"/admin/members/pending/{2**40}/approve", {}, page="/admin/members"
        )
        assert huge.status_code == 404
    assert await find(app, "newbie") is None
    assert await find(app, "alice") is not None
    assert await uses(app, token) == 1  # the rejected person's use is not handed back
    refused = await post_form(client, "/signin", {"username": "newbie", "password": PASSWORD})
    assert refused.status_code == 401


async def test_only_admins_decide_and_only_with_a_csrf_token(app, client, admin):
    await join(client, await make_invite(app, admin), "newbie")
    held = await find(app, "newbie")
    await make_member(app, "mod", "moderator")
    async with browser(app) as mod:
        await sign_in(mod, "mod")
        for action in ("approve", "reject"):
            denied = await post_form(
                mod, f"/admin/members/pending/{held.id}/{action}", {}, page="/"
            )
            assert denied.status_code == 403
    async with browser(app) as root:
        await sign_in(root, "admin")
        forged = await root.post(f"/admin/members/pending/{held.id}/approve")
        assert forged.status_code == 403
    assert (await find(app, "newbie")).is_pending


@pytest.mark.hook("check_member")
async def test_a_member_gate_that_raises_holds(app, client, admin):
    await join(client, await make_invite(app, admin), "boomer")
    held = await find(app, "boomer")
    assert held is not None and held.is_pending
    assert "A check by doorman failed" in held.pending_reason
    health = await plugin_health(app, "doorman")
    assert [hook for _, hook, _ in health.recent] == ["check_member"]


async def test_with_the_plugin_disabled_nobody_is_gated(app, client, admin):
    await enable_plugin(app, "doorman", False)
    token = await make_invite(app, admin, max_uses=2)
    welcome = await join(client, token, "newbie")
    assert welcome.url.path == "/" and "Welcome, newbie" in welcome.text
    assert (await register(client, token, "spammer")).status_code == 201
    assert doorman.asked == []


async def test_the_first_admin_setup_link_is_never_gated(app, client):
    async with app.state.sessionmaker() as db:
        token = await services.setup_link(db)
    welcome = await join(client, token, "newadmin")
    assert welcome.url.path == "/"
    assert doorman.asked == []
    assert not (await find(app, "newadmin")).is_pending


async def test_a_pending_account_has_no_working_session_or_token(app, client, admin):
    await make_member(app, "alice")
    headers = await api_token(app, "alice")
    await sign_in(client, "alice")
    assert (await client.get("/")).url.path == "/"
    async with app.state.sessionmaker() as db:  # as if a gate had held alice
        await db.execute(update(Member).where(Member.username == "alice").values(approved_at=None))
        await db.commit()
    assert (await client.get("/")).url.path == "/signin"
    response = await client.get("/api/v1/me", headers=headers)
    assert response.status_code == 403 and response.json()["error"] == "pending"


@pytest.mark.hook("track_event")
async def test_account_events_reach_plugins_after_commit(app, client, admin):
    root = await api_token(app, "admin")
    await forget_events()
    made = await client.post("/api/v1/invites", json={}, headers=root)
    assert made.status_code == 201
    await settled()
    assert [(e.invite_id, e.creator_id) for e in seen("InviteCreated")] == [
        (made.json()["id"], admin.id)
    ]

    joined = await register(client, made.json()["token"], "carol")
    carol = joined.json()["member"]["id"]
    await settled()
    assert [(e.invite_id, e.member_id) for e in seen("InviteRedeemed")] == [
        (made.json()["id"], carol)
    ]
    assert [(e.member_id, e.invite_id, e.invited_by_id) for e in seen("MemberJoined")] == [
        (carol, made.json()["id"], admin.id)
    ]

    await sign_in(client, "carol")
    signed = await client.post(
        "/api/v1/auth/token", json={"username": "carol", "password": PASSWORD}
    )
    assert signed.status_code == 201
    await post_form(client, "/signin", {"username": "carol", "password": "wrong password"})
    await settled()
    assert [e.member_id for e in seen("MemberSignedIn")] == [carol, carol]

    async with browser(app) as page:
        await sign_in(page, "admin")
        await post_form(
            page,
            "/admin/members/carol",
            {"action": "suspend", "until": "2999-01-01", "reason": "Shouting"},
            page="/admin/members",
        )
    suspended = await client.post(
        "/api/v1/members/carol/suspension", json={"reason": "Again"}, headers=root
    )
    assert suspended.status_code == 200
    await settled()
    penalties = [(e.actor_id, e.kind, e.until, e.reason) for e in seen("MemberPenalised")]
    assert penalties == [
        (admin.id, "suspend", "2999-01-01T00:00:00+00:00", "Shouting"),
        (admin.id, "suspend", None, "Again"),
    ]
    assert {e.member_id for e in seen("MemberPenalised")} == {carol}


def test_the_command_line_lists_pending_accounts(app, admin, env, monkeypatch, capsys):
    for key in ("COMMUNITY_DATABASE_URL", "COMMUNITY_REDIS_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    async def hold(database_url: str) -> None:
        engine = create_engine(database_url)
        try:
            async with create_sessionmaker(engine)() as db:
                await services.create_member(db, username="newbie", password=PASSWORD)
                await db.execute(
                    update(Member).where(Member.username == "newbie").values(approved_at=None)
                )
                await db.commit()
        finally:
            await engine.dispose()

    asyncio.run(hold(app.state.settings.database_url))
    capsys.readouterr()
    main(["user", "list"])
    rows = {line.split()[0]: line.split()[1:3] for line in capsys.readouterr().out.splitlines()}
    assert rows["newbie"] == ["member", "pending"]
    assert rows["admin"] == ["admin", "active"]
