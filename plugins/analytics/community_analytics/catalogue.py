"""Every report, by name; ``run`` answers one for a viewer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.db import utcnow
from community.errors import ServiceError
from community.forum.models import Thread
from community_analytics import (
    active,
    campaigns,
    cohorts,
    counts,
    engagement,
    funnel,
    growth,
    responses,
    rollup,
    timing,
    top,
    topics,
)
from community_analytics.metrics import load_scope
from community_analytics.reports import (
    Definition,
    Query,
    Report,
    category_names,
    parse_category,
    parse_period,
    partly_hidden,
)

MODULES = [
    active,
    engagement,
    counts,
    responses,
    growth,
    cohorts,
    funnel,
    top,
    topics,
    timing,
    campaigns,
]
"""Where the reports are, in the dashboard's order."""

REPORTS: dict[str, Definition] = {d.name: d for module in MODULES for d in module.REPORTS}


def definition(name: str) -> Definition:
    found = REPORTS.get(name)
    if found is None:
        known = ", ".join(sorted(REPORTS))
        raise ServiceError("unknown_report", f"No report called {name!r}; there are {known}.", 404)
    return found


@dataclass(frozen=True)
class Viewing:
    """What a viewer's reports share, read once however many reports they ask for."""

    conditions: tuple[Any, ...]
    partial: frozenset[int]
    names: dict[int, str]
    shared: dict[Any, Any] | None = None
    """Work several reports need, done once for all of them (``Query.once``): a dict when
    several reports are asked for together (``digest.reports``), None for one."""


async def viewing(db: AsyncSession, viewer: object, gated: bool = False) -> Viewing:
    """``viewer``'s visibility conditions (with ``gated`` false, also what every member may
    see), the categories they see only in part, and the categories' names."""
    conditions = tuple(plugins.visibility_conditions(viewer, Thread))
    if not gated:
        conditions += tuple(plugins.visibility_conditions(plugins.ordinary_member(), Thread))
    return Viewing(conditions, await partly_hidden(db, conditions), await category_names(db))


async def run(
    db: AsyncSession,
    viewer: object,
    name: str,
    start: str | None = None,
    end: str | None = None,
    category_id: str | None = None,
    today: date | None = None,
    gated: bool = False,
    seen: Viewing | None = None,
) -> Report:
    """Report ``name`` over ``start``..``end`` (dates as text, the last 30 days by default),
    counting only what ``viewer`` may see, and with ``gated`` false only what every member
    may see (a beta program's categories are left out); ServiceError 400 for a question that
    makes no sense. ``seen``: ``viewing(db, viewer, gated)`` when asking for several."""
    found = definition(name)
    settings = plugins.settings("analytics")
    now = utcnow()
    period = parse_period(start, end, today or rollup.today(settings, now))
    category_ids = await parse_category(db, category_id)
    if category_ids is not None and not found.by_category:
        raise ServiceError(
            "invalid_category",
            f"The {found.title.lower()} report covers the whole community: it has no category.",
            400,
        )
    seen = seen or await viewing(db, viewer, gated)
    scope = await load_scope(db, settings, seen.conditions, category_ids, now)
    query = Query(db, period, scope, settings, seen.partial, seen.names, seen.shared)
    return await found.run(query)
