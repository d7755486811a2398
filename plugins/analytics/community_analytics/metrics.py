"""The daily figures, counted from the core's rows for one day: what the rollup stores and what
reports compute live (today, days not rolled up yet, categories a viewer sees only in part).

What counts: posts and threads that are shown (not deleted, hidden or held for review) in a
category (private conversations never count); with the ``exclude_staff`` setting, nothing by
moderators, admins or members suspended now.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

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
    left_out: frozenset[int] | None = None
    """The members left out (``excluded``), read once by ``load_scope``; None: asked for in
    every query."""


async def load_scope(
    db: AsyncSession,
    settings: Any,
    conditions: tuple[Any, ...] = (),
    category_ids: frozenset[int] | None = None,
    now: datetime | None = None,
) -> Scope:
    """The scope of reports under the plugin's ``settings``, with the members left out read
    once: a list of ids costs the database less than a subquery in every part of a report."""
    now = now or utcnow()
    found = Scope(settings.tz, settings.exclude_staff, conditions, category_ids, now)
    if not found.exclude:
        return found
    return replace(found, left_out=frozenset(await db.scalars(excluded(found))))


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
    if scope.left_out is None:
        return [or_(column.is_(None), column.not_in(excluded(scope)))]
    if not scope.left_out:
        return []
    return [or_(column.is_(None), column.not_in(sorted(scope.left_out)))]


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


def _engaged_rows(day: date, scope: Scope) -> Any:
    """``day``'s rows of members who started a thread, replied or reacted (``events``, less
    reactions received), members who count only."""
    rows = events(scope, within(*window(day, scope.tz))).subquery()
    return (
        select(rows.c.member_id, rows.c.category_id)
        .where(rows.c.started + rows.c.replies + rows.c.given > 0)
        .where(*counted(rows.c.member_id, scope))
        .subquery("engaged_rows")
    )


async def engaged(db: AsyncSession, day: date, scope: Scope) -> dict[int, float]:
    """Members who started a thread, replied or reacted that day (each once)."""
    done = _engaged_rows(day, scope)
    count = await db.scalar(select(func.count(func.distinct(done.c.member_id))))
    return {SITE: float(count or 0)}


async def engaged_in(db: AsyncSession, day: date, scope: Scope) -> dict[int, float]:
    """Members engaged that day in each category: they do not add up across categories."""
    done = _engaged_rows(day, scope)
    return await _by_category(
        db,
        select(done.c.category_id, func.count(func.distinct(done.c.member_id))).group_by(
            done.c.category_id
        ),
    )


When = Callable[[Any], ColumnElement[bool]]
"""Conditions on an event's time column: which instants to read."""


def within(begin: datetime, end: datetime) -> When:
    return lambda at: and_(at >= begin, at < end)


# -- what members did, one row per thing done --------------------------------------------


def events(scope: Scope, when: When) -> Any:
    """One row per thing done (member_id, category_id, at, started, posts, replies, given,
    received): threads started, posts, reactions given and reactions received (from members
    who count). Nothing here leaves out the member in ``member_id``: readers do."""
    zero = literal(0)
    one = literal(1)
    started = select(
        Thread.author_id.label("member_id"),
        Thread.category_id.label("category_id"),
        Thread.created_at.label("at"),
        one.label("started"),
        zero.label("posts"),
        zero.label("replies"),
        zero.label("given"),
        zero.label("received"),
    ).where(when(Thread.created_at), *shown(scope))
    posts = (
        select(
            Post.author_id,
            Thread.category_id,
            Post.created_at,
            zero,
            one,
            case((Post.number > 1, 1), else_=0),
            zero,
            zero,
        )
        .join(Thread, Thread.id == Post.thread_id)
        .where(when(Post.created_at), *live_post(), *shown(scope))
    )

    def reactions(member: Any, given: int) -> Any:
        return (
            select(
                member,
                Thread.category_id,
                Reaction.created_at,
                zero,
                zero,
                zero,
                literal(given),
                literal(1 - given),
            )
            .select_from(Reaction)
            .join(Post, Post.id == Reaction.post_id)
            .join(Thread, Thread.id == Post.thread_id)
            .where(when(Reaction.created_at), *live_post(), *shown(scope))
            .where(*counted(Reaction.member_id, scope))
        )

    return union_all(started, posts, reactions(Reaction.member_id, 1), reactions(Post.author_id, 0))


