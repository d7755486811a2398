"""The analytics plugin's hooks, kept thin: each hands over to a module of its own."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from community import hookimpl, plugins
from community.events import Event
from community.jobs import Job, Schedule
from community.plugins import Manifest, NavItem
from community.web.slots import Slot
from community_analytics import (
    api,
    demo,
    digest,
    models,
    pages,
    rollup,
    scores,
    slots,
    timing,
    tracking,
)
from community_analytics.settings import Settings

HERE = Path(__file__).parent
TABLES = models.Base.metadata  # the tables are known wherever the plugin is loaded

MANIFEST = Manifest(
    name="analytics",
    version="0.1.0",
    description=(
        "Engagement analytics for admins: a dashboard of reports (active and engaged members, "
        "posts, threads, reactions, new members, growth, retention cohorts, the invite funnel, "
        "top threads and contributors, categories, response time and rate, the best time to "
        "post), each with a chart, a table, CSV and the change on the period before; a weekly "
        "digest by email; an engagement summary on the admin pages and members' own activity "
        "on their profile."
    ),
    api=">=1.0,<2",
    capabilities={
        "routes",
        "templates",
        "static",
        "migrations",
        "jobs",
        "settings",
        "admin",
        "events",
        "slots",
        "scores",
    },
)


@hookimpl
def register_routes() -> list[Any]:
    return pages.routes


@hookimpl
def register_api_routes() -> list[Any]:
    return api.routes


@hookimpl
def register_templates() -> str:
    return str(HERE / "templates")


@hookimpl
def register_static() -> str:
    return str(HERE / "static")


@hookimpl
def register_admin_pages() -> list[NavItem]:
    return [NavItem("Analytics", "/p/analytics/")]


@hookimpl
def register_migrations() -> str:
    return str(HERE / "migrations")


@hookimpl
def register_settings() -> type:
    return Settings


@hookimpl
def register_jobs() -> list[Job]:
    return [*rollup.JOBS, *digest.JOBS]


@hookimpl
def register_schedules() -> list[Schedule]:
    return [*rollup.SCHEDULES, *digest.SCHEDULES]


@hookimpl
def render_slot(slot: Slot, context: dict[str, Any]) -> str | None:
    return slots.render(slot, context)


@hookimpl
async def track_event(event: Event) -> None:
    await tracking.track_event(event)


@hookimpl
async def populate_demo(
    db: AsyncSession, rng: random.Random, since: datetime, now: datetime
) -> None:
    await demo.populate_demo(db, rng, since, now)


@hookimpl
async def member_scores(db: AsyncSession, member_ids: list[int]) -> dict[int, float]:
    return await scores.member_scores(db, member_ids, plugins.settings("analytics").tz)


@hookimpl
async def best_time(db: AsyncSession, now: datetime) -> datetime | None:
    return await timing.next_best(db, plugins.settings("analytics"), now)
