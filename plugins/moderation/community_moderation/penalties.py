"""Penalties with escalation: warnings (with points), silences and suspensions, each with a
reason, an end and a message the member sees; points that cross the settings' thresholds
silence and then suspend on their own. Members see their own history and appeal each
penalty once; moderators lift penalties and decide appeals. Every step is in the audit log."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.accounts import services as accounts
from community.accounts.auth import undo
from community.accounts.models import Member
from community.db import utcnow
from community.errors import ServiceError
from community.events import MemberPenalised, emit
from community.forum import conversations
from community.forum import services as forum
from community.web import render
from community_moderation import audit, audit_views, inbox
from community_moderation.access import is_moderator, require_moderator
from community_moderation.events import ItemReviewed, MemberWarned
from community_moderation.live import announce
from community_moderation.models import CLAIMED, HANDLED, OPEN, Appeal, Item, Penalty

KINDS = ("warn", "silence", "suspend")
REASON_MAX, MESSAGE_MAX, APPEAL_MAX = 1000, 5000, 5000
WARNING_TITLE = "A warning from the moderators"
MAX_ID = 2**31 - 1

Request_ = Request[Any, Any, Any]
Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _settings() -> Any:
    return plugins.settings("moderation")


# ---------------------------------------------------------------------------------------------
# Reading


def ends(penalty: Penalty) -> datetime | None:
    """When the penalty ends on its own: its end date; a warning's points expire
    ``points_days`` after it was given, or at its end date if sooner. None: until lifted."""
    if penalty.kind == "warn":
        expiry = penalty.created_at + timedelta(days=_settings().points_days)
        return min(expiry, penalty.ends_at) if penalty.ends_at else expiry
    return penalty.ends_at


def is_active(penalty: Penalty, now: datetime | None = None) -> bool:
    """Not lifted and not past its end."""
    if penalty.lifted_at is not None:
        return False
    end = ends(penalty)
    return end is None or end > (now or utcnow())


def _in_force(now: datetime) -> Any:
    return (
        Penalty.lifted_at.is_(None),
        or_(Penalty.ends_at.is_(None), Penalty.ends_at > now),
    )


async def silenced(db: AsyncSession, member_id: int) -> Penalty | None:
    """The member's active silence (the one ending last), or None: it ends on its own."""
    rows = await db.scalars(
        select(Penalty).where(
            Penalty.member_id == member_id, Penalty.kind == "silence", *_in_force(utcnow())
        )
    )
    active = list(rows)
    if not active:
        return None
    forever = [p for p in active if p.ends_at is None]
    return forever[0] if forever else max(active, key=lambda p: p.ends_at or utcnow())


def silence_notice(penalty: Penalty) -> str:
    """What a silenced member is told when they try to post."""
    until = (
        f" until {penalty.ends_at:%Y-%m-%d %H:%M} UTC" if penalty.ends_at else " until it is lifted"
    )
    return (
        f"You are silenced{until}: you can read, and message the moderators, but not post. "
        f"Reason: {penalty.reason}"
    )


async def may_message_while_silenced(
    db: AsyncSession, thread: Any, member: Member | None = None
) -> bool:
    """True when a silenced member may still write in this conversation: everyone else in it
    is a moderator or admin. Without ``member``, at most one participant (the silenced one)
    may be a non-moderator."""
    if not thread.is_conversation:
        return False
    people = await conversations.participants(db, thread)
    if member is not None:
        return all(person.is_staff for person in people if person.id != member.id)
    return sum(1 for person in people if not person.is_staff) <= 1


async def points_in_force(db: AsyncSession, member_id: int) -> int:
    """Points of the member's penalties made within ``points_days`` and not lifted."""
    now = utcnow()
    since = now - timedelta(days=_settings().points_days)
    total = await db.scalar(
        select(func.coalesce(func.sum(Penalty.points), 0)).where(
            Penalty.member_id == member_id, Penalty.created_at >= since, *_in_force(now)
        )
    )
    return int(total or 0)


async def penalties_of(db: AsyncSession, member_id: int) -> list[Penalty]:
    stmt = (
        select(Penalty)
        .where(Penalty.member_id == member_id)
        .order_by(Penalty.created_at.desc(), Penalty.id.desc())
    )
    return list(await db.scalars(stmt))


async def appeals_for(db: AsyncSession, penalties: Iterable[Penalty]) -> dict[int, Appeal]:
    ids = [penalty.id for penalty in penalties]
    if not ids:
        return {}
    rows = await db.scalars(select(Appeal).where(Appeal.penalty_id.in_(ids)))
    return {appeal.penalty_id: appeal for appeal in rows}


