"""Shares: which threads go where. A new thread in a category a target's rules name, or a
thread a moderator shares (marks) by hand, makes one delivery per target: a draft waiting for
a moderator's approval when the target asks for review, else scheduled (now, at a chosen
time, or at the best time). Only threads every member may see are ever shared: never one in
a category private to some groups or gated by a plugin (a beta program), nor a private
conversation, nor a hidden or held thread; checked here and again when the delivery runs."""

from __future__ import annotations

import hashlib
import secrets as random_secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.accounts.models import Member
from community.db import utcnow
from community.errors import ServiceError
from community.events import (
    Event,
    PostApproved,
    PostDeleted,
    PostEdited,
    PostHeld,
    ThreadChanged,
    ThreadCreated,
)
from community.forum import visibility
from community.forum.models import Post, Thread
from community.forum.services import check_id
from community.jobs import enqueue
from community_crosspost.models import (
    CANCELLED,
    DEAD,
    DRAFT,
    SCHEDULED,
    STATUSES,
    Delivery,
    Target,
)
from community_crosspost.targets import bad, body_id

JOB = "crosspost.deliver"
MAX_AHEAD = timedelta(days=365)


async def shareable(db: AsyncSession, thread_id: int) -> tuple[Thread, Post] | None:
    """The thread and its opening post when every member may see both, else None."""
    nobody = plugins.ordinary_member()
    row = (
        await db.execute(
            select(Thread, Post)
            .join(Post, (Post.thread_id == Thread.id) & (Post.number == 1))
            .where(
                Thread.id == thread_id,
                Thread.category_id.is_not(None),
                visibility.threads(nobody),
                visibility.posts(nobody),
            )
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


NOT_SHAREABLE = (
    "This thread is not open to every member (a private or gated category, a private "
    "conversation, or hidden or held): it is never shared."
)


async def shareable_for(db: AsyncSession, member: Member, thread_id: Any) -> tuple[Thread, Post]:
    """The thread ``member`` asks to share and its opening post: a 404 for a thread they
    cannot see, a 400 for one not open to every member."""
    thread_id = check_id(thread_id, "thread")
    seen = select(Thread.id).where(Thread.id == thread_id, visibility.threads(member))
    if await db.scalar(seen) is None:
        raise ServiceError("not_found", "No such thread.", 404)
    found = await shareable(db, thread_id)
    if found is None:
        raise bad("not_shareable", NOT_SHAREABLE)
    return found


def _key(target_id: int, thread_id: int, reason: str) -> str:
    """The delivery's idempotency key: fixed for a rule's share (a thread goes once per
    target by rule), random otherwise."""
    if reason == "rule":
        seed = f"rule:{target_id}:{thread_id}"
        return hashlib.sha256(seed.encode()).hexdigest()[:40]
    return random_secrets.token_hex(20)


async def _add(
    db: AsyncSession,
    target: Target,
    thread: Thread,
    reason: str,
    due: datetime,
    member: Member | None,
) -> Delivery:
    delivery = Delivery(
        thread_id=thread.id,
        target_id=target.id,
        key=_key(target.id, thread.id, reason),
        status=DRAFT if target.approval else SCHEDULED,
        reason=reason,
        due_at=due,
        attempts=0,
        text="",
        remote_id="",
        remote_url="",
        last_error="",
        requested_by_id=member.id if member is not None else None,
    )
    db.add(delivery)
    await db.flush()
    if delivery.status == SCHEDULED:
        await schedule(db, delivery)
    return delivery


async def schedule(db: AsyncSession, delivery: Delivery) -> None:
    """The delivery's job, due at its time, in the caller's transaction."""
    delay = max((delivery.due_at - utcnow()).total_seconds(), 0)
    await enqueue(db, JOB, delay=delay, delivery_id=delivery.id, attempt=delivery.attempts)


async def follow_up(event: Event) -> str | None:
    """What an event asks of the plugin: "share" (a thread started, or its held opening post
    approved), "edit" (the opening post or title edited), "remove" (the thread hidden or
    moved, its opening post deleted or held), or None."""
    if isinstance(event, ThreadCreated):
        return "share"
    if isinstance(event, ThreadChanged):
        if (event.change == "hidden" and event.value) or event.change == "moved":
            return "remove"
        return None
    kinds = {PostApproved: "share", PostEdited: "edit", PostDeleted: "remove", PostHeld: "remove"}
    action = kinds.get(type(event))
    if action is None:
        return None
    async with plugins.session() as db:
        number = await db.scalar(select(Post.number).where(Post.id == event.post_id))
    return action if number == 1 else None


async def by_rules(db: AsyncSession, thread_id: int) -> list[Delivery]:
    """Deliveries for a thread just started (or just approved) to every enabled target whose
    rules name its category, once per target; commits."""
    found = await shareable(db, thread_id)
    if found is None:
        return []
    thread, _ = found
    made = []
    for target in await db.scalars(select(Target).where(Target.enabled.is_(True))):
        if thread.category_id not in (target.categories or []):
            continue
        key = _key(target.id, thread.id, "rule")
        if await db.scalar(select(Delivery.id).where(Delivery.key == key)) is not None:
            continue
        made.append(await _add(db, target, thread, "rule", utcnow(), None))
    await db.commit()
    return made


def _when(value: Any, best: datetime) -> datetime:
    """``at``: None (now), "best" (the best time), or an ISO 8601 time with its zone."""
    now = utcnow()
    if value is None or value == "" or value == "now":
        return now
    if value == "best":
        return best
    if not isinstance(value, str):
        raise bad("invalid_at", 'at is an ISO 8601 time, "now" or "best".', "at")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise bad("invalid_at", f"at {value!r} is not an ISO 8601 time.", "at") from None
    if when.tzinfo is None:
        raise bad("invalid_at", "at needs its time zone (2026-12-01T09:00:00+00:00).", "at")
    when = when.astimezone(UTC)
    if when > now + MAX_AHEAD:
        raise bad("invalid_at", "Shares are scheduled at most a year ahead.", "at")
    return max(when, now)


async def best_time(db: AsyncSession, now: datetime | None = None) -> datetime:
    """The next best time to post: from the analytics plugin's best-time heatmap when an
    enabled plugin can tell (the core's ``best_time`` hook), else the next ``best_time``
    setting (a time of day, UTC)."""
    now = now or utcnow()
    found = await plugins.best_time(db, now)
    if found is not None:
        return found.astimezone(UTC)
    hour, minute = plugins.settings("crosspost").best_hour()
    when = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return when if when > now else when + timedelta(days=1)


async def share(db: AsyncSession, member: Member, thread_id: Any, data: Any) -> list[Delivery]:
    """A moderator shares a thread by hand: ``{"targets": [ids], "at"?}``; one delivery per
    target (a draft where the target asks for review); commits."""
    if not isinstance(data, dict) or set(data) - {"targets", "at"}:
        raise bad("invalid_body", 'Send {"targets": [target ids], "at"?}.')
    ids = data.get("targets")
    if not isinstance(ids, list) or not ids or len(ids) > 50:
        raise bad("invalid_targets", "targets is a list of target ids.", "targets")
    chosen = []
    for target_id in dict.fromkeys(ids):  # each target once, however often named
        target = await db.get(Target, body_id(target_id, "target"))
        if target is None:
            raise bad("unknown_target", f"No target has the id {target_id}.", "targets")
        if not target.enabled:
            raise bad("target_disabled", f"{target.name} is turned off.", "targets")
        chosen.append(target)
    found = await shareable_for(db, member, thread_id)
    at = data.get("at")
    due = _when(at, await best_time(db) if at == "best" else utcnow())
    made = [await _add(db, target, found[0], "manual", due, member) for target in chosen]
    await db.commit()
    return made


async def mark(db: AsyncSession, member: Member, thread_id: Any) -> list[Delivery]:
    """A moderator marks a thread for sharing: one delivery to each enabled target that
    takes marked threads (``on_mark``) and has not had it yet, now (or as a draft where the
    target asks for review); commits. A 400 when no target takes it."""
    found = await shareable_for(db, member, thread_id)
    thread_id = found[0].id
    had = set(
        await db.scalars(
            select(Delivery.target_id).where(
                Delivery.thread_id == thread_id, Delivery.status.not_in((CANCELLED, DEAD))
            )
        )
    )
    chosen = [
        target
        for target in await db.scalars(
            select(Target).where(Target.enabled.is_(True), Target.on_mark.is_(True))
        )
        if target.id not in had
    ]
    if not chosen:
        raise bad(
            "no_target",
            "No enabled target takes marked threads that has not had this one already.",
        )
    made = [await _add(db, target, found[0], "mark", utcnow(), member) for target in chosen]
    await db.commit()
    return made


async def _move(
    db: AsyncSession, delivery: Delivery, before: tuple[str, ...], **values: Any
) -> bool:
    """Change the delivery only while its status is one of ``before`` (one conditional
    UPDATE, so two moderators, or a moderator and a running job, cannot both act)."""
    moved = await db.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.status.in_(before))
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        await db.rollback()
        await db.refresh(delivery)
        return False
    for name, value in values.items():
        setattr(delivery, name, value)
    return True


async def approve(db: AsyncSession, member: Member, delivery: Delivery) -> Delivery:
    """A moderator approves a draft: it is scheduled (at once, or at its time); commits."""
    due = max(delivery.due_at, utcnow())
    if not await _move(
        db, delivery, (DRAFT,), status=SCHEDULED, approved_by_id=member.id, due_at=due
    ):
        raise bad("not_draft", f"This share is {delivery.status}, not waiting for approval.")
    await schedule(db, delivery)
    await db.commit()
    return delivery


async def cancel(db: AsyncSession, delivery: Delivery) -> Delivery:
    if not await _move(db, delivery, (DRAFT, SCHEDULED), status=CANCELLED):
        raise bad("not_cancellable", f"This share is {delivery.status}: it cannot be cancelled.")
    await db.commit()
    return delivery


async def retry(db: AsyncSession, delivery: Delivery) -> Delivery:
    """A dead delivery tried again now (its attempts start over); commits."""
    if not await _move(db, delivery, (DEAD,), status=SCHEDULED, attempts=0, due_at=utcnow()):
        raise bad("not_dead", f"This share is {delivery.status}: only dead ones are retried.")
    await schedule(db, delivery)
    await db.commit()
    return delivery


async def delivery_by_id(db: AsyncSession, delivery_id: Any) -> Delivery:
    found = await db.get(Delivery, check_id(delivery_id, "delivery"))
    if found is None:
        raise ServiceError("not_found", "No such delivery.", 404)
    return found


async def log(
    db: AsyncSession,
    *,
    thread_id: int | None = None,
    target_id: int | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[tuple[Delivery, str]]:
    """The delivery log, newest first, with each target's name."""
    query = select(Delivery, Target.name).join(Target, Target.id == Delivery.target_id)
    if thread_id is not None:
        query = query.where(Delivery.thread_id == check_id(thread_id, "thread"))
    if target_id is not None:
        query = query.where(Delivery.target_id == check_id(target_id, "target"))
    if status is not None:
        if status not in STATUSES:
            raise bad("invalid_status", f"status is one of {', '.join(STATUSES)}.", "status")
        query = query.where(Delivery.status == status)
    rows = await db.execute(query.order_by(Delivery.id.desc()).limit(limit))
    return [(delivery, name) for delivery, name in rows]


async def preview(db: AsyncSession, target: Target, thread_id: Any, base_url: str) -> Any:
    """What ``target`` would receive for the thread now (only a thread open to everyone)."""
    from community_crosspost import delivery

    found = await shareable(db, check_id(thread_id, "thread"))
    if found is None:
        raise bad("not_shareable", NOT_SHAREABLE)
    return delivery.rendered_for(target, await delivery.source(db, *found, base_url))


async def drafts(db: AsyncSession, member: Member) -> list[Any]:
    """The drafts waiting for a moderator's approval, as the moderation inbox lists them
    (the core's ``review_items``), for staff only."""
    from community.plugins import ReviewItem

    if not member.is_staff:
        return []
    rows = await db.execute(
        select(Delivery, Target.name, Thread.title)
        .join(Target, Target.id == Delivery.target_id)
        .join(Thread, Thread.id == Delivery.thread_id)
        .where(Delivery.status == DRAFT, visibility.threads(member))
        .order_by(Delivery.created_at)
        .limit(100)
    )
    return [
        ReviewItem(
            "Cross-post draft",
            title,
            f"/p/crosspost/admin/deliveries#draft-{delivery.id}",
            delivery.created_at,
            f"to {name}",
        )
        for delivery, name, title in rows
    ]
