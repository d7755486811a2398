"""The live inbox: moderators' pages listen to the plugin's inbox channel, every change to an
inbox item (opened, flagged again, claimed, edited, handled, released) is announced there once
it commits, and the queue and the header badge fetch themselves again when they hear it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from community_moderation.models import Item
from litestar import Litestar
from litestar.channels import ChannelsPlugin
from litestar.response import ServerSentEventMessage
from sqlalchemy import select

from community import live
from community.accounts import services as accounts
from community.forum import services as forum
from community.forum.models import Post, Thread
from community.testing import SITE_NAME, api_token, browser, make_member, post_form, sign_in

QUEUE = "/api/v1/moderation/queue"


def inbox_channel(app: Litestar) -> str:
    return live.plugin_channel(app.state.namespace, "moderation", "inbox")


@asynccontextmanager
async def inbox_stream(app: Litestar) -> AsyncIterator[asyncio.Queue[Any]]:
    """What a moderator's page hears on the inbox channel, read by a task of its own."""
    channels = app.plugins.get(ChannelsPlugin)
    stream = live.stream(channels, [inbox_channel(app)])
    assert (await anext(stream)).event == "ready"
    # With Redis, a setup's messages may still be on their way: skip up to a marker.
    channels.publish('{"event": "marker", "data": ""}', inbox_channel(app))
    while (await asyncio.wait_for(anext(stream), 5)).event != "marker":
        pass
    received: asyncio.Queue[Any] = asyncio.Queue()

    async def read() -> None:
        async for message in stream:
            await received.put(message.event)

    reader = asyncio.create_task(read())
    try:
        yield received
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await stream.aclose()


async def heard(received: asyncio.Queue[Any]) -> list[str]:
    """The events that arrive until a quiet moment."""
    events = []
    with contextlib.suppress(TimeoutError):
        while True:
            events.append(await asyncio.wait_for(received.get(), 0.5))
    return events


async def reply(app: Litestar, username: str, thread: Thread, body: str = "A reply.") -> Post:
    async with app.state.sessionmaker() as db:
        author = await accounts.member_by_username(db, username)
        site = await accounts.instance_settings(db, SITE_NAME)
        _, made = await forum.reply(db, author, thread.id, body, site)
        return made


async def api(app: Litestar, username: str, path: str, data: dict[str, Any]) -> Any:
    async with browser(app) as client:
        return await client.post(path, json=data, headers=await api_token(app, username))


async def flag(app: Litestar, username: str, post: Post) -> Any:
    data = {"post_id": post.id, "reason": "spam"}
    return await api(app, username, "/api/v1/moderation/flags", data)