async def usernames(db: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await db.execute(select(Member.id, Member.username).where(Member.id.in_(wanted)))
    return {member_id: username for member_id, username in rows.all()}


async def penalty_by_id(db: AsyncSession, penalty_id: int) -> Penalty:
    penalty = await db.get(Penalty, penalty_id) if 0 < penalty_id <= MAX_ID else None
    if penalty is None:
        raise ServiceError("unknown_penalty", f"There is no penalty {penalty_id}.", 404)
    return penalty


def penalty_json(
    penalty: Penalty, names: dict[int, str], appeal: Appeal | None = None
) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": penalty.id,
        "member": names.get(penalty.member_id),
        "kind": penalty.kind,
        "reason": penalty.reason,
        "message": penalty.message,
        "points": penalty.points,
        "automatic": penalty.automatic,
        "created_by": names.get(penalty.created_by_id) if penalty.created_by_id else None,
        "created_at": iso(penalty.created_at),
        "ends_at": iso(penalty.ends_at),
        "lifted_at": iso(penalty.lifted_at),
        "active": is_active(penalty),
        "appeal": None
        if appeal is None
        else {"text": appeal.text, "outcome": appeal.outcome, "created_at": iso(appeal.created_at)},
    }


def _summary(penalty: Penalty) -> dict[str, Any]:
    """What the audit log keeps of a penalty."""
    return {
        "penalty_id": penalty.id,
        "kind": penalty.kind,
        "points": penalty.points,
        "automatic": penalty.automatic,
        "ends_at": penalty.ends_at.isoformat() if penalty.ends_at else None,
        "lifted_at": penalty.lifted_at.isoformat() if penalty.lifted_at else None,
    }


# ---------------------------------------------------------------------------------------------
# Validation


def check_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise ServiceError(
            "invalid_kind", f"kind must be one of: {', '.join(KINDS)}.", 422, field="kind"
        )
    return str(kind)


def _check_text(value: Any, field: str, limit: int, *, required: bool) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        raise ServiceError(f"invalid_{field}", f"{field} must be text.", 422, field=field)
    if required and not text:
        raise ServiceError(
            f"invalid_{field}", f"Give a {field}: the member sees it.", 422, field=field
        )
    if len(text) > limit or "\x00" in text:
        raise ServiceError(
            f"invalid_{field}", f"The {field} is at most {limit:,} characters.", 422, field=field
        )
    return text


def check_until(until: datetime | None) -> datetime | None:
    if until is not None and until <= utcnow():
        raise ServiceError("invalid_until", "The end date is in the past.", 422, field="until")
    return until


def parse_until(value: Any) -> datetime | None:
    """An optional end from a form or JSON: empty means until lifted."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ServiceError("invalid_until", "until is an ISO date-time.", 422, field="until")
    return check_until(accounts.parse_until(value))


def check_may_penalise(actor: Member | None, member: Member) -> None:
    """Admins are never penalised; moderators penalise members; only admins penalise
    moderators. ``actor`` None is the plugin's own escalation."""
    if member.is_admin:
        raise ServiceError("cannot_penalise_admin", "Admins cannot be penalised.", 409)
    _check_may_act_on(actor, member)


def _check_may_act_on(actor: Member | None, member: Member) -> None:
    if actor is None:
        return
    if not is_moderator(actor):
        raise ServiceError("forbidden", "Only moderators can do this.", 403)
    if member.is_staff and not actor.is_admin:
        raise ServiceError(
            "forbidden", "Only admins can penalise moderators or lift their penalties.", 403
        )


# ---------------------------------------------------------------------------------------------
# Penalising


async def penalise(
    db: AsyncSession,
    member: Member,
    kind: str,
    reason: str,
    *,
    actor: Member | None,
    until: datetime | None = None,
    message: str = "",
) -> Penalty:
    """Warn, silence or suspend ``member``; records the audit entry, emits the event, escalates
    a warning's points; commits. A warning is sent to the member as a private message from
    ``actor``."""
    kind = check_kind(kind)
    reason = _check_text(reason, "reason", REASON_MAX, required=True)
    message = _check_text(message, "message", MESSAGE_MAX, required=False)
    check_until(until)
    check_may_penalise(actor, member)
    if kind == "warn":
        return await _warn(db, member, reason, actor=actor, until=until, message=message)
    if kind == "silence":
        penalty = await _silence(db, member, reason, actor=actor, until=until, message=message)
        await db.commit()
        return penalty
    return await _suspend(db, member, reason, actor=actor, until=until, message=message)


