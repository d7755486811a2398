"""The daily figures, counted from the core's rows for one day: what the rollup stores and what
reports compute live (today, days not rolled up yet, categories a viewer sees only in part).

What counts: posts and threads that are shown (not deleted, hidden or held for review) in a
category (private conversations never count); with the ``exclude_staff`` setting, nothing by
moderators, admins or members suspended now.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.models import Member
from community.db import utcnow
from community.forum.models import Post, Reaction, Thread
from community_analytics.models import SITE, Visit


@dataclass(frozen=True)
class Scope:
    """Which rows count: whose, in which categories, and what the viewer may see."""

    tz: ZoneInfo
    exclude: bool = True
    """Leave out moderators, admins and suspended members."""
    conditions: tuple[Any, ...] = ()
    """Extra conditions on ``Thread``: the viewer's visibility."""
    category_ids: frozenset[int] | None = None
    """None: every category."""
    now: datetime = field(default_factory=utcnow)


def window(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where ``day`` begins and ends in ``tz``."""
    start = datetime.combine(day, time(), tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tz).astimezone(UTC)
    return start, end


def excluded(scope: Scope) -> Any:
    """The ids of members left out of reports."""
    return select(Member.id).where(
        or_(Member.role.in_(("moderator", "admin")), Member.suspended_until > scope.now)
    )


def counted(column: Any, scope: Scope) -> list[ColumnElement[bool]]:
    """Conditions that the member in ``column`` counts (a deleted member's rows do)."""
    if not scope.exclude:
        return []
    return [or_(column.is_(None), column.not_in(excluded(scope)))]


def shown(scope: Scope) -> list[ColumnElement[bool]]:
    """Conditions on ``Thread`` that it counts: shown, in a category of the scope."""
    found = [
        Thread.category_id.is_not(None),
        Thread.hidden_at.is_(None),
        Thread.held_at.is_(None),
        *scope.conditions,
    ]
    if scope.category_ids is not None:
        found.append(Thread.category_id.in_(sorted(scope.category_ids)))
    return found


def live_post() -> list[ColumnElement[bool]]:
    return [Post.deleted_at.is_(None), Post.held_at.is_(None)]


async def _by_category(db: AsyncSession, query: Any) -> dict[int, float]:
    return {category: float(count) for category, count in await db.execute(query)}


async def posts(db: AsyncSession, day: date, scope: Scope) -> dict[int, float]:
    start, end = window(day, scope.tz)
    return await _by_category(
        db,
        select(Thread.category_id, func.count(Post.id))
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.created_at >= start, Post.created_at < end, *live_post(), *shown(scope))
        .where(*counted(Post.author_id, scope))
        .group_by(Thread.category_id),
    )


async def threads(db: AsyncSession, day: date, scope: Scope) -> dict[int, float]:
    start, end = window(day, scope.tz)
    return await _by_category(
        db,
        select(Thread.category_id, func.count(Thread.id))
        .where(Thread.created_at >= start, Thread.created_at < end, *shown(scope))
        .where(*counted(Thread.author_id, scope))
        .group_by(Thread.category_id),
    )


async def reactions(db: AsyncSession, day: date, scope: Scope) -> dict[int, float]:
    start, end = window(day, scope.tz)
    return await _by_category(
        db,
        select(Thread.category_id, func.count())
        .select_from(Reaction)
        .join(Post, Post.id == Reaction.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Reaction.created_at >= start, Reaction.created_at < end)
        .where(*live_post(), *shown(scope), *counted(Reaction.member_id, scope))
        .group_by(Thread.category_id),
    )


async def members(db: AsyncSession, day: date, scope: Scope) -> dict[int, float]:
    """Accounts made that day and usable (not waiting for approval)."""
    start, end = window(day, scope.tz)
    count = await db.scalar(
        select(func.count(Member.id)).where(
            Member.created_at >= start,
            Member.created_at < end,
            Member.approved_at.is_not(None),
            *counted(Member.id, scope),
        )
    )
    return {SITE: float(count or 0)}


def _active(days: int) -> Callable[[AsyncSession, date, Scope], Awaitable[dict[int, float]]]:
    async def active(db: AsyncSession, day: date, scope: Scope) -> dict[int, float]:
        count = await db.scalar(
            select(func.count(func.distinct(Visit.member_id))).where(
                Visit.day > day - timedelta(days=days),
                Visit.day <= day,
                *counted(Visit.member_id, scope),
            )
        )
        return {SITE: float(count or 0)}

    return active


def doings(start: datetime, end: datetime, scope: Scope) -> Any:
    """Everything members did from ``start`` to ``end`` that makes them engaged, one row
    (member_id, category_id, kind, at) each: "started" a thread, "replied", "reacted"."""
    started = select(
        Thread.author_id.label("member_id"),
        Thread.category_id,
        literal("started").label("kind"),
        Thread.created_at.label("at"),
    ).where(
        Thread.created_at >= start,
        Thread.created_at < end,
        *shown(scope),
        *counted(Thread.author_id, scope),
    )
    replied = (
        select(Post.author_id, Thread.category_id, literal("replied"), Post.created_at)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.number > 1, Post.created_at >= start, Post.created_at < end)
        .where(*live_post(), *shown(scope), *counted(Post.author_id, scope))
    )
    reacted = (
        select(Reaction.member_id, Thread.category_id, literal("reacted"), Reaction.created_at)
        .join(Post, Post.id == Reaction.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Reaction.created_at >= start, Reaction.created_at < end)
        .where(*live_post(), *shown(scope), *counted(Reaction.member_id, scope))
    )
    return union_all(started, replied, reacted).subquery("doings")


async def engaged(db: AsyncSession, day: date, scope: Scope) -> dict[int, float]:
    """Members who started a thread, replied or reacted that day (each once)."""
    done = doings(*window(day, scope.tz), scope)
    count = await db.scalar(select(func.count(func.distinct(done.c.member_id))))
    return {SITE: float(count or 0)}


async def engaged_in(db: AsyncSession, day: date, scope: Scope) -> dict[int, float]:
    """Members engaged that day in each category: they do not add up across categories."""
    done = doings(*window(day, scope.tz), scope)
    return await _by_category(
        db,
        select(done.c.category_id, func.count(func.distinct(done.c.member_id))).group_by(
            done.c.category_id
        ),
    )


Metric = Callable[[AsyncSession, date, Scope], Awaitable[dict[int, float]]]

METRICS: dict[str, Metric] = {
    "posts": posts,
    "threads": threads,
    "reactions": reactions,
    "members": members,
    "dau": _active(1),
    "wau": _active(7),
    "mau": _active(30),
    "engaged": engaged,
    "engaged_in": engaged_in,
}
"""Every daily figure, by name: each answers {category id (or SITE): value} for a day."""

BY_CATEGORY = {"posts", "threads", "reactions", "engaged_in"}
"""The figures counted per category (the others are about the whole community)."""
