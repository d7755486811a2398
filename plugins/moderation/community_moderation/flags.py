"""Flags: members report a post or a private message to the moderators.

Each flag adds its weight to the post's inbox item (kind "flag"); once the score reaches the
``flag_threshold`` setting the post is held (hidden from everyone but its author and the
moderators) until a moderator reviews it. When the item is settled every flagger hears the
outcome.

A flag's weight: a moderator's counts ``staff_flag_weight``; a member's counts 1, moved by up
to half a point by how their earlier flags were judged once at least ``TRACK_RECORD`` of them
were (all agreed with: 1.5; all disagreed with: 0.5), never below ``MIN_WEIGHT``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Template
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from community import plugins
from community.accounts.auth import undo
from community.accounts.models import Member
from community.accounts.routes import Form, text
from community.db import utcnow
from community.errors import ServiceError
from community.events import emit
from community.forum import notify, services
from community.forum.models import Post, Thread
from community.web import render
from community_moderation import audit, inbox
from community_moderation.events import PostFlagged
from community_moderation.models import Flag, Item

REASONS = {
    "spam": "Spam",
    "inappropriate": "Inappropriate",
    "off_topic": "Off-topic",
    "harassment": "Harassment",
    "other": "Something else",
}
NOTE_MAX = 1000
TRACK_RECORD = 3
"""Judged flags a member needs before their record moves the weight of new ones."""
MIN_WEIGHT = 0.25
AGREEING = ("reject", "hide", "delete", "silence", "suspend")
"""Resolutions that agree with the flaggers; approve and ignore disagree."""


def check_reason(reason: Any, note: Any) -> tuple[str, str]:
    """The reason and note of a flag, or 422: "other" needs a note saying what is wrong."""
    if not isinstance(reason, str) or reason not in REASONS:
        raise ServiceError(
            "invalid_reason", f"Reasons are one of: {', '.join(REASONS)}.", 422, field="reason"
        )
    note = note.strip() if isinstance(note, str) else ""
    if len(note) > NOTE_MAX:
        raise ServiceError(
            "invalid_note", f"Notes are at most {NOTE_MAX:,} characters.", 422, field="note"
        )
    if reason == "other" and not note:
        raise ServiceError(
            "note_required", "Tell the moderators what is wrong with this post.", 422, field="note"
        )
    return reason, note


async def flag_record(db: AsyncSession, member_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per member: how many of their flags moderators agreed with, and how many were judged."""
    if not member_ids:
        return {}
    rows = await db.execute(
        select(Flag.flagger_id, Flag.outcome, func.count())
        .where(Flag.flagger_id.in_(member_ids), Flag.outcome.in_(("agreed", "disagreed")))
        .group_by(Flag.flagger_id, Flag.outcome)
    )
    record: dict[int, tuple[int, int]] = {}
    for flagger_id, outcome, count in rows.all():
        agreed, judged = record.get(flagger_id, (0, 0))
        record[flagger_id] = (agreed + (count if outcome == "agreed" else 0), judged + count)
    return record


def weight_for(flagger: Member, agreed: int, judged: int, staff_weight: float) -> float:
    if flagger.is_staff:
        return staff_weight
    if judged < TRACK_RECORD:
        return 1.0
    return max(MIN_WEIGHT, 0.5 + agreed / judged)


async def flag_post(
    db: AsyncSession, flagger: Member, post_id: Any, reason: Any, note: Any = ""
) -> Flag:
    """``flagger`` flags a post they can see (commits): 404 for one they cannot, 422 for
    their own, 409 for a second flag, 429 past the hourly limit."""
    reason, note = check_reason(reason, note)
    post, thread = await services.post_for(db, flagger, post_id)
    if post.deleted_at is not None:
        raise services.not_found("post")
    if post.author_id == flagger.id:
        raise ServiceError("own_post", "You cannot flag your own post.", 422)
    if await _flagged_before(db, flagger, post):
        raise already_flagged()
    settings = plugins.settings("moderation")
    await plugins.rate_limit("moderation.flags", str(flagger.id), settings.flags_per_hour, 3600)
    agreed, judged = (await flag_record(db, [flagger.id])).get(flagger.id, (0, 0))
    weight = weight_for(flagger, agreed, judged, settings.staff_flag_weight)
    item = await inbox.open_item(db, "flag", post=post, thread=thread, reason=REASONS[reason])
    flag = Flag(
        post_id=post.id,
        flagger_id=flagger.id,
        item_id=item.id,
        reason=reason,
        note=note,
        weight=weight,
        created_at=utcnow(),
    )
    db.add(flag)
    try:
        await db.flush()
    except IntegrityError:  # the same member flagged the same post twice at once
        await db.rollback()
        raise already_flagged() from None
    score = await _add_score(db, item, weight)
    if score >= settings.flag_threshold:
        await _hide(db, post, thread, score)
    emit(db, PostFlagged(post_id=post.id, flagger_id=flagger.id, reason=reason, score=score))
    await db.commit()
    return flag


