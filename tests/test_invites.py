"""Invites: creation, the invite page, every way a token can be bad, redemption races."""

import asyncio
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from community.accounts import services
from community.accounts.models import Invite, Member
from community.accounts.security import hash_token
from community.db import utcnow
from community.testing import (
    BASE_URL,
    PASSWORD,
    api_token,
    csrf,
    make_invite,
    make_member,
    post_form,
    sign_in,
)


@pytest.fixture
async def admin(app):
    return await make_member(app, "alice", role="admin")


async def register(client, token, username="newbie", password=PASSWORD, **extra):
    body = {"invite": token, "username": username, "password": password, **extra}
    return await client.post("/api/v1/auth/register", json=body)


async def test_admin_creates_invite_through_api_with_url_and_hashed_token(client, app, admin):
    headers = await api_token(app, "alice")
    response = await client.post(
        "/api/v1/invites",
        json={"max_uses": 3, "expires_in_days": 2, "note": "friends"},
        headers=headers,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["url"] == f"{BASE_URL}/invite/{body['token']}"
    assert body["max_uses"] == 3 and body["uses"] == 0
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", body["token"])  # 192 random bits
    async with app.state.sessionmaker() as db:
        stored = await db.scalar(select(Invite).where(Invite.id == body["id"]))
    assert stored.token_hash == hash_token(body["token"])
    assert body["token"] not in (stored.token_hash, stored.note)


async def test_invite_page_shows_community_and_inviter(client, app, admin):
    token = await make_invite(app, admin)
    page = await client.get(f"/invite/{token}")
    assert page.status_code == 200
    assert "Join Testers" in page.text
    assert "alice" in page.text and "invited you" in page.text


async def test_registration_through_the_browser_signs_in_and_lands_home(client, app, admin):
    token = await make_invite(app, admin)
    response = await post_form(
        client,
        f"/invite/{token}",
        {"username": "Bob", "password": PASSWORD, "password_confirm": PASSWORD, "email": ""},
    )
    assert response.status_code == 200
    assert response.url.path == "/"
    assert "Welcome, Bob" in response.text
    profile = await client.get("/u/bob")
    assert "invited by" in profile.text and 'href="/u/alice"' in profile.text


async def test_registration_form_errors_keep_the_values(client, app, admin):
    token = await make_invite(app, admin)
    response = await post_form(
        client,
        f"/invite/{token}",
        {"username": "x", "password": PASSWORD, "password_confirm": PASSWORD, "email": "a@b.co"},
    )
    assert response.status_code == 422
    assert "Usernames are 3 to 32" in response.text
    assert 'value="a@b.co"' in response.text
    mismatch = await post_form(
        client,
        f"/invite/{token}",
        {"username": "bobby", "password": PASSWORD, "password_confirm": "other thing!"},
    )
    assert mismatch.status_code == 422 and "do not match" in mismatch.text


@pytest.mark.parametrize(
    ("case", "status", "code", "words"),
    [
        ("malformed", 404, "invite_malformed", "malformed"),
        ("unknown", 404, "invite_unknown", "does not exist"),
        ("expired", 410, "invite_expired", "expired"),
        ("revoked", 410, "invite_revoked", "revoked"),
        ("used", 410, "invite_used", "used up"),
    ],
)
async def test_bad_invite_tokens_get_a_clear_page_and_json_error(
    client, app, admin, case, status, code, words
):
    token = await make_invite(app, admin)
    async with app.state.sessionmaker() as db:
        invite = await db.scalar(select(Invite).where(Invite.token_hash == hash_token(token)))
        if case == "expired":
            invite.expires_at = utcnow() - timedelta(seconds=1)
        elif case == "revoked":
            invite.revoked_at = utcnow()
        elif case == "used":
            invite.uses = invite.max_uses
        await db.commit()
    if case == "malformed":
        token = "not-a-token!"
    elif case == "unknown":
        token = "A" * 32
    page = await client.get(f"/invite/{token}")
    assert page.status_code == status
    assert words in page.text
    response = await register(client, token)
    assert response.status_code == status
    assert response.json()["error"] == code
    assert words in response.json()["detail"]


async def test_register_api_returns_member_and_a_working_token(client, app, admin):
    async with app.state.sessionmaker() as db:
        await services.create_group(db, "beta")
    token = await make_invite(app, admin, groups=["beta"])
    response = await register(client, token, username="Carol", email="carol@example.com")
    assert response.status_code == 201
    body = response.json()
    assert body["member"]["username"] == "Carol"
    assert body["member"]["groups"] == ["beta"]
    assert body["member"]["invited_by"] == "alice"
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json()["username"] == "Carol"
    assert me.json()["role"] == "member" and me.json()["groups"] == ["beta"]
    again = await register(client, token, username="Dave")
    assert again.status_code == 410 and again.json()["error"] == "invite_used"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "ok_name", "password": PASSWORD}, 400, "missing_fields"),
        (
            {"invite": "TOKEN", "username": "no spaces", "password": PASSWORD},
            422,
            "invalid_username",
        ),
        ({"invite": "TOKEN", "username": "ab", "password": PASSWORD}, 422, "invalid_username"),
        ({"invite": "TOKEN", "username": "x" * 33, "password": PASSWORD}, 422, "invalid_username"),
        ({"invite": "TOKEN", "username": "okname", "password": "short"}, 422, "invalid_password"),
        (
            {"invite": "TOKEN", "username": "okname", "password": PASSWORD, "email": "nope"},
            422,
            "invalid_email",
        ),
        ({"invite": "TOKEN", "username": "ALICE", "password": PASSWORD}, 409, "username_taken"),
        ({"invite": "TOKEN", "username": 5, "password": PASSWORD}, 422, "invalid_username"),
    ],
)
async def test_register_api_rejects_bad_input(client, app, admin, body, status, code):
    token = await make_invite(app, admin)
    body = {key: (token if value == "TOKEN" else value) for key, value in body.items()}
    response = await client.post("/api/v1/auth/register", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert response.json()["detail"]
    # A refused registration does not spend the invite.
    async with app.state.sessionmaker() as db:
        assert (await services.find_invite(db, token)).uses == 0


async def test_register_api_rejects_a_body_that_is_not_json(client):
    response = await client.post(
        "/api/v1/auth/register", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


async def test_email_and_domain_restrictions(client, app, admin):
    only_one = await make_invite(app, admin, email="eve@example.com")
    wrong = await register(client, only_one, username="eve", email="other@example.com")
    assert wrong.status_code == 422 and wrong.json()["error"] == "invite_email_mismatch"
    assert (
        await register(client, only_one, username="eve", email="EVE@example.com")
    ).status_code == 201
    domain = await make_invite(app, admin, domain="corp.example", max_uses=5)
    outside = await register(client, domain, username="frank", email="frank@evil.example")
    assert outside.status_code == 422
    assert "corp.example" in outside.json()["detail"]
    assert (
        await register(client, domain, username="frank", email="frank@corp.example")
    ).status_code == 201


async def test_multi_use_invite_counts_uses_and_builds_the_tree(client, app, admin):
    token = await make_invite(app, admin, max_uses=2)
    assert (await register(client, token, username="one")).status_code == 201
    assert (await register(client, token, username="two")).status_code == 201
    assert (await register(client, token, username="three")).status_code == 410
    async with app.state.sessionmaker() as db:
        tree = await services.invite_tree(db)
    assert [(m.username, depth) for m, depth in tree] == [("alice", 0), ("one", 1), ("two", 1)]
    invite_id = tree[1][0].invite_id
    assert invite_id is not None and tree[2][0].invite_id == invite_id


async def test_exactly_one_wins_the_last_use_under_concurrency(client, app, admin):
    token = await make_invite(app, admin, max_uses=1)
    results = await asyncio.gather(
        *(register(client, token, username=f"racer{i}") for i in range(4))
    )
    statuses = sorted(response.status_code for response in results)
    assert statuses == [201, 410, 410, 410], [r.text for r in results]
    async with app.state.sessionmaker() as db:
        members = (await db.execute(select(Member.username))).scalars().all()
        invite = await db.scalar(select(Invite).where(Invite.token_hash == hash_token(token)))
    assert len([name for name in members if name.startswith("racer")]) == 1
    assert invite.uses == 1


async def test_revoke_through_api(client, app, admin):
    headers = await api_token(app, "alice")
    created = (await client.post("/api/v1/invites", json={}, headers=headers)).json()
    listed = (await client.get("/api/v1/invites", headers=headers)).json()["invites"]
    assert [invite["id"] for invite in listed] == [created["id"]]
    assert "token" not in listed[0]
    revoked = await client.delete(f"/api/v1/invites/{created['id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert (await register(client, created["token"])).status_code == 410
    missing = await client.delete("/api/v1/invites/99999", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_invite"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"max_uses": 0}, "invalid_max_uses"),
        ({"max_uses": "many"}, "invalid_max_uses"),
        ({"expires_in_days": "soon"}, "invalid_expires"),
        ({"email": "not-an-email"}, "invalid_email"),
        ({"domain": "no domain"}, "invalid_domain"),
        ({"email": "a@b.co", "domain": "b.co"}, "invalid_invite"),
        ({"groups": ["nobody-made-this"]}, "unknown_group"),
        ({"groups": "beta"}, "invalid_groups"),
    ],
)
async def test_create_invite_rejects_bad_input(client, app, admin, body, code):
    headers = await api_token(app, "alice")
    response = await client.post("/api/v1/invites", json=body, headers=headers)
    assert response.status_code in (404, 422), response.text
    assert response.json()["error"] == code


async def test_who_may_invite_is_a_setting_with_a_monthly_quota(client, app, admin):
    await make_member(app, "mod", role="moderator")
    await make_member(app, "mia")
    mod, mia = await api_token(app, "mod"), await api_token(app, "mia")
    refused = await client.post("/api/v1/invites", json={}, headers=mia)
    assert refused.status_code == 403 and "Only admins" in refused.json()["detail"]
    assert (await client.post("/api/v1/invites", json={}, headers=mod)).status_code == 403

    admin_headers = await api_token(app, "alice")
    await client.put("/api/v1/settings", json={"invite_policy": "staff"}, headers=admin_headers)
    assert (await client.post("/api/v1/invites", json={}, headers=mod)).status_code == 201
    assert (await client.post("/api/v1/invites", json={}, headers=mia)).status_code == 403

    await client.put(
        "/api/v1/settings",
        json={"invite_policy": "members", "invite_quota": 2},
        headers=admin_headers,
    )
    assert (await client.post("/api/v1/invites", json={}, headers=mia)).status_code == 201
    assert (await client.post("/api/v1/invites", json={}, headers=mia)).status_code == 201
    third = await client.post("/api/v1/invites", json={}, headers=mia)
    assert third.status_code == 403 and "2 invites" in third.json()["detail"]
    groups = await client.post("/api/v1/invites", json={"groups": ["x"]}, headers=mod)
    assert groups.status_code == 403
    # Members see and revoke only their own invites.
    mine = (await client.get("/api/v1/invites", headers=mia)).json()["invites"]
    assert len(mine) == 2
    theirs = (await client.get("/api/v1/invites", headers=mod)).json()["invites"][0]["id"]
    assert (await client.delete(f"/api/v1/invites/{theirs}", headers=mia)).status_code == 404


async def test_invite_rate_limit_answers_429_with_retry_after(client, app, admin):
    from community.ratelimit import LIMITS

    for _ in range(LIMITS["invite_ip"].count):
        assert (await client.get("/invite/" + "B" * 32)).status_code == 404
    limited = await client.get("/invite/" + "B" * 32)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    api = await register(client, "B" * 32)
    assert api.status_code == 429 and api.json()["error"] == "rate_limited"
    assert "retry-after" in api.headers


async def test_a_username_with_a_trailing_newline_is_refused(client, app, admin):
    token = await make_invite(app, admin)
    response = await register(client, token, username="alice\n")
    assert response.status_code == 422 and response.json()["error"] == "invalid_username"


async def test_parallel_invites_cannot_overrun_the_quota(client, app, admin):
    await make_member(app, "mia")
    admin_headers = await api_token(app, "alice")
    await client.put(
        "/api/v1/settings",
        json={"invite_policy": "members", "invite_quota": 3},
        headers=admin_headers,
    )
    mia = await api_token(app, "mia")
    results = await asyncio.gather(
        *(client.post("/api/v1/invites", json={}, headers=mia) for _ in range(8))
    )
    assert sorted(r.status_code for r in results) == [201] * 3 + [403] * 5


async def test_huge_ids_are_not_found(client, app, admin):
    headers = await api_token(app, "alice")
    response = await client.delete("/api/v1/invites/99999999999999999999", headers=headers)
    assert response.status_code == 404 and response.json()["error"] == "unknown_invite"


# -- a signed-in member accepting an invite ------------------------------------------------------


async def _group(app, name):
    async with app.state.sessionmaker() as db:
        await services.create_group(db, name)


async def test_a_signed_in_member_accepts_an_invite_and_joins_its_groups(client, app, admin):
    await _group(app, "insiders")
    await make_member(app, "bob")
    token = await make_invite(
        app,
        admin,
        groups=["insiders"],
        max_uses=2,
        message="You will also join the insiders.",
        landing="/categories",
    )
    await sign_in(client, "bob")
    page = await client.get(f"/invite/{token}")
    assert page.status_code == 200
    assert "Accept this invite" in page.text and "signed in as <strong>bob</strong>" in page.text
    assert "You will also join the insiders." in page.text and "insiders" in page.text
    accepted = await post_form(client, f"/invite/{token}/accept", {}, page=f"/invite/{token}")
    assert accepted.status_code == 200 and accepted.url.path == "/categories"
    async with app.state.sessionmaker() as db:
        bob = await services.member_by_username(db, "bob")
        await db.refresh(bob, ["groups"])
        invite = await db.scalar(select(Invite).where(Invite.token_hash == hash_token(token)))
        assert [g.name for g in bob.groups] == ["insiders"]
        assert invite.uses == 1
    again_page = await client.get(f"/invite/{token}")
    assert "You have already accepted this invite." in again_page.text
    assert 'action="/invite/' not in again_page.text
    again = await client.post(
        f"/invite/{token}/accept", data={"_csrf_token": await csrf(client, f"/invite/{token}")}
    )
    assert again.status_code == 409 and "already accepted" in again.text
    async with app.state.sessionmaker() as db:
        invite = await db.scalar(select(Invite).where(Invite.token_hash == hash_token(token)))
        assert invite.uses == 1  # the refused second acceptance took no use


async def test_accepting_through_the_api_and_its_bad_cases(client, app, admin):
    await _group(app, "insiders")
    bob = await make_member(app, "bob")
    headers = await api_token(app, "bob")
    token = await make_invite(app, admin, groups=["insiders"], landing="/c/general")

    async def accept(body):
        return await client.post("/api/v1/invites/accept", json=body, headers=headers)

    missing = await accept({})
    assert missing.status_code == 400 and "invite" in missing.json()["detail"]
    unknown = await accept({"invite": "x" * 32})
    assert unknown.status_code == 404 and unknown.json()["error"] == "invite_unknown"
    got = await accept({"invite": token})
    assert got.status_code == 200
    assert got.json() == {"accepted": True, "groups": ["insiders"], "landing": "/c/general"}
    used = await accept({"invite": token})  # one use, taken
    assert used.status_code == 410 and used.json()["error"] == "invite_used"
    for_someone = await make_invite(app, admin, email="carol@example.com")
    mismatch = await accept({"invite": for_someone})
    assert mismatch.status_code == 422 and mismatch.json()["error"] == "invite_email_mismatch"
    async with app.state.sessionmaker() as db:
        site = await services.instance_settings(db, "Testers")
        setup = (await services.create_invite(db, None, settings=site, role="admin")).token
    refused = await accept({"invite": setup})
    assert refused.status_code == 422 and refused.json()["error"] == "invite_not_for_members"
    assert bob.id  # bob stays a plain member in one group
    async with app.state.sessionmaker() as db:
        found = await services.member_by_username(db, "bob")
        assert found.role == "member"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("landing", "//evil.example", "invalid_landing"),
        ("landing", "https://evil.example/", "invalid_landing"),
        ("landing", "/\\evil.example", "invalid_landing"),
        ("landing", "/a b", "invalid_landing"),
        ("message", "x" * 501, "invalid_message"),
        ("message", "nul\x00", "invalid_message"),
    ],
)
async def test_bad_invite_message_or_landing_is_refused(client, app, admin, field, value, code):
    headers = await api_token(app, "alice")
    got = await client.post("/api/v1/invites", json={field: value}, headers=headers)
    assert got.status_code == 422 and got.json()["error"] == code


