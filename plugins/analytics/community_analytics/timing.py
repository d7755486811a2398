"""The best time to post: over the 16 weeks ending on the period's last day, when members are
active (posts and reactions) and when threads get replies, per weekday and hour in the
community's time zone.

The database counts rows per quarter hour in UTC (every time zone's offset is a whole number of
quarter hours), and the quarters are placed in the local week here: at most 21,504 of them
(these 16 weeks and the 16 before, read in one pass), however many posts there are.
``best_slot`` is the reply peak, for other plugins (cross-posting when threads get answered).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, case, cast, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.forum.models import Post, Reaction, Thread
from community_analytics.metrics import Scope, counted, live_post, shown
from community_analytics.reports import Definition, Period, Query, Report, Series, trend
from community_analytics.settings import Settings

WEEKS = 16
QUARTER = 900
"""Seconds in the UTC buckets the database counts in."""
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
HOURS = [f"{h:02d}" for h in range(24)]

Grid = list[list[int]]
"""Counts per weekday (Monday first) and hour."""


def weeks(period: Period) -> Period:
    """The 16 weeks ending on ``period``'s last day."""
    return Period(period.end - timedelta(weeks=WEEKS) + timedelta(days=1), period.end)


def _quarter(db: AsyncSession, column: Any) -> Any:
    """The UTC quarter hour ``column`` falls in, as a whole number since 1970."""
    if db.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / QUARTER), Integer)
    return cast(func.strftime("%s", column), Integer) / QUARTER


async def _counts(db: AsyncSession, scope: Scope, begin: datetime, end: datetime) -> Any:
    """(quarter, activity, replies) for each UTC quarter hour from ``begin`` to ``end``."""
    posts = (
        select(
            _quarter(db, Post.created_at).label("quarter"),
            literal(1).label("activity"),
            case((Post.number > 1, 1), else_=0).label("replies"),
        )
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.created_at >= begin, Post.created_at < end, *live_post(), *shown(scope))
        .where(*counted(Post.author_id, scope))
    )
    reactions = (
        select(_quarter(db, Reaction.created_at), literal(1), literal(0))
        .select_from(Reaction)
        .join(Post, Post.id == Reaction.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Reaction.created_at >= begin, Reaction.created_at < end)
        .where(*live_post(), *shown(scope), *counted(Reaction.member_id, scope))
    )
    rows = union_all(posts, reactions).subquery()
    return await db.execute(
        select(rows.c.quarter, func.sum(rows.c.activity), func.sum(rows.c.replies)).group_by(
            rows.c.quarter
        )
    )


async def grids(
    db: AsyncSession, scope: Scope, begin: datetime, end: datetime, since: datetime | None = None
) -> tuple[Grid, Grid, int]:
    """Activity and replies from ``since`` (or ``begin``) to ``end``, per local weekday and
    hour, and the activity from ``begin`` to ``since``: one pass over both spans' rows."""
    activity = [[0] * 24 for _ in WEEKDAYS]
    replies = [[0] * 24 for _ in WEEKDAYS]
    earlier = 0
    first = (since or begin).timestamp()
    for quarter, active, replied in await _counts(db, scope, begin, end):
        if int(quarter) * QUARTER < first:
            earlier += int(active or 0)
            continue
        local = datetime.fromtimestamp(int(quarter) * QUARTER, UTC).astimezone(scope.tz)
        activity[local.weekday()][local.hour] += int(active or 0)
        replies[local.weekday()][local.hour] += int(replied or 0)
    return activity, replies, earlier


def peaks(grid: Grid, count: int) -> list[tuple[int, int]]:
    """The ``count`` busiest (weekday, hour) slots with anything in them, busiest first (the
    earlier in the week on a tie)."""
    slots = Counter({(d, h): grid[d][h] for d in range(7) for h in range(24) if grid[d][h]})
    return sorted(slots, key=lambda slot: (-slots[slot], slot))[:count]


async def best_slot(db: AsyncSession, settings: Settings, now: datetime) -> tuple[int, int] | None:
    """The weekday (0 is Monday) and hour, in the community's time zone, when threads got most
    replies over the 16 weeks up to ``now`` (counting only what every member sees), or None
    with no replies."""
    conditions = tuple(plugins.visibility_conditions(plugins.ordinary_member(), Thread))
    scope = Scope(settings.tz, settings.exclude_staff, conditions, None, now)
    day = now.astimezone(settings.tz).date()
    begin, end = weeks(Period(day, day)).span(scope.tz)
    _, replies, _ = await grids(db, scope, begin, end)
    found = peaks(replies, 1)
    return found[0] if found else None


async def run(query: Query) -> Report:
    span_ = weeks(query.period)
    since, end = span_.span(query.scope.tz)
    begin, _ = span_.previous().span(query.scope.tz)
    activity, replies, previous = await grids(query.db, query.scope, begin, end, since)
    total = sum(map(sum, activity))
    best = [
        {"weekday": d, "day": WEEKDAYS[d], "hour": h, "replies": replies[d][h]}
        for d, h in peaks(replies, 3)
    ]
    return Report(
        name="best_time",
        title="Best time to post",
        labels=HOURS,
        series=[Series(day, row) for day, row in zip(WEEKDAYS, activity, strict=True)],  # type: ignore[arg-type]
        total=total,
        previous_total=previous,
        summary=_sentence(activity, replies, span_, total, previous),
        figures={
            "start": span_.start.isoformat(),
            "end": span_.end.isoformat(),
            "replies": replies,
            "best": best,
            "busiest": [
                {"weekday": d, "day": WEEKDAYS[d], "hour": h} for d, h in peaks(activity, 3)
            ],
        },
        chart="heatmap",
        label="hour",
    )


def _sentence(activity: Grid, replies: Grid, span_: Period, total: int, previous: int) -> str:
    busiest, answered = peaks(activity, 1), peaks(replies, 1)
    if not busiest:
        return f"No posts or reactions in the {WEEKS} weeks to {span_.end.isoformat()}."
    day, hour = busiest[0]
    sentence = f"Members are most active on {WEEKDAYS[day]}s around {hour:02d}:00"
    if answered:
        day, hour = answered[0]
        sentence += f"; threads get most replies on {WEEKDAYS[day]}s around {hour:02d}:00"
    moved = trend(total, previous, span_.days)
    if moved:
        sentence += f" (activity {moved})"
    return sentence + "."


REPORTS = [
    Definition(
        "best_time",
        "Best time to post",
        f"When members post and react, and when threads get replies, per weekday and hour over "
        f"the last {WEEKS} weeks.",
        run,
    )
]