def already_flagged() -> ServiceError:
    return ServiceError("already_flagged", "You have already flagged this post.", 409)


async def _flagged_before(db: AsyncSession, flagger: Member, post: Post) -> bool:
    found = await db.scalar(
        select(Flag.id).where(Flag.post_id == post.id, Flag.flagger_id == flagger.id)
    )
    return found is not None


async def _add_score(db: AsyncSession, item: Item, weight: float) -> float:
    """Add in SQL, so two flags at once both count. The version stays: a new flag does not
    change what the moderator decides about, so it must not fail their action."""
    score = await db.scalar(
        update(Item)
        .where(Item.id == item.id)
        .values(score=Item.score + weight)
        .returning(Item.score)
        .execution_options(synchronize_session=False)
    )
    assert score is not None
    set_committed_value(item, "score", score)
    return float(score)


async def _hide(db: AsyncSession, post: Post, thread: Thread, score: float) -> None:
    reason = "Hidden after flags until a moderator reviews it."
    if await services.hold_post(db, post, thread, reason, actor=None):
        audit.record(
            db,
            None,
            "post.hide",
            "post",
            post.id,
            before={"held": False},
            after={"held": True, "score": score},
            reason=reason,
        )


async def system_flag(db: AsyncSession, post: Post, thread: Thread, reason: str) -> Item:
    """The plugin flags a post on its own rules (a watched word): into the inbox, no commit."""
    item = await inbox.open_item(db, "flag", post=post, thread=thread, reason=reason)
    audit.record(db, None, "post.flag", "post", post.id, after={"item_id": item.id}, reason=reason)
    return item


# ---------------------------------------------------------------------------------------------
# Outcomes


def outcome_of(resolution: str) -> str:
    return "agreed" if resolution in AGREEING else "disagreed"


OUTCOME_LABELS = {
    "agreed": "acted on your flag in",
    "disagreed": "reviewed your flag and left the post in",
}
"""How the notifications page words an outcome (a notification's ``data["label"]``)."""


async def settle(db: AsyncSession, item: Item, resolution: str, moderator: Member) -> None:
    """Record what the review of ``item`` decided on each of its flags and tell the flaggers
    (no commit). Core notifications need a thread: the flagger is told "in" the thread, which
    they no longer see when the moderator hid the whole thread."""
    outcome = outcome_of(resolution)
    flaggers = list(
        (
            await db.scalars(
                update(Flag)
                .where(Flag.item_id == item.id, Flag.outcome.is_(None))
                .values(outcome=outcome)
                .returning(Flag.flagger_id)
                .execution_options(synchronize_session=False)
            )
        ).all()
    )
    thread = await db.get(Thread, item.thread_id) if item.thread_id else None
    if flaggers and thread is not None:
        await notify.send(
            db,
            flaggers,
            f"flag_{outcome}",
            moderator,
            thread,
            None,
            {"post_id": item.post_id, "outcome": outcome, "label": OUTCOME_LABELS[outcome]},
        )


# ---------------------------------------------------------------------------------------------
# Pages and API


def flag_json(flag: Flag) -> dict[str, Any]:
    return {
        "id": flag.id,
        "post_id": flag.post_id,
        "reason": flag.reason,
        "note": flag.note,
        "weight": flag.weight,
        "outcome": flag.outcome,
        "created_at": flag.created_at.isoformat(),
    }


@get("/flag/{post_id:int}")
async def flag_page(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: int
) -> Template:
    post_, thread = await services.post_for(db, member, post_id)
    return render(
        request, "moderation/flag.html", post=post_, thread=thread, reasons=REASONS, values={}
    )


@post("/flag/{post_id:int}")
async def flag_from_form(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: int, data: Form
) -> Template:
    values = {"reason": text(data, "reason"), "note": text(data, "note")}
    try:
        await flag_post(db, member, post_id, values["reason"], values["note"])
    except ServiceError as error:
        if error.status == 404:
            raise
        await undo(db, member)
        post_, thread = await services.post_for(db, member, post_id)
        return render(
            request,
            "moderation/flag.html",
            status_code=error.status,
            post=post_,
            thread=thread,
            reasons=REASONS,
            values=values,
            error=error.detail,
        )
    post_, thread = await services.post_for(db, member, post_id)
    return render(request, "moderation/flag.html", post=post_, thread=thread, done=True)


@post("/flags", status_code=201)
async def create_flag(db: AsyncSession, member: Member, data: dict[str, Any]) -> Any:
    flag = await flag_post(db, member, data.get("post_id"), data.get("reason"), data.get("note"))
    return flag_json(flag)


routes: list[Any] = [flag_page, flag_from_form]
api_routes: list[Any] = [create_flag]
