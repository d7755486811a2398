"""The best time to post: over the 16 weeks ending on the period's last day, when members are
active (posts and reactions) and when threads get replies, per weekday and hour in the
community's time zone.

The rollup keeps the counts per local hour and category (``analytics_hours``); for days it has
not done, and categories the viewer sees only in part, the database counts rows per quarter
hour in UTC (``metrics.quarters``) and the quarters are placed in the local week here.
``best_slot`` is the reply peak, for other plugins (cross-posting when threads get answered).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.forum.models import Thread
from community_analytics.activity import split
from community_analytics.metrics import QUARTER, Scope, load_scope, quarters, within
from community_analytics.models import HourCount
from community_analytics.reports import (
    Definition,
    Period,
    Query,
    Report,
    Series,
    partly_hidden,
    trend,
)
from community_analytics.settings import Settings

WEEKS = 16
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
HOURS = [f"{h:02d}" for h in range(24)]

Grid = list[list[int]]
"""Counts per weekday (Monday first) and hour."""


def weeks(period: Period) -> Period:
    """The 16 weeks ending on ``period``'s last day."""
    return Period(period.end - timedelta(weeks=WEEKS) + timedelta(days=1), period.end)


async def grids(
    db: AsyncSession,
    settings: Settings,
    scope: Scope,
    span: Period,
    partial: frozenset[int] = frozenset(),
) -> tuple[Grid, Grid, int]:
    """Activity and replies in ``span`` per local weekday and hour, and the activity of the
    span of the same length before it: the rollup's hours where it has done the day and the
    viewer sees the whole category, quarter hours counted now otherwise."""
    activity = [[0] * 24 for _ in WEEKDAYS]
    replies = [[0] * 24 for _ in WEEKDAYS]
    earlier = 0
    found = await split(db, settings, span.previous().start, span.end)
    if found.stored:
        stored = select(
            HourCount.day, HourCount.hour, func.sum(HourCount.activity), func.sum(HourCount.replies)
        ).where(found.stored_days(HourCount.day))
        if scope.category_ids is not None:
            stored = stored.where(HourCount.category_id.in_(sorted(scope.category_ids)))
        if partial:
            stored = stored.where(HourCount.category_id.not_in(sorted(partial)))
        for day, hour, active, replied in await db.execute(
            stored.group_by(HourCount.day, HourCount.hour)
        ):
            if day < span.start:
                earlier += int(active or 0)
            else:
                activity[day.weekday()][hour] += int(active or 0)
                replies[day.weekday()][hour] += int(replied or 0)
    if found.live or partial:
        begin, _ = span.previous().span(scope.tz)
        since, end = span.span(scope.tz)
        live = found.when(partial)
        for at, _, active, replied in await quarters(
            db, scope, lambda column: and_(within(begin, end)(column), live(column))
        ):
            if int(at) * QUARTER < since.timestamp():
                earlier += int(active or 0)
                continue
            local = datetime.fromtimestamp(int(at) * QUARTER, UTC).astimezone(scope.tz)
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
    scope = await load_scope(db, settings, conditions, None, now)
    day = now.astimezone(settings.tz).date()
    partial = await partly_hidden(db, conditions)
    _, replies, _ = await grids(db, settings, scope, weeks(Period(day, day)), partial)
    found = peaks(replies, 1)
    return found[0] if found else None


async def next_best(db: AsyncSession, settings: Settings, now: datetime) -> datetime | None:
    """The next time after ``now`` at the best weekday and hour (``best_slot``), in UTC."""
    found = await best_slot(db, settings, now)
    if found is None:
        return None
    weekday, hour = found
    local = now.astimezone(settings.tz)
    when = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    when += timedelta(days=(weekday - local.weekday()) % 7)
    if when <= local:
        when += timedelta(days=7)
    return when.astimezone(UTC)


async def run(query: Query) -> Report:
    span_ = weeks(query.period)
    activity, replies, previous = await grids(
        query.db, query.settings, query.scope, span_, query.partial
    )
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
