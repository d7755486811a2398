"""Splitting and merging threads from the thread tools page and the API, audited."""

from __future__ import annotations

from typing import Any

from community_moderation.models import AuditEntry, Item
from sqlalchemy import select

from community.forum.models import Post, Thread
from community.testing import api_token, make_thread, post_form, sign_in

API = "/api/v1/moderation/threads"


async def write_replies(client: Any, app: Any, thread: Thread, *bodies: str) -> list[int]:
    headers = await api_token(app, "member")
    ids = []
    for body in bodies:
        response = await client.post(
            f"/api/v1/threads/{thread.id}/posts", json={"body": body}, headers=headers
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def bodies(app: Any, thread_id: int) -> list[str]:
    async with app.state.sessionmaker() as db:
        rows = await db.scalars(
            select(Post.body).where(Post.thread_id == thread_id).order_by(Post.number)
        )
        return list(rows.all())


async def audit_entries(app: Any, action: str) -> list[AuditEntry]:
    async with app.state.sessionmaker() as db:
        rows = await db.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows.all())


async def test_the_tools_page_offers_split_and_merge(app, client, member, mod, thread) -> None:
    await write_replies(client, app, thread, "First reply about **apples**.", "x" * 200)
    await sign_in(client, "mod")
    page = await client.get(f"/p/moderation/threads/{thread.id}")
    assert page.status_code == 200
    assert f'action="/p/moderation/threads/{thread.id}/split"' in page.text
    assert f'action="/p/moderation/threads/{thread.id}/merge"' in page.text
    assert "#2 member" in page.text and "First reply about **apples**." in page.text
    assert "x" * 79 + "…" in page.text and "x" * 81 not in page.text
    assert 'name="post_ids"' in page.text and 'name="target_thread_id"' in page.text


async def test_split_from_the_form_goes_to_the_new_thread(app, client, member, mod, thread) -> None:
    ids = await write_replies(client, app, thread, "Stay.", "Go one.", "Go two.", "Go three.")
    await sign_in(client, "mod")
    page = f"/p/moderation/threads/{thread.id}"
    response = await post_form(
        client,
        f"{page}/split",
        {"post_ids": [str(ids[1])], "numbers": "4-5", "title": "Going elsewhere"},
        page=page,
    )
    assert response.status_code == 200, response.text
    assert "/t/going-elsewhere/" in str(response.url)
    new_id = int(str(response.url).rstrip("/").rsplit("/", 1)[1])
    assert "Go one." in response.text and "Go three." in response.text
    assert await bodies(app, new_id) == ["Go one.", "Go two.", "Go three."]
    assert await bodies(app, thread.id) == ["The first post.", "Stay."]
    [entry] = await audit_entries(app, "thread.split")
    assert entry.actor_id == mod.id and entry.target_id == thread.id
    assert entry.before == {"thread_id": thread.id, "post_count": 5, "post_ids": ids[1:]}
    assert entry.after["thread_id"] == new_id and entry.after["title"] == "Going elsewhere"
    assert entry.after["post_count"] == 3 and entry.after["source_post_count"] == 2


async def test_bad_split_forms_say_why(app, client, member, mod, thread) -> None:
    ids = await write_replies(client, app, thread, "One.", "Two.")
    await sign_in(client, "mod")
    page = f"/p/moderation/threads/{thread.id}"
    for data, message in (
        ({"title": "A fine title"}, "Choose at least one post"),
        ({"post_ids": [str(ids[0])], "title": "x"}, "Titles are 3 to 200"),
        ({"numbers": "1", "title": "A fine title"}, "opening post stays"),
        ({"numbers": "9", "title": "A fine title"}, "no post numbered 9"),
        ({"numbers": "two", "title": "A fine title"}, "whole numbers or ranges"),
        ({"numbers": "1-99999999", "title": "A fine title"}, "1,000 posts at most"),
        ({"post_ids": ["abc"], "title": "A fine title"}, "whole numbers only"),
        ({"post_ids": [str(ids[0])], "title": "A fine title", "category_id": "999"}, "category"),
    ):
        response = await post_form(client, f"{page}/split", data, page=page)
        assert response.status_code == 422, (data, response.status_code)
        assert message in response.text, (data, response.text[-2000:])
        assert "Thread tools" in response.text
    assert await bodies(app, thread.id) == ["The first post.", "One.", "Two."]
    assert await audit_entries(app, "thread.split") == []