def thread_events(scope: Scope, when: When) -> Any:
    """One row per post and reaction that counts (thread_id, at, posts, replies, reactions)."""
    posts = (
        select(
            Post.thread_id.label("thread_id"),
            Post.created_at.label("at"),
            literal(1).label("posts"),
            case((Post.number > 1, 1), else_=0).label("replies"),
            literal(0).label("reactions"),
        )
        .join(Thread, Thread.id == Post.thread_id)
        .where(when(Post.created_at), *live_post(), *shown(scope))
        .where(*counted(Post.author_id, scope))
    )
    reactions = (
        select(Post.thread_id, Reaction.created_at, literal(0), literal(0), literal(1))
        .select_from(Reaction)
        .join(Post, Post.id == Reaction.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(when(Reaction.created_at), *live_post(), *shown(scope))
        .where(*counted(Reaction.member_id, scope))
    )
    return union_all(posts, reactions)


MEMBER_SUMS = ["started", "posts", "replies", "given", "received"]
THREAD_SUMS = ["posts", "replies", "reactions"]


def member_day(day: date, scope: Scope) -> Any:
    """``day``'s member rows, grouped as ``analytics_member_days`` holds them."""
    rows = events(scope, within(*window(day, scope.tz))).subquery()
    return select(
        literal(day).label("day"),
        rows.c.member_id,
        rows.c.category_id,
        *(func.sum(rows.c[name]).label(name) for name in MEMBER_SUMS),
    ).group_by(rows.c.member_id, rows.c.category_id)


def thread_day(day: date, scope: Scope) -> Any:
    """``day``'s thread rows, grouped as ``analytics_thread_days`` holds them."""
    rows = thread_events(scope, within(*window(day, scope.tz))).subquery()
    return select(
        literal(day).label("day"),
        rows.c.thread_id,
        *(func.sum(rows.c[name]).label(name) for name in THREAD_SUMS),
    ).group_by(rows.c.thread_id)


QUARTER = 900
"""Seconds in the UTC buckets ``quarters`` counts in: every time zone's offset is a whole number
of quarter hours."""


def quarter(db: AsyncSession, column: Any) -> Any:
    """The UTC quarter hour ``column`` falls in, as a whole number since 1970."""
    if db.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / QUARTER), Integer)
    return cast(func.strftime("%s", column), Integer) / QUARTER


async def quarters(db: AsyncSession, scope: Scope, when: When) -> Any:
    """(quarter, category_id, activity, replies) per UTC quarter hour and category: posts and
    reactions that count, and the replies among the posts."""
    posts = (
        select(
            quarter(db, Post.created_at).label("quarter"),
            Thread.category_id.label("category_id"),
            literal(1).label("activity"),
            case((Post.number > 1, 1), else_=0).label("replies"),
        )
        .join(Thread, Thread.id == Post.thread_id)
        .where(when(Post.created_at), *live_post(), *shown(scope))
        .where(*counted(Post.author_id, scope))
    )
    reactions = (
        select(quarter(db, Reaction.created_at), Thread.category_id, literal(1), literal(0))
        .select_from(Reaction)
        .join(Post, Post.id == Reaction.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(when(Reaction.created_at), *live_post(), *shown(scope))
        .where(*counted(Reaction.member_id, scope))
    )
    rows = union_all(posts, reactions).subquery()
    return await db.execute(
        select(
            rows.c.quarter, rows.c.category_id, func.sum(rows.c.activity), func.sum(rows.c.replies)
        ).group_by(rows.c.quarter, rows.c.category_id)
    )


def response(thread: Any = Thread) -> Any:
    """When ``thread`` got its first response: its first shown reply by someone else (a
    correlated subquery), or NULL."""
    reply = aliased(Post)
    return (
        select(func.min(reply.created_at))
        .where(
            reply.thread_id == thread.id,
            reply.number > 1,
            reply.deleted_at.is_(None),
            reply.held_at.is_(None),
            reply.author_id.is_distinct_from(thread.author_id),
        )
        .correlate(thread)
        .scalar_subquery()
    )


def answered(day: date, tz: ZoneInfo) -> Any:
    """(thread_id, first_at) of the threads that got a reply on ``day``: their first response
    as it stands, what ``analytics_responses`` keeps."""
    start, end = window(day, tz)
    replied = select(Post.thread_id).where(
        Post.created_at >= start, Post.created_at < end, Post.number > 1
    )
    first = response()
    return select(Thread.id, first).where(Thread.id.in_(replied), first.is_not(None))


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
