"""The beta plugin's hooks, kept thin: each hands over to a module of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from community import hookimpl
from community.events import Event
from community.jobs import Job
from community.plugins import Gate, Manifest, NavItem
from community_beta import (
    api,
    clock,
    feedback,
    flags,
    gates,
    gating,
    invites,
    models,
    pages,
    participants,
)

HERE = Path(__file__).parent
TABLES = models.Base.metadata  # the tables are known wherever the plugin is loaded

MANIFEST = Manifest(
    name="beta",
    version="0.1.0",
    description=(
        "Beta programs: gated categories that only participants who accepted the terms see, "
        "waitlists, and feature flags by program, group or sticky percentage."
    ),
    api=">=1.0,<2",
    capabilities={
        "routes",
        "templates",
        "migrations",
        "jobs",
        "admin",
        "events",
        "visibility",
        "gates",
        "live",
        "flags",
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
def register_migrations() -> str:
    return str(HERE / "migrations")


@hookimpl
def register_jobs() -> list[Job]:
    return [
        Job("welcome", participants.welcome, retries=5, backoff=2.0),
        Job("feedback_status", feedback.told, retries=5, backoff=2.0),
    ]


@hookimpl
def register_admin_pages() -> list[NavItem]:
    return [
        NavItem("Beta programs", "/p/beta/admin"),
        NavItem("Feature flags", "/p/beta/admin/flags"),
    ]


@hookimpl
def visible_threads(member: Any, thread: Any) -> Any:
    return gating.visible_threads(member, thread)


@hookimpl
def visible_categories(member: Any, category: Any) -> Any:
    return gating.visible_categories(member, category)


@hookimpl
async def check_thread(member: Any, category: Any) -> Gate | None:
    return await gates.check_thread(member, category)


@hookimpl
async def check_post(member: Any, thread: Any) -> Gate | None:
    return await gates.check_post(member, thread)


@hookimpl
async def track_event(event: Event) -> None:
    await invites.track(event)


@hookimpl
def register_listeners() -> dict[str, Any]:
    return {clock.CHANNEL: lambda data: flags.cache.forget()}


@hookimpl
def feature_enabled(member: Any, key: str) -> bool | None:
    return flags.feature_enabled_now(member, key)
