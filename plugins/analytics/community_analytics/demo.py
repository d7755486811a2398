"""Demo data for the plugin's tables (the ``populate_demo`` hook, run by ``community demo``
after the core's rows are written): a year of visits that agree with what members did (a day
they joined, posted or reacted is a day they visited) plus the days they only read, with the
weekly rhythm; and each thread's views (the core's ``view_count``) spread over the days after
it opened."""

from __future__ import annotations

import bisect
import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.accounts.models import Member
from community.demo import HOURS, WEEKDAY, cumulative, write
from community.forum.models import Post, Reaction, Thread
from community_analytics.models import ThreadView, Visit

DECAY = 0.55
"""Each day after a thread opened brings this share of the day before's views."""
VIEW_DAYS = 45
"""Views come within this many days of a thread's opening (the rest is too thin to show)."""


async def populate_demo(
    db: AsyncSession, rng: random.Random, since: datetime, now: datetime
) -> None:
    """Write visits and thread views for the demo year from ``since`` to ``now``."""
    tz = plugins.settings("analytics").tz
    # Rows already there (real visits, an earlier demo before --append) stay as they are.
    there = {(m, d) for m, d in await db.execute(select(Visit.member_id, Visit.day))}
    rows = [row for row in await visits(db, rng, since, now, tz) if row[:2] not in there]
    await write(db, Visit.__table__, ("member_id", "day", "first_seen", "hits"), rows)
    there = {(t, d) for t, d in await db.execute(select(ThreadView.thread_id, ThreadView.day))}
    views = [row for row in await thread_views(db, since, now, tz) if row[:2] not in there]
    await write(db, ThreadView.__table__, ("thread_id", "day", "views"), views)


async def visits(
    db: AsyncSession, rng: random.Random, since: datetime, now: datetime, tz: ZoneInfo
) -> list[tuple[int, date, datetime, int]]:
    """One row per member per day active: the days they joined, posted or reacted (their
    first such moment, and how many), and days of reading only, as often as their posting
    suggests (lurkers now and then) until a little after they last did something."""
    seen: dict[tuple[int, date], list[Any]] = {}

    def signal(member_id: int | None, at: datetime) -> None:
        if member_id is None or at < since or at > now:
            return
        key = (member_id, at.astimezone(tz).date())
        found = seen.get(key)
        if found is None:
            seen[key] = [at, 1]
        else:
            found[1] += 1
            if at < found[0]:
                found[0] = at

    joined = {m: at for m, at in await db.execute(select(Member.id, Member.created_at))}
    for member_id, at in joined.items():
        signal(member_id, at)
    if db.get_bind().dialect.name == "postgresql":
        # A million posts are far quicker grouped by member and day where they are.
        for member_id, day, at, hits in await db.execute(_by_day(since, tz)):
            found = seen.get((member_id, day))
            if found is None:
                seen[member_id, day] = [at, hits]
            else:
                found[0], found[1] = min(found[0], at), found[1] + hits
    else:
        for member_id, at in await db.execute(
            select(Post.author_id, Post.created_at).where(Post.created_at >= since)
        ):
            signal(member_id, at)
        for member_id, at in await db.execute(
            select(Reaction.member_id, Reaction.created_at).where(Reaction.created_at >= since)
        ):
            signal(member_id, at)

    days: dict[int, set[date]] = defaultdict(set)
    for member_id, day in seen:
        days[member_id].add(day)
    today = now.astimezone(tz).date()
    hours = cumulative(HOURS)
    rows = [(member_id, day, at, hits) for (member_id, day), (at, hits) in seen.items()]
    for member_id in sorted(joined):
        start = max(joined[member_id], since).astimezone(tz).date()
        active = days[member_id]
        last = max(active, default=start)
        span = (last - start).days + 1
        if len(active) > 1:
            chance = min(0.9, 0.1 + 1.2 * len(active) / span)
            stop = last + timedelta(days=rng.expovariate(1 / 14))
        else:  # a lurker: reads now and then, for a while or for good
            chance = rng.uniform(0.03, 0.3)
            stop = start + timedelta(days=rng.expovariate(1 / 120))
        day = start + timedelta(days=1)
        while day <= min(stop, today):
            if day not in active and rng.random() < chance * WEEKDAY[day.weekday()]:
                hour = min(23, bisect.bisect(hours, rng.random() * hours[-1]))
                local = datetime.combine(day, time(hour, rng.randrange(60)), tz)
                at = local.astimezone(UTC)
                if at <= now:
                    rows.append((member_id, day, at, 1 + int(rng.expovariate(0.3))))
            day += timedelta(days=1)
    rows.sort(key=lambda row: (row[1], row[0]))
    return rows


def _by_day(since: datetime, tz: ZoneInfo) -> Any:
    """PostgreSQL: per member and local day, the first post or reaction and how many."""
    moments = union_all(
        select(Post.author_id.label("member_id"), Post.created_at.label("at")).where(
            Post.created_at >= since, Post.author_id.is_not(None)
        ),
        select(Reaction.member_id, Reaction.created_at).where(Reaction.created_at >= since),
    ).subquery()
    day = cast(func.timezone(str(tz), moments.c.at), Date)
    return select(moments.c.member_id, day, func.min(moments.c.at), func.count()).group_by(
        moments.c.member_id, day
    )


async def thread_views(
    db: AsyncSession, since: datetime, now: datetime, tz: ZoneInfo
) -> list[tuple[int, date, int]]:
    """Each thread's ``view_count`` spread over the days from its opening, most on the first
    day and fewer each day after (never after today)."""
    today = now.astimezone(tz).date()
    weights = [DECAY**k for k in range(VIEW_DAYS)]
    rows = []
    found = await db.execute(
        select(Thread.id, Thread.created_at, Thread.view_count)
        .where(Thread.created_at >= since, Thread.view_count > 0)
        .order_by(Thread.id)
    )
    for thread_id, created_at, count in found:
        first = created_at.astimezone(tz).date()
        span = min(VIEW_DAYS, (today - first).days + 1)
        whole = sum(weights[:span])
        shares = [int(count * weights[k] / whole) for k in range(span)]
        shares[0] += count - sum(shares)
        rows += [
            (thread_id, first + timedelta(days=k), views) for k, views in enumerate(shares) if views
        ]
    return rows
