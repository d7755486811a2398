"""Links followed into the community with campaign tags reach plugins as ``LinkFollowed``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from community.ratelimit import LIMITS
from community.testing import browser, make_member, make_thread, sign_in
from tests.plugins import hello
from tests.test_plugins import enable

pytestmark = pytest.mark.hook("track_event")

TAGS = "utm_source=mastodon&utm_medium=social&utm_campaign=spring%20launch"


async def followed() -> list[Any]:
    await asyncio.sleep(0.05)  # track_event runs as a task after the commit
    return [e for e in hello.events if e.name == "LinkFollowed"]


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [hello]


@pytest.fixture(autouse=True)
async def listening(app: Any) -> None:
    await enable(app, "hello")
    hello.events.clear()


async def test_a_visitor_not_signed_in_is_counted_on_the_way_to_sign_in(app, member):
    thread = await make_thread(app, member.username, title="Spring launch")
    async with browser(app) as visitor:
        page = await visitor.get(f"{thread.url}?{TAGS}")
    assert page.url.path == "/signin"  # nothing of the thread shown
    [event] = await followed()
    assert (event.source, event.medium, event.campaign) == ("mastodon", "social", "spring launch")
    assert (event.thread_id, event.member_id, event.path) == (thread.id, None, thread.url)


async def test_a_member_is_counted_with_their_id(app, member):
    thread = await make_thread(app, member.username)
    async with browser(app) as client:
        await sign_in(client, member.username)
        assert (await client.get(f"{thread.url}?{TAGS}")).status_code == 200
        assert (await client.get(f"/?{TAGS}")).status_code == 200
    events = await followed()
    found = [(e.thread_id, e.member_id) for e in events]
    assert found == [(thread.id, member.id), (None, member.id)]


async def test_untagged_pages_the_api_and_posts_are_not_counted(app, member):
    thread = await make_thread(app, member.username)
    async with browser(app) as client:
        await sign_in(client, member.username)
        await client.get(thread.url)
        await client.get(f"{thread.url}?utm_source=")
        await client.get(f"{thread.url}?utm_medium=social")
        await client.get(f"/api/v1/threads/{thread.id}?{TAGS}")
        await client.post(f"/t/{thread.id}/watch?{TAGS}")
    assert await followed() == []


async def test_tags_are_cleaned_and_cut_short(app, member):
    async with browser(app) as visitor:
        await visitor.get("/signin?utm_source=%20news%0Aletter%20&utm_campaign=" + "x" * 300)
    [event] = await followed()
    assert event.source == "newsletter" and event.campaign == "x" * 100 and event.medium == ""


async def test_one_address_is_counted_a_limited_number_of_times(app):
    await make_member(app, "alice")
    limit = LIMITS["campaign_ip"].count
    async with browser(app) as visitor:
        for _ in range(limit + 5):
            await visitor.get(f"/signin?{TAGS}")
    assert len(await followed()) == limit
