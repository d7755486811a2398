"""Delivering a share: the ``crosspost.deliver`` job, one attempt at a time.

An attempt checks again that the thread is open to every member (a thread moved into a
private category after it was scheduled is not sent), waits its turn when the target was
used less than ``min_interval`` seconds ago (pacing), renders the share, counts the attempt
and commits before calling the network, then records what came of it: sent (with the remote
post's id and link), retrying after a backoff (transient errors: timeouts, 429, 5xx,
honouring ``Retry-After``), or dead (a permanent error, which also marks the target "needs
attention" and tells the admins, or too many attempts). The job is not atomic: nothing is
locked while the network answers, and a job that finds its delivery already moved on (sent,
cancelled, a later attempt scheduled) does nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import nh3
from markupsafe import Markup
from sqlalchemy import and_, or_, select, update

from community import plugins
from community.accounts.models import Member
from community.db import utcnow
from community.errors import ServiceError
from community.events import emit
from community.forum import notify
from community.forum.models import Category
from community.jobs import JobContext, enqueue
from community_crosspost import networks, outbound, render, secrets, shares, targets
from community_crosspost.events import DeliveryFailed, DeliverySent
from community_crosspost.models import (
    ATTENTION,
    CANCELLED,
    DEAD,
    DELETED,
    RETRYING,
    SCHEDULED,
    SENDING,
    SENT,
    Delivery,
    Target,
)


def plain(html: str) -> str:
    """A post's HTML as plain text: tags dropped, entities read, whitespace folded."""
    text = Markup(nh3.clean(html, tags=set())).unescape()
    return " ".join(text.split())


async def source(db: Any, thread: Any, post: Any, base_url: str) -> render.Source:
    category = await db.get(Category, thread.category_id)
    author = await db.get(Member, post.author_id) if post.author_id else None
    return render.Source(
        title=thread.title,
        excerpt=plain(post.html),
        url=f"{base_url}{thread.url}",
        category=category.name if category is not None else "",
        author=(author.display_name or author.username) if author is not None else "",
    )


def rendered_for(target: Target, found: render.Source) -> render.Rendered:
    config = target.config or {}
    return render.render(
        target.kind,
        found,
        template=config.get("template") or None,
        utm=config.get("utm") or None,
        char_limit=config.get("char_limit"),
    )


async def deliver(ctx: JobContext, delivery_id: int, attempt: int = 0) -> None:
    db = ctx.db
    delivery = await db.get(Delivery, delivery_id)
    if delivery is None:
        return
    target = await db.get(Target, delivery.target_id)
    settings = plugins.settings("crosspost")
    now = utcnow()
    if target is None or not target.enabled:
        await _end(db, delivery, CANCELLED, "Not sent: the target is turned off.")
        return
    found = await shares.shareable(db, delivery.thread_id) if delivery.thread_id else None
    if found is None:
        await _end(
            db, delivery, CANCELLED, "Not sent: the thread is no longer open to every member."
        )
        return
    if not await _take_turn(db, target, now, settings.min_interval):
        wait = max((target.next_send_at - now).total_seconds(), 1) if target.next_send_at else 1
        await enqueue(db, shares.JOB, delay=wait, delivery_id=delivery.id, attempt=attempt)
        await db.commit()
        return
    thread, post = found
    rendered = rendered_for(target, await source(db, thread, post, ctx.settings.base_url))
    try:
        creds = targets.secrets_of(target, ctx.settings.secret_key, with_session=True)
    except ServiceError as error:
        creds = {}
        unreadable = outbound.Outcome("permanent", None, None, error.detail)
    else:
        unreadable = None
    if not await _claim(db, delivery, attempt, rendered.text, resumed=ctx.attempt > 1):
        await db.rollback()
        return  # sent, cancelled, or taken by another run meanwhile: nothing to do
    await db.commit()  # the attempt is counted before the network is asked
    if unreadable is not None:
        await _failed(db, ctx, delivery, target, unreadable, settings.max_attempts)
        return
    try:
        posted = await networks.post(target, creds, rendered, delivery.key, settings.hosts())
    except networks.Failed as failure:
        await _failed(db, ctx, delivery, target, failure.outcome, settings.max_attempts)
        return
    delivery.status, delivery.sent_at, delivery.last_error = SENT, utcnow(), ""
    delivery.remote_id, delivery.remote_url = posted.remote_id, posted.remote_url
    if posted.session:  # kept for the next post (Bluesky): no sign-in each time
        target.session = secrets.seal(ctx.settings.secret_key, posted.session)
    delivery.updated_at = utcnow()
    emit(db, DeliverySent(delivery.id, target.id, delivery.thread_id, target.kind, rendered.link))
    await db.commit()


async def _take_turn(db: Any, target: Target, now: Any, interval: int) -> bool:
    """Pacing: take the target's next slot (one UPDATE, so two deliveries cannot both take
    it), or False when the last delivery to it was less than ``interval`` seconds ago."""
    taken = await db.execute(
        update(Target)
        .where(
            Target.id == target.id,
            or_(Target.next_send_at.is_(None), Target.next_send_at <= now),
        )
        .values(next_send_at=now + timedelta(seconds=interval))
        .execution_options(synchronize_session=False)
    )
    return bool(taken.rowcount == 1)