def _new_penalty(
    db: AsyncSession,
    member: Member,
    kind: str,
    reason: str,
    *,
    actor: Member | None,
    until: datetime | None = None,
    message: str = "",
    points: int = 0,
) -> Penalty:
    penalty = Penalty(
        member_id=member.id,
        kind=kind,
        reason=reason,
        message=message,
        points=points,
        automatic=actor is None,
        created_by_id=actor.id if actor else None,
        created_at=utcnow(),
        ends_at=until,
    )
    db.add(penalty)
    return penalty


async def _record(
    db: AsyncSession, actor: Member | None, action: str, penalty: Penalty, reason: str
) -> None:
    await db.flush()  # the penalty's id, for the audit entry
    audit.record(
        db, actor, action, "member", penalty.member_id, after=_summary(penalty), reason=reason
    )


async def _warn(
    db: AsyncSession,
    member: Member,
    reason: str,
    *,
    actor: Member | None,
    until: datetime | None,
    message: str,
) -> Penalty:
    site = await accounts.instance_settings(db, "")
    body = forum.check_body(_warning_body(reason, message), site)  # before anything is written
    points = _settings().warning_points
    before = await points_in_force(db, member.id)
    penalty = _new_penalty(
        db, member, "warn", reason, actor=actor, until=until, message=message, points=points
    )
    await _record(db, actor, "penalty.warn", penalty, reason)
    emit(db, MemberWarned(member.id, actor.id if actor else None, points))
    if actor is not None:
        try:
            await conversations.start(
                db, actor, usernames=[member.username], title=WARNING_TITLE, body=body, site=site
            )  # commits the warning with it
        except ServiceError:
            await db.rollback()
            raise
    await _escalate(db, member, before, before + points)
    await db.commit()
    return penalty


def _warning_body(reason: str, message: str) -> str:
    parts = [f"You have been warned by the moderators.\n\n**Reason:** {reason}"]
    if message:
        parts.append(message)
    parts.append("Your penalties, and a form to appeal, are at /p/moderation/my-penalties.")
    return "\n\n".join(parts)


async def _silence(
    db: AsyncSession,
    member: Member,
    reason: str,
    *,
    actor: Member | None,
    until: datetime | None,
    message: str = "",
) -> Penalty:
    """A silence, its audit entry and event, in the caller's transaction."""
    penalty = _new_penalty(db, member, "silence", reason, actor=actor, until=until, message=message)
    await _record(db, actor, "penalty.silence", penalty, reason)
    emit(
        db,
        MemberPenalised(
            member_id=member.id,
            actor_id=actor.id if actor else None,
            kind="silence",
            until=until.isoformat() if until else None,
            reason=reason,
        ),
    )
    return penalty


async def _suspend(
    db: AsyncSession,
    member: Member,
    reason: str,
    *,
    actor: Member | None,
    until: datetime | None,
    message: str = "",
) -> Penalty:
    """The penalty row and audit entry first, then the core's suspension, which ends the
    member's sessions and tokens, emits MemberPenalised and commits everything."""
    penalty = _new_penalty(db, member, "suspend", reason, actor=actor, until=until, message=message)
    await _record(db, actor, "penalty.suspend", penalty, reason)
    await accounts.suspend(db, member, until, reason, actor=actor)
    return penalty


# ---------------------------------------------------------------------------------------------
# Points and escalation


async def add_points(
    db: AsyncSession, member: Member, points: int, reason: str, *, actor: Member | None
) -> Penalty | None:
    """Add a warning-like record of ``points`` (automatic when ``actor`` is None) and escalate
    when a threshold is crossed; returns the silence or suspension it led to, if any.
    Does not commit, except that a suspension goes through the core's ``suspend``, which
    commits the transaction so far."""
    if member.is_admin or points <= 0:
        return None
    reason = (reason.strip() if isinstance(reason, str) else "")[:REASON_MAX] or "Penalty points"
    before = await points_in_force(db, member.id)
    penalty = _new_penalty(db, member, "warn", reason, actor=actor, points=points)
    await _record(db, actor, "penalty.points", penalty, reason)
    return await _escalate(db, member, before, before + points)


