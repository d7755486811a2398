"""Plugins' live channels: a member's /live stream listens to the channels enabled plugins
name for them (under each plugin's prefix), and ``plugins.publish`` reaches those streams,
after the write commits, in-process or through Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from litestar import Litestar
from litestar.channels import ChannelsPlugin
from litestar.response import ServerSentEventMessage

from community import live
from community import plugins as plugin_api
from community.accounts import services as accounts
from community.accounts.models import Member
from community.forum import services as forum
from community.testing import SITE_NAME, browser, enable_plugin, make_member, plugin_health, sign_in
from tests.plugins import chatter, hello
from tests.test_live import next_message, recheck_around, settled


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [hello, chatter]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["hello", "chatter"]


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], Any]]:
    """What each /live request subscribed to (and its recheck), the stream cut short."""
    calls: list[tuple[list[str], Any]] = []

    async def one_message(
        channels: ChannelsPlugin, names: list[str], still_allowed: Any = None, **_: Any
    ) -> AsyncIterator[ServerSentEventMessage]:
        calls.append((names, still_allowed))
        yield ServerSentEventMessage(event="ready", data="")

    monkeypatch.setattr(live, "stream", one_message)
    return calls


async def open_live(app: Litestar, username: str) -> None:
    async with browser(app) as client:
        await sign_in(client, username)
        response = await client.get("/live")
        assert response.status_code == 200
        assert "event: ready" in response.text


def hello_channel(app: Litestar, name: str) -> str:
    return f"{app.state.namespace}:plugin:hello:{name}"


async def channels_for(app: Litestar, member: Member) -> list[str]:
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, SITE_NAME)
    with plugin_api.activated(app.state.plugins, site):
        return await plugin_api.live_channels(member)


@pytest.mark.hook("live_channels")
async def test_the_live_stream_listens_to_the_channels_plugins_name(app, opened):
    alice = await make_member(app, "alice")
    await make_member(app, "rita", "moderator")
    await open_live(app, "alice")
    await open_live(app, "rita")
    (alice_names, _), (rita_names, _) = opened
    assert hello_channel(app, "greetings") in alice_names
    assert hello_channel(app, "reviews") not in alice_names
    assert {hello_channel(app, "greetings"), hello_channel(app, "reviews")} <= set(rita_names)
    assert live.member_channel(app.state.namespace, alice.id) in alice_names  # the core's stay


async def test_a_disabled_plugin_names_no_channels_and_open_streams_restart(app, opened):
    await make_member(app, "alice")
    await open_live(app, "alice")
    names, still_allowed = opened[0]
    assert await still_allowed()  # nothing changed
    await enable_plugin(app, "hello", False)
    assert not await still_allowed()  # the page reconnects, without hello's channels
    await open_live(app, "alice")
    assert not any(":plugin:hello:" in name for name in opened[1][0])


async def test_plugins_cannot_name_the_cores_channels_or_bad_names(app):
    alice = await make_member(app, "alice")
    core = live.thread_channel(app.state.namespace, 1)
    chatter.answer[0] = [core, "member:1"]
    try:
        names = await channels_for(app, alice)
        assert core not in names
        assert f"{app.state.namespace}:plugin:chatter:{core}" in names
        chatter.answer[0] = ["ok", "no spaces allowed"]
        names = await channels_for(app, alice)
        assert not any(":plugin:chatter:" in name for name in names)  # refused whole
        assert hello_channel(app, "greetings") in names  # other plugins unaffected
        chatter.answer[0] = "greetings"  # a string is not a list of names
        assert not any(":plugin:chatter:" in n for n in await channels_for(app, alice))
    finally:
        chatter.answer[0] = None
    health = await plugin_health(app, "chatter")
    assert health.errors == 2


@asynccontextmanager
async def listening(app: Litestar, member: Member) -> AsyncIterator[asyncio.Queue[Any]]:
    """The messages of ``member``'s plugin channels, read by a task of their own (waiting in
    vain for one must not cancel the stream)."""
    channels = app.plugins.get(ChannelsPlugin)
    stream = live.stream(channels, await channels_for(app, member))
    assert (await next_message(stream)).event == "ready"
    await settled(channels, stream, hello_channel(app, "greetings"))
    received: asyncio.Queue[Any] = asyncio.Queue()

    async def read() -> None:
        async for message in stream:
            await received.put(message)

    reader = asyncio.create_task(read())
    try:
        yield received
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await stream.aclose()


async def nothing_arrives(received: asyncio.Queue[Any]) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(received.get(), 0.3)
        return False
    return True


async def test_publish_reaches_the_streams_of_the_channel(app):
    alice = await make_member(app, "alice")
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, SITE_NAME)
    async with listening(app, alice) as received:
        with plugin_api.activated(app.state.plugins, site):
            plugin_api.publish("hello", "reviews", "reviewed", "1")  # alice does not hear it
            plugin_api.publish("hello", "greetings", "greeted", "42")
        message = await asyncio.wait_for(received.get(), 5)
        assert (message.event, message.data) == ("hello-greeted", "42")


async def test_publish_with_a_session_waits_for_the_commit(app):
    alice = await make_member(app, "alice")
    async with listening(app, alice) as received, app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, SITE_NAME)
        with plugin_api.activated(app.state.plugins, site):
            plugin_api.publish("hello", "greetings", "greeted", "rolled back", db=db)
            await db.rollback()
            plugin_api.publish("hello", "greetings", "greeted", "committed", db=db)
            plugin_api.publish("hello", "greetings", "greeted", "committed", db=db)
            assert await nothing_arrives(received)
            await db.commit()
        message = await asyncio.wait_for(received.get(), 5)
        assert message.data == "committed"
        assert await nothing_arrives(received)


@pytest.mark.hook("register_listeners")
async def test_every_process_listens_to_the_channels_plugins_register(app):
    """A plugin's listener hears what any process publishes to its channel (here: this one,
    through Redis when configured); one that fails hears the next message."""
    hello.shouts.clear()
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, SITE_NAME)
    with plugin_api.activated(app.state.plugins, site):
        for _ in range(100):  # until the listeners subscribed (through Redis: a moment)
            plugin_api.publish("hello", "shouts", "shouted", "ready?")
            await asyncio.sleep(0.05)
            if hello.shouts:
                break
        await asyncio.sleep(0.1)
        hello.shouts.clear()
        plugin_api.publish("hello", "broken", "x", "lost")
        plugin_api.publish("hello", "shouts", "shouted", "one")
        plugin_api.publish("hello", "greetings", "greeted", "not a shout")
        plugin_api.publish("hello", "shouts", "shouted", "two")
    for _ in range(100):
        if len(hello.shouts) == 2:
            break
        await asyncio.sleep(0.05)
    assert hello.shouts == ["one", "two"]
    assert len(app.state.listeners) == 1


def test_publish_checks_names_and_needs_a_running_app():
    with pytest.raises(ValueError, match="channel"):
        plugin_api.publish("hello", "no spaces", "greeted")
    with pytest.raises(ValueError, match="event"):
        plugin_api.publish("hello", "greetings", "sse:greeted")
    plugin_api.publish("hello", "greetings", "greeted")  # a script: nothing to tell, no error


async def test_a_plugin_setting_changed_while_a_stream_is_open_hides_its_thread_at_the_recheck(
    app, monkeypatch
):
    """The plugins' settings as they were when the stream opened, and the categories seen
    then, are read again."""
    await make_member(app, "alice")
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, SITE_NAME)
        alice = await accounts.member_by_username(db, "alice")
        lab = await forum.save_category(db, None, {"name": "Classified lab"})
        thread, _ = await forum.create_thread(
            db, alice, category_id=lab.id, title="Notes", body="ocelot", site=site
        )

    async def hide(word: str) -> None:
        async with app.state.sessionmaker() as db:
            settings = {"greeting": "Hi", "times": "1", "hidden_word": word}
            await plugin_api.save_settings(db, app.state.plugins, "hello", settings)

    await hide("")
    changed = await recheck_around(app, monkeypatch, "alice", thread.id, lambda: hide("Classified"))
    assert changed == (True, False)
