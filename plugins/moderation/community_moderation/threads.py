"""Thread tools: slow mode (minimum seconds between one member's posts in a thread) and a
timer that locks a thread ("close in 7 days"), set from the thread's tools page or the API.

Locking on the timer goes through the core's ``moderate_thread`` acting as the moderator who
set the timer; the minutely job claims each due timer with one conditional UPDATE, so a
thread is locked (and audited) exactly once even when two runs overlap.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.auth import undo
from community.accounts.models import Member
from community.accounts.routes import Form, text
from community.db import utcnow
from community.errors import ServiceError
from community.forum import services
from community.forum.models import Category, Post, Thread
from community.jobs import JobContext
from community.plugins import Gate
from community.web import render
from community_moderation import audit, split
from community_moderation.access import (
    in_moderated,
    is_moderator,
    moderates_category,
    require_moderation,
)
from community_moderation.models import ThreadSettings

log = logging.getLogger(__name__)

MAX_SLOW_SECONDS = 7 * 24 * 3600
MAX_CLOSE_HOURS = 365 * 24
CLOSE_BATCH = 100


# ---------------------------------------------------------------------------------------------
# Slow mode


async def slow_mode(db: AsyncSession, member: Any, thread: Any, editing: bool) -> Gate | None:
    """Refuse a member's new post in a slow thread until ``slow_seconds`` have passed since
    their last one there. Staff and edits are exempt."""
    if editing or member.is_staff or thread.id is None:
        return None
    seconds = await db.scalar(
        select(ThreadSettings.slow_seconds).where(ThreadSettings.thread_id == thread.id)
    )
    if not seconds:
        return None
    last = await db.scalar(
        select(func.max(Post.created_at)).where(
            Post.thread_id == thread.id, Post.author_id == member.id, Post.deleted_at.is_(None)
        )
    )
    if last is None:
        return None
    if last.tzinfo is None:  # SQLite's aggregate bypasses the column type
        last = last.replace(tzinfo=utcnow().tzinfo)
    wait = seconds - (utcnow() - last).total_seconds()
    if wait <= 0:
        return None
    return Gate.reject(f"Slow mode: you can post here again in {int(wait) + 1} seconds.")


# ---------------------------------------------------------------------------------------------
# Whose thread


async def thread_in_scope(db: AsyncSession, member: Member, thread_id: Any) -> Thread:
    """A thread ``member`` may use the tools on: any thread they can see for staff, a thread
    of a category they moderate for its moderators (hidden or held ones too); else 404."""
    if is_moderator(member):
        return await services.thread_for(db, member, thread_id)
    thread = await services.thread_for(db, member, thread_id, authorised=True)
    if not await moderates_category(db, member, thread.category_id):
        raise services.not_found()
    return thread


# ---------------------------------------------------------------------------------------------
# Settings


async def settings_for(db: AsyncSession, thread_id: int) -> ThreadSettings | None:
    return await db.get(ThreadSettings, thread_id)


def parse_slow_seconds(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SLOW_SECONDS:
        raise ValueError(f"slow_seconds is a whole number from 0 to {MAX_SLOW_SECONDS}.")
    return value


def parse_close_at(value: Any, now: datetime) -> datetime | None:
    """An ISO date and time in the future (UTC when no zone is given), or None to clear."""
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError("close_at is a date and time like 2030-01-31T12:00:00Z.")
    moment = moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)
    if moment <= now:
        raise ValueError("close_at is in the past: choose a time to come.")
    return moment


def parse_close_in(hours: Any, days: Any, now: datetime) -> datetime | None:
    """A close time from the form's "close in" hours and days (both empty: no timer)."""
    if hours in (None, "") and days in (None, ""):
        return None
    total = 0
    for value, name, scale in ((hours, "hours", 1), (days, "days", 24)):
        if value in (None, ""):
            continue
        value = value.strip() if isinstance(value, str) else value
        if not (isinstance(value, str) and value.isdigit()):
            raise ValueError(f"Close in {name} is a whole number.")
        total += int(value) * scale
    if not 0 < total <= MAX_CLOSE_HOURS:
        raise ValueError(f"Close in is from 1 hour to {MAX_CLOSE_HOURS // 24} days.")
    return now + timedelta(hours=total)


