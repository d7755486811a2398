"""Invite links that enrol: an admin makes one of the core's invite links for a program, with
the program's page as its landing; whoever uses it (a new member registering, or a signed-in
member accepting it) joins the program. When the program is full by then, they wait on its
waitlist instead; a program that closed meanwhile takes nobody. Each member's use of a link
is acted on once (``InviteUse``): when the core tells of it (``InviteRedeemed``, after the
commit) or when they land on the program's page, whichever comes first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.accounts import services
from community.accounts.models import Invite, InviteAcceptance, Member
from community.errors import ServiceError
from community.events import Event, InviteRedeemed, MemberJoined
from community.forum.services import check_id
from community_beta import participants, programs
from community_beta.models import (
    ARCHIVED,
    CLOSED,
    DRAFT,
    GRADUATED,
    JOINED,
    WAITING,
    InviteUse,
    JoinRequest,
    Program,
    ProgramInvite,
)
from community_beta.programs import bad, no_nul

MAX_USES = 500
DEFAULT_DAYS = "14"


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad(f"invalid_{key}", f"{key} must be text.", key)
    return no_nul(value, key)


async def create(
    db: AsyncSession, admin: Member, program: Program, data: Any, site: dict[str, Any]
) -> tuple[Invite, str]:
    """A new link into ``program`` (``max_uses`` 1-500, ``expires_in_days`` 14 unless said,
    ``email`` to restrict it to one address, ``note`` for admins): the invite and its token,
    which is shown once. A link for more members than places left is refused."""
    if not isinstance(data, dict) or set(data) - {"max_uses", "expires_in_days", "email", "note"}:
        raise bad("invalid_body", 'Send {"max_uses"?, "expires_in_days"?, "email"?, "note"?}.')
    if program.status == DRAFT:
        raise bad(
            "program_draft",
            f"{program.name} is a draft: open it (private beta) before inviting testers.",
        )
    participants.check_open(program)
    uses = data.get("max_uses", 1)
    if isinstance(uses, str) and uses.strip().isdigit():
        uses = int(uses)
    if isinstance(uses, bool) or not isinstance(uses, int) or not 1 <= uses <= MAX_USES:
        raise bad(
            "invalid_max_uses", f"max_uses is a whole number from 1 to {MAX_USES}.", "max_uses"
        )
    if program.capacity is not None:
        left = max(program.capacity - await programs.count_participants(db, program.id), 0)
        if uses > left:
            raise bad(
                "program_full",
                f"{program.name} has {left} of its {program.capacity} places left: a link "
                f"for {uses} would overfill it.",
                "max_uses",
            )
    days = data.get("expires_in_days", DEFAULT_DAYS)
    note = _text(data, "note")
    new = await services.create_invite(
        db,
        admin,
        settings=site,
        max_uses=uses,
        expires_in=services.parse_expiry(days),
        note=f"Beta: {program.name}" + (f" ({note})" if note else ""),
        email=_text(data, "email"),
        message=f"You will also join the beta program {program.name}.",
        landing=f"/p/beta/programs/{program.id}",
    )
    db.add(ProgramInvite(invite_id=new.invite.id, program_id=program.id))
    await db.commit()
    return new.invite, new.token


async def links(db: AsyncSession, program: Program) -> list[tuple[Invite, dict[str, int]]]:
    """The program's links, newest first, each with how its uses came out."""
    found = list(
        await db.scalars(
            select(Invite)
            .join(ProgramInvite, ProgramInvite.invite_id == Invite.id)
            .where(ProgramInvite.program_id == program.id)
            .order_by(Invite.created_at.desc(), Invite.id.desc())
        )
    )
    outcomes: dict[int, dict[str, int]] = {invite.id: {} for invite in found}
    if found:
        rows = await db.execute(
            select(InviteUse.invite_id, InviteUse.outcome, func.count())
            .where(InviteUse.invite_id.in_(list(outcomes)))
            .group_by(InviteUse.invite_id, InviteUse.outcome)
        )
        for invite_id, outcome, count in rows:
            outcomes[invite_id][outcome] = count
    return [(invite, outcomes[invite.id]) for invite in found]