async def _escalate(db: AsyncSession, member: Member, before: int, after: int) -> Penalty | None:
    """Once per crossing: past ``suspend_points`` suspend, else past ``silence_points``
    silence; a member already suspended (or silenced) is left as they are."""
    settings = _settings()
    if _crossed(before, after, settings.suspend_points):
        if member.is_suspended():
            return None
        until = utcnow() + timedelta(days=settings.suspend_days)
        return await _suspend(db, member, _automatic(after), actor=None, until=until)
    if _crossed(before, after, settings.silence_points):
        if await silenced(db, member.id) is not None:
            return None
        until = utcnow() + timedelta(days=settings.silence_days)
        return await _silence(db, member, _automatic(after), actor=None, until=until)
    return None


def _crossed(before: int, after: int, threshold: int) -> bool:
    return threshold > 0 and before < threshold <= after


def _automatic(points: int) -> str:
    return f"Automatic: {points} penalty points in force."


# ---------------------------------------------------------------------------------------------
# Lifting and appeals


async def lift(db: AsyncSession, penalty_id: int, actor: Member, reason: Any = "") -> Penalty:
    """End a penalty early (a suspension also ends the core's suspension); commits."""
    penalty = await penalty_by_id(db, penalty_id)
    member = await db.get(Member, penalty.member_id)
    assert member is not None  # penalties go with their member (ON DELETE CASCADE)
    _check_may_act_on(actor, member)
    reason = _check_text(reason, "reason", REASON_MAX, required=False)
    if not is_active(penalty):
        raise ServiceError("already_ended", "This penalty has already ended.", 409)
    before = _summary(penalty)
    penalty.lifted_at = utcnow()
    audit.record(
        db,
        actor,
        "penalty.lift",
        "member",
        member.id,
        before=before,
        after=_summary(penalty),
        reason=reason,
    )
    if penalty.kind == "suspend" and not await _other_suspension(db, penalty):
        await accounts.unsuspend(db, member)  # commits
    else:
        await db.commit()
    return penalty


async def _other_suspension(db: AsyncSession, penalty: Penalty) -> bool:
    found = await db.scalar(
        select(Penalty.id).where(
            Penalty.member_id == penalty.member_id,
            Penalty.kind == "suspend",
            Penalty.id != penalty.id,
            *_in_force(utcnow()),
        )
    )
    return found is not None


async def appeal(db: AsyncSession, member: Member, penalty_id: int, text: Any) -> Appeal:
    """The member's one appeal against their own penalty; it lands in the inbox. Commits."""
    penalty = await penalty_by_id(db, penalty_id)
    if penalty.member_id != member.id:
        raise ServiceError("unknown_penalty", f"There is no penalty {penalty_id}.", 404)
    text = _check_text(text, "text", APPEAL_MAX, required=True)
    if await db.scalar(select(Appeal.id).where(Appeal.penalty_id == penalty.id)):
        raise _appealed()
    row = Appeal(penalty_id=penalty.id, member_id=member.id, text=text, created_at=utcnow())
    db.add(row)
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise _appealed() from None
    await inbox.open_item(db, "appeal", member_id=member.id, reason=text)
    await db.commit()
    return row


def _appealed() -> ServiceError:
    return ServiceError("already_appealed", "You have already appealed this penalty.", 409)


OUTCOMES = {"uphold": "upheld", "lift": "lifted"}


async def decide_appeal(
    db: AsyncSession, penalty_id: int, actor: Member, outcome: Any, reason: Any = ""
) -> Appeal:
    """Uphold the penalty or lift it; the appeal's inbox item is settled too. Commits."""
    penalty = await penalty_by_id(db, penalty_id)
    found = await db.scalar(select(Appeal).where(Appeal.penalty_id == penalty.id))
    if found is None:
        raise ServiceError("no_appeal", "This penalty has not been appealed.", 404)
    if outcome not in OUTCOMES:
        raise ServiceError("invalid_outcome", "Decide uphold or lift.", 422, field="outcome")
    if found.outcome is not None:
        raise ServiceError("already_decided", f"This appeal was already {found.outcome}.", 409)
    member = await db.get(Member, penalty.member_id)
    assert member is not None
    _check_may_act_on(actor, member)
    reason = _check_text(reason, "reason", REASON_MAX, required=False)
    found.outcome = OUTCOMES[outcome]
    audit.record(
        db,
        actor,
        f"appeal.{outcome}",
        "member",
        member.id,
        after={"penalty_id": penalty.id, "outcome": found.outcome},
        reason=reason,
    )
    await _settle_item(db, found, actor)
    if outcome == "lift":
        await lift(db, penalty.id, actor, reason or "Appeal granted.")
    else:
        await db.commit()
    return found


