"""Live updates: committed events reach SSE streams, only for what the member may see, and
across processes when Redis carries the channels."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.channels import ChannelsPlugin

from community import live
from community.accounts import services as accounts
from community.events import MembersNotified, PostCreated, PostEdited
from community.forum import services as forum
from community.testing import PASSWORD, api_token, browser, make_member, sign_in


async def setup_thread(app: Litestar, visible_to: list[str] | None = None) -> Any:
    await make_member(app, "alice")
    await make_member(app, "bob")
    await make_member(app, "carol")
    async with app.state.sessionmaker() as db:
        crew = await accounts.create_group(db, "Crew")
        for name in ("alice", "bob"):
            await accounts.add_to_group(db, crew, await accounts.member_by_username(db, name))
        data: dict[str, Any] = {"name": "Crew room"}
        if visible_to:
            data["visible_to_groups"] = visible_to
        category = await forum.save_category(db, None, data)
        alice = await accounts.member_by_username(db, "alice")
        site = await accounts.instance_settings(db, "Testers")
        thread, _ = await forum.create_thread(
            db, alice, category_id=category.id, title="Live talk", body="hi", site=site
        )
        return thread


def test_events_become_messages_naming_only_ids():
    assert live.messages("ns", PostCreated(post_id=7, thread_id=3, number=2, author_id=1)) == [
        ("ns:thread:3", {"event": "post", "data": "2"})
    ]
    assert live.messages("ns", PostEdited(post_id=7, thread_id=3, editor_id=1)) == [
        ("ns:thread:3", {"event": "post-7", "data": "7"})
    ]
    assert live.messages("ns", MembersNotified((4, 5))) == [
        ("ns:member:4", {"event": "notify", "data": ""}),
        ("ns:member:5", {"event": "notify", "data": ""}),
    ]


async def next_message(stream: AsyncIterator[Any], within: float = 5.0) -> Any:
    return await asyncio.wait_for(anext(stream), within)


async def settled(channels: ChannelsPlugin, stream: AsyncIterator[Any], channel: str) -> None:
    """Skip what earlier writes published: with Redis, a setup's messages may still be on their
    way when the stream subscribes. Channels publish in order, so a marker comes after them."""
    channels.publish('{"event": "marker", "data": ""}', channel)
    while (await next_message(stream)).event != "marker":
        pass


async def test_a_committed_reply_reaches_the_thread_and_badge_streams(app):
    thread = await setup_thread(app)
    channels = app.plugins.get(ChannelsPlugin)
    namespace = app.state.namespace
    async with app.state.sessionmaker() as db:
        alice = await accounts.member_by_username(db, "alice")
    stream = live.stream(
        channels,
        [live.thread_channel(namespace, thread.id), live.member_channel(namespace, alice.id)],
    )
    assert (await next_message(stream)).event == "ready"
    await settled(channels, stream, live.thread_channel(namespace, thread.id))
    async with app.state.sessionmaker() as db:
        bob = await accounts.member_by_username(db, "bob")
        site = await accounts.instance_settings(db, "Testers")
        await forum.reply(db, bob, thread.id, "live reply", site)
    received = {(await next_message(stream)).event for _ in range(2)}
    assert received == {"post", "notify"}
    await stream.aclose()


async def test_a_rolled_back_write_publishes_nothing(app):
    thread = await setup_thread(app)
    channels = app.plugins.get(ChannelsPlugin)
    channel = live.thread_channel(app.state.namespace, thread.id)
    stream = live.stream(channels, [channel])
    assert (await next_message(stream)).event == "ready"
    await settled(channels, stream, channel)
    async with app.state.sessionmaker() as db:
        bob = await accounts.member_by_username(db, "bob")
        fresh = await forum.thread_for(db, bob, thread.id)
        await forum.add_post(db, bob, fresh, "never committed")
        await db.rollback()
    with pytest.raises(TimeoutError):
        await next_message(stream, within=0.5)
    await stream.aclose()


async def test_keepalive_comments_while_quiet(app):
    channels = app.plugins.get(ChannelsPlugin)
    stream = live.stream(channels, ["quiet"], keepalive=0.05)
    assert (await next_message(stream)).event == "ready"
    assert (await next_message(stream)).comment == "keepalive"
    await stream.aclose()


async def test_a_member_cannot_subscribe_to_a_thread_they_cannot_see(app):
    thread = await setup_thread(app, visible_to=["Crew"])
    async with browser(app) as carol:
        await sign_in(carol, "carol")
        response = await carol.get(f"/live?thread={thread.id}")
        assert response.status_code == 404


# ---------------------------------------------------------------------------------------------
# Real servers: the stream over HTTP, and across two processes sharing Redis


COMMUNITY = str(Path(sys.executable).parent / "community")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [COMMUNITY, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the server did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@asynccontextmanager
async def signed_in(url: str, username: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        page = await client.get("/signin")
        token = page.text.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]
        response = await client.post(
            "/signin", data={"username": username, "password": PASSWORD, "_csrf_token": token}
        )
        assert response.status_code in (200, 302, 303)
        yield client


async def read_until(lines: AsyncIterator[str], event: str, within: float = 10.0) -> None:
    async def scan() -> None:
        async for line in lines:
            if line == f"event: {event}":
                return
        raise AssertionError(f"stream ended before {event!r}")

    await asyncio.wait_for(scan(), within)


async def test_a_post_through_one_server_appears_on_a_page_of_another(app, env):
    thread = await setup_thread(app)
    headers = await api_token(app, "alice")
    two = "COMMUNITY_REDIS_URL" in env  # in-process channels reach only their own process
    with ExitStack() as servers:
        first = servers.enter_context(server(env))
        second = servers.enter_context(server(env)) if two else first
        async with signed_in(second, "bob") as bob:
            async with bob.stream("GET", f"/live?thread={thread.id}") as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                lines = stream.aiter_lines()
                await read_until(lines, "ready")
                async with httpx.AsyncClient(base_url=first, timeout=10) as api:
                    posted = await api.post(
                        f"/api/v1/threads/{thread.id}/posts",
                        json={"body": "hello across processes"},
                        headers=headers,
                    )
                    assert posted.status_code == 201, posted.text
                await read_until(lines, "post")
            fragment = await bob.get(
                f"/t/{thread.id}/posts?after=1", headers={"HX-Request": "true"}
            )
            assert "hello across processes" in fragment.text


async def test_the_stream_ends_when_access_ends(app):
    channels = app.plugins.get(ChannelsPlugin)
    allowed = [True]

    async def still_allowed() -> bool:
        return allowed[0]

    stream = live.stream(channels, ["x"], keepalive=0.02, still_allowed=still_allowed, recheck=0)
    assert (await next_message(stream)).event == "ready"
    assert (await next_message(stream)).comment == "keepalive"
    allowed[0] = False
    with pytest.raises(StopAsyncIteration):
        await next_message(stream)


async def recheck_around(
    app: Litestar,
    monkeypatch: pytest.MonkeyPatch,
    username: str,
    thread_id: int,
    change: Callable[[], Awaitable[None]],
) -> tuple[bool, bool]:
    """What the /live stream's recheck answers, run inside the streaming request (where the
    request's own state lives), before and after ``change``."""
    answers: list[bool] = []

    async def checking(
        channels: ChannelsPlugin, names: list[str], still_allowed: Any = None, **_: Any
    ) -> AsyncIterator[Any]:
        answers.append(await still_allowed())
        await change()
        answers.append(await still_allowed())
        yield {"event": "checked", "data": ""}

    monkeypatch.setattr(live, "stream", checking)
    async with browser(app) as client:
        await sign_in(client, username)
        assert (await client.get(f"/live?thread={thread_id}")).status_code == 200
    before, after = answers
    return before, after


async def test_an_open_stream_hears_that_its_member_lost_the_thread(app, monkeypatch):
    """The categories the member saw when the stream opened are worked out again."""
    thread = await setup_thread(app, visible_to=["Crew"])

    async def remove_bob() -> None:
        async with app.state.sessionmaker() as db:
            crew = await accounts.group_by_name(db, "Crew")
            await accounts.remove_from_group(db, crew, await accounts.member_by_username(db, "bob"))

    assert await recheck_around(app, monkeypatch, "bob", thread.id, remove_bob) == (True, False)
