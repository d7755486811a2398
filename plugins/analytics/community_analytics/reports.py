"""What every report shares: the period asked for and the one before it, the viewer's scope,
the answer (``Report``) and the sentence that sums it up. The reports themselves are in
``counts``, ``active`` and ``responses``; ``catalogue`` lists them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, select
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.services import MAX_ID
from community.errors import ServiceError
from community.forum.models import Category, Thread
from community_analytics import rollup
from community_analytics.metrics import Scope, window
from community_analytics.settings import Settings

MAX_DAYS = 731
"""The longest period a report covers: two years."""
DEFAULT_DAYS = 30
EARLIEST = date(1970, 1, 1)
"""The earliest start a report takes: reports reach back up to two periods before it."""
MIN_SEGMENT = 5
"""Per-member breakdowns (cohorts, categories...) leave out groups smaller than this, so no
one can be picked out; top contributors and inviters are named on purpose."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]

    def span(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The UTC instants where the period begins and ends in ``tz``."""
        return window(self.start, tz)[0], window(self.end, tz)[1]


@dataclass
class Series:
    name: str
    data: list[float | None]


@dataclass
class Report:
    name: str
    title: str
    labels: list[str]
    series: list[Series]
    total: float | None
    previous_total: float | None
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)
    """More figures of the period (mean, median, by category...)."""
    unit: str = ""
    """What ``total`` counts in when not things: "hours", "%"."""
    chart: str = "line"
    """How the report page draws it: "line" (labels are days), "bar" (labels are things:
    threads, members, categories), "heatmap" (labels are columns, each series a row), or
    "table" (no chart)."""
    label: str = "day"
    """What a label is: the first column's name in the table and the CSV."""

    @property
    def change_pct(self) -> float | None:
        return change(self.total, self.previous_total)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "labels": self.labels,
            "series": [{"name": s.name, "data": s.data} for s in self.series],
            "total": self.total,
            "previous_total": self.previous_total,
            "change_pct": self.change_pct,
            "summary": self.summary,
            "figures": self.figures,
            "unit": self.unit,
            "chart": self.chart,
            "label": self.label,
        }


@dataclass
class Query:
    """One report's question: the period, whose content counts and what the viewer sees."""

    db: AsyncSession
    period: Period
    scope: Scope
    settings: Settings
    partial: frozenset[int] = frozenset()
    """Categories the viewer sees only in part: counted from raw rows, never from rollups."""
    names: dict[int, str] = field(default_factory=dict)
    """Category names by id, for sentences."""
    shared: dict[Any, Any] | None = None
    """Work shared with the other reports of a dashboard (see ``once``)."""

    async def once(self, key: Any, work: Callable[[], Awaitable[Any]]) -> Any:
        """``work``'s answer, computed once for every report sharing this query's ``shared``
        that asks with the same ``key`` (and the same period and scope): the first to ask
        computes it, the others wait for it."""
        if self.shared is None:
            return await work()
        full = (key, self.period, self.scope.category_ids)
        if full not in self.shared:
            self.shared[full] = asyncio.ensure_future(work())
        return await self.shared[full]

    async def figures(self, metric: str, period: Period | None = None) -> rollup.Figures:
        span = period or self.period
        return await rollup.figures(
            self.db, metric, span.start, span.end, self.scope, self.settings, self.partial
        )


def both(query: Query) -> tuple[datetime, datetime, datetime]:
    """Where the period before begins, where the period begins and where it ends (UTC)."""
    begin, _ = query.period.previous().span(query.scope.tz)
    since, end = query.period.span(query.scope.tz)
    return begin, since, end


def current(column: Any, since: datetime) -> Any:
    """1 for a row of the period asked for, 0 for one of the period before."""
    return case((column >= since, 1), else_=0)


