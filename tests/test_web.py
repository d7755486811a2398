"""The browser side: sign in and out, CSRF, sessions, rate limits, settings, admin pages."""

import re

from community.app import create_app
from community.ratelimit import LIMITS
from community.testing import (
    BASE_URL,
    PASSWORD,
    browser,
    csrf,
    make_invite,
    make_member,
    post_form,
    sign_in,
)


async def test_anonymous_visitors_see_only_sign_in(client):
    for path in ("/", "/settings", "/invites", "/admin/members", "/admin/invites"):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 302, path
        assert response.headers["location"].startswith("/signin"), path
    assert (await client.get("/signin")).status_code == 200


async def test_sign_in_then_out(client, app):
    await make_member(app, "bob")
    page = await sign_in(client, "Bob")
    assert page.url.path == "/" and "Welcome, bob" in page.text
    assert "session=" in str(page.history[0].headers.get("set-cookie"))
    out = await post_form(client, "/signout", {}, page="/")
    assert out.url.path == "/signin"
    assert (await client.get("/", follow_redirects=False)).status_code == 302


async def test_sign_in_returns_to_the_page_asked_for(client, app):
    await make_member(app, "bob")
    token = await csrf(client)
    response = await client.post(
        "/signin",
        data={"username": "bob", "password": PASSWORD, "next": "/settings", "_csrf_token": token},
    )
    assert response.url.path == "/settings"
    evil = await client.post(
        "/signin",
        data={
            "username": "bob",
            "password": PASSWORD,
            "next": "//evil.example",
            "_csrf_token": token,
        },
    )
    assert evil.url.host == "testserver.local"


async def test_wrong_password_shows_the_form_again(client, app):
    await make_member(app, "bob")
    response = await post_form(client, "/signin", {"username": "bob", "password": "nope nope nope"})
    assert response.status_code == 401
    assert "Wrong username or password." in response.text
    assert 'value="bob"' in response.text


async def test_sign_in_takes_a_new_session_id(client, app):
    await make_member(app, "bob")
    client.cookies.set("session", "a" * 64, domain="testserver.local")
    await sign_in(client, "bob")
    assert client.cookies.get("session") != "a" * 64


async def test_unsafe_requests_need_the_csrf_token(client, app):
    await make_member(app, "bob")
    refused = await client.post("/signin", data={"username": "bob", "password": PASSWORD})
    assert refused.status_code == 403
    await sign_in(client, "bob")
    forged = await client.post("/settings/tokens", data={"name": "x"})
    assert forged.status_code == 403
    wrong = await client.post("/settings/tokens", data={"name": "x", "_csrf_token": "f" * 64})
    assert wrong.status_code == 403
    token = await csrf(client, "/settings")
    htmx = await client.post("/settings/tokens", data={"name": "x"}, headers={"x-csrftoken": token})
    assert htmx.status_code == 200


async def test_sign_in_rate_limit_per_account_and_ip(client, app):
    await make_member(app, "bob")
    token = await csrf(client)
    limit = LIMITS["signin_account"].count
    for _ in range(limit):
        response = await client.post(
            "/signin", data={"username": "bob", "password": "wrong guess!", "_csrf_token": token}
        )
        assert response.status_code == 401
    blocked = await client.post(
        "/signin", data={"username": "bob", "password": PASSWORD, "_csrf_token": token}
    )
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "Too many attempts" in blocked.text


async def test_suspended_member_is_refused_on_the_next_request(client, app):
    await make_member(app, "alice", role="admin")
    await make_member(app, "bob")
    await sign_in(client, "bob")
    async with browser(app) as admin:
        await sign_in(admin, "alice")
        done = await post_form(
            admin,
            "/admin/members/bob",
            {"action": "suspend", "until": "", "reason": "spamming"},
            page="/admin/members",
        )
        assert done.status_code == 200 and "suspended" in done.text
    refused = await client.get("/")
    assert refused.status_code == 403
    assert "suspended" in refused.text and "spamming" in refused.text
    again = await post_form(client, "/signin", {"username": "bob", "password": PASSWORD})
    assert again.status_code == 403 and "suspended" in again.text