async def configure(
    db: AsyncSession, moderator: Member, thread_id: Any, changes: dict[str, Any]
) -> ThreadSettings:
    """Set slow mode and the close timer of a thread the moderator can see (commits): 404
    for a thread they cannot see, 422 with every reason for bad values. ``changes`` may hold
    ``slow_seconds`` and ``close_at`` (an aware datetime, or None to clear the timer)."""
    thread = await thread_in_scope(db, moderator, thread_id)
    current = await settings_for(db, thread.id)
    if current is None:
        current = ThreadSettings(thread_id=thread.id, slow_seconds=0, close_at=None)
        db.add(current)
    before = settings_json(current)
    if "slow_seconds" in changes:
        current.slow_seconds = changes["slow_seconds"]
    if "close_at" in changes:
        current.close_at = changes["close_at"]
    current.set_by_id = moderator.id
    current.updated_at = utcnow()
    after = settings_json(current)
    for field in ("slow_seconds", "close_at"):
        if field in changes and before[field] != after[field]:
            action = "thread.slow_mode" if field == "slow_seconds" else "thread.close_timer"
            audit.record(
                db,
                moderator,
                action,
                "thread",
                thread.id,
                before={field: before[field]},
                after={field: after[field]},
            )
    await db.commit()
    await db.refresh(current)
    return current


def parse_api_changes(data: Any) -> dict[str, Any]:
    """The API body's changes, or 422 listing every reason."""
    if not isinstance(data, dict):
        raise ServiceError("invalid_body", "Send a JSON object.", 422)
    now = utcnow()
    changes: dict[str, Any] = {}
    reasons: list[str] = []
    unknown = sorted(set(data) - {"slow_seconds", "close_at"})
    if unknown:
        reasons.append(f"Unknown fields: {', '.join(unknown)}.")
    for field, parse in (
        ("slow_seconds", parse_slow_seconds),
        ("close_at", lambda value: parse_close_at(value, now)),
    ):
        if field in data:
            try:
                changes[field] = parse(data[field])
            except ValueError as error:
                reasons.append(str(error))
    if reasons:
        raise ServiceError("invalid_settings", " ".join(reasons), 422, reasons=reasons)
    return changes


def parse_form_changes(data: Form) -> dict[str, Any]:
    """The tools form's changes: slow seconds, and close in hours/days (a checkbox clears)."""
    now = utcnow()
    changes: dict[str, Any] = {}
    reasons: list[str] = []
    try:
        changes["slow_seconds"] = parse_slow_seconds(text(data, "slow_seconds") or "0")
    except ValueError as error:
        reasons.append(str(error))
    try:
        close_at = parse_close_in(text(data, "close_hours"), text(data, "close_days"), now)
    except ValueError as error:
        reasons.append(str(error))
    else:
        if close_at is not None:
            changes["close_at"] = close_at
        elif text(data, "clear_timer"):
            changes["close_at"] = None
    if reasons:
        raise ServiceError("invalid_settings", " ".join(reasons), 422, reasons=reasons)
    return changes


def settings_json(current: ThreadSettings | None) -> dict[str, Any]:
    close_at = current.close_at if current is not None else None
    return {
        "slow_seconds": current.slow_seconds if current is not None else 0,
        "close_at": close_at.isoformat() if close_at is not None else None,
    }


# ---------------------------------------------------------------------------------------------
# The close timer


async def close_due(ctx: JobContext) -> None:
    """Lock every thread whose timer has passed, as the moderator who set the timer."""
    now = utcnow()
    due = (
        await ctx.db.scalars(
            select(ThreadSettings)
            .where(ThreadSettings.close_at.is_not(None), ThreadSettings.close_at <= now)
            .order_by(ThreadSettings.close_at)
            .limit(CLOSE_BATCH)
        )
    ).all()
    for thread_id, set_by_id in [(row.thread_id, row.set_by_id) for row in due]:
        await _close(ctx.db, thread_id, set_by_id, now)


