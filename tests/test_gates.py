"""Gates: reject with a reason, hold for review (invisible to others until approved), and
fail closed when a gate raises."""

from __future__ import annotations

from typing import Any

import pytest

from community import plugins as plugin_api
from community.testing import api_token, make_member, plugin_health
from tests.plugins import gatekeeper


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [gatekeeper]


@pytest.fixture
async def people(app) -> dict[str, Any]:
    for name, role in (
        ("root", "admin"),
        ("mod", "moderator"),
        ("alice", "member"),
        ("bob", "member"),
    ):
        await make_member(app, name, role)
    async with app.state.sessionmaker() as db:
        await plugin_api.set_enabled(db, app.state.plugins, "gatekeeper", True)
    return {name: await api_token(app, name) for name in ("root", "mod", "alice", "bob")}


async def start(client: Any, people: dict[str, Any], title: str, body: str) -> Any:
    category = await client.post(
        "/api/v1/categories", json={"name": "General"}, headers=people["root"]
    )
    category_id = (
        category.json().get("id")
        or (await client.get("/api/v1/categories", headers=people["root"])).json()["categories"][0][
            "id"
        ]
    )
    return await client.post(
        "/api/v1/threads",
        json={"category_id": category_id, "title": title, "body": body},
        headers=people["alice"],
    )


async def test_a_rejected_post_is_refused_with_the_reason(client, people):
    made = (await start(client, people, "Fine title", "fine body")).json()
    response = await client.post(
        f"/api/v1/threads/{made['id']}/posts", json={"body": "buy spam"}, headers=people["bob"]
    )
    assert response.status_code == 422
    assert response.json() == {"error": "rejected", "detail": "No spam, please.", "field": "body"}
    posts = (
        await client.get(f"/api/v1/threads/{made['id']}/posts", headers=people["alice"])
    ).json()
    assert len(posts["posts"]) == 1


@pytest.mark.hook("check_post")
async def test_a_held_reply_is_seen_by_its_author_and_moderators_until_approved(client, people):
    made = (await start(client, people, "Open question", "what now")).json()
    held = await client.post(
        f"/api/v1/threads/{made['id']}/posts", json={"body": "maybe @alice"}, headers=people["bob"]
    )
    assert held.status_code == 201 and held.json()["held"] is True
    post_id = held.json()["id"]

    def numbers(response: Any) -> list[int]:
        return [p["number"] for p in response.json()["posts"]]

    url = f"/api/v1/threads/{made['id']}/posts"
    assert numbers(await client.get(url, headers=people["bob"])) == [1, 2]
    assert numbers(await client.get(url, headers=people["mod"])) == [1, 2]
    assert numbers(await client.get(url, headers=people["alice"])) == [1]
    notes = (await client.get("/api/v1/notifications", headers=people["alice"])).json()
    assert notes["notifications"] == []  # nobody hears of a held post
    found = (await client.get("/api/v1/search?q=maybe", headers=people["alice"])).json()
    assert found["total"] == 0
    queue = (await client.get("/api/v1/posts/held", headers=people["mod"])).json()["posts"]
    assert [p["id"] for p in queue] == [post_id] and queue[0]["reason"] == "It says maybe."
    assert (await client.get("/api/v1/posts/held", headers=people["bob"])).status_code == 403
    assert (
        await client.post(f"/api/v1/posts/{post_id}/approve", headers=people["bob"])
    ).status_code == 403
    approved = await client.post(f"/api/v1/posts/{post_id}/approve", headers=people["mod"])
    assert approved.status_code == 200 and approved.json()["held"] is False
    assert numbers(await client.get(url, headers=people["alice"])) == [1, 2]
    notes = (await client.get("/api/v1/notifications", headers=people["alice"])).json()
    assert [n["kind"] for n in notes["notifications"]] == ["mention"]


@pytest.mark.hook("check_thread")
async def test_a_held_thread_is_invisible_to_others(client, people):
    made = (await start(client, people, "maybe later", "body")).json()
    assert (
        await client.get(f"/api/v1/threads/{made['id']}", headers=people["alice"])
    ).status_code == 200
    assert (
        await client.get(f"/api/v1/threads/{made['id']}", headers=people["bob"])
    ).status_code == 404
    listed = (await client.get("/api/v1/threads", headers=people["bob"])).json()["threads"]
    assert listed == []
    await client.post(f"/api/v1/posts/{made['first_post']['id']}/approve", headers=people["mod"])
    assert (
        await client.get(f"/api/v1/threads/{made['id']}", headers=people["bob"])
    ).status_code == 200


async def test_a_gate_that_fails_holds(app, client, people):
    made = (await start(client, people, "Fine title", "fine body")).json()
    response = await client.post(
        f"/api/v1/threads/{made['id']}/posts", json={"body": "boom"}, headers=people["bob"]
    )
    assert response.status_code == 201 and response.json()["held"] is True
    health = await plugin_health(app, "gatekeeper")
    assert [hook for _, hook, _ in health.recent] == ["check_post"]


async def test_edits_pass_the_gate_too(client, people):
    made = (await start(client, people, "Fine title", "fine body")).json()
    post_id = made["first_post"]["id"]
    refused = await client.patch(
        f"/api/v1/posts/{post_id}", json={"body": "spam now"}, headers=people["alice"]
    )
    assert refused.status_code == 422 and refused.json()["detail"] == "No spam, please."
    held = await client.patch(
        f"/api/v1/posts/{post_id}", json={"body": "maybe now"}, headers=people["alice"]
    )
    assert held.status_code == 200 and held.json()["held"] is True


@pytest.mark.hook("rewrite_text")
async def test_rewrites_change_what_is_stored_in_titles_bodies_edits_and_messages(
    app, client, people
):
    made = (await start(client, people, "A darn title", "darn it")).json()
    assert made["title"] == "A dang title" and made["first_post"]["html"] == "<p>dang it</p>\n"
    reply = await client.post(
        f"/api/v1/threads/{made['id']}/posts", json={"body": "darn again"}, headers=people["bob"]
    )
    assert "dang again" in reply.json()["html"]
    edited = await client.patch(
        f"/api/v1/posts/{reply.json()['id']}", json={"body": "darn edit"}, headers=people["bob"]
    )
    assert "dang edit" in edited.json()["html"]
    message = await client.post(
        "/api/v1/conversations",
        json={"usernames": ["alice"], "title": "darn chat", "body": "darn hello"},
        headers=people["bob"],
    )
    assert message.status_code == 201, message.text
    conversation = await client.get(
        f"/api/v1/threads/{message.json()['id']}/posts", headers=people["bob"]
    )
    assert "darn" not in conversation.text and "dang hello" in conversation.text
    broken = await client.post(
        f"/api/v1/threads/{made['id']}/posts", json={"body": "kaboom darn"}, headers=people["bob"]
    )
    assert broken.status_code == 201 and "kaboom darn" in broken.json()["html"]
    health = await plugin_health(app, "gatekeeper")
    assert "rewrite_text" in {hook for _, hook, _ in health.recent}
