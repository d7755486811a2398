"""``community demo``: a year of demo activity, written in bulk, whose counts agree with a
recount of the rows, that pages and search can use, and that a seed reproduces."""

from __future__ import annotations

import asyncio
import types
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select, text

from community import demo, hookimpl
from community.accounts.models import Invite, Member
from community.cli import main
from community.db import Base, create_engine, create_sessionmaker
from community.forum import search
from community.forum.models import Post, Reaction, Thread
from community.plugins import SETTING_KEY, Manifest, Plugins
from community.settings import Settings
from community.testing import sign_in

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
SMALL = demo.SIZES["small"]
TINY = demo.Size(members=12, threads=30, posts=200)


@pytest.fixture
def cli_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command line reads the same settings as the test app."""
    for key in ("COMMUNITY_DATABASE_URL", "COMMUNITY_REDIS_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield


async def populate(app: Litestar, seed: int = 7, size: demo.Size = TINY) -> demo.Summary:
    async with app.state.sessionmaker() as db:
        return await demo.populate(db, size, seed=seed, now=NOW)


async def snapshot(app: Litestar) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the demo writes (password hashes aside: Argon2 salts them), in id order."""
    found = {}
    async with app.state.sessionmaker() as db:
        for table in ("categories", "members", "invites", "threads", "posts", "reactions"):
            columns = [c for c in Base.metadata.tables[table].c if c.name != "password_hash"]
            rows = await db.execute(select(*columns).order_by(*columns[:3]))
            found[table] = [tuple(row) for row in rows]
    return found


async def empty(app: Litestar) -> None:
    async with app.state.sessionmaker() as db:
        for table in ("reactions", "posts", "threads", "categories"):
            await db.execute(text(f"DELETE FROM {table}"))
        await db.execute(text("UPDATE members SET invite_id = NULL, invited_by_id = NULL"))
        await db.execute(text("DELETE FROM invites"))
        await db.execute(text("DELETE FROM members"))
        await db.commit()


async def test_the_small_demo_has_its_size_and_counts_that_agree_with_the_rows(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    summary = await populate(app, size=SMALL)
    assert (summary.members, summary.threads, summary.posts) == (50, 500, 5_000)
    assert summary.admin is not None  # the database had no admin: one demo member is
    async with app.state.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(Member)) == 50
        assert await db.scalar(select(func.count()).select_from(Thread)) == 500
        assert await db.scalar(select(func.count()).select_from(Post)) == 5_000
        assert await db.scalar(select(func.count()).select_from(Reaction)) == summary.reactions
        assert summary.reactions > 1_000

        posts = (await db.execute(select(Post))).scalars().all()
        by_thread: dict[int, list[Post]] = {}
        for post in posts:
            by_thread.setdefault(post.thread_id, []).append(post)
        for thread in (await db.execute(select(Thread))).scalars():
            mine = sorted(by_thread[thread.id], key=lambda p: p.number)
            assert [p.number for p in mine] == list(range(1, len(mine) + 1))
            assert [p.created_at for p in mine] == sorted(p.created_at for p in mine)
            assert mine[0].author_id == thread.author_id
            assert mine[0].created_at == thread.created_at
            assert (thread.post_count, thread.reply_count) == (len(mine), len(mine) - 1)
            assert (thread.last_posted_at, thread.last_poster_id) == (
                mine[-1].created_at,
                mine[-1].author_id,
            )
        assert sum(1 for t in by_thread.values() if len(t) == 1) > 0  # some never answered
        assert (
            max(len(t) for t in by_thread.values()) == 500
        )  # the megathread: a tenth of the posts

        counted: dict[int, Counter[str]] = {}
        for reaction in (await db.execute(select(Reaction))).scalars():
            counted.setdefault(reaction.post_id, Counter())[reaction.emoji] += 1
        for post in posts:
            assert post.reaction_counts == dict(counted.get(post.id, {}))
            assert NOW - timedelta(days=365) <= post.created_at <= NOW

        members = {m.id: m for m in (await db.execute(select(Member))).scalars()}
        invites = {i.id: i for i in (await db.execute(select(Invite))).scalars()}
        redeemed = Counter(m.invite_id for m in members.values() if m.invite_id)
        for invite in invites.values():
            assert invite.uses == redeemed[invite.id]
            assert members[invite.created_by_id].created_at <= invite.created_at
        invited = [m for m in members.values() if m.invited_by_id is not None]
        assert len(invited) == 47  # all but the three founders
        for member in invited:
            invite = invites[member.invite_id]
            assert invite.created_by_id == member.invited_by_id
            assert invite.created_at < member.created_at
            assert members[member.invited_by_id].created_at < member.created_at
        # An invite tree, not a star: some invitees invited others in turn.
        assert {m.invited_by_id for m in invited} - {
            m.id for m in members.values() if not m.invited_by_id
        }

        author = members[posts[0].author_id]
        found = await search.search(db, author, "postgres")
        assert found.total > 0

    megathread = max(by_thread, key=lambda t: len(by_thread[t]))
    await sign_in(client, summary.admin, demo.PASSWORD)
    for path in (f"/t/x/{megathread}?page=10", "/", "/c/help-support"):
        response = await client.get(path)
        assert response.status_code == 200, path


