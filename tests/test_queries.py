"""Bounded work per page: the thread page, thread lists and home run the same number of SQL
statements whatever the thread's length, the page number or the number of threads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import event, select, update

from community.accounts import services as accounts
from community.db import utcnow
from community.forum import services as forum
from community.forum.models import Thread, ThreadRead
from community.testing import browser, make_member, sign_in


@pytest.fixture(autouse=True)
async def quiet(app: Litestar) -> None:
    """Stop the background job runner: its polling shares the engine we count on."""
    await app.state.job_runner.stop()


@contextmanager
def counting(app: Litestar) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def statements_for(app: Litestar, client: Any, path: str) -> int:
    await client.get(path)  # the first view writes a reading mark; measure the steady state
    with counting(app) as statements:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    return len(statements)


async def populate(app: Litestar, threads: int, replies: int) -> list[Any]:
    """``threads`` threads by several authors in two categories, the first with ``replies``
    replies, each reacted to and bookmarked."""
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
        authors = [await accounts.member_by_username(db, n) for n in ("alice", "bob", "carol")]
        general = await forum.save_category(db, None, {"name": "General"})
        other = await forum.save_category(db, None, {"name": "Other", "parent_id": general.id})
        made = []
        for n in range(threads):
            thread, _ = await forum.create_thread(
                db,
                authors[n % 3],
                category_id=(general if n % 2 else other).id,
                title=f"Thread number {n}",
                body=f"Body {n} @alice",
                site=site,
            )
            made.append(thread)
        for n in range(replies):
            _, post = await forum.reply(db, authors[n % 3], made[0].id, f"reply {n}", site)
            for author in authors[:2]:
                await forum.toggle_reaction(db, author, post.id, "👍", site)
            await forum.toggle_bookmark(db, authors[2], post.id)
        return made


async def test_thread_page_costs_the_same_for_any_length_and_page(app):
    for name in ("alice", "bob", "carol"):
        await make_member(app, name)
    short, long_ = (await populate(app, 2, 0))[:2]
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
        members = [await accounts.member_by_username(db, n) for n in ("alice", "bob", "carol")]
        for n in range(70):
            _, post = await forum.reply(db, members[n % 3], long_.id, f"reply {n}", site)
            for member in members:
                await forum.toggle_reaction(db, member, post.id, "🎉", site)
            await forum.toggle_bookmark(db, members[2], post.id)
    async with browser(app) as client:
        await sign_in(client, "carol")
        counts = {
            "short": await statements_for(app, client, f"{short.url}?page=1"),
            "long, page 1": await statements_for(app, client, f"{long_.url}?page=1"),
            "long, page 3": await statements_for(app, client, f"{long_.url}?page=3"),
            "long, last page": await statements_for(app, client, f"{long_.url}?page=4"),
        }
    assert len(set(counts.values())) == 1, counts


async def test_a_page_read_again_writes_no_reading_mark_and_counts_one_view_an_hour(app):
    for name in ("alice", "bob", "carol", "dave"):
        await make_member(app, name)
    thread = (await populate(app, 1, 3))[0]
    path = f"{thread.url}?page=1"
    async with browser(app) as client:
        await sign_in(client, "dave")
        await client.get(path)
        with counting(app) as statements:
            assert (await client.get(path)).status_code == 200
        assert not [s for s in statements if s.startswith("UPDATE thread_reads")], statements
        assert await _views(app, thread.id) == 1
        async with app.state.sessionmaker() as db:  # an hour and more later
            await db.execute(update(ThreadRead).values(read_at=utcnow() - timedelta(minutes=61)))
            await db.commit()
        await client.get(path)
        await client.get(path)
    assert await _views(app, thread.id) == 2


async def _views(app: Litestar, thread_id: int) -> int:
    async with app.state.sessionmaker() as db:
        return int(await db.scalar(select(Thread.view_count).where(Thread.id == thread_id)) or 0)


async def test_a_members_request_works_out_their_categories_once(app):
    """The thread conditions of a member's request read the list of categories they see, made
    by one statement, instead of nesting the category rules in every statement."""
    for name in ("alice", "bob", "carol"):
        await make_member(app, name)
    thread = (await populate(app, 1, 2))[0]
    async with browser(app) as client:
        await sign_in(client, "carol")
        for path in (f"{thread.url}?page=1", "/", "/search?q=reply"):
            await client.get(path)
            with counting(app) as statements:
                assert (await client.get(path)).status_code == 200
            rules = [s for s in statements if "category_permissions" in s]
            resolving = [s for s in rules if s.startswith("SELECT categories.id \nFROM categories")]
            assert len(resolving) == 1, (path, rules)
            assert not [s for s in rules if "FROM threads" in s], (path, rules)


async def test_lists_cost_the_same_for_any_number_of_threads(app):
    for name in ("alice", "bob", "carol"):
        await make_member(app, name)
    await populate(app, 3, 0)
    async with browser(app) as client:
        await sign_in(client, "carol")
        few = {
            path: await statements_for(app, client, path)
            for path in ("/", "/c/general", "/unread", "/new", "/messages")
        }
    await populate_more(app, 45)
    async with browser(app) as client:
        await sign_in(client, "carol")
        many = {
            path: await statements_for(app, client, path)
            for path in ("/", "/c/general", "/unread", "/new", "/messages")
        }
    assert few == many


async def populate_more(app: Litestar, count: int) -> None:
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
        alice = await accounts.member_by_username(db, "alice")
        carol = await accounts.member_by_username(db, "carol")
        categories = await forum.list_categories(db, alice)
        for n in range(count):
            thread, _ = await forum.create_thread(
                db,
                alice,
                category_id=categories[n % len(categories)].id,
                title=f"More {n}",
                body="x",
                site=site,
            )
            if n % 3 == 0:
                await forum.record_view(db, carol, thread, 1)
                await forum.reply(db, alice, thread.id, "unread for carol", site)
