"""The analytics plugin's hooks, kept thin: each hands over to a module of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from community import hookimpl
from community.events import Event
from community.jobs import Job, Schedule
from community.plugins import Manifest, NavItem
from community_analytics import api, models, pages, rollup, tracking
from community_analytics.settings import Settings

HERE = Path(__file__).parent
TABLES = models.Base.metadata  # the tables are known wherever the plugin is loaded

MANIFEST = Manifest(
    name="analytics",
    version="0.1.0",
    description=(
        "Engagement reports for admins: active members, posts, threads, reactions, new "
        "members, time to first response and response rate, each against the period before."
    ),
    api=">=1.0,<2",
    capabilities={"routes", "templates", "migrations", "jobs", "settings", "admin", "events"},
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
    return rollup.JOBS


@hookimpl
def register_schedules() -> list[Schedule]:
    return rollup.SCHEDULES


@hookimpl
async def track_event(event: Event) -> None:
    await tracking.track_event(event)
