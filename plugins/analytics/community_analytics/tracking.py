"""Visits: a member who opens a page, signs in, posts or reacts is active that day. One row per
member per day, written after the request's commit (``track_event`` runs in a task), as one
upsert."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.db import utcnow
from community.events import Event
from community_analytics import campaigns, marks, views
from community_analytics.models import Visit, insert

ACTIVE = {
    "MemberSeen": "member_id",
    "MemberSignedIn": "member_id",
    "ThreadCreated": "author_id",
    "PostCreated": "author_id",
    "ReactionAdded": "member_id",
}
"""The events that show a member active, and the field naming them."""


async def track_event(event: Event) -> None:
    """Hand ``event`` to what counts it: visits here, thread views (``views``), shares and
    clicks (``campaigns``), moderators' marks against members (``marks``)."""
    if event.name == "ThreadViewed":
        await views.record(event)
    elif event.name in ("DeliverySent", "LinkFollowed"):
        await campaigns.record(event)
    elif event.name in marks.KINDS:
        await marks.record(event)
    await track_visit(event)


async def track_visit(event: Event) -> None:
    field = ACTIVE.get(event.name)
    member_id = getattr(event, field, None) if field else None
    if member_id is None:
        return
    at = datetime.fromisoformat(event.at) if hasattr(event, "at") else utcnow()
    tz = plugins.settings("analytics").tz
    async with plugins.session() as db:
        await record_visit(db, member_id, at, tz)
        await db.commit()


async def record_visit(db: AsyncSession, member_id: int, at: datetime, tz: ZoneInfo) -> None:
    """Count ``member_id`` active on the day ``at`` falls on in ``tz`` (insert or add a hit)."""
    values = {"member_id": member_id, "day": at.astimezone(tz).date(), "first_seen": at, "hits": 1}
    statement = insert(db, Visit).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["member_id", "day"], set_={"hits": Visit.hits + 1}
    )
    await db.execute(statement)