async def test_merge_from_the_form_takes_an_address(app, client, member, mod, thread) -> None:
    target = await make_thread(app, "member", title="The older thread", body="Older.")
    [moved] = await write_replies(client, app, thread, "Reply to merge.")
    async with app.state.sessionmaker() as db:
        db.add(Item(kind="flag", post_id=moved, thread_id=thread.id, reason="spam"))
        await db.commit()
    await sign_in(client, "mod")
    page = f"/p/moderation/threads/{thread.id}"
    response = await post_form(
        client,
        f"{page}/merge",
        {"target_thread_id": f"http://testserver/t/the-older-thread/{target.id}/1"},
        page=page,
    )
    assert response.status_code == 200, response.text
    assert str(response.url).endswith(target.url)
    assert await bodies(app, target.id) == ["Older.", "The first post.", "Reply to merge."]
    async with app.state.sessionmaker() as db:
        assert await db.get(Thread, thread.id) is None
        item = await db.scalar(select(Item).where(Item.post_id == moved))
        assert item is not None and item.thread_id == target.id
    [entry] = await audit_entries(app, "thread.merge")
    assert entry.target_id == thread.id and entry.actor_id == mod.id
    assert entry.before == {"thread_id": thread.id, "title": thread.title, "post_count": 2}
    assert entry.after == {"thread_id": target.id, "title": "The older thread", "post_count": 3}


async def test_bad_merge_forms_say_why(app, client, member, mod, thread) -> None:
    await sign_in(client, "mod")
    page = f"/p/moderation/threads/{thread.id}"
    for target, message in (
        ("", "No such thread"),
        (str(thread.id), "into itself"),
        ("/t/elsewhere/99999", "No such thread"),
        ("https://example.com/not-a-thread", "No such thread"),
    ):
        response = await post_form(client, f"{page}/merge", {"target_thread_id": target}, page=page)
        assert response.status_code == 422, (target, response.status_code)
        assert message in response.text
    assert await bodies(app, thread.id) == ["The first post."]


async def test_split_and_merge_through_the_api(app, client, member, mod, thread) -> None:
    ids = await write_replies(client, app, thread, "Keep.", "Move.")
    headers = await api_token(app, "mod")
    response = await client.post(
        f"{API}/{thread.id}/split",
        json={"post_ids": [ids[1]], "title": "Moved out"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["title"] == "Moved out" and new["post_count"] == 1
    assert new["category_id"] == thread.category_id and new["url"].endswith(f"/{new['id']}")
    response = await client.post(
        f"{API}/{new['id']}/merge", json={"target_thread_id": thread.id}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == thread.id and response.json()["post_count"] == 3
    assert await bodies(app, thread.id) == ["The first post.", "Keep.", "Move."]
    assert len(await audit_entries(app, "thread.split")) == 1
    assert len(await audit_entries(app, "thread.merge")) == 1


async def test_the_api_refuses_bad_input(app, client, member, mod, thread) -> None:
    [reply] = await write_replies(client, app, thread, "A reply.")
    headers = await api_token(app, "mod")
    for path, body, status, message in (
        ("split", {"post_ids": [reply]}, 422, "Titles are"),
        ("split", {"post_ids": str(reply), "title": "Fine"}, 201, ""),
        ("split", {"post_ids": [], "title": "Fine title"}, 422, "at least one"),
        ("split", {"post_ids": 7, "title": "Fine title"}, 422, "at least one"),
        ("split", {"post_ids": [10**20], "title": "Fine title"}, 422, "whole numbers"),
        ("split", {"title": "Fine", "extra": 1}, 422, "Unknown fields: extra"),
        ("split", [1, 2], 422, "JSON object"),
        ("merge", {}, 422, "target_thread_id"),
        ("merge", {"target_thread_id": "nope"}, 422, "No such thread"),
        ("merge", {"target_thread_id": 10**30}, 422, "No such thread"),
    ):
        response = await client.post(f"{API}/{thread.id}/{path}", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        if status != 201:
            assert message in response.json()["detail"], (body, response.text)
    for path in ("split", "merge"):
        response = await client.post(f"{API}/999999/{path}", json={}, headers=headers)
        assert response.status_code == 404
        response = await client.post(
            f"{API}/{thread.id}/{path}", json={}, headers=await api_token(app, "member")
        )
        assert response.status_code == 403


async def test_members_cannot_use_the_forms(app, client, member, mod, thread) -> None:
    await sign_in(client, "member")
    for path in ("split", "merge"):
        response = await post_form(
            client, f"/p/moderation/threads/{thread.id}/{path}", {"title": "Mine"}, page="/"
        )
        assert response.status_code == 403
