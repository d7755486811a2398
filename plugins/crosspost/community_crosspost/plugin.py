"""The cross-posting plugin's hooks, kept thin: each hands over to a module of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from community import hookimpl, plugins
from community.events import Event
from community.jobs import Job
from community.plugins import Manifest, NavItem
from community.web.slots import Slot
from community_crosspost import api, delivery, events, models, pages, shares
from community_crosspost.settings import Settings

HERE = Path(__file__).parent
TABLES = models.Base.metadata  # the tables are known wherever the plugin is loaded

MANIFEST = Manifest(
    name="crosspost",
    version="0.1.0",
    description=(
        "Cross-posting: share threads to Mastodon, Bluesky, Discord, Slack and signed "
        "webhooks, by rule or by a moderator's mark, with review, scheduling and durable "
        "delivery. Never shares private or beta-gated content."
    ),
    api=">=1.0,<2",
    capabilities={
        "routes",
        "templates",
        "admin",
        "slots",
        "migrations",
        "settings",
        "jobs",
        "events",
        "reviews",
        "outbound-network",
    },
)


@hookimpl
def register_migrations() -> str:
    return str(HERE / "migrations")


@hookimpl
def register_settings() -> type:
    return Settings


@hookimpl
def register_api_routes() -> list[Any]:
    return api.routes


@hookimpl
def register_routes() -> list[Any]:
    return pages.routes


@hookimpl
def register_templates() -> str:
    return str(HERE / "templates")


@hookimpl
def register_admin_pages() -> list[NavItem]:
    return [
        NavItem("Cross-posting", "/p/crosspost/admin"),
        NavItem("Cross-posting log", "/p/crosspost/admin/deliveries"),
    ]


@hookimpl
def render_slot(slot: Slot, context: dict[str, Any]) -> str | None:
    return pages.render_slot(slot, context)


@hookimpl
def register_jobs() -> list[Job]:
    # Not atomic: nothing is locked while a network answers; it retries by itself (backoff,
    # Retry-After), so the runner's own retries are only for the unexpected.
    return [
        Job("deliver", delivery.deliver, retries=3, backoff=30.0, timeout=120, atomic=False),
        Job("follow", delivery.follow, retries=5, backoff=30.0, timeout=120, atomic=False),
    ]


@hookimpl
def register_event_types() -> list[type[Event]]:
    return events.EVENT_TYPES


@hookimpl
async def track_event(event: Event) -> None:
    """A thread started (or its held opening post approved) is shared by the rules; a shared
    thread edited, hidden, moved or held has its remote posts follow."""
    action = await shares.follow_up(event)
    if action is None:
        return
    async with plugins.session() as db:
        if action == "share":
            await shares.by_rules(db, event.thread_id)
        else:
            await delivery.followed(db, event.thread_id, action)


@hookimpl
async def review_items(db: Any, member: Any) -> list[Any]:
    return await shares.drafts(db, member)