async def test_the_same_seed_writes_the_same_rows(app: Litestar) -> None:
    await populate(app, seed=11)
    first = await snapshot(app)
    await empty(app)
    await populate(app, seed=11)
    assert await snapshot(app) == first
    await empty(app)
    await populate(app, seed=12)
    assert (await snapshot(app))["posts"] != first["posts"]


async def test_appending_adds_members_threads_and_posts_beside_those_there(app: Litestar) -> None:
    await populate(app, seed=1)
    second = await populate(app, seed=1)
    assert second.categories == 0  # the demo's categories are there already: used again
    async with app.state.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(Member)) == 24
        assert await db.scalar(select(func.count(func.distinct(Member.username_key)))) == 24
        assert await db.scalar(select(func.count()).select_from(Post)) == 400
        numbers = await db.execute(
            select(Post.thread_id, func.min(Post.number)).group_by(Post.thread_id)
        )
        assert {n for _, n in numbers} == {1}


def test_the_command_fills_an_empty_database_and_refuses_one_with_threads(
    app: Litestar, cli_env: None, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo", "--size", "small", "--seed", "3"])
    *progress, wrote, sign_in_as = capsys.readouterr().out.splitlines()
    assert progress[-1].endswith("committed and analysed")
    assert wrote.startswith("Wrote 50 members, "), wrote
    assert "500 threads, 5,000 posts" in wrote
    assert sign_in_as.endswith("with the password 'demo-password'.")

    with pytest.raises(SystemExit) as refused:
        main(["demo", "--size", "small"])
    assert refused.value.code == 2
    assert capsys.readouterr().err == (
        "community: error: the database already has threads: use an empty one, or give --append\n"
    )

    async def count() -> int:
        engine = create_engine(settings.database_url)
        async with create_sessionmaker(engine)() as db:
            found = await db.scalar(select(func.count()).select_from(Post))
        await engine.dispose()
        return found or 0

    assert asyncio.run(count()) == 5_000


def test_an_unknown_size_is_refused(
    app: Litestar, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["demo", "--size", "huge"])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("community: error: Invalid value for '--size': 'huge' is not one of")


def filler_plugin(calls: list[dict[str, Any]], fail: bool = False) -> types.ModuleType:
    """A plugin whose ``populate_demo`` notes what it was given and counts the demo posts."""
    module = types.ModuleType("filler")
    module.MANIFEST = Manifest(  # type: ignore[attr-defined]
        name="filler", version="1.0", description="Fills.", api=">=1.0,<2",
        capabilities={"migrations"},
    )  # fmt: skip

    @hookimpl
    async def populate_demo(db: Any, rng: Any, since: datetime, now: datetime) -> None:
        if fail:
            raise RuntimeError("no room")
        posts = await db.scalar(select(func.count()).select_from(Post))
        calls.append({"since": since, "now": now, "posts": posts, "draw": rng.random()})

    module.populate_demo = populate_demo  # type: ignore[attr-defined]
    return module


@pytest.mark.hook("populate_demo")
async def test_enabled_plugins_fill_their_tables_after_the_core(app: Litestar) -> None:
    calls: list[dict[str, Any]] = []
    manager = Plugins(modules=[filler_plugin(calls)], discover=False)
    summary = await populate(app)
    async with app.state.sessionmaker() as db:
        assert await demo.populate_plugins(db, manager, {}, summary, seed=7) == []
        assert calls == []  # not enabled
        site = {SETTING_KEY: {"enabled": ["filler"]}}
        assert await demo.populate_plugins(db, manager, site, summary, seed=7) == ["filler"]
        await demo.populate_plugins(db, manager, site, summary, seed=7)
    assert calls[0]["since"] == NOW - timedelta(days=365)
    assert calls[0]["now"] == NOW
    assert calls[0]["posts"] == TINY.posts
    assert calls[0]["draw"] == calls[1]["draw"]  # the same seed, the same choices

    failing = Plugins(modules=[filler_plugin([], fail=True)], discover=False)
    async with app.state.sessionmaker() as db:
        with pytest.raises(RuntimeError, match="no room"):
            await demo.populate_plugins(db, failing, site, summary)