# ---------------------------------------------------------------------------------------------
# Who listens


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The channels each /live request listened to (the stream cut short)."""
    calls: list[list[str]] = []

    async def one_message(
        channels: Any, names: list[str], **_: Any
    ) -> AsyncIterator[ServerSentEventMessage]:
        calls.append(names)
        yield ServerSentEventMessage(event="ready", data="")

    monkeypatch.setattr(live, "stream", one_message)
    return calls


async def test_moderators_pages_listen_to_the_inbox(app, client, member, mod, opened):
    for username in ("mod", "member"):
        async with browser(app) as page:
            await sign_in(page, username)
            assert (await page.get("/live")).status_code == 200
    mods, members = opened
    assert inbox_channel(app) in mods
    assert inbox_channel(app) not in members


# ---------------------------------------------------------------------------------------------
# What they hear


async def test_a_flag_is_announced_and_a_refused_one_is_not(app, member, mod, thread):
    await make_member(app, "alice")
    post = await reply(app, "member", thread)
    async with inbox_stream(app) as received:
        assert (await flag(app, "member", post)).status_code == 422  # their own post
        assert await heard(received) == []
        assert (await flag(app, "alice", post)).status_code == 201
        assert await heard(received) == ["moderation-inbox"]  # once per commit


async def test_claims_edits_and_decisions_are_announced(app, member, mod, thread):
    await make_member(app, "alice")
    await flag(app, "alice", await reply(app, "member", thread))
    async with app.state.sessionmaker() as db:
        item = await db.scalar(select(Item))
    async with inbox_stream(app) as received:
        steps = [
            ("claim", {}),
            ("edit", {"body": "Tidied up."}),
            ("approve", {}),
        ]
        for version, (action, data) in enumerate(steps, start=item.version):
            path = f"{QUEUE}/{item.id}/{action}"
            response = await api(app, "mod", path, {"version": version, **data})
            assert response.status_code == 200, response.text
            assert await heard(received) == ["moderation-inbox"], action
        stale = await api(app, "mod", f"{QUEUE}/{item.id}/ignore", {"version": 1})
        assert stale.status_code == 409
        assert await heard(received) == []


async def test_a_post_held_by_a_watched_word_is_announced(app, member, mod, thread):
    word = {"pattern": "giveaway", "action": "approve"}
    assert (await api(app, "mod", "/api/v1/moderation/watched-words", word)).status_code == 201
    async with inbox_stream(app) as received:
        path = f"/api/v1/threads/{thread.id}/posts"
        posted = await api(app, "member", path, {"body": "A giveaway!"})
        assert posted.status_code == 201, posted.text
        assert await heard(received) == ["moderation-inbox"]  # from track_event's own commit
    async with app.state.sessionmaker() as db:
        assert (await db.scalar(select(Item.kind))) == "held"


async def test_appeals_and_their_decisions_are_announced(app, member, mod):
    made = await api(
        app,
        "mod",
        "/api/v1/moderation/penalties",
        {
            "username": "member",
            "kind": "silence",
            "reason": "Too loud.",
        },
    )
    assert made.status_code == 201, made.text
    penalty_id = made.json()["id"]
    async with inbox_stream(app) as received:
        path = f"/api/v1/moderation/penalties/{penalty_id}/appeal"
        assert (await api(app, "member", path, {"text": "I was quoting."})).status_code == 201
        assert await heard(received) == ["moderation-inbox"]
        async with browser(app) as client:
            await sign_in(client, "mod")
            page = f"/p/moderation/penalties/{penalty_id}"
            decided = await post_form(client, f"{page}/decide", {"outcome": "uphold"}, page)
            assert decided.status_code == 200
        assert await heard(received) == ["moderation-inbox"]


async def test_going_away_announces_only_when_it_releases_items(app, member, mod, thread):
    await make_member(app, "alice")
    await flag(app, "alice", await reply(app, "member", thread))
    async with app.state.sessionmaker() as db:
        item = await db.scalar(select(Item))
    claimed = await api(app, "mod", f"{QUEUE}/{item.id}/claim", {"version": item.version})
    assert claimed.status_code == 200
    async with inbox_stream(app) as received:
        assert (await api(app, "mod", "/api/v1/moderation/away", {"away": True})).json() == {
            "away": True,
            "unclaimed": 1,
        }
        assert await heard(received) == ["moderation-inbox"]
        await api(app, "mod", "/api/v1/moderation/away", {"away": False})
        await api(app, "mod", "/api/v1/moderation/away", {"away": True})  # nothing claimed
        assert await heard(received) == []


# ---------------------------------------------------------------------------------------------
# The pages that listen


async def test_the_queue_and_the_badge_refresh_on_the_inbox_event(app, client, mod):
    await sign_in(client, "mod")
    page = await client.get("/p/moderation/")
    assert 'hx-trigger="sse:moderation-inbox, every 120s"' in page.text  # the queue
    assert 'hx-trigger="load, sse:moderation-inbox, every 300s"' in page.text  # the badge
    home = await client.get("/")
    assert 'hx-get="/p/moderation/badge"' in home.text and "sse:moderation-inbox" in home.text


async def test_the_inbox_links_the_workload_and_sets_the_moderator_away(app, client, mod):
    await sign_in(client, "mod")
    page = await client.get("/p/moderation/")
    assert 'href="/p/moderation/workload"' in page.text and "Set me away" in page.text
    away = await post_form(
        client, "/p/moderation/away", {"away": "1", "next": "inbox"}, page="/p/moderation/"
    )
    assert away.status_code == 200 and str(away.url).endswith("/p/moderation/")
    assert "You are away." in away.text and "I am back" in away.text
    back = await post_form(
        client, "/p/moderation/away", {"away": "0", "next": "inbox"}, page="/p/moderation/"
    )
    assert "Set me away" in back.text
    elsewhere = await post_form(
        client, "/p/moderation/away", {"away": "0", "next": "/evil"}, page="/p/moderation/"
    )
    assert str(elsewhere.url).endswith("/p/moderation/workload")


async def test_members_find_their_penalties_from_settings_and_their_profile(
    app, client, member, mod
):
    await sign_in(client, "member")
    link = 'href="/p/moderation/my-penalties"'
    assert link in (await client.get("/settings")).text
    assert link in (await client.get("/u/member")).text
    assert link not in (await client.get("/u/mod")).text
