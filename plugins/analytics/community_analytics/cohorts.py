"""Retention cohorts: members grouped by the week they joined (weeks begin on Monday in the
community's time zone), and for each cohort the share of its members active (a visit, see
``tracking``) in the join week (week 0) and each of the 8 weeks after it.

The cohorts are the weeks beginning within the period, so consecutive periods never share
one; a week not begun yet has no figure, and the week under way counts so far. Cohorts of
fewer than ``MIN_SEGMENT`` members are left out, so no one can be picked out. The total is
week-1 retention: the share of the shown cohorts' members active in the week after they
joined, over the cohorts whose week 1 has begun.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Date, Select, column, select, values

from community.accounts.models import Member
from community_analytics.metrics import counted, window
from community_analytics.models import Visit
from community_analytics.reports import (
    MIN_SEGMENT,
    Definition,
    Period,
    Query,
    Report,
    Series,
    plural,
    rounded,
    trend,
)

WEEKS = 8
"""Weeks followed after the join week."""


@dataclass(frozen=True)
class Cohort:
    week: date
    """The Monday the join week begins."""
    size: int
    active: list[int | None]
    """Members active in week 0..WEEKS; None for a week not begun yet."""

    def shares(self) -> list[float | None]:
        return [None if n is None else rounded(n / self.size * 100, 1) for n in self.active]


def mondays(period: Period) -> list[date]:
    """The Mondays within ``period``: where its cohorts' weeks begin."""
    first = period.start + timedelta(days=(7 - period.start.weekday()) % 7)
    return [first + timedelta(weeks=n) for n in range((period.end - first).days // 7 + 1)]


async def cohorts(query: Query, period: Period) -> list[Cohort]:
    """Every cohort of ``period``, small ones too."""
    weeks = mondays(period)
    if not weeks:
        return []
    tz = query.scope.tz
    start, _ = window(weeks[0], tz)
    _, end = window(weeks[-1] + timedelta(days=6), tz)
    joining = [
        Member.created_at >= start,
        Member.created_at < end,
        Member.approved_at.is_not(None),
        *counted(Member.id, query.scope),
    ]
    week_of: dict[int, date] = {}
    for member_id, created_at in await query.db.execute(
        select(Member.id, Member.created_at).where(*joining)
    ):
        day = created_at.astimezone(tz).date()
        week_of[member_id] = day - timedelta(days=day.weekday())
    today = query.scope.now.astimezone(tz).date()
    last = min(weeks[-1] + timedelta(weeks=WEEKS, days=6), today)
    seen: dict[tuple[date, int], set[int]] = defaultdict(set)
    members = select(Member.id).where(*joining)
    for member_id, monday in await _active_weeks(query, members, weeks[0], last):
        joined = week_of.get(member_id)  # None: joined since the first query
        week = (monday - joined).days // 7 if joined else -1
        if joined and 0 <= week <= WEEKS:
            seen[(joined, week)].add(member_id)
    sizes: dict[date, int] = defaultdict(int)
    for week in week_of.values():
        sizes[week] += 1
    return [
        Cohort(
            week,
            sizes[week],
            [
                len(seen[(week, n)]) if week + timedelta(weeks=n) <= today else None
                for n in range(WEEKS + 1)
            ],
        )
        for week in weeks
        if sizes[week]
    ]


async def _active_weeks(
    query: Query, members: Select[Any], first: date, last: date
) -> Sequence[Any]:
    """(member id, Monday) of the weeks in which ``members`` visited from ``first`` to ``last``:
    a row per member and week rather than per visit, each day mapped to its week's Monday by
    ``calendar``."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    if not days:
        return []
    calendar = (
        values(column("day", Date), column("monday", Date), name="calendar")
        .data([(day, day - timedelta(days=day.weekday())) for day in days])
        .cte()
    )
    rows = await query.db.execute(
        select(Visit.member_id, calendar.c.monday)
        .join(calendar, calendar.c.day == Visit.day)
        .where(Visit.member_id.in_(members), Visit.day >= first, Visit.day <= last)
        .distinct()
    )
    return rows.all()


def large(found: list[Cohort]) -> list[Cohort]:
    return [cohort for cohort in found if cohort.size >= MIN_SEGMENT]


def week_one(found: list[Cohort]) -> float | None:
    """The share of these cohorts' members active in week 1, over cohorts that reached it."""
    reached = [cohort for cohort in found if cohort.active[1] is not None]
    members = sum(cohort.size for cohort in reached)
    if not members:
        return None
    return rounded(sum(cohort.active[1] or 0 for cohort in reached) / members * 100, 1)


async def run(query: Query) -> Report:
    start, previous = query.period.start, query.period.previous()
    both = await cohorts(query, Period(previous.start, query.period.end))
    found = [cohort for cohort in both if cohort.week >= start]
    rows = large(found)
    earlier = large([cohort for cohort in both if cohort.week < start])
    total, previous = week_one(rows), week_one(earlier)
    hidden = len(found) - len(rows)
    return Report(
        name="retention",
        title="Retention cohorts",
        labels=[f"Week {n}" for n in range(WEEKS + 1)],
        series=[Series(cohort.week.isoformat(), cohort.shares()) for cohort in rows],
        total=total,
        previous_total=previous,
        summary=_sentence(rows, hidden, total, previous, query.period.days),
        figures={
            "cohorts": len(rows),
            "members": sum(cohort.size for cohort in rows),
            "sizes": {cohort.week.isoformat(): cohort.size for cohort in rows},
            "hidden_cohorts": hidden,
            "hidden_members": sum(cohort.size for cohort in found) - sum(c.size for c in rows),
        },
        unit="%",
        chart="heatmap",
        label="join week",
    )


def _sentence(
    rows: list[Cohort], hidden: int, total: float | None, previous: float | None, days: int
) -> str:
    small = f"; {plural(hidden, 'cohort')} under {MIN_SEGMENT} members not shown" if hidden else ""
    if not rows:
        return (
            f"No weekly cohort of {MIN_SEGMENT} or more members joined in these {days} days{small}."
        )
    members = sum(cohort.size for cohort in rows)
    count = f"{plural(len(rows), 'weekly cohort')} ({members} members)"
    if total is None:
        return f"{count} joined in these {days} days, too recently for week-1 retention{small}."
    sentence = f"Week-1 retention {total:g}% across {count}"
    moved = trend(total, previous, days)
    sentence += f", {moved}" if moved else ""
    reached = [cohort for cohort in rows if cohort.active[1] is not None]
    if len(reached) > 1:
        best = max(reached, key=lambda c: ((c.active[1] or 0) / c.size, c.week))
        sentence += f"; best the week of {best.week.isoformat()} ({best.shares()[1]:g}%)"
    return sentence + small + "."


REPORTS = [
    Definition(
        "retention",
        "Retention cohorts",
        "Members grouped by the week they joined: the share active in each of the 8 weeks after.",
        run,
        by_category=False,
    )
]
