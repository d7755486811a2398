"""Notifications go only to members who may see the thread and the post: a mention, quote or
watch of someone who cannot see it writes no notification and pings no live stream."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import select

from community.accounts import services as accounts
from community.events import DISPATCH, Event, MembersNotified
from community.forum import conversations, markup, notify
from community.forum import services as forum
from community.forum.models import Notification
from community.testing import make_member


@pytest.fixture
async def world(app: Litestar) -> dict[str, Any]:
    """alice and bob in the Crew group, carol and dave outside it; a public General category
    and a Crew-only category."""
    for name in ("alice", "bob", "carol", "dave"):
        await make_member(app, name)
    async with app.state.sessionmaker() as db:
        crew = await accounts.create_group(db, "Crew")
        for name in ("alice", "bob"):
            await accounts.add_to_group(db, crew, await accounts.member_by_username(db, name))
        general = await forum.save_category(db, None, {"name": "General"})
        secret = await forum.save_category(
            db, None, {"name": "Crew room", "visible_to_groups": ["Crew"]}
        )
        return {"general": general.id, "secret": secret.id}


async def ids(app: Litestar) -> dict[str, int]:
    async with app.state.sessionmaker() as db:
        return {
            name: (await accounts.member_by_username(db, name)).id
            for name in ("alice", "bob", "carol", "dave")
        }


async def watch_category(app: Litestar, username: str, category_id: int) -> None:
    """A watch written as a service writes it (carol's is stale: she was in Crew once)."""
    async with app.state.sessionmaker() as db:
        member = await accounts.member_by_username(db, username)
        await notify.set_category_watch(db, member, category_id, "watching")


async def start_thread(
    app: Litestar, username: str, category_id: int, title: str, body: str
) -> tuple[Any, list[Event]]:
    """A new thread, and the events its commit dispatched."""
    heard: list[Event] = []
    async with app.state.sessionmaker() as db:
        db.sync_session.info[DISPATCH] = heard.extend
        member = await accounts.member_by_username(db, username)
        site = await accounts.instance_settings(db, "Testers")
        thread, _ = await forum.create_thread(
            db, member, category_id=category_id, title=title, body=body, site=site
        )
    return thread, heard


async def reply_to(app: Litestar, username: str, thread_id: int, body: str) -> list[Event]:
    heard: list[Event] = []
    async with app.state.sessionmaker() as db:
        db.sync_session.info[DISPATCH] = heard.extend
        member = await accounts.member_by_username(db, username)
        site = await accounts.instance_settings(db, "Testers")
        await forum.reply(db, member, thread_id, body, site)
    return heard


async def notified(app: Litestar) -> list[tuple[int, str]]:
    """Every notification row, as (member id, kind), read back without visibility."""
    async with app.state.sessionmaker() as db:
        rows = await db.execute(
            select(Notification.member_id, Notification.kind).order_by(Notification.id)
        )
        return [(member_id, kind) for member_id, kind in rows.all()]


def pinged(events: list[Event]) -> set[int]:
    return {m for e in events if isinstance(e, MembersNotified) for m in e.member_ids}


async def test_a_mention_of_a_member_who_cannot_see_the_category_notifies_nobody(app, world):
    member = await ids(app)
    await watch_category(app, "bob", world["secret"])
    await watch_category(app, "carol", world["secret"])
    secret, heard = await start_thread(
        app, "alice", world["secret"], "Crew plans", "Hello @carol and @dave"
    )
    assert await notified(app) == [(member["bob"], "thread")]
    assert pinged(heard) == {member["bob"]}
    heard = await reply_to(app, "bob", secret.id, "Right, @alice and @carol")
    assert await notified(app) == [(member["bob"], "thread"), (member["alice"], "mention")]
    assert pinged(heard) == {member["alice"]}


async def test_a_quote_of_a_public_post_from_a_private_category_does_not_tell_its_author(
    app, world
):
    member = await ids(app)
    public, _ = await start_thread(app, "carol", world["general"], "Open talk", "Carol speaks")
    quote = markup.quote("carol", public.post_url(1), "Carol speaks") + "\n\nIndeed."
    _, heard = await start_thread(app, "alice", world["secret"], "Crew quoting", quote)
    assert [row for row in await notified(app) if row[0] == member["carol"]] == []
    assert member["carol"] not in pinged(heard)
    _, heard = await start_thread(app, "alice", world["general"], "Open quoting", quote)
    assert [row for row in await notified(app) if row[0] == member["carol"]] == [
        (member["carol"], "quote")
    ]
    assert pinged(heard) == {member["carol"]}


async def test_every_watcher_of_a_public_category_is_told(app, world):
    member = await ids(app)
    for name in ("bob", "carol", "dave"):
        await watch_category(app, name, world["general"])
    _, heard = await start_thread(app, "alice", world["general"], "For all", "Hi @dave")
    assert sorted(await notified(app)) == sorted(
        [(member["bob"], "thread"), (member["carol"], "thread"), (member["dave"], "mention")]
    )
    assert pinged(heard) == {member["bob"], member["carol"], member["dave"]}


async def test_conversation_participants_are_told_and_a_mentioned_outsider_is_not(app, world):
    member = await ids(app)
    heard: list[Event] = []
    async with app.state.sessionmaker() as db:
        db.sync_session.info[DISPATCH] = heard.extend
        alice = await accounts.member_by_username(db, "alice")
        site = await accounts.instance_settings(db, "Testers")
        await conversations.start(
            db, alice, usernames="carol", title="Just us", body="Not you, @dave", site=site
        )
    assert await notified(app) == [(member["carol"], "message")]
    assert pinged(heard) == {member["carol"]}
