"""The moderation plugin's hooks, kept thin: each hands over to a module of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from community import hookimpl
from community.events import Event
from community.jobs import Job, Schedule
from community.plugins import Gate, Manifest, NavItem
from community_moderation import audit, events, gates, live, models, routes, tasks
from community_moderation.settings import Settings

HERE = Path(__file__).parent
TABLES = models.Base.metadata  # the tables are known wherever the plugin is loaded

MANIFEST = Manifest(
    name="moderation",
    version="0.1.0",
    description=(
        "One moderator inbox: flags, posts held for approval, watched words, spam heuristics, "
        "penalties with escalation, canned replies and an audit log."
    ),
    api=">=1.0,<2",
    capabilities={
        "routes",
        "templates",
        "migrations",
        "jobs",
        "settings",
        "admin",
        "events",
        "gates",
        "slots",
        "live",
        "audit",
        "read-private-content",
    },
)


@hookimpl
def register_routes() -> list[Any]:
    return routes.PAGES


@hookimpl
def register_api_routes() -> list[Any]:
    return routes.API


@hookimpl
def register_templates() -> str:
    return str(HERE / "templates")


@hookimpl
def register_migrations() -> str:
    return str(HERE / "migrations")


@hookimpl
def register_settings() -> type:
    return Settings


@hookimpl
def register_admin_pages() -> list[NavItem]:
    return [
        NavItem("Moderation", "/p/moderation/"),
        NavItem("Moderation categories", "/p/moderation/categories"),
    ]


@hookimpl
def register_event_types() -> list[type[Event]]:
    return events.EVENT_TYPES


@hookimpl
def register_jobs() -> list[Job]:
    return tasks.JOBS


@hookimpl
def register_schedules() -> list[Schedule]:
    return tasks.SCHEDULES


@hookimpl
async def check_post(member: Any, thread: Any, body: str, editing: bool) -> Gate | None:
    return await gates.check_post(member, thread, body, editing)


@hookimpl
async def check_thread(member: Any, category: Any, title: str, body: str) -> Gate | None:
    return await gates.check_thread(member, category, title, body)


@hookimpl
async def rewrite_text(text: str, category: Any) -> str | None:
    return await gates.rewrite_text(text, category)


@hookimpl
async def track_event(event: Event) -> None:
    await tasks.track_event(event)


@hookimpl
def render_slot(slot: Any, context: dict[str, Any]) -> str | None:
    return tasks.render_slot(slot, context)


@hookimpl
async def live_channels(member: Any) -> list[str] | None:
    return await live.live_channels(member)


@hookimpl
def record_audit(
    db: Any,
    actor: Any,
    action: str,
    target_type: str,
    target_id: int | None,
    before: dict[str, Any],
    after: dict[str, Any],
    reason: str,
) -> None:
    audit.record(
        db, actor, action, target_type, target_id, before=before, after=after, reason=reason
    )
