"""Watching and notifications: who hears about a new post, and the notification inbox.

Notifications are written for whoever watches, is mentioned, quoted or replied to, among the
members who may see the thread and the post when it is written: a mention of someone who
cannot see a thread writes nothing and pings no live stream. Reading them back passes through
``visibility`` too, so a thread hidden later hides its notifications.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, and_, func, insert, literal, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from community import plugins
from community.accounts.models import Member, brief
from community.accounts.services import MAX_ID
from community.db import utcnow
from community.errors import ServiceError
from community.events import MembersNotified, emit
from community.forum import markup, visibility
from community.forum.models import (
    WATCH_LEVELS,
    CategoryWatch,
    Notification,
    Post,
    Thread,
    ThreadWatch,
)

KINDS = ("reply", "mention", "quote", "reaction", "message", "thread")
PRIORITY = {"quote": 0, "mention": 1, "message": 2, "reply": 3, "thread": 4}
"""One notification per member per post, for the strongest reason (a quote names its author)."""


async def send(
    db: AsyncSession,
    member_ids: list[int],
    kind: str,
    actor: Member | None,
    thread: Thread,
    post: Post | None,
    data: dict[str, Any] | None = None,
) -> None:
    """Write one notification per member (never to the actor; ``actor`` None: from the site
    itself, a plugin's own rules) who may see ``thread`` and
    ``post``, in one statement."""
    actor_id = actor.id if actor is not None else None
    recipients = await _who_sees(db, {m for m in member_ids if m != actor_id}, thread, post)
    await _write(db, recipients, kind, actor, thread, post, data)


async def _write(
    db: AsyncSession,
    recipients: list[int],
    kind: str,
    actor: Member | None,
    thread: Thread,
    post: Post | None,
    data: dict[str, Any] | None = None,
) -> None:
    """Write one notification per recipient, already checked, and ping their live streams."""
    if not recipients:
        return
    now = utcnow()
    await db.execute(
        insert(Notification),
        [
            {
                "member_id": member_id,
                "kind": kind,
                "actor_id": actor.id if actor is not None else None,
                "thread_id": thread.id,
                "post_id": post.id if post else None,
                "data": data or {},
                "created_at": now,
            }
            for member_id in recipients
        ],
    )
    emit(db, MembersNotified(tuple(recipients)))


CHECK_BATCH = 50
"""Members checked in one query when a thread is not open to every member."""


async def _who_sees(
    db: AsyncSession, member_ids: set[int], thread: Thread, post: Post | None
) -> list[int]:
    """The members among ``member_ids`` who may see ``thread`` and ``post``, sorted."""
    if not member_ids:
        return []
    # Visibility only widens with roles, groups, programs and conversations: what a member
    # with none of them sees, every member sees, so the usual case costs one query.
    if await db.scalar(_seen_by(plugins.ordinary_member(), thread, post)) is not None:
        return sorted(member_ids)
    members = list(await db.scalars(select(Member).where(Member.id.in_(member_ids))))
    seen: list[int] = []
    for start in range(0, len(members), CHECK_BATCH):
        checks = [_seen_by(member, thread, post) for member in members[start : start + CHECK_BATCH]]
        query = checks[0] if len(checks) == 1 else union_all(*checks)
        seen.extend(await db.scalars(query))
    return sorted(seen)


def _seen_by(member: Member, thread: Thread, post: Post | None) -> Select[tuple[int]]:
    """One row holding ``member``'s id when they may see ``thread`` and ``post``, else none."""
    query = (
        select(literal(member.id, Integer))
        .select_from(Thread)
        .where(Thread.id == thread.id, visibility.threads(member))
    )
    if post is not None:
        query = query.join(Post, Post.thread_id == Thread.id).where(
            Post.id == post.id, visibility.posts(member)
        )
    return query


async def after_post(
    db: AsyncSession, thread: Thread, post: Post, author: Member, mentioned: list[Member]
) -> None:
    """Tell everyone who should hear about a new post, each member once, by the strongest
    reason: quote, mention, private message, reply (watching or replied to), new thread."""
    reasons: dict[int, str] = {}

    def add(member_id: int | None, kind: str) -> None:
        if member_id is None or member_id == author.id:
            return
        if member_id not in reasons or PRIORITY[kind] < PRIORITY[reasons[member_id]]:
            reasons[member_id] = kind

    for member in mentioned:
        add(member.id, "mention")
    for quoted_author in await _quoted_authors(db, author, post.body):
        add(quoted_author, "quote")
    if post.reply_to_number:
        replied_author = await db.scalar(
            select(Post.author_id).where(
                Post.thread_id == thread.id, Post.number == post.reply_to_number
            )
        )
        add(replied_author, "reply")
    levels = dict(
        (
            await db.execute(
                select(ThreadWatch.member_id, ThreadWatch.level).where(
                    ThreadWatch.thread_id == thread.id
                )
            )
        ).all()
    )
    if thread.category_id is not None:
        category_levels = (
            await db.execute(
                select(CategoryWatch.member_id, CategoryWatch.level).where(
                    CategoryWatch.category_id == thread.category_id
                )
            )
        ).all()
        for member_id, level in category_levels:
            levels.setdefault(member_id, level)
    watching_kind = "message" if thread.is_conversation else "reply"
    if post.number == 1 and not thread.is_conversation:
        watching_kind = "thread"
    for member_id, level in levels.items():
        if level == "watching":
            add(member_id, watching_kind)
    muted = {member_id for member_id, level in levels.items() if level == "muted"}
    told = {m for m, kind in reasons.items() if m not in muted or kind not in ("reply", "thread")}
    recipients = await _who_sees(db, told, thread, post)
    by_kind: dict[str, list[int]] = {}
    for member_id in recipients:
        by_kind.setdefault(reasons[member_id], []).append(member_id)
    for kind, member_ids in by_kind.items():
        await _write(db, member_ids, kind, author, thread, post)


MAX_QUOTES = 20


async def _quoted_authors(db: AsyncSession, author: Member, body: str) -> list[int | None]:
    """Authors of the (first twenty) posts ``body`` quotes, among those ``author`` may see."""
    pairs = sorted(markup.quoted_posts(body))[:MAX_QUOTES]
    if not pairs:
        return []
    rows = await db.scalars(
        select(Post.author_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(
            or_(*(and_(Post.thread_id == t, Post.number == n) for t, n in pairs)),
            visibility.threads(author),
            visibility.posts(author),
        )
    )
    return list(rows.all())


async def mentions(
    db: AsyncSession, thread: Thread, post: Post, actor: Member, mentioned: list[Member]
) -> None:
    await send(db, [member.id for member in mentioned], "mention", actor, thread, post)


# ---------------------------------------------------------------------------------------------
# Watching


async def watch_if_unset(db: AsyncSession, member_id: int, thread_id: int) -> None:
    """Posting in a thread watches it, unless the member already chose a level."""
    if await db.get(ThreadWatch, (member_id, thread_id)) is None:
        db.add(ThreadWatch(member_id=member_id, thread_id=thread_id, level="watching"))
        await db.flush()


def _check_level(level: Any) -> str | None:
    if level in (None, "", "normal"):
        return None
    if level not in WATCH_LEVELS:
        raise ServiceError(
            "invalid_level", "Choose watching, tracking, muted or normal.", 422, field="level"
        )
    return str(level)


async def set_thread_watch(db: AsyncSession, member: Member, thread: Thread, level: Any) -> None:
    level = _check_level(level)
    row = await db.get(ThreadWatch, (member.id, thread.id))
    if level is None:
        if row is not None:
            await db.delete(row)
    elif row is None:
        db.add(ThreadWatch(member_id=member.id, thread_id=thread.id, level=level))
    else:
        row.level = level
    await db.commit()


async def set_category_watch(
    db: AsyncSession, member: Member, category_id: int, level: Any
) -> None:
    level = _check_level(level)
    row = await db.get(CategoryWatch, (member.id, category_id))
    if level is None:
        if row is not None:
            await db.delete(row)
    elif row is None:
        db.add(CategoryWatch(member_id=member.id, category_id=category_id, level=level))
    else:
        row.level = level
    await db.commit()


async def thread_level(db: AsyncSession, member: Member, thread: Thread) -> str:
    row = await db.get(ThreadWatch, (member.id, thread.id))
    return row.level if row else "normal"


async def category_level(db: AsyncSession, member: Member, category_id: int) -> str:
    row = await db.get(CategoryWatch, (member.id, category_id))
    return row.level if row else "normal"


# ---------------------------------------------------------------------------------------------
# The inbox


@dataclass
class NotificationView:
    notification: Notification
    thread: Thread
    actor: Member | None
    post_number: int | None

    @property
    def url(self) -> str:
        if self.post_number:
            return self.thread.post_url(self.post_number)
        return self.thread.url

    def to_json(self) -> dict[str, Any]:
        n = self.notification
        return {
            "id": n.id,
            "kind": n.kind,
            "actor": self.actor.username if self.actor else None,
            "thread_id": self.thread.id,
            "title": self.thread.title,
            "post_id": n.post_id,
            "post_number": self.post_number,
            "url": self.url,
            "data": n.data,
            "created_at": n.created_at.isoformat(),
            "read": n.read_at is not None,
        }


def _visible(member: Member) -> Any:
    """Notifications about content ``member`` may see now (a deleted post hides its own)."""
    return and_(
        Notification.member_id == member.id,
        visibility.threads(member),
        Notification.post_id.is_(None) | visibility.posts(member, Post),
    )


async def list_notifications(
    db: AsyncSession, member: Member, *, before: int | None = None, limit: int = 30
) -> list[NotificationView]:
    actor = aliased(Member)
    query = (
        select(Notification, Thread, actor, Post.number)
        .join(Thread, Thread.id == Notification.thread_id)
        .outerjoin(Post, Post.id == Notification.post_id)
        .outerjoin(actor, actor.id == Notification.actor_id)
        .where(_visible(member))
        .options(*brief(actor))
    )
    if before is not None and 0 < before <= MAX_ID:
        query = query.where(Notification.id < before)
    rows = await db.execute(query.order_by(Notification.id.desc()).limit(max(1, min(limit, 100))))
    return [NotificationView(*row) for row in rows.all()]


async def unread_count(db: AsyncSession, member: Member) -> int:
    count = await db.scalar(
        select(func.count())
        .select_from(Notification)
        .join(Thread, Thread.id == Notification.thread_id)
        .outerjoin(Post, Post.id == Notification.post_id)
        .where(_visible(member), Notification.read_at.is_(None))
    )
    return count or 0


async def mark_read(db: AsyncSession, member: Member, ids: list[int] | None = None) -> None:
    """Mark the given notifications (or all of them) read."""
    query = (
        update(Notification)
        .where(Notification.member_id == member.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if ids is not None:
        ids = [i for i in ids if 0 < i <= MAX_ID]
        if not ids:
            return
        query = query.where(Notification.id.in_(ids))
    await db.execute(query)
    emit(db, MembersNotified((member.id,)))
    await db.commit()


async def mark_thread_read(db: AsyncSession, member: Member, thread: Thread, up_to: int) -> None:
    """Reading a thread reads the notifications about the posts seen (no commit)."""
    seen = select(Post.id).where(Post.thread_id == thread.id, Post.number <= up_to)
    result = await db.execute(
        update(Notification)
        .where(
            Notification.member_id == member.id,
            Notification.thread_id == thread.id,
            Notification.read_at.is_(None),
            Notification.post_id.in_(seen),
        )
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        emit(db, MembersNotified((member.id,)))