@dataclass(frozen=True)
class Definition:
    name: str
    title: str
    description: str
    run: Callable[[Query], Awaitable[Report]]
    by_category: bool = True
    """Whether the report can be narrowed to a category."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "by_category": self.by_category,
        }


# -- reading the question ----------------------------------------------------------------------


def parse_day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise ServiceError(
            "invalid_date", f"{what} must be a date like 2026-01-31, not {value!r}.", 400
        ) from None


def parse_period(start: str | None, end: str | None, today: date) -> Period:
    """The period asked for: the last 30 days when not given."""
    last = parse_day(end, "end") if end else today
    first = parse_day(start, "start") if start else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ServiceError("invalid_period", "start must be on or before end.", 400)
    if first < EARLIEST:
        raise ServiceError(
            "invalid_period", f"start must be on or after {EARLIEST.isoformat()}.", 400
        )
    if last > today:
        raise ServiceError("invalid_period", f"end is after today ({today.isoformat()}).", 400)
    period = Period(first, last)
    if period.days > MAX_DAYS:
        raise ServiceError("invalid_period", "A report covers at most two years (731 days).", 400)
    return period


async def parse_category(db: AsyncSession, value: str | None) -> frozenset[int] | None:
    """The category asked for and its subcategories, or None for every category."""
    if value is None or not value.strip():
        return None
    try:
        category_id = int(value)
    except ValueError:
        raise ServiceError(
            "invalid_category", f"category_id must be a whole number, not {value!r}.", 400
        ) from None
    if not 1 <= category_id <= MAX_ID:
        raise ServiceError("unknown_category", f"There is no category {category_id}.", 400)
    found = await db.scalars(
        select(Category.id).where(
            (Category.id == category_id) | (Category.parent_id == category_id)
        )
    )
    ids = frozenset(found)
    if category_id not in ids:
        raise ServiceError("unknown_category", f"There is no category {category_id}.", 400)
    return ids


async def partly_hidden(db: AsyncSession, conditions: tuple[Any, ...]) -> frozenset[int]:
    """Categories holding a shown thread that ``conditions`` (the viewer's) hide."""
    if not conditions:
        return frozenset()
    hidden = case((and_(*conditions), 0), else_=1)
    found = await db.scalars(
        select(Thread.category_id)
        .where(
            Thread.category_id.is_not(None),
            Thread.hidden_at.is_(None),
            Thread.held_at.is_(None),
            hidden == 1,
        )
        .distinct()
    )
    return frozenset(c for c in found if c is not None)


async def category_names(db: AsyncSession) -> dict[int, str]:
    return {id_: name for id_, name in await db.execute(select(Category.id, Category.name))}


# -- sums and sentences ----------------------------------------------------------------------


def change(total: float | None, previous: float | None) -> float | None:
    """The change from ``previous`` to ``total`` in percent, or None when there was nothing."""
    if total is None or not previous:
        return None
    return round((total - previous) / previous * 100, 1)


def trend(total: float | None, previous: float | None, days: int) -> str:
    """ "up 18% on the previous 30 days", "down 4% ...", "unchanged ...", or "" with nothing
    to compare."""
    pct = change(total, previous)
    if pct is None:
        return ""
    against = f"the previous {plural(days, 'day')}"
    if pct == 0:
        return f"unchanged on {against}"
    return f"{'up' if pct > 0 else 'down'} {abs(pct):g}% on {against}"


def plural(count: int, word: str, many: str | None = None) -> str:
    """ "1 post", "3 posts", "2 replies" (``many`` when adding "s" will not do)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def leader(now: dict[str, float], before: dict[str, float], rising: bool) -> str | None:
    """The name whose figure moved most in the direction of the whole."""
    moves = {name: now.get(name, 0) - before.get(name, 0) for name in {*now, *before}}
    if not moves:
        return None
    name = (max if rising else min)(sorted(moves), key=lambda n: moves[n])
    moved = moves[name]
    return name if (moved > 0 if rising else moved < 0) else None


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile: the smallest value with ``share`` of them at or below."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(round(share * 100)) * len(ordered) // 100))
    return ordered[rank - 1]


def rounded(value: float | None, places: int = 2) -> float | None:
    return None if value is None else round(value, places)
