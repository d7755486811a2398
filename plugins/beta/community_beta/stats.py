"""A program's figures for its admins: who takes part and waits, who was active this week,
its feedback by status and the posts in its gated categories. Read from the plugin's tables
and the core's ``posts``, ``threads`` and ``reactions`` (never another plugin's), in five
small queries whatever the size of the program.

"Shown" content is what every member may read in the forum's categories: posts neither
deleted nor held for review, in threads neither hidden nor held (private conversations are
not the forum's content and do not count)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from community.db import utcnow
from community.forum.models import Post, Reaction, Thread
from community_beta import feedback
from community_beta.models import GatedCategory, JoinRequest, Participant, Program

WEEK = timedelta(days=7)


def shown() -> ColumnElement[bool]:
    """The condition on ``Post`` joined to its ``Thread`` that the post is shown."""
    return and_(
        Post.deleted_at.is_(None),
        Post.held_at.is_(None),
        Thread.category_id.is_not(None),
        Thread.hidden_at.is_(None),
        Thread.held_at.is_(None),
    )


def _shown_posts() -> Select[Any]:
    return select(Post.id).join(Thread, Thread.id == Post.thread_id).where(shown())


async def program_stats(db: AsyncSession, program: Program) -> dict[str, Any]:
    """The program's figures, as the API shows them to admins:

    - ``participants``: in all; ``accepted_terms``: those who accepted the current terms
      version (all of them while the program has no terms, as gating counts them);
      ``waiting``: members on the waitlist;
    - ``active_this_week``: participants who wrote a shown post, or reacted to one, in the
      last 7 days anywhere in the forum, each counted once;
    - ``feedback``: ``feedback.counts`` (in all, by status and by kind);
    - ``posts``: shown posts in the program's gated categories, in all (``total``) and in
      the last 7 days (``this_week``);
    - ``since``: when "this week" begins (now less 7 days).
    """
    since = utcnow() - WEEK
    members = select(Participant.member_id).where(Participant.program_id == program.id)

    # 1. Participants, those who accepted the current terms, and the waitlist: one row.
    accepted = case((Participant.accepted_version == program.terms_version, 1), else_=0)
    waiting = (
        select(func.count())
        .select_from(JoinRequest)
        .where(JoinRequest.program_id == program.id, JoinRequest.admitted_at.is_(None))
        .scalar_subquery()
    )
    total, accepted_terms, waiting_count = (
        await db.execute(
            select(func.count(), func.coalesce(func.sum(accepted), 0), waiting)
            .select_from(Participant)
            .where(Participant.program_id == program.id)
        )
    ).one()

    # 2. Active participants: the members who posted this week, UNION those who reacted
    # this week to a shown post (the UNION counts each member once).
    posted = (
        select(Post.author_id.label("member_id"))
        .join(Thread, Thread.id == Post.thread_id)
        .where(shown(), Post.created_at >= since, Post.author_id.in_(members))
    )
    reacted = select(Reaction.member_id.label("member_id")).where(
        Reaction.created_at >= since,
        Reaction.member_id.in_(members),
        Reaction.post_id.in_(_shown_posts()),
    )
    active = await db.scalar(select(func.count()).select_from(union(posted, reacted).subquery()))

    # 3. Shown posts in the gated categories: in all, and since ``since``, in one row.
    gated = select(GatedCategory.category_id).where(GatedCategory.program_id == program.id)
    recent = case((Post.created_at >= since, 1), else_=0)
    posts_total, posts_week = (
        await db.execute(
            select(func.count(), func.coalesce(func.sum(recent), 0))
            .select_from(Post)
            .join(Thread, Thread.id == Post.thread_id)
            .where(shown(), Thread.category_id.in_(gated))
        )
    ).one()

    # 4 and 5. The feedback board's counts, by status and by kind.
    return {
        "participants": int(total),
        "accepted_terms": int(accepted_terms),
        "waiting": int(waiting_count or 0),
        "active_this_week": int(active or 0),
        "feedback": await feedback.counts(db, program),
        "posts": {"total": int(posts_total), "this_week": int(posts_week)},
        "since": since.isoformat(),
    }
