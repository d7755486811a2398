"""What members did, by member and category and by thread: the rows engagement, contributors,
categories and top threads read, from the rollup's tables for the days it has done and from
the posts and reactions themselves for the others (today among them).

The rollup groups a day of ``metrics.events`` and ``metrics.thread_events`` (one row per
thing done) into ``analytics_member_days`` and ``analytics_thread_days``. ``member_rows`` and
``thread_rows`` give a report both periods' rows, each marked ``now`` (1 in the period asked
for, 0 in the one before), stored and live alike. Member days hold whole categories, so a
category the viewer sees only in part (``Query.partial``) is always read live; thread days
are joined to their thread, so the viewer's conditions apply to them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from community.forum.models import Thread
from community_analytics import rollup
from community_analytics.metrics import (
    MEMBER_SUMS,
    THREAD_SUMS,
    When,
    counted,
    events,
    shown,
    thread_events,
    window,
    within,
)
from community_analytics.models import MemberDay, ThreadDay
from community_analytics.reports import Query, current
from community_analytics.settings import Settings

# -- the reading side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Where the rows of a run of days come from: runs of days the rollup has done (first,
    last) and the UTC spans of the other days, to be read live."""

    stored: list[tuple[date, date]]
    live: list[tuple[datetime, datetime]]

    def stored_days(self, column: Any) -> ColumnElement[bool]:
        """Conditions on a rollup table's day ``column``: a day the rollup has done."""
        return or_(false(), *(column.between(a, b) for a, b in self.stored))

    def when(self, partial: frozenset[int] = frozenset()) -> When:
        """Conditions on an event's time: on a day read live, or in a category of
        ``partial`` (the viewer sees it in part, so its rollup rows will not do)."""

        def when(at: Any) -> ColumnElement[bool]:
            spans = [and_(at >= a, at < b) for a, b in self.live]
            if partial:
                spans.append(Thread.category_id.in_(sorted(partial)))
            return or_(false(), *spans)

        return when


def runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days, as (first, last) runs."""
    found: list[tuple[date, date]] = []
    for day in sorted(days):
        if found and found[-1][1] == day - timedelta(days=1):
            found[-1] = (found[-1][0], day)
        else:
            found.append((day, day))
    return found


async def split(db: AsyncSession, settings: Settings, first: date, last: date) -> Split:
    """How the days from ``first`` to ``last`` divide between the rollup and live counting."""
    yesterday = rollup.today(settings) - timedelta(days=1)
    rolled = await rollup.rolled_days(db, settings, first, min(last, yesterday))
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    tz = settings.tz
    live = [
        (window(a, tz)[0], window(b, tz)[1]) for a, b in runs([d for d in days if d not in rolled])
    ]
    return Split(runs(list(rolled)), live)


async def _split(query: Query) -> Split:
    return await split(query.db, query.settings, query.period.previous().start, query.period.end)


async def member_rows(query: Query) -> Any:
    """Both periods' member rows (now, member_id, category_id, started, posts, replies, given,
    received) of members who count, read from member days where the rollup has done the day
    and the viewer sees the whole category, live otherwise."""
    found = await _split(query)
    scope, since = query.scope, query.period.span(query.scope.tz)[0]
    begin, end = query.period.previous().span(scope.tz)[0], query.period.span(scope.tz)[1]
    parts = []
    if found.stored:
        stored = select(
            case((MemberDay.day >= query.period.start, 1), else_=0).label("now"),
            MemberDay.member_id,
            MemberDay.category_id,
            *(MemberDay.__table__.c[name] for name in MEMBER_SUMS),
        ).where(found.stored_days(MemberDay.day))
        if scope.category_ids is not None:
            stored = stored.where(MemberDay.category_id.in_(sorted(scope.category_ids)))
        if query.partial:
            stored = stored.where(MemberDay.category_id.not_in(sorted(query.partial)))
        parts.append(stored)
    if found.live or query.partial:
        live_when = found.when(query.partial)
        raw = events(scope, lambda at: and_(within(begin, end)(at), live_when(at))).subquery()
        parts.append(
            select(
                current(raw.c.at, since).label("now"),
                raw.c.member_id,
                raw.c.category_id,
                *(raw.c[name] for name in MEMBER_SUMS),
            )
        )
    rows = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    return select(rows).where(*counted(rows.c.member_id, scope)).subquery("member_rows")


async def thread_rows(query: Query) -> Any:
    """Both periods' thread rows (now, thread_id, posts, replies, reactions) that count for
    the viewer, from thread days where the rollup has done the day, live otherwise."""
    found = await _split(query)
    scope, since = query.scope, query.period.span(query.scope.tz)[0]
    parts = []
    if found.stored:
        parts.append(
            select(
                case((ThreadDay.day >= query.period.start, 1), else_=0).label("now"),
                ThreadDay.thread_id,
                *(ThreadDay.__table__.c[name] for name in THREAD_SUMS),
            )
            .join(Thread, Thread.id == ThreadDay.thread_id)
            .where(found.stored_days(ThreadDay.day), *shown(scope))
        )
    if found.live:
        raw = thread_events(scope, found.when()).subquery()
        parts.append(
            select(
                current(raw.c.at, since).label("now"),
                raw.c.thread_id,
                *(raw.c[name] for name in THREAD_SUMS),
            )
        )
    rows = union_all(*parts) if len(parts) > 1 else parts[0]
    return rows.subquery("thread_rows")