async def test_session_survives_a_restart(client, app, settings, namespace):
    await make_member(app, "bob")
    await sign_in(client, "bob")
    restarted = create_app(settings, namespace=namespace)
    async with browser(restarted) as again:
        again.cookies = client.cookies
        page = await again.get("/")
        assert page.url.path == "/" and "Welcome, bob" in page.text
    await restarted.state.engine.dispose()
    if restarted.state.redis is not None:
        await restarted.state.redis.aclose()


async def test_settings_profile_password_and_tokens(client, app):
    await make_member(app, "bob")
    await sign_in(client, "bob")
    saved = await post_form(
        client, "/settings/profile", {"display_name": "Bobby <b>", "email": ""}, "/settings"
    )
    assert "Profile saved." in saved.text
    assert "Bobby &lt;b&gt;" in saved.text and "Bobby <b>" not in saved.text
    bad = await post_form(
        client, "/settings/profile", {"display_name": "", "email": "x"}, "/settings"
    )
    assert bad.status_code == 422 and "Display names are 1 to 64" in bad.text

    created = await post_form(client, "/settings/tokens", {"name": "script"}, "/settings")
    token = re.search(r'id="new-token">([^<]+)<', created.text).group(1)
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["display_name"] == "Bobby <b>"
    listing = await client.get("/settings")
    assert token not in listing.text and "script" in listing.text
    token_id = re.search(r"/settings/tokens/(\d+)/delete", listing.text).group(1)
    await post_form(client, f"/settings/tokens/{token_id}/delete", {}, "/settings")
    assert (
        await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 401

    wrong = await post_form(
        client,
        "/settings/password",
        {
            "current_password": "nope",
            "new_password": "another password",
            "new_password_confirm": "another password",
        },
        "/settings",
    )
    assert wrong.status_code == 401 and "current password is wrong" in wrong.text
    changed = await post_form(
        client,
        "/settings/password",
        {
            "current_password": PASSWORD,
            "new_password": "another password",
            "new_password_confirm": "another password",
        },
        "/settings",
    )
    assert "Password changed." in changed.text
    assert (await client.get("/settings")).status_code == 200  # this session goes on


async def test_password_change_ends_other_sessions(client, app):
    await make_member(app, "bob")
    await sign_in(client, "bob")
    async with browser(app) as other:
        await sign_in(other, "bob")
        await post_form(
            other,
            "/settings/password",
            {
                "current_password": PASSWORD,
                "new_password": "another password",
                "new_password_confirm": "another password",
            },
            "/settings",
        )
    assert (await client.get("/", follow_redirects=False)).status_code == 302


async def test_admin_invites_page_creates_copies_and_revokes(client, app):
    await make_member(app, "alice", role="admin")
    await sign_in(client, "alice")
    page = await post_form(
        client,
        "/admin/invites",
        {"max_uses": "2", "expires_in_days": "7", "note": "friends", "message": "Hi there"},
        "/admin/invites",
    )
    assert page.status_code == 200
    url = re.search(r'id="new-invite">([^<]+)<', page.text).group(1)
    assert url.startswith("http://testserver.local/invite/")
    async with browser(app) as newcomer:
        assert "Hi there" in (await newcomer.get(url.removeprefix(BASE_URL))).text
    assert "friends" in page.text and "0 / 2" in page.text
    invite_id = re.search(r"/admin/invites/(\d+)/revoke", page.text).group(1)
    revoked = await post_form(client, f"/admin/invites/{invite_id}/revoke", {}, "/admin/invites")
    assert ">revoked<" in revoked.text
    bad = await post_form(client, "/admin/invites", {"max_uses": "0"}, "/admin/invites")
    assert bad.status_code == 422 and "max_uses must be a whole number" in bad.text


async def test_invite_tree_on_admin_page(client, app):
    alice = await make_member(app, "alice", role="admin")
    token = await make_invite(app, alice)
    async with browser(app) as newcomer:
        await post_form(
            newcomer,
            f"/invite/{token}",
            {"username": "bob", "password": PASSWORD, "password_confirm": PASSWORD},
        )
    await sign_in(client, "alice")
    page = await client.get("/admin/invites")
    tree = page.text[page.text.index("Invite tree") :]
    assert re.search(r'depth-0"><strong>alice</strong>', tree)
    assert re.search(r'depth-1"><strong>bob</strong>', tree)


async def test_admin_groups_and_members_pages(client, app):
    await make_member(app, "alice", role="admin")
    await make_member(app, "bob")
    await sign_in(client, "alice")
    created = await post_form(client, "/admin/groups", {"name": "Makers"}, "/admin/groups")
    assert created.url.path == "/admin/groups/Makers"
    added = await post_form(
        client, "/admin/groups/Makers/members", {"username": "bob"}, "/admin/groups/Makers"
    )
    assert "<td>bob</td>" in added.text
    ghost = await post_form(
        client, "/admin/groups/Makers/members", {"username": "ghost"}, "/admin/groups/Makers"
    )
    assert ghost.status_code == 404 and "No member is called" in ghost.text
    dup = await post_form(client, "/admin/groups", {"name": "makers"}, "/admin/groups")
    assert dup.status_code == 409
    removed = await post_form(
        client, "/admin/groups/Makers/members/bob/remove", {}, "/admin/groups/Makers"
    )
    assert "Nobody is in this group" in removed.text
    role = await post_form(
        client, "/admin/members/bob", {"action": "role", "role": "moderator"}, "/admin/members"
    )
    assert "Saved bob." in role.text
    search = await client.get("/admin/members?q=bo")
    assert "<strong>bob</strong>" in search.text and "<strong>alice</strong>" not in search.text
    bad_date = await post_form(
        client, "/admin/members/bob", {"action": "suspend", "until": "soon"}, "/admin/members"
    )
    assert bad_date.status_code == 422 and "not a date" in bad_date.text


async def test_admin_settings_page(client, app):
    await make_member(app, "alice", role="admin")
    await sign_in(client, "alice")
    saved = await post_form(
        client,
        "/admin/settings",
        {"name": "Makers Guild", "invite_policy": "members", "invite_quota": "3"},
        "/admin/settings",
    )
    assert (
        "Settings saved." in saved.text and "<title>Settings · Makers Guild</title>" in saved.text
    )
    bad = await post_form(client, "/admin/settings", {"invite_quota": "lots"}, "/admin/settings")
    assert bad.status_code == 422 and "invite_quota must be a whole number" in bad.text


async def test_members_cannot_open_admin_pages(client, app):
    await make_member(app, "bob")
    await sign_in(client, "bob")
    response = await client.get("/admin/members")
    assert response.status_code == 403 and "Only admins" in response.text


async def test_member_invites_page_follows_policy(client, app):
    await make_member(app, "bob")
    await sign_in(client, "bob")
    page = await client.get("/invites")
    assert "Only admins can invite people." in page.text and "Create invite" not in page.text
    refused = await post_form(client, "/invites", {"max_uses": "1"}, "/invites")
    assert refused.status_code == 403


async def test_repeated_form_fields_are_not_a_server_error(client, app):
    await make_member(app, "alice", role="admin")
    await make_member(app, "bob")
    token = await csrf(client)
    signin = await client.post(
        "/signin",
        content=f"username=alice&password={PASSWORD.replace(' ', '+')}&next=/a&next=/b"
        f"&_csrf_token={token}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert signin.status_code in (200, 404)  # followed the first "next"
    token = await csrf(client, "/admin/invites")
    invite = await client.post(
        "/admin/invites",
        content=f"note=a&note=b&max_uses=1&_csrf_token={token}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert invite.status_code == 200 and "Invite created" in invite.text
    far = await post_form(
        client,
        "/admin/members/bob",
        {"action": "suspend", "until": "9999-12-31T23:00:00-05:00"},
        "/admin/members",
    )
    assert far.status_code == 422 and "indefinitely" in far.text


async def test_group_names_that_break_urls_are_refused(client, app):
    await make_member(app, "alice", role="admin")
    await sign_in(client, "alice")
    refused = await post_form(client, "/admin/groups", {"name": "a/b?c#d"}, "/admin/groups")
    assert refused.status_code == 422 and "without / ? #" in refused.text


async def test_a_suspended_member_can_still_sign_out(client, app):
    await make_member(app, "bob")
    await sign_in(client, "bob")
    token = await csrf(client, "/signin")
    async with app.state.sessionmaker() as db:
        from community.accounts import services

        await services.suspend(db, await services.member_by_username(db, "bob"))
    out = await client.post("/signout", data={"_csrf_token": token})
    assert out.url.path == "/signin" and out.status_code == 200
