"""Members' engagement scores, what the plugin answers other plugins through the core's
``member_scores`` hook (a beta program's waitlist ordered by engagement).

Over the last 90 days, a member scores 3 for each post they wrote, 1 for each reaction their
posts received, 1 for each reaction they gave and 1 for each day they visited. Posts and
reactions count on shown posts (not deleted nor held, in a thread neither hidden nor held) in a
category, as in the reports; private conversations never count.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from community.db import utcnow
from community.forum.models import Post, Reaction, Thread
from community_analytics.models import Visit

DAYS = 90
"""How far back a score looks."""

POST_POINTS = 3
REACTION_POINTS = 1
VISIT_POINTS = 1


async def member_scores(
    db: AsyncSession, member_ids: list[int], tz: ZoneInfo, now: datetime | None = None
) -> dict[int, float]:
    """The engagement score of each of ``member_ids`` over the ``DAYS`` before ``now`` (days
    visited are the community's days in ``tz``); members who did nothing are left out. Four
    grouped queries, whatever the number of members."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    now = now or utcnow()
    since = now - timedelta(days=DAYS)
    first_day = now.astimezone(tz).date() - timedelta(days=DAYS - 1)
    shown = [
        Post.deleted_at.is_(None),
        Post.held_at.is_(None),
        Thread.category_id.is_not(None),
        Thread.hidden_at.is_(None),
        Thread.held_at.is_(None),
    ]
    written = (
        select(Post.author_id, func.count())
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.author_id.in_(ids), Post.created_at >= since, *shown)
        .group_by(Post.author_id)
    )
    received = (
        select(Post.author_id, func.count())
        .select_from(Reaction)
        .join(Post, Post.id == Reaction.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.author_id.in_(ids), Reaction.created_at >= since, *shown)
        .group_by(Post.author_id)
    )
    given = (
        select(Reaction.member_id, func.count())
        .join(Post, Post.id == Reaction.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Reaction.member_id.in_(ids), Reaction.created_at >= since, *shown)
        .group_by(Reaction.member_id)
    )
    visited = (
        select(Visit.member_id, func.count())
        .where(Visit.member_id.in_(ids), Visit.day >= first_day)
        .group_by(Visit.member_id)
    )
    scores: Counter[int] = Counter()
    for query, points in (
        (written, POST_POINTS),
        (received, REACTION_POINTS),
        (given, REACTION_POINTS),
        (visited, VISIT_POINTS),
    ):
        for member_id, count in await db.execute(query):
            scores[member_id] += points * count
    return {member_id: float(score) for member_id, score in scores.items()}