async def _close(db: AsyncSession, thread_id: int, set_by_id: int | None, now: datetime) -> None:
    claimed = await db.execute(
        update(ThreadSettings)
        .where(
            ThreadSettings.thread_id == thread_id,
            ThreadSettings.close_at.is_not(None),
            ThreadSettings.close_at <= now,
        )
        .values(close_at=None)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return  # another run got there first
    moderator = await db.get(Member, set_by_id) if set_by_id is not None else None
    if moderator is None:
        log.warning("thread %s: its close timer's moderator is gone; not locked", thread_id)
        await db.commit()
        return
    audit.record(
        db,
        None,
        "thread.close",
        "thread",
        thread_id,
        before={"locked": False},
        after={"locked": True},
        reason="Closed on its timer.",
    )
    category_id = await db.scalar(select(Thread.category_id).where(Thread.id == thread_id))
    authorised = await moderates_category(db, moderator, category_id)
    try:
        await services.moderate_thread(
            db, moderator, thread_id, {"locked": True}, authorised=authorised
        )
    except ServiceError as error:  # the thread went, or the moderator is no longer one
        log.warning("thread %s: not locked on its timer: %s", thread_id, error.detail)
        await db.rollback()
        await _drop_timer(db, thread_id)


async def _drop_timer(db: AsyncSession, thread_id: int) -> None:
    await db.execute(
        update(ThreadSettings)
        .where(ThreadSettings.thread_id == thread_id)
        .values(close_at=None)
        .execution_options(synchronize_session=False)
    )
    await db.commit()


# ---------------------------------------------------------------------------------------------
# Lock, pin, hide and move (the core's moderate_thread, for category moderators too)

PIN_CHOICES = ("none", "category", "global")
FLAGS = ("locked", "hidden")
FORM_FLAGS = {"1": True, "0": False, "true": True, "false": False}


def thread_state(thread: Thread) -> dict[str, Any]:
    return {
        "locked": thread.locked_at is not None,
        "hidden": thread.hidden_at is not None,
        "pinned": thread.pinned or "none",
        "category_id": thread.category_id,
    }


def parse_moderation(data: Any) -> dict[str, Any]:
    """Changes to lock, hide, pin or move a thread from a JSON body or a form (flags as true,
    false, "1" or "0"), or 422 listing every reason."""
    if not isinstance(data, dict):
        raise ServiceError("invalid_body", "Send a JSON object.", 422)
    changes: dict[str, Any] = {}
    reasons: list[str] = []
    unknown = sorted(set(data) - {*FLAGS, "pinned", "category_id"})
    if unknown:
        reasons.append(f"Unknown fields: {', '.join(unknown)}.")
    for flag in FLAGS:
        if flag in data:
            value = data[flag]
            if isinstance(value, str):
                value = FORM_FLAGS.get(value.strip().lower(), value)
            if isinstance(value, bool):
                changes[flag] = value
            else:
                reasons.append(f"{flag} is true or false.")
    if "pinned" in data:
        pinned = data["pinned"]
        if isinstance(pinned, bool) or pinned is None:
            pinned = "category" if pinned else "none"
        if isinstance(pinned, str) and pinned in PIN_CHOICES:
            changes["pinned"] = pinned
        else:
            reasons.append('pinned is "none", "category" or "global".')
    if "category_id" in data:
        try:
            changes["category_id"] = services.check_id(data["category_id"], "category")
        except ServiceError:
            reasons.append("category_id is the id of a category.")
    if not changes and not reasons:
        reasons.append("Say what to change: locked, hidden, pinned or category_id.")
    if reasons:
        raise ServiceError("invalid_change", " ".join(reasons), 422, reasons=reasons)
    return changes


async def moderate(
    db: AsyncSession, moderator: Member, thread_id: Any, changes: dict[str, Any]
) -> Thread:
    """Lock, hide, pin or move a thread in the moderator's scope (commits, audited). A
    category's moderators pin within the category and move only to categories they
    moderate: 403 beyond."""
    thread = await thread_in_scope(db, moderator, thread_id)
    if not is_moderator(moderator):
        if changes.get("pinned") == "global":
            raise ServiceError("forbidden", "Only staff pin a thread on every page.", 403)
        target = changes.get("category_id", thread.category_id)
        if not await moderates_category(db, moderator, target):
            raise ServiceError(
                "forbidden", "You can move threads only to categories you moderate.", 403
            )
    before = thread_state(thread)
    after = {**before, **changes}
    changed = [key for key in before if before[key] != after[key]]
    if changed:
        audit.record(
            db,
            moderator,
            "thread.moderate",
            "thread",
            thread.id,
            before={key: before[key] for key in changed},
            after={key: after[key] for key in changed},
        )
    core = {**changes}
    if core.get("pinned") == "none":
        core["pinned"] = None
    return await services.moderate_thread(db, moderator, thread.id, core, authorised=True)


# ---------------------------------------------------------------------------------------------
# Pages


async def _tools_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    thread: Thread,
    status_code: int = 200,
    error: str | None = None,
) -> Template:
    member = request.scope.get("user")
    return render_tools(
        request,
        thread,
        await settings_for(db, thread.id),
        status_code,
        error,
        state=thread_state(thread),
        destinations=await _destinations(db, member),
        **await split.choices(db, thread),
        global_pin=is_moderator(member),
    )