async def _settle_item(db: AsyncSession, appeal_row: Appeal, actor: Member) -> None:
    """Mark the appeal's open inbox item handled (items carry the appeal's text)."""
    item = await db.scalar(
        select(Item).where(
            Item.kind == "appeal",
            Item.member_id == appeal_row.member_id,
            Item.reason == appeal_row.text,
            Item.state.in_((OPEN, CLAIMED)),
        )
    )
    if item is None:
        return
    now = utcnow()
    item.state, item.resolution = HANDLED, f"appeal {appeal_row.outcome}"
    item.handled_by_id, item.handled_at, item.version = actor.id, now, item.version + 1
    announce(db)
    emit(
        db,
        ItemReviewed(
            item.id, "appeal", item.resolution, actor.id, (now - item.created_at).total_seconds()
        ),
    )


# ---------------------------------------------------------------------------------------------
# Pages


def _field(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if isinstance(value, list):
        value = value[0] if value else ""
    return value if isinstance(value, str) else ""


@dataclass
class PenaltyRow:
    """A penalty as the pages show it."""

    penalty: Penalty
    appeal: Appeal | None
    by: str | None
    active: bool
    ends: datetime | None


async def _rows(db: AsyncSession, penalties: list[Penalty]) -> list[PenaltyRow]:
    appeals = await appeals_for(db, penalties)
    names = await usernames(db, (p.created_by_id for p in penalties))
    now = utcnow()
    return [
        PenaltyRow(
            p, appeals.get(p.id), names.get(p.created_by_id or 0), is_active(p, now), ends(p)
        )
        for p in penalties
    ]


async def _mine_page(
    request: Request_, db: AsyncSession, member: Member, status_code: int = 200, **context: Any
) -> Template:
    context.setdefault("error", None)
    return render(
        request,
        "moderation/penalties_mine.html",
        status_code=status_code,
        rows=await _rows(db, await penalties_of(db, member.id)),
        points=await points_in_force(db, member.id),
        **context,
    )


@get("/my-penalties")
async def my_penalties(request: Request_, db: AsyncSession, member: Member) -> Template:
    """A member's own penalty history (only theirs), with an appeal form on each."""
    return await _mine_page(request, db, member)


@post("/my-penalties/{penalty_id:int}/appeal")
async def appeal_form(
    request: Request_, db: AsyncSession, member: Member, penalty_id: int, data: Form
) -> Template:
    try:
        await appeal(db, member, penalty_id, _field(data, "text"))
    except ServiceError as error:
        await undo(db, member)
        return await _mine_page(request, db, member, error.status, error=error.detail)
    return await _mine_page(request, db, member, notice="Your appeal is with the moderators.")


async def _member_page(
    request: Request_,
    db: AsyncSession,
    username: str,
    status_code: int = 200,
    **context: Any,
) -> Template:
    target = await accounts.member_by_username(db, username)
    context.setdefault("error", None)
    context.setdefault("form", {})
    return render(
        request,
        "moderation/penalties_member.html",
        status_code=status_code,
        target=target,
        rows=await _rows(db, await penalties_of(db, target.id)),
        points=await points_in_force(db, target.id),
        silence=await silenced(db, target.id),
        **context,
    )


@get("/members/{username:str}", guards=[require_moderator])
async def member_penalties(request: Request_, db: AsyncSession, username: str) -> Template:
    """A member's penalties and points, a form to penalise them, and lift buttons."""
    return await _member_page(request, db, username)


@post("/members/{username:str}/penalties", guards=[require_moderator])
async def penalise_form(
    request: Request_, db: AsyncSession, member: Member, username: str, data: Form
) -> Template:
    form = {key: _field(data, key) for key in ("kind", "reason", "message", "until")}
    try:
        target = await accounts.member_by_username(db, username)
        await penalise(
            db,
            target,
            form["kind"],
            form["reason"],
            actor=member,
            until=parse_until(form["until"]),
            message=form["message"],
        )
    except ServiceError as error:
        await undo(db, member)
        return await _member_page(
            request, db, username, error.status, error=error.detail, form=form
        )
    return await _member_page(request, db, username, notice=f"Saved: {form['kind']}.")


async def _penalty_page(
    request: Request_, db: AsyncSession, penalty_id: int, status_code: int = 200, **context: Any
) -> Template:
    penalty = await penalty_by_id(db, penalty_id)
    target = await db.get(Member, penalty.member_id)
    context.setdefault("error", None)
    return render(
        request,
        "moderation/penalty.html",
        status_code=status_code,
        row=(await _rows(db, [penalty]))[0],
        target=target,
        **context,
    )


@get("/penalties/{penalty_id:int}", guards=[require_moderator])
async def penalty_page(request: Request_, db: AsyncSession, penalty_id: int) -> Template:
    """One penalty with its appeal: lift it, or decide the appeal."""
    return await _penalty_page(request, db, penalty_id)


@post("/penalties/{penalty_id:int}/lift", guards=[require_moderator])
async def lift_form(
    request: Request_, db: AsyncSession, member: Member, penalty_id: int, data: Form
) -> Template:
    try:
        await lift(db, penalty_id, member, _field(data, "reason"))
    except ServiceError as error:
        await undo(db, member)
        return await _penalty_page(request, db, penalty_id, error.status, error=error.detail)
    return await _penalty_page(request, db, penalty_id, notice="Lifted.")


@post("/penalties/{penalty_id:int}/decide", guards=[require_moderator])
async def decide_form(
    request: Request_, db: AsyncSession, member: Member, penalty_id: int, data: Form
) -> Template:
    outcome = _field(data, "outcome")
    try:
        await decide_appeal(db, penalty_id, member, outcome, _field(data, "reason"))
    except ServiceError as error:
        await undo(db, member)
        return await _penalty_page(request, db, penalty_id, error.status, error=error.detail)
    return await _penalty_page(request, db, penalty_id, notice=f"Appeal {OUTCOMES[outcome]}.")


# ---------------------------------------------------------------------------------------------
# API


async def _penalty_response(db: AsyncSession, penalty: Penalty) -> dict[str, Any]:
    names = await usernames(db, (penalty.member_id, penalty.created_by_id))
    appeal_row = (await appeals_for(db, [penalty])).get(penalty.id)
    return penalty_json(penalty, names, appeal_row)


@post("/penalties", guards=[require_moderator], status_code=201)
async def api_penalise(db: AsyncSession, member: Member, data: dict[str, Any]) -> Any:
    """``{"username", "kind", "reason", "until"?, "message"?}``: the new penalty."""
    username = data.get("username")
    if not isinstance(username, str) or not username.strip():
        raise ServiceError("invalid_username", "Name the member: username.", 422)
    target = await accounts.member_by_username(db, username.strip())
    penalty = await penalise(
        db,
        target,
        data.get("kind"),  # type: ignore[arg-type]  # penalise checks it
        data.get("reason"),  # type: ignore[arg-type]
        actor=member,
        until=parse_until(data.get("until")),
        message=data.get("message") or "",
    )
    return await _penalty_response(db, penalty)


@get("/penalties", guards=[require_moderator])
async def api_penalties(db: AsyncSession, username: str) -> Any:
    """A member's penalties, newest first, with their points in force."""
    target = await accounts.member_by_username(db, username.strip())
    penalties = await penalties_of(db, target.id)
    appeals = await appeals_for(db, penalties)
    names = await usernames(db, [target.id, *(p.created_by_id for p in penalties)])
    return {
        "username": target.username,
        "points": await points_in_force(db, target.id),
        "penalties": [penalty_json(p, names, appeals.get(p.id)) for p in penalties],
    }


@post("/penalties/{penalty_id:int}/lift", guards=[require_moderator], status_code=200)
async def api_lift(
    db: AsyncSession, member: Member, penalty_id: int, data: dict[str, Any] | None = None
) -> Any:
    penalty = await lift(db, penalty_id, member, (data or {}).get("reason") or "")
    return await _penalty_response(db, penalty)


@post("/penalties/{penalty_id:int}/appeal", status_code=201)
async def api_appeal(
    db: AsyncSession, member: Member, penalty_id: int, data: dict[str, Any]
) -> Any:
    """The penalised member's one appeal: ``{"text"}``."""
    row = await appeal(db, member, penalty_id, data.get("text"))
    return {
        "penalty_id": row.penalty_id,
        "text": row.text,
        "created_at": row.created_at.isoformat(),
    }


routes: list[Any] = [
    my_penalties,
    appeal_form,
    member_penalties,
    penalise_form,
    penalty_page,
    lift_form,
    decide_form,
    *audit_views.routes,
]
api_routes: list[Any] = [api_penalise, api_penalties, api_lift, api_appeal, *audit_views.api_routes]