async def _claim(db: Any, delivery: Delivery, attempt: int, text: str, resumed: bool) -> bool:
    """Mark the delivery as being sent by this attempt (one conditional UPDATE): only a
    delivery still due at ``attempt`` is taken, so a second job, a cancel or a send made
    meanwhile wins. A job the runner runs again after its process died (``resumed``) takes
    back its own attempt, left "sending"."""
    due = and_(Delivery.status.in_((SCHEDULED, RETRYING)), Delivery.attempts == attempt)
    if resumed:
        due = or_(due, and_(Delivery.status == SENDING, Delivery.attempts == attempt + 1))
    claimed = await db.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, due)
        .values(status=SENDING, attempts=attempt + 1, text=text, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    delivery.status, delivery.attempts, delivery.text = SENDING, attempt + 1, text
    return True


async def _end(db: Any, delivery: Delivery, status: str, reason: str) -> None:
    delivery.status, delivery.last_error, delivery.updated_at = status, reason, utcnow()
    await db.commit()


async def _failed(
    db: Any,
    ctx: JobContext,
    delivery: Delivery,
    target: Target,
    outcome: outbound.Outcome,
    max_attempts: int,
) -> None:
    """Retry a transient failure after a backoff; a permanent one (or the last attempt)
    kills the delivery, and a permanent one marks the target and tells the admins."""
    now = utcnow()
    delivery.last_error, delivery.updated_at = outcome.reason, now
    if outcome.kind == "transient" and delivery.attempts < max_attempts:
        wait = outbound.backoff(delivery.attempts, outcome.retry_after)
        delivery.status, delivery.due_at = RETRYING, now + timedelta(seconds=wait)
        await enqueue(
            db, shares.JOB, delay=wait, delivery_id=delivery.id, attempt=delivery.attempts
        )
        await db.commit()
        return
    delivery.status = DEAD
    if outcome.kind == "permanent":
        target.status, target.attention, target.updated_at = ATTENTION, outcome.reason, now
        await _tell_admins(db, delivery, target, outcome.reason)
    emit(
        db, DeliveryFailed(delivery.id, target.id, delivery.thread_id, target.kind, outcome.reason)
    )
    await db.commit()


async def _tell_admins(db: Any, delivery: Delivery, target: Target, reason: str) -> None:
    """A notification to every admin, on the thread that could not be shared."""
    from community.forum.models import Thread

    thread = await db.get(Thread, delivery.thread_id) if delivery.thread_id else None
    admins = list(await db.scalars(select(Member.id).where(Member.role == "admin")))
    if thread is None or not admins:
        return
    label = f"could not share to {target.name} ({reason[:150]}); the target needs attention:"
    await notify.send(
        db, admins, "thread", None, thread, None, {"label": label, "from": "Cross-posting"}
    )


# -- after sending: edits and removals ---------------------------------------------------------

FOLLOW = "crosspost.follow"


async def follow(ctx: JobContext, delivery_id: int, action: str) -> None:
    """Carry an edit of a shared thread ("edit") or its hiding ("remove") to the remote post
    where the network allows it (Mastodon, Discord); elsewhere note on the delivery that the
    remote post stays as it was. A transient failure raises, so the job is tried again."""
    db = ctx.db
    delivery = await db.get(Delivery, delivery_id)
    if delivery is None or delivery.status != SENT or not delivery.remote_id:
        if delivery is not None and delivery.status == SENT:
            await _note(db, delivery, action, "the network gave no id to change it by")
        return
    target = await db.get(Target, delivery.target_id)
    if target is None:
        return
    settings = plugins.settings("crosspost")
    found = await shares.shareable(db, delivery.thread_id) if delivery.thread_id else None
    if action == "remove" and found is not None:
        return  # open to everyone again meanwhile: nothing to remove
    if action == "edit" and found is None:
        action = "remove"
    if target.kind not in networks.EDITABLE:
        await _note(db, delivery, action, f"{target.kind} posts cannot be changed from here")
        return
    creds = targets.secrets_of(target, ctx.settings.secret_key)
    try:
        if action == "edit" and found is not None:
            rendered = rendered_for(target, await source(db, *found, ctx.settings.base_url))
            await networks.edit(target, creds, delivery.remote_id, rendered, settings.hosts())
            delivery.text = rendered.text
        else:
            await networks.delete(target, creds, delivery.remote_id, settings.hosts())
            delivery.status = DELETED
    except networks.Failed as failure:
        if failure.outcome.kind == "transient":
            raise RuntimeError(failure.outcome.reason) from None
        await _note(db, delivery, action, failure.outcome.reason)
        return
    delivery.last_error, delivery.updated_at = "", utcnow()
    await db.commit()


async def _note(db: Any, delivery: Delivery, action: str, why: str) -> None:
    what = "edited" if action == "edit" else "hidden"
    delivery.last_error = f"The thread was {what}; the shared post stays as it was: {why}."
    delivery.updated_at = utcnow()
    await db.commit()


async def followed(db: Any, thread_id: int, action: str) -> None:
    """Queue ``action`` for every sent delivery of the thread; commits."""
    sent = await db.scalars(
        select(Delivery.id).where(Delivery.thread_id == thread_id, Delivery.status == SENT)
    )
    for delivery_id in sent:
        await enqueue(db, FOLLOW, delivery_id=delivery_id, action=action)
    await db.commit()
