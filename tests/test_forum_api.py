"""The forum JSON API: the documented endpoints, errors as ``{"error", "detail"}``, and 404 for
content a member may not see."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar

from community.accounts import services as accounts
from community.ratelimit import LIMITS
from community.testing import api_token, make_member, sign_in


@pytest.fixture
async def people(app: Litestar) -> dict[str, dict[str, str]]:
    await make_member(app, "root", "admin")
    await make_member(app, "mod", "moderator")
    await make_member(app, "alice")
    await make_member(app, "bob")
    await make_member(app, "carol")
    async with app.state.sessionmaker() as db:
        crew = await accounts.create_group(db, "Crew")
        for name in ("alice", "bob"):
            await accounts.add_to_group(db, crew, await accounts.member_by_username(db, name))
    return {name: await api_token(app, name) for name in ("root", "mod", "alice", "bob", "carol")}


async def make_category(client: Any, root: dict[str, str], **data: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/categories", json=data, headers=root)
    assert response.status_code == 201, response.text
    return response.json()


async def test_categories_crud_is_for_admins(client, people):
    root, alice = people["root"], people["alice"]
    made = await make_category(
        client, root, name="Crew room", visible_to_groups=["Crew"], post_groups=["Crew"]
    )
    assert made["slug"] == "crew-room" and made["visible_to_groups"] == ["Crew"]
    assert made["start_groups"] == ["Crew"] and made["reply_groups"] == ["Crew"]
    child = await make_category(client, root, name="Sub", parent_id=made["id"])
    assert child["parent_id"] == made["id"]
    names = [
        c["name"]
        for c in (await client.get("/api/v1/categories", headers=alice)).json()["categories"]
    ]
    assert names == ["Crew room", "Sub"]
    carol_view = await client.get("/api/v1/categories", headers=people["carol"])
    assert carol_view.json()["categories"] == []
    assert (
        await client.post("/api/v1/categories", json={"name": "x"}, headers=alice)
    ).status_code == 403
    patched = await client.patch(
        f"/api/v1/categories/{made['id']}", json={"visible_to_groups": []}, headers=root
    )
    assert patched.status_code == 200 and patched.json()["visible_to_groups"] == []
    bad = await client.post(
        "/api/v1/categories", json={"name": "Bad", "visible_to_groups": ["Nope"]}, headers=root
    )
    assert bad.status_code == 422 and bad.json()["error"] == "unknown_group"
    nested = await client.post(
        "/api/v1/categories", json={"name": "Deep", "parent_id": child["id"]}, headers=root
    )
    assert nested.status_code == 422 and "one level" in nested.json()["detail"]
    blocked = await client.delete(f"/api/v1/categories/{made['id']}", headers=root)
    assert blocked.status_code == 409
    assert (
        await client.delete(f"/api/v1/categories/{child['id']}", headers=root)
    ).status_code == 204


async def test_threads_posts_and_cursor_paging(client, people):
    root, alice, bob = people["root"], people["alice"], people["bob"]
    general = await make_category(client, root, name="General")
    ids = []
    for n in range(5):
        response = await client.post(
            "/api/v1/threads",
            json={"category_id": general["id"], "title": f"Thread {n}", "body": f"body *{n}*"},
            headers=alice,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["first_post"]["number"] == 1 and "<em>" in body["first_post"]["html"]
        assert body["url"].endswith(f"/{body['id']}")
        ids.append(body["id"])
    page = await client.get("/api/v1/threads?limit=2", headers=bob)
    first = page.json()
    assert [t["title"] for t in first["threads"]] == ["Thread 4", "Thread 3"]
    second = await client.get(f"/api/v1/threads?limit=2&cursor={first['next_cursor']}", headers=bob)
    assert [t["title"] for t in second.json()["threads"]] == ["Thread 2", "Thread 1"]
    bad = await client.get("/api/v1/threads?cursor=garbage", headers=bob)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_cursor"
    assert (await client.get("/api/v1/threads?limit=0", headers=bob)).status_code == 400
    reply = await client.post(
        f"/api/v1/threads/{ids[0]}/posts", json={"body": "a reply", "reply_to": 1}, headers=bob
    )
    assert reply.status_code == 201 and reply.json()["number"] == 2
    assert reply.json()["reply_to"] == 1
    listed = await client.get(f"/api/v1/threads/{ids[0]}/posts?after=1", headers=alice)
    assert [p["number"] for p in listed.json()["posts"]] == [2]
    thread = await client.get(f"/api/v1/threads/{ids[0]}", headers=alice)
    assert thread.json()["reply_count"] == 1 and thread.json()["post_count"] == 2
    bad_reply = await client.post(
        f"/api/v1/threads/{ids[0]}/posts", json={"body": "x", "reply_to": 99}, headers=bob
    )
    assert bad_reply.status_code == 422


async def test_bad_input_answers_4xx_with_reasons(client, people):
    root, alice = people["root"], people["alice"]
    general = await make_category(client, root, name="General")
    news = await make_category(client, root, name="News", read_only=True)
    cases = [
        ({"category_id": general["id"], "title": "", "body": "x"}, 422, "invalid_title"),
        ({"category_id": general["id"], "title": "x" * 201, "body": "x"}, 422, "invalid_title"),
        ({"category_id": general["id"], "title": "Fine", "body": ""}, 422, "invalid_body"),
        (
            {"category_id": general["id"], "title": "Fine", "body": "x" * 32_001},
            422,
            "invalid_body",
        ),
        ({"category_id": 424242, "title": "Fine", "body": "x"}, 422, "unknown_category"),
        ({"category_id": "nope", "title": "Fine", "body": "x"}, 422, "unknown_category"),
        ({"category_id": news["id"], "title": "Fine", "body": "x"}, 403, "cannot_start"),
        ({"category_id": general["id"], "title": 5, "body": ["x"]}, 422, "invalid_title"),
    ]
    for data, status, code in cases:
        response = await client.post("/api/v1/threads", json=data, headers=alice)
        assert response.status_code == status, (data, response.text)
        assert response.json()["error"] == code and response.json()["detail"]
    broken = await client.post(
        "/api/v1/threads",
        content=b"{not json",
        headers={**alice, "content-type": "application/json"},
    )
    assert broken.status_code == 400


async def test_edit_revisions_delete_and_restore(client, people):
    root, alice, bob = people["root"], people["alice"], people["bob"]
    general = await make_category(client, root, name="General")
    made = (
        await client.post(
            "/api/v1/threads",
            json={"category_id": general["id"], "title": "Edit me", "body": "v1"},
            headers=alice,
        )
    ).json()
    post_id = made["first_post"]["id"]
    assert (
        await client.patch(f"/api/v1/posts/{post_id}", json={"body": "v2"}, headers=bob)
    ).status_code == 403
    edited = await client.patch(f"/api/v1/posts/{post_id}", json={"body": "v2"}, headers=alice)
    assert edited.status_code == 200 and "v2" in edited.json()["html"]
    revisions = (await client.get(f"/api/v1/posts/{post_id}/revisions", headers=alice)).json()
    assert [r["body"] for r in revisions["revisions"]] == ["v1"]
    assert (await client.get(f"/api/v1/posts/{post_id}/revisions", headers=bob)).status_code == 403
    reply = (
        await client.post(f"/api/v1/threads/{made['id']}/posts", json={"body": "r"}, headers=bob)
    ).json()
    deleted = await client.delete(f"/api/v1/posts/{reply['id']}", headers=bob)
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    listed = (await client.get(f"/api/v1/threads/{made['id']}/posts", headers=alice)).json()
    assert listed["posts"][1]["deleted"] is True and listed["posts"][1]["html"] is None
    restored = await client.post(f"/api/v1/posts/{reply['id']}/restore", headers=people["mod"])
    assert restored.status_code == 200 and restored.json()["deleted"] is False


async def test_moderation_through_patch(client, people):
    root, alice, mod = people["root"], people["alice"], people["mod"]
    general = await make_category(client, root, name="General")
    other = await make_category(client, root, name="Other")
    made = (
        await client.post(
            "/api/v1/threads",
            json={"category_id": general["id"], "title": "Moderate me", "body": "x"},
            headers=alice,
        )
    ).json()
    assert (
        await client.patch(f"/api/v1/threads/{made['id']}", json={"locked": True}, headers=alice)
    ).status_code == 403
    changed = await client.patch(
        f"/api/v1/threads/{made['id']}",
        json={"pinned": "global", "locked": True, "category_id": other["id"]},
        headers=mod,
    )
    body = changed.json()
    assert body["pinned"] == "global" and body["locked"] and body["category_id"] == other["id"]
    refused = await client.post(
        f"/api/v1/threads/{made['id']}/posts", json={"body": "late"}, headers=alice
    )
    assert refused.status_code == 403 and refused.json()["error"] == "thread_locked"
    assert (
        await client.patch(f"/api/v1/threads/{made['id']}", json={"title": "x"}, headers=mod)
    ).status_code == 422
    assert (
        await client.patch(f"/api/v1/threads/{made['id']}", json={"pinned": "sky"}, headers=mod)
    ).status_code == 422
    hidden = await client.patch(f"/api/v1/threads/{made['id']}", json={"hidden": True}, headers=mod)
    assert hidden.json()["hidden"] is True
    assert (await client.get(f"/api/v1/threads/{made['id']}", headers=alice)).status_code == 404


async def test_reactions_bookmarks_notifications(client, people):
    root, alice, bob = people["root"], people["alice"], people["bob"]
    general = await make_category(client, root, name="General")
    made = (
        await client.post(
            "/api/v1/threads",
            json={"category_id": general["id"], "title": "React", "body": "x"},
            headers=alice,
        )
    ).json()
    post_id = made["first_post"]["id"]
    added = await client.post(
        f"/api/v1/posts/{post_id}/reactions", json={"emoji": "👍"}, headers=bob
    )
    assert added.json() == {
        "post_id": post_id,
        "emoji": "👍",
        "added": True,
        "reactions": {"👍": 1},
    }
    removed = await client.post(
        f"/api/v1/posts/{post_id}/reactions", json={"emoji": "👍"}, headers=bob
    )
    assert removed.json()["added"] is False and removed.json()["reactions"] == {}
    unknown = await client.post(
        f"/api/v1/posts/{post_id}/reactions", json={"emoji": "x"}, headers=bob
    )
    assert unknown.status_code == 422 and unknown.json()["error"] == "unknown_emoji"
    marked = await client.post(f"/api/v1/posts/{post_id}/bookmark", headers=bob)
    assert marked.json()["bookmarked"] is True
    assert [
        b["id"] for b in (await client.get("/api/v1/bookmarks", headers=bob)).json()["bookmarks"]
    ] == [post_id]
    notes = (await client.get("/api/v1/notifications", headers=alice)).json()
    assert notes["unread"] == 1 and notes["notifications"][0]["kind"] == "reaction"
    assert notes["notifications"][0]["actor"] == "bob"
    read = await client.post("/api/v1/notifications/read", json={}, headers=alice)
    assert read.json() == {"unread": 0}
    bad = await client.post("/api/v1/notifications/read", json={"ids": ["x"]}, headers=alice)
    assert bad.status_code == 422


async def test_conversations_and_search(client, people):
    alice, bob, carol, root = people["alice"], people["bob"], people["carol"], people["root"]
    started = await client.post(
        "/api/v1/conversations",
        json={"usernames": ["bob"], "title": "Private chat", "body": "the pineapple plan"},
        headers=alice,
    )
    assert started.status_code == 201
    conversation = started.json()
    assert conversation["participants"] == ["alice", "bob"]
    listed = (await client.get("/api/v1/conversations", headers=bob)).json()["conversations"]
    assert [c["title"] for c in listed] == ["Private chat"]
    assert (await client.get("/api/v1/conversations", headers=carol)).json()["conversations"] == []
    for outsider in (carol, root):
        assert (
            await client.get(f"/api/v1/threads/{conversation['id']}", headers=outsider)
        ).status_code == 404
        found = (await client.get("/api/v1/search?q=pineapple", headers=outsider)).json()
        assert found["results"] == [] and found["total"] == 0
    found = (await client.get("/api/v1/search?q=pineapple", headers=bob)).json()
    assert found["results"][0]["thread_id"] == conversation["id"]
    assert "<mark>" in found["results"][0]["snippet"]
    empty = await client.get("/api/v1/search?q=", headers=bob)
    assert empty.status_code == 422 and empty.json()["error"] == "invalid_query"
    bad = await client.post(
        "/api/v1/conversations", json={"usernames": [], "title": "x", "body": "y"}, headers=bob
    )
    assert bad.status_code == 422


async def test_invisible_content_is_404_everywhere(client, people):
    root, alice, carol = people["root"], people["alice"], people["carol"]
    secret = await make_category(client, root, name="Crew room", visible_to_groups=["Crew"])
    made = (
        await client.post(
            "/api/v1/threads",
            json={"category_id": secret["id"], "title": "Hidden plans", "body": "zeppelin"},
            headers=alice,
        )
    ).json()
    post_id = made["first_post"]["id"]
    checks = [
        ("get", f"/api/v1/threads/{made['id']}", None),
        ("get", f"/api/v1/threads/{made['id']}/posts", None),
        ("post", f"/api/v1/threads/{made['id']}/posts", {"body": "x"}),
        ("patch", f"/api/v1/posts/{post_id}", {"body": "x"}),
        ("delete", f"/api/v1/posts/{post_id}", None),
        ("get", f"/api/v1/posts/{post_id}/revisions", None),
        ("post", f"/api/v1/posts/{post_id}/reactions", {"emoji": "👍"}),
        ("post", f"/api/v1/posts/{post_id}/bookmark", None),
        ("patch", f"/api/v1/categories/{secret['id']}", {"name": "x"}),
    ]
    for method, path, body in checks:
        kwargs: dict[str, Any] = {"headers": carol}
        if body is not None:
            kwargs["json"] = body
        response = await client.request(method.upper(), path, **kwargs)
        assert response.status_code in (403, 404), (path, response.status_code)
        if "categories" not in path:
            assert response.status_code == 404, path
            assert response.json()["error"] == "not_found"
    threads = (await client.get("/api/v1/threads", headers=carol)).json()
    assert threads["threads"] == [] and threads["pinned"] == []
    assert (
        await client.get(f"/api/v1/threads?category_id={secret['id']}", headers=carol)
    ).status_code == 404


async def test_openapi_documents_the_forum_api(app, client):
    await make_member(app, "reader")
    await sign_in(client, "reader")
    schema = (await client.get("/schema/openapi.json")).json()
    for path in (
        "/api/v1/categories",
        "/api/v1/threads",
        "/api/v1/threads/{thread_id}/posts",
        "/api/v1/posts/{post_id}/reactions",
        "/api/v1/search",
        "/api/v1/notifications",
        "/api/v1/conversations",
    ):
        assert path in schema["paths"], path


async def test_posting_is_rate_limited_per_member(client, people):
    root, alice, bob = people["root"], people["alice"], people["bob"]
    general = await make_category(client, root, name="General")
    made = (
        await client.post(
            "/api/v1/threads",
            json={"category_id": general["id"], "title": "Busy", "body": "x"},
            headers=alice,
        )
    ).json()
    limit = LIMITS["post"].count
    for n in range(limit):
        response = await client.post(
            f"/api/v1/threads/{made['id']}/posts", json={"body": f"r{n}"}, headers=bob
        )
        assert response.status_code == 201
    refused = await client.post(
        f"/api/v1/threads/{made['id']}/posts", json={"body": "one more"}, headers=bob
    )
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert refused.json()["error"] == "rate_limited"
    other = await client.post(
        f"/api/v1/threads/{made['id']}/posts", json={"body": "alice is fine"}, headers=alice
    )
    assert other.status_code == 201


async def test_odd_numbers_in_requests_are_4xx_or_ignored_never_500(client, people):
    root, alice, mod = people["root"], people["alice"], people["mod"]
    general = await make_category(client, root, name="General")
    made = (
        await client.post(
            "/api/v1/threads",
            json={"category_id": general["id"], "title": "Numbers", "body": "x"},
            headers=alice,
        )
    ).json()
    huge = 10**20
    checks = [
        ("GET", f"/api/v1/threads/{made['id']}/posts?after={huge}", None, alice, {200}),
        ("GET", f"/api/v1/notifications?before={huge}", None, alice, {200}),
        ("POST", "/api/v1/notifications/read", {"ids": [huge]}, alice, {200}),
        ("GET", "/api/v1/threads?cursor=1700000000000000_9999999999", None, alice, {400}),
        ("PATCH", f"/api/v1/threads/{made['id']}", {"pinned": []}, mod, {422}),
        ("PATCH", f"/api/v1/threads/{made['id']}", {"category_id": None}, mod, {422}),
        ("POST", "/api/v1/categories", {"name": "Big", "position": huge}, root, {422}),
        ("POST", "/api/v1/categories", {"name": "Float", "position": 1.5}, root, {422}),
        ("GET", f"/api/v1/threads/{huge}", None, alice, {404}),
    ]
    for method, path, body, headers, statuses in checks:
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["json"] = body
        response = await client.request(method, path, **kwargs)
        assert response.status_code in statuses, (method, path, response.status_code, response.text)


async def test_concurrent_reactions_keep_an_exact_count(app, client, people):
    import asyncio

    from community.forum import services as forum

    root, alice = people["root"], people["alice"]
    general = await make_category(client, root, name="General")
    made = (
        await client.post(
            "/api/v1/threads",
            json={"category_id": general["id"], "title": "Popular", "body": "x"},
            headers=alice,
        )
    ).json()
    post_id = made["first_post"]["id"]

    async def react(username: str) -> None:
        async with app.state.sessionmaker() as db:
            member = await accounts.member_by_username(db, username)
            site = await accounts.instance_settings(db, "Testers")
            await forum.toggle_reaction(db, member, post_id, "👍", site)

    await asyncio.gather(*(react(name) for name in ("root", "mod", "bob", "carol")))
    body = (await client.get(f"/api/v1/threads/{made['id']}/posts", headers=alice)).json()
    assert body["posts"][0]["reactions"] == {"👍": 4}


async def test_members_do_not_see_category_group_names(client, people):
    root = people["root"]
    await make_category(client, root, name="Crew room", visible_to_groups=["Crew"])
    member_view = (await client.get("/api/v1/categories", headers=people["alice"])).json()
    assert "visible_to_groups" not in member_view["categories"][0]
    admin_view = (await client.get("/api/v1/categories", headers=root)).json()
    assert admin_view["categories"][0]["visible_to_groups"] == ["Crew"]