async def _destinations(db: AsyncSession, member: Member) -> list[Category]:
    """The categories ``member`` may move a thread to: those they moderate."""
    query = select(Category).where(in_moderated(member, Category.id))
    return list((await db.scalars(query.order_by(Category.position, Category.name))).all())


def render_tools(
    request: Request[Any, Any, Any],
    thread: Thread,
    current: ThreadSettings | None,
    status_code: int = 200,
    error: str | None = None,
    **extra: Any,
) -> Template:
    return render(
        request,
        "moderation/thread_tools.html",
        status_code=status_code,
        thread=thread,
        current=settings_json(current),
        error=error,
        **extra,
    )


@get("/threads/{thread_id:int}", guards=[require_moderation])
async def tools_page(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, thread_id: int
) -> Template:
    thread = await thread_in_scope(db, member, thread_id)
    return await _tools_page(request, db, thread)


@post("/threads/{thread_id:int}", guards=[require_moderation])
async def tools_from_form(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, thread_id: int, data: Form
) -> Any:
    thread = await thread_in_scope(db, member, thread_id)
    try:
        await configure(db, member, thread.id, parse_form_changes(data))
    except ServiceError as error:
        await undo(db, member)
        thread = await thread_in_scope(db, member, thread_id)
        return await _tools_page(request, db, thread, error.status, error.detail)
    return Redirect(f"/p/moderation/threads/{thread_id}", status_code=303)


@post("/threads/{thread_id:int}/moderate", guards=[require_moderation])
async def moderate_from_form(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, thread_id: int, data: Form
) -> Any:
    """Lock, hide, pin or move from the tools page (the fields the form sent)."""
    fields = {key: text(data, key) for key in (*FLAGS, "pinned", "category_id")}
    try:
        changes = parse_moderation({k: v for k, v in fields.items() if v})
        await moderate(db, member, thread_id, changes)
    except ServiceError as error:
        await undo(db, member)
        thread = await thread_in_scope(db, member, thread_id)
        return await _tools_page(request, db, thread, error.status, error.detail)
    return Redirect(f"/p/moderation/threads/{thread_id}", status_code=303)


# ---------------------------------------------------------------------------------------------
# API


@get("/threads/{thread_id:int}", guards=[require_moderation])
async def settings_api(db: AsyncSession, member: Member, thread_id: int) -> dict[str, Any]:
    thread = await thread_in_scope(db, member, thread_id)
    return {"thread_id": thread.id, **settings_json(await settings_for(db, thread.id))}


@post("/threads/{thread_id:int}", guards=[require_moderation], status_code=200)
async def configure_api(
    db: AsyncSession, member: Member, thread_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    await thread_in_scope(db, member, thread_id)  # 404 before 422
    current = await configure(db, member, thread_id, parse_api_changes(data))
    return {"thread_id": thread_id, **settings_json(current)}


@post("/threads/{thread_id:int}/moderate", guards=[require_moderation], status_code=200)
async def moderate_api(
    db: AsyncSession, member: Member, thread_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """Lock, hide, pin or move: {"locked": true, "hidden": false, "pinned": "category",
    "category_id": 3}, any of them."""
    await thread_in_scope(db, member, thread_id)  # 404 before 422
    thread = await moderate(db, member, thread_id, parse_moderation(data))
    return {"thread_id": thread.id, **thread_state(thread)}


routes: list[Any] = [tools_page, tools_from_form, moderate_from_form]
api_routes: list[Any] = [settings_api, configure_api, moderate_api]