async def link(db: AsyncSession, program: Program, invite_id: int) -> Invite:
    """One of the program's links; 404 for any other invite."""
    found = await db.scalar(
        select(Invite)
        .join(ProgramInvite, ProgramInvite.invite_id == Invite.id)
        .where(
            ProgramInvite.program_id == program.id,
            Invite.id == check_id(invite_id, "invite link"),
        )
    )
    if found is None:
        raise ServiceError("not_found", f"{program.name} has no invite link {invite_id}.", 404)
    return found


async def revoke(db: AsyncSession, program: Program, invite_id: int) -> Invite:
    return await services.revoke_invite(db, await link(db, program, invite_id))


def link_json(
    invite: Invite, outcomes: dict[str, int], base_url: str, token: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": invite.id,
        "state": invite.state(),
        "uses": invite.uses,
        "max_uses": invite.max_uses,
        "expires_at": invite.expires_at.isoformat() if invite.expires_at else None,
        "created_at": invite.created_at.isoformat(),
        "created_by": invite.created_by.username if invite.created_by else None,
        "email": invite.email,
        "note": invite.note,
        "joined": outcomes.get(JOINED, 0),
        "waiting": outcomes.get(WAITING, 0),
    }
    if token is not None:
        body["token"] = token
        body["url"] = f"{base_url}/invite/{token}"
    return body


# ---------------------------------------------------------------------------------------------
# Using a link


async def track(event: Event) -> None:
    """The core told that someone used an invite (``InviteRedeemed``), or that an account a
    gate held was approved (``MemberJoined``): act on the program links they used. An
    account still waiting for approval takes no place yet."""
    if not isinstance(event, InviteRedeemed | MemberJoined) or event.invite_id is None:
        return
    async with plugins.session() as db:
        member = await db.get(Member, event.member_id)
        if member is not None and not member.is_pending:
            await catch_up(db, member)


async def catch_up(db: AsyncSession, member: Member) -> None:
    """Act on every program link ``member`` used (to register, or accepted since) and that
    was not acted on yet: usually none, in one query."""
    used = or_(
        ProgramInvite.invite_id == member.invite_id,
        ProgramInvite.invite_id.in_(
            select(InviteAcceptance.invite_id).where(InviteAcceptance.member_id == member.id)
        ),
    )
    pending = list(
        await db.scalars(
            select(ProgramInvite).where(
                used,
                ~exists().where(
                    InviteUse.invite_id == ProgramInvite.invite_id,
                    InviteUse.member_id == member.id,
                ),
            )
        )
    )
    links = [(found.invite_id, found.program_id) for found in pending]
    member_id = member.id
    for invite_id, program_id in links:
        try:
            await _use(db, invite_id, program_id, await db.get(Member, member_id))
        except IntegrityError:
            await db.rollback()  # the other path acted on it at the same moment
    if links:
        await db.refresh(member)  # a rollback expired it; the caller's page still reads it


async def _use(db: AsyncSession, invite_id: int, program_id: int, member: Any) -> None:
    """Enrol ``member`` through the program's link: joined, waiting when full, or nothing
    when the program closed; the use is written in the same commit."""
    program = await db.get(Program, program_id)
    invite = await db.get(Invite, invite_id)
    if program is None or invite is None or member is None:
        return
    use = InviteUse(invite_id=invite_id, member_id=member.id, outcome=JOINED)
    db.add(use)
    if program.status in (GRADUATED, ARCHIVED):
        use.outcome = CLOSED
    elif not await programs.is_participant(db, program.id, member):
        inviter = await db.get(Member, invite.created_by_id) if invite.created_by_id else None
        try:
            await participants.enrol(db, program, [(member, "invite")], inviter or member)
            return  # committed, with the use
        except ServiceError as error:
            if error.code != "program_full":
                raise
        use.outcome = WAITING
        if not await participants.is_waiting(db, program, member):
            db.add(JoinRequest(program_id=program.id, member_id=member.id, answers=[]))
    await db.commit()