async def test_a_new_member_lands_on_the_invite_landing_page(client, app, admin):
    token = await make_invite(app, admin, message="Welcome to the lab.", landing="/categories")
    page = await client.get(f"/invite/{token}")
    assert "Welcome to the lab." in page.text
    assert f'href="/signin?next=/invite/{token}"' in page.text
    response = await post_form(
        client,
        f"/invite/{token}",
        {"username": "Bob", "password": PASSWORD, "password_confirm": PASSWORD, "email": ""},
    )
    assert response.status_code == 200 and response.url.path == "/categories"


async def test_only_admins_set_a_message_or_landing_and_nobody_uses_a_link_twice(
    client, app, admin
):
    async with app.state.sessionmaker() as db:
        await services.update_instance_settings(db, {"invite_policy": "members"})
    await make_member(app, "bob")
    bob = await api_token(app, "bob")
    for field, value in (("message", "From the admins!"), ("landing", "/categories")):
        got = await client.post("/api/v1/invites", json={field: value}, headers=bob)
        assert got.status_code == 403 and "Only admins" in got.json()["detail"]
    token = await make_invite(app, admin, max_uses=3)
    made = await register(client, token, username="carol")
    carol = {"Authorization": f"Bearer {made.json()['token']}"}
    again = await client.post("/api/v1/invites/accept", json={"invite": token}, headers=carol)
    assert again.status_code == 409 and again.json()["error"] == "invite_accepted"
