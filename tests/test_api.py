"""The accounts API: tokens, /me, groups, members and suspension, and its 401/403 rules."""

import pytest

from community.testing import PASSWORD, api_token, make_member


@pytest.fixture
async def admin_headers(app):
    await make_member(app, "alice", role="admin")
    return await api_token(app, "alice")


async def test_token_from_credentials_then_me_then_revoke(client, app):
    await make_member(app, "bob")
    created = await client.post(
        "/api/v1/auth/token", json={"username": "BOB", "password": PASSWORD}
    )
    assert created.status_code == 201
    headers = {"Authorization": f"Bearer {created.json()['token']}"}
    me = await client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["username"] == "bob" and me.json()["role"] == "member"
    assert me.json()["groups"] == []
    assert (await client.delete("/api/v1/auth/token", headers=headers)).status_code == 204
    gone = await client.get("/api/v1/me", headers=headers)
    assert gone.status_code == 401 and gone.json()["error"] == "invalid_token"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "bob", "password": "wrong password"}, 401, "invalid_credentials"),
        ({"username": "nobody", "password": PASSWORD}, 401, "invalid_credentials"),
        ({"username": "bob"}, 400, "missing_fields"),
        ({"username": "bob", "password": 12345678901}, 422, "invalid_password"),
    ],
)
async def test_token_refuses_bad_credentials(client, app, body, status, code):
    await make_member(app, "bob")
    response = await client.post("/api/v1/auth/token", json=body)
    assert response.status_code == status
    assert response.json()["error"] == code


async def test_anonymous_gets_401_and_members_get_403_on_admin_routes(client, app, admin_headers):
    await make_member(app, "bob")
    member = await api_token(app, "bob")
    for method, path in [
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/invites"),
        ("GET", "/api/v1/groups"),
        ("POST", "/api/v1/groups"),
        ("GET", "/api/v1/members"),
    ]:
        anonymous = await client.request(method, path, json={"name": "x"})
        assert anonymous.status_code == 401, path
        assert anonymous.json()["error"] == "unauthorized"
    for method, path in [
        ("POST", "/api/v1/groups"),
        ("PUT", "/api/v1/groups/x/members/bob"),
        ("GET", "/api/v1/members"),
        ("PUT", "/api/v1/members/bob/role"),
        ("POST", "/api/v1/members/bob/suspension"),
        ("PUT", "/api/v1/settings"),
    ]:
        refused = await client.request(method, path, json={"name": "x"}, headers=member)
        assert refused.status_code == 403, path
        assert refused.json()["error"] == "forbidden"
    bad_scheme = await client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    assert bad_scheme.status_code == 401 and "Bearer" in bad_scheme.json()["detail"]


async def test_groups_create_add_remove(client, app, admin_headers):
    await make_member(app, "bob")
    created = await client.post(
        "/api/v1/groups", json={"name": "Beta Testers"}, headers=admin_headers
    )
    assert created.status_code == 201
    duplicate = await client.post(
        "/api/v1/groups", json={"name": "beta testers"}, headers=admin_headers
    )
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "group_exists"
    empty = await client.post("/api/v1/groups", json={"name": "  "}, headers=admin_headers)
    assert empty.status_code == 422 and empty.json()["error"] == "invalid_group"
    added = await client.put("/api/v1/groups/Beta Testers/members/BOB", headers=admin_headers)
    assert added.status_code == 200 and added.json()["groups"] == ["Beta Testers"]
    listed = (await client.get("/api/v1/groups", headers=admin_headers)).json()["groups"]
    assert listed == [{"name": "Beta Testers", "members": 1}]
    missing = await client.put("/api/v1/groups/nope/members/bob", headers=admin_headers)
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_group"
    ghost = await client.put("/api/v1/groups/Beta Testers/members/ghost", headers=admin_headers)
    assert ghost.status_code == 404 and ghost.json()["error"] == "unknown_member"
    removed = await client.delete("/api/v1/groups/Beta Testers/members/bob", headers=admin_headers)
    assert removed.status_code == 200 and removed.json()["groups"] == []


async def test_suspension_stops_tokens_at_once_and_refuses_new_ones(client, app, admin_headers):
    await make_member(app, "bob")
    bob = await api_token(app, "bob")
    assert (await client.get("/api/v1/me", headers=bob)).status_code == 200
    suspended = await client.post(
        "/api/v1/members/bob/suspension",
        json={"until": "2999-01-01", "reason": "spam"},
        headers=admin_headers,
    )
    assert suspended.status_code == 200
    assert suspended.json()["suspended_until"].startswith("2999-01-01")
    refused = await client.get("/api/v1/me", headers=bob)
    assert refused.status_code == 403
    assert refused.json()["error"] == "suspended" and "spam" in refused.json()["detail"]
    sign_in = await client.post(
        "/api/v1/auth/token", json={"username": "bob", "password": PASSWORD}
    )
    assert sign_in.status_code == 403 and sign_in.json()["error"] == "suspended"
    lifted = await client.delete("/api/v1/members/bob/suspension", headers=admin_headers)
    assert lifted.status_code == 200 and lifted.json()["suspended_until"] is None
    assert (await client.get("/api/v1/me", headers=bob)).status_code == 200


@pytest.mark.parametrize(
    ("username", "body", "status", "code"),
    [
        ("bob", {"until": "yesterday"}, 422, "invalid_until"),
        ("bob", {"until": "2001-01-01"}, 422, "invalid_until"),
        ("alice", {}, 409, "cannot_suspend_admin"),
        ("ghost", {}, 404, "unknown_member"),
    ],
)
async def test_suspension_rejects_bad_input(
    client, app, admin_headers, username, body, status, code
):
    await make_member(app, "bob")
    response = await client.post(
        f"/api/v1/members/{username}/suspension", json=body, headers=admin_headers
    )
    assert response.status_code == status
    assert response.json()["error"] == code


async def test_roles(client, app, admin_headers):
    await make_member(app, "bob")
    promoted = await client.put(
        "/api/v1/members/bob/role", json={"role": "moderator"}, headers=admin_headers
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "moderator"
    wizard = await client.put(
        "/api/v1/members/bob/role", json={"role": "wizard"}, headers=admin_headers
    )
    assert wizard.status_code == 422 and wizard.json()["error"] == "invalid_role"
    last = await client.put(
        "/api/v1/members/alice/role", json={"role": "member"}, headers=admin_headers
    )
    assert last.status_code == 409 and last.json()["error"] == "last_admin"
    members = (await client.get("/api/v1/members?q=bo", headers=admin_headers)).json()["members"]
    assert [m["username"] for m in members] == ["bob"]


async def test_instance_settings_api_validates(client, app, admin_headers):
    ok = await client.put("/api/v1/settings", json={"name": "Makers"}, headers=admin_headers)
    assert ok.status_code == 200 and ok.json()["name"] == "Makers"
    for body, code in [
        ({"invite_policy": "everyone"}, "invalid_invite_policy"),
        ({"invite_quota": -1}, "invalid_invite_quota"),
        ({"name": ""}, "invalid_name"),
        ({"colour": "red"}, "unknown_settings"),
    ]:
        response = await client.put("/api/v1/settings", json=body, headers=admin_headers)
        assert response.status_code in (400, 422) and response.json()["error"] == code
