"""How threads are answered: time to first response (mean, median, 90th percentile, in hours),
threads with no response yet, and the response rate (answered within 24 hours).

A response is the first shown reply by someone other than the thread's author, whoever they
are (a moderator's reply answers too); threads count by the day they were started, and with
``exclude_staff`` threads started by staff or suspended members are left out. Read from the
threads of the period, with the first responses the rollup keeps (``analytics_responses``);
only threads it has none for (not answered yet, or answered since) are looked up in the posts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from community.forum.models import Thread
from community_analytics.metrics import counted, response, shown, window
from community_analytics.models import Response
from community_analytics.reports import (
    Definition,
    Period,
    Query,
    Report,
    Series,
    change,
    median,
    percentile,
    rounded,
)

RATE_HOURS = 24


@dataclass(frozen=True)
class Started:
    """A thread started in the period: its day, category, and hours to its first response
    (or None)."""

    day: date
    category_id: int
    created_at: datetime
    hours: float | None


async def started(query: Query, period: Period) -> list[Started]:
    """The threads started in ``period`` that count."""
    begin, end = period.span(query.scope.tz)
    # The rollup keeps first responses; a thread it has none for is looked up now.
    first = func.coalesce(Response.first_at, response())
    # Core rows, not ORM ones: tens of thousands of them, and the ORM's loading costs more.
    connection = await query.db.connection()
    rows = await connection.execute(
        select(Thread.category_id, Thread.created_at, first)
        .outerjoin(Response, Response.thread_id == Thread.id)
        .where(
            Thread.created_at >= begin,
            Thread.created_at < end,
            *shown(query.scope),
            *counted(Thread.author_id, query.scope),
        )
    )
    days = period.dates()
    # Where each day begins: a bisection finds a thread's day faster than a time zone can.
    starts = [window(day, query.scope.tz)[0] for day in days]
    found = []
    for category_id, created_at, answered_at in rows:
        hours = (answered_at - created_at).total_seconds() / 3600 if answered_at else None
        day = days[bisect_right(starts, created_at) - 1]
        found.append(Started(day, category_id, created_at, hours))
    return found


async def both(query: Query) -> tuple[list[Started], list[Started]]:
    """The threads started in the period and in the one before: one query for both, and once
    for the reports of a dashboard (response time, response rate, categories)."""

    async def read() -> tuple[list[Started], list[Started]]:
        period = query.period
        found = await started(query, Period(period.previous().start, period.end))
        now = [t for t in found if t.day >= period.start]
        return now, [t for t in found if t.day < period.start]

    return await query.once("started", read)


def _by_day(threads: list[Started]) -> dict[date, list[Started]]:
    found: dict[date, list[Started]] = defaultdict(list)
    for thread in threads:
        found[thread.day].append(thread)
    return found


# -- time to first response -------------------------------------------------------------------


def _answered(threads: list[Started]) -> list[float]:
    return [t.hours for t in threads if t.hours is not None]


async def time_report(query: Query) -> Report:
    period = query.period
    threads, earlier = await both(query)
    before = _answered(earlier)
    hours = _answered(threads)
    days = _by_day(threads)
    total, previous = rounded(median(hours)), rounded(median(before))
    waiting = sum(1 for t in threads if t.hours is None)
    return Report(
        name="response_time",
        title="Time to first response",
        labels=[day.isoformat() for day in period.dates()],
        series=[
            Series("Median hours", [rounded(median(_answered(days[d]))) for d in period.dates()]),
            Series(
                "Threads without response",
                [sum(1 for t in days[d] if t.hours is None) for d in period.dates()],
            ),
        ],
        total=total,
        previous_total=previous,
        summary=_time_sentence(total, previous, period.days, waiting, len(threads)),
        figures={
            "threads": len(threads),
            "without_response": waiting,
            "mean_hours": rounded(sum(hours) / len(hours)) if hours else None,
            "median_hours": total,
            "p90_hours": rounded(percentile(hours, 0.9)),
        },
        unit="hours",
    )


def _time_sentence(
    total: float | None, previous: float | None, days: int, waiting: int, threads: int
) -> str:
    if total is None:
        sentence = "No thread of these days has a response yet"
    else:
        sentence = f"Threads got a first response in a median {total:g} hours"
        pct = change(total, previous)
        if pct:
            speed = "slower" if pct > 0 else "faster"
            sentence += f", {abs(pct):g}% {speed} than in the previous {days} days"
    if threads:
        sentence += f"; {waiting} of {threads} threads {'has' if waiting == 1 else 'have'} none"
    return sentence + "."


# -- response rate ---------------------------------------------------------------------------


def _rate(threads: list[Started], now: datetime) -> float | None:
    """Percent of threads answered within a day, of those at least a day old."""
    due = [t for t in threads if now - t.created_at >= timedelta(hours=RATE_HOURS)]
    if not due:
        return None
    answered = sum(1 for t in due if t.hours is not None and t.hours <= RATE_HOURS)
    return round(answered / len(due) * 100, 1)


async def rate_report(query: Query) -> Report:
    period, now = query.period, query.scope.now
    threads, earlier = await both(query)
    days = _by_day(threads)
    total, previous = _rate(threads, now), _rate(earlier, now)
    return Report(
        name="response_rate",
        title="Response rate",
        labels=[day.isoformat() for day in period.dates()],
        series=[
            Series(
                f"Answered within {RATE_HOURS} hours (%)",
                [_rate(days[d], now) for d in period.dates()],
            )
        ],
        total=total,
        previous_total=previous,
        summary=_rate_sentence(total, previous, period.days),
        unit="%",
    )


def _rate_sentence(total: float | None, previous: float | None, days: int) -> str:
    if total is None:
        return f"No thread of these {days} days is a day old yet."
    sentence = f"{total:g}% of threads were answered within {RATE_HOURS} hours"
    if previous is not None and previous != total:
        way = "up" if total > previous else "down"
        sentence += f", {way} from {previous:g}% in the previous {days} days"
    return sentence + "."


REPORTS = [
    Definition(
        "response_time",
        "Time to first response",
        "Hours until a thread's first reply by someone else; threads with none yet.",
        time_report,
    ),
    Definition(
        "response_rate",
        "Response rate",
        f"Share of threads answered within {RATE_HOURS} hours.",
        rate_report,
    ),
]
