"""The rollup: every daily figure of every past day, stored in ``analytics_daily`` by a
scheduled job that computes only the days it has not done yet (and yesterday again, for what
came in late); and the reading side, which adds today and any day not rolled up yet live."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.accounts.models import Member
from community.db import utcnow
from community.jobs import Job, JobContext, Schedule
from community_analytics.metrics import (
    BY_CATEGORY,
    MEMBER_SUMS,
    METRICS,
    QUARTER,
    THREAD_SUMS,
    Scope,
    answered,
    load_scope,
    member_day,
    quarters,
    thread_day,
    window,
    within,
)
from community_analytics.models import (
    Daily,
    HourCount,
    MemberDay,
    Response,
    RolledDay,
    ThreadDay,
    insert,
    upsert,
)
from community_analytics.settings import Settings

BATCH = 62
"""Days one run rolls up at most: a year of history is caught up within hours, while reports
compute the missing days live meanwhile."""

Figures = dict[date, dict[int, float]]
"""Per day, per category (or SITE): a figure's values."""


def today(settings: Settings, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(settings.tz).date()


async def first_day(db: AsyncSession, settings: Settings) -> date | None:
    """The community's first day: when its first account was made."""
    first = await db.scalar(select(func.min(Member.created_at)))
    return first.astimezone(settings.tz).date() if first else None


async def rolled_days(db: AsyncSession, settings: Settings, start: date, end: date) -> set[date]:
    """The days from ``start`` to ``end`` rolled up under the current settings."""
    found = await db.scalars(
        select(RolledDay.day).where(
            RolledDay.day >= start, RolledDay.day <= end, RolledDay.signature == settings.signature
        )
    )
    return set(found)


async def days_to_roll(
    db: AsyncSession, settings: Settings, now: datetime | None = None
) -> list[date]:
    """The past days not rolled up under the current settings, oldest first, and yesterday."""
    first = await first_day(db, settings)
    yesterday = today(settings, now) - timedelta(days=1)
    if first is None or first > yesterday:
        return []
    done = await rolled_days(db, settings, first, yesterday)
    span = (yesterday - first).days + 1
    missing = [first + timedelta(days=n) for n in range(span)]
    missing = [day for day in missing if day not in done and day != yesterday]
    return [*missing[: BATCH - 1], yesterday]


async def roll_up_day(db: AsyncSession, day: date, settings: Settings) -> None:
    """Compute and store every figure of ``day`` (replacing what was there); commits."""
    scope = await load_scope(db, settings)
    rows = []
    for metric, count in METRICS.items():
        for category_id, value in (await count(db, day, scope)).items():
            rows.append({"day": day, "metric": metric, "category_id": category_id, "value": value})
    # Upserts: a run overlapping another (a manual one, a slow hour) ends the same, not in error.
    await db.execute(delete(Daily).where(Daily.day == day))
    if rows:
        await db.execute(upsert(db, Daily, rows, ["day", "metric", "category_id"]))
    await _roll_up_activity(db, day, scope)
    marker = {"day": day, "signature": settings.signature, "rolled_at": utcnow()}
    await db.execute(upsert(db, RolledDay, [marker], ["day"]))
    await db.commit()


async def _roll_up_activity(db: AsyncSession, day: date, scope: Scope) -> None:
    """``day``'s member days, thread days and hours, and the first responses it brought."""
    await db.execute(delete(MemberDay).where(MemberDay.day == day))
    await db.execute(
        insert(db, MemberDay).from_select(
            ["day", "member_id", "category_id", *MEMBER_SUMS], member_day(day, scope)
        )
    )
    await db.execute(delete(ThreadDay).where(ThreadDay.day == day))
    await db.execute(
        insert(db, ThreadDay).from_select(
            ["day", "thread_id", *THREAD_SUMS], thread_day(day, scope)
        )
    )
    hours: Counter[tuple[int, int, str]] = Counter()
    for at, category_id, activity, replies in await quarters(
        db, scope, within(*window(day, scope.tz))
    ):
        hour = datetime.fromtimestamp(int(at) * QUARTER, UTC).astimezone(scope.tz).hour
        hours[(hour, category_id, "activity")] += int(activity or 0)
        hours[(hour, category_id, "replies")] += int(replies or 0)
    await db.execute(delete(HourCount).where(HourCount.day == day))
    keys = sorted({(hour, category_id) for hour, category_id, _ in hours})
    if keys:
        await db.execute(
            upsert(
                db,
                HourCount,
                [
                    {
                        "day": day,
                        "hour": hour,
                        "category_id": category_id,
                        "activity": hours[(hour, category_id, "activity")],
                        "replies": hours[(hour, category_id, "replies")],
                    }
                    for hour, category_id in keys
                ],
                ["day", "hour", "category_id"],
            )
        )
    statement = insert(db, Response).from_select(["thread_id", "first_at"], answered(day, scope.tz))
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=["thread_id"], set_={"first_at": statement.excluded.first_at}
        )
    )


async def roll_up(ctx: JobContext) -> None:
    settings = plugins.settings("analytics")
    for day in await days_to_roll(ctx.db, settings):
        await roll_up_day(ctx.db, day, settings)


JOBS = [Job("rollup", roll_up, retries=2, timeout=1800.0)]
SCHEDULES = [Schedule("rollup", job="rollup", cron="7 * * * *")]


# -- reading ---------------------------------------------------------------------------------


async def figures(
    db: AsyncSession,
    metric: str,
    start: date,
    end: date,
    scope: Scope,
    settings: Settings,
    partial: frozenset[int] = frozenset(),
) -> Figures:
    """``metric`` for each day from ``start`` to ``end``: rolled-up days from the table, the
    others (today among them) counted now. Categories in ``partial`` (the viewer may not see
    all of them) are always counted now, under the scope's conditions."""
    found: Figures = defaultdict(dict)
    rolled = await rolled_days(db, settings, start, min(end, today(settings) - timedelta(days=1)))
    if rolled:
        await _stored(db, metric, start, end, scope, rolled, partial, found)
    count = METRICS[metric]
    for n in range((end - start).days + 1):
        day = start + timedelta(days=n)
        if day not in rolled:
            found[day].update(await count(db, day, scope))
        elif partial and metric in BY_CATEGORY:
            found[day].update(await count(db, day, _only(scope, partial)))
    return found


async def _stored(
    db: AsyncSession,
    metric: str,
    start: date,
    end: date,
    scope: Scope,
    rolled: set[date],
    partial: frozenset[int],
    found: Figures,
) -> None:
    query: Any = select(Daily.day, Daily.category_id, Daily.value).where(
        Daily.metric == metric, Daily.day >= start, Daily.day <= end
    )
    if metric in BY_CATEGORY:
        if scope.category_ids is not None:
            query = query.where(Daily.category_id.in_(sorted(scope.category_ids)))
        if partial:
            query = query.where(Daily.category_id.not_in(sorted(partial)))
    for day, category_id, value in await db.execute(query):
        if day in rolled:
            found[day][category_id] = value


def _only(scope: Scope, category_ids: frozenset[int]) -> Scope:
    wanted = category_ids if scope.category_ids is None else category_ids & scope.category_ids
    return replace(scope, category_ids=frozenset(wanted))
