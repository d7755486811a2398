"""The plugin's demo rows (``community_analytics.demo``): a year of visits that agree with
what the core's demo members did, with a weekly rhythm, and thread views that add up to each
thread's view count."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from community_analytics import demo as analytics_demo
from community_analytics.models import ThreadView, Visit
from sqlalchemy import select

from community import demo
from community.accounts.models import Member
from community.accounts.services import instance_settings
from community.forum.models import Post, Reaction, Thread
from community.plugins import activated
from community.testing import SITE_NAME
from plugins.analytics.tests.conftest import plugins_active

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
SIZE = demo.Size(members=40, threads=150, posts=1_500)
PARIS = ZoneInfo("Europe/Paris")


async def filled(app: Any, seed: int = 5) -> dict[str, list[Any]]:
    """The core's demo and the plugin's, and every row of both that the checks read."""
    async with app.state.sessionmaker() as db:
        summary = await demo.populate(db, SIZE, seed=seed, now=NOW)
        site = await instance_settings(db, SITE_NAME)
        with activated(app.state.plugins, site):
            await analytics_demo.populate_demo(db, random.Random(seed), summary.since, summary.now)
        await db.commit()
        queries = {
            "visits": select(Visit.member_id, Visit.day, Visit.first_seen, Visit.hits),
            "views": select(ThreadView.thread_id, ThreadView.day, ThreadView.views),
            "members": select(Member.id, Member.created_at),
            "posts": select(Post.author_id, Post.created_at),
            "reactions": select(Reaction.member_id, Reaction.created_at),
            "threads": select(Thread.id, Thread.created_at, Thread.view_count),
        }
        return {name: list(await db.execute(query)) for name, query in queries.items()}


async def test_members_visit_on_the_days_they_did_something_and_more(
    app: Any, settings_of: Any
) -> None:
    await settings_of(app, time_zone="Europe/Paris")
    rows = await filled(app)
    visits = {(m, d): (at, hits) for m, d, at, hits in rows["visits"]}
    did: Counter[tuple[int, Any]] = Counter()
    for member_id, at in rows["posts"] + rows["reactions"]:
        did[member_id, at.astimezone(PARIS).date()] += 1
    for key, count in did.items():
        assert key in visits, key
        assert visits[key][1] >= count
    joined = {m: at for m, at in rows["members"]}
    for member_id, at in joined.items():
        assert (member_id, at.astimezone(PARIS).date()) in visits
    for (member_id, day), (at, _) in visits.items():
        assert at.astimezone(PARIS).date() == day
        assert joined[member_id] <= at <= NOW
    assert len(visits) > 1.5 * len(did)  # members also come just to read

    weekdays = Counter(day.weekday() for _, day in visits)
    assert min(weekdays[n] for n in range(4)) > max(weekdays[5], weekdays[6])


async def test_thread_views_add_up_to_each_threads_view_count(app: Any) -> None:
    rows = await filled(app)
    views: Counter[int] = Counter()
    opened = {t: at.date() for t, at, _ in rows["threads"]}
    for thread_id, day, count in rows["views"]:
        views[thread_id] += count
        assert opened[thread_id] <= day <= NOW.date()
    assert views == {t: count for t, _, count in rows["threads"]}


async def test_the_same_seed_gives_the_same_visits(app: Any) -> None:
    first = await filled(app, seed=9)
    since = NOW - timedelta(days=365)
    async with plugins_active(app), app.state.sessionmaker() as db:
        again = await analytics_demo.visits(db, random.Random(9), since, NOW, ZoneInfo("UTC"))
    assert sorted(again) == sorted(tuple(row) for row in first["visits"])
