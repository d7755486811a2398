"""What the plugin adds to the core's pages: an engagement summary at the top of the admin
pages, and a member's own activity on their profile. ``render_slot`` must answer at once, so
each slot holds a placeholder that loads its fragment from the plugin's pages (htmx)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.accounts.models import Member
from community.forum.models import Post, Reaction, Thread
from community.web.slots import Slot
from community_analytics import rollup
from community_analytics.access import may_view
from community_analytics.metrics import Scope, live_post, shown, window
from community_analytics.models import Visit

SUMMARY = ("active", "engaged", "posts", "threads")
"""The reports the admin pages' summary shows, when they exist."""
OWN_DAYS = 30
"""How far back a member's own activity goes."""

PLACEHOLDER = (
    '<div class="analytics-slot" hx-get="{url}" hx-trigger="load" hx-swap="innerHTML"></div>'
)


def render(slot: Slot, context: dict[str, Any]) -> str | None:
    """The placeholder for ``slot``, or None when the viewer may not see what it would load."""
    member = context.get("member")
    if slot is Slot.admin_dashboard and may_view(member):
        return PLACEHOLDER.format(url="/p/analytics/summary")
    if slot is Slot.profile and member is not None:
        person = getattr(context.get("profile"), "member", None)
        if person is not None and person.id == member.id:
            return PLACEHOLDER.format(url="/p/analytics/me")
    return None


@dataclass
class Activity:
    """What a member did in the last ``OWN_DAYS`` days, counting only what they still see."""

    days_active: int
    posts: int
    threads: int
    reactions_given: int
    reactions_received: int


async def own_activity(db: AsyncSession, member: Member) -> Activity:
    """``member``'s activity over the last ``OWN_DAYS`` days (today included) in the
    community's time zone: shown posts and threads, reactions on shown posts."""
    settings = plugins.settings("analytics")
    last = rollup.today(settings)
    first = last - timedelta(days=OWN_DAYS - 1)
    start, end = window(first, settings.tz)[0], window(last, settings.tz)[1]
    scope = Scope(settings.tz, False, tuple(plugins.visibility_conditions(member, Thread)))
    days = await db.scalar(
        select(func.count())
        .select_from(Visit)
        .where(Visit.member_id == member.id, Visit.day >= first, Visit.day <= last)
    )
    posts = await db.scalar(
        select(func.count(Post.id))
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.author_id == member.id, Post.created_at >= start, Post.created_at < end)
        .where(*live_post(), *shown(scope))
    )
    threads = await db.scalar(
        select(func.count(Thread.id)).where(
            Thread.author_id == member.id,
            Thread.created_at >= start,
            Thread.created_at < end,
            *shown(scope),
        )
    )
    reactions = (
        select(func.count())
        .select_from(Reaction)
        .join(Post, Post.id == Reaction.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Reaction.created_at >= start, Reaction.created_at < end)
        .where(*live_post(), *shown(scope))
    )
    given = await db.scalar(reactions.where(Reaction.member_id == member.id))
    received = await db.scalar(
        reactions.where(Post.author_id == member.id, Reaction.member_id != member.id)
    )
    return Activity(
        days_active=int(days or 0),
        posts=int(posts or 0),
        threads=int(threads or 0),
        reactions_given=int(given or 0),
        reactions_received=int(received or 0),
    )
