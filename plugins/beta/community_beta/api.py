"""The JSON API under ``/api/v1/beta/`` (bearer tokens): programs, their participants,
waitlist and terms, and feature flags. Bad input is a 400 saying what is wrong."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, patch, post, put
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.auth import require_admin
from community.accounts.models import Member
from community_beta import feedback, flags, graduation, invites, participants, programs, stats
from community_beta.models import Flag


async def _program(db: AsyncSession, member: Member, program_id: int) -> Any:
    return await programs.visible(db, member, program_id)


@get("/programs")
async def list_programs(db: AsyncSession, member: Member) -> dict[str, Any]:
    """Every program for admins; for members, theirs and those open to requests."""
    found = await programs.listed(db, member)
    return {"programs": [await programs.as_json(db, p, member) for p in found]}


@post("/programs", guards=[require_admin], status_code=201)
async def create_program(db: AsyncSession, member: Member, data: dict[str, Any]) -> Any:
    program = await programs.save(db, None, data)
    return await programs.as_json(db, program, member)


@get("/programs/{program_id:int}")
async def show_program(db: AsyncSession, member: Member, program_id: int) -> Any:
    """The program; admins also get its figures (``stats``, see ``stats.program_stats``)."""
    program = await _program(db, member, program_id)
    body = await programs.as_json(db, program, member)
    if member.is_admin:
        body["stats"] = await stats.program_stats(db, program)
    return body


@patch("/programs/{program_id:int}", guards=[require_admin])
async def change_program(
    db: AsyncSession, member: Member, program_id: int, data: dict[str, Any]
) -> Any:
    program = await programs.save(db, await programs.program_by_id(db, program_id), data)
    return await programs.as_json(db, program, member)


@get("/programs/{program_id:int}/graduation", guards=[require_admin])
async def graduation_preview(
    db: AsyncSession, program_id: int, status: str = "", groups: str = ""
) -> dict[str, Any]:
    """``?status=public_beta|graduated&groups=a,b``: what the move would make visible and to
    how many more members (``graduation.preview``); changes nothing."""
    program = await programs.program_by_id(db, program_id)
    return await graduation.preview(db, program, status, groups)


@get("/programs/{program_id:int}/members", guards=[require_admin])
async def list_members(db: AsyncSession, program_id: int) -> dict[str, Any]:
    program = await programs.program_by_id(db, program_id)
    rows = await participants.participants(db, program)
    return {
        "members": [participants.participant_json(m, p, program) for m, p in rows],
        **await participants.counts(db, program),
    }


@post("/programs/{program_id:int}/members", guards=[require_admin], status_code=200)
async def add_members(
    db: AsyncSession, member: Member, program_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """{"usernames": [...], "groups": [...]}: who joined (those already in are skipped)."""
    program = await programs.program_by_id(db, program_id)
    added = await participants.add(db, member, program, data)
    return {
        "added": [m.username for m in added],
        "participants": await programs.count_participants(db, program.id),
    }


@post("/programs/{program_id:int}/members/{username:str}/remove", guards=[require_admin])
async def remove_member(db: AsyncSession, program_id: int, username: str) -> dict[str, Any]:
    program = await programs.program_by_id(db, program_id)
    await participants.remove(db, program, username)
    return {"removed": username}


@post("/programs/{program_id:int}/leave", status_code=200)
async def leave(db: AsyncSession, member: Member, program_id: int) -> dict[str, Any]:
    await participants.leave(db, member, await _program(db, member, program_id))
    return {"left": True}


@post("/programs/{program_id:int}/waitlist", status_code=201)
async def ask_to_join(
    db: AsyncSession, member: Member, program_id: int, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """{"answers": [...]}, one per question of the program."""
    program = await _program(db, member, program_id)
    request = await participants.ask(db, member, program, data if data is not None else {})
    return {"waiting": True, "requested_at": request.requested_at.isoformat()}


@get("/programs/{program_id:int}/waitlist", guards=[require_admin])
async def show_waitlist(
    db: AsyncSession, program_id: int, order: str = "requested"
) -> dict[str, Any]:
    program = await programs.program_by_id(db, program_id)
    waiting = await participants.waitlist(db, program, order)
    return {"order": order, "waiting": [w.to_json() for w in waiting]}


@post("/programs/{program_id:int}/admit", guards=[require_admin], status_code=200)
async def admit(
    db: AsyncSession, member: Member, program_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """{"count": N} (the next N) or {"usernames": [...]}."""
    program = await programs.program_by_id(db, program_id)
    admitted = await participants.admit(db, member, program, data)
    return {
        "admitted": [m.username for m in admitted],
        "participants": await programs.count_participants(db, program.id),
    }


@post("/programs/{program_id:int}/terms/accept", status_code=200)
async def accept_terms(
    db: AsyncSession, member: Member, program_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """{"version": N}: the current terms version, which the member read."""
    program = await _program(db, member, program_id)
    acceptance = await participants.accept(db, member, program, data)
    return {"version": acceptance.version, "accepted_at": acceptance.accepted_at.isoformat()}


@get("/programs/{program_id:int}/acceptances", guards=[require_admin])
async def list_acceptances(db: AsyncSession, program_id: int) -> dict[str, Any]:
    program = await programs.program_by_id(db, program_id)
    return {
        "acceptances": [
            {"username": m.username, "version": a.version, "accepted_at": a.accepted_at.isoformat()}
            for m, a in await participants.acceptances(db, program)
        ]
    }


@post("/programs/{program_id:int}/feedback", status_code=201)
async def send_feedback(
    db: AsyncSession, member: Member, program_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """{"kind", "title", "body"?, "severity"?, "thread_id"?}: a participant who accepted the
    current terms tells a running program."""
    program = await _program(db, member, program_id)
    item = await feedback.send(db, member, program, data)
    return await feedback.item_json(db, member, item)


@get("/programs/{program_id:int}/feedback")
async def list_feedback(
    db: AsyncSession,
    member: Member,
    program_id: int,
    status: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """The program's feedback board, newest first (``?status=&kind=`` narrow it), with the
    counts by status and kind: admins and participants who accepted the terms."""
    program = await _program(db, member, program_id)
    items = await feedback.listing(db, member, program, status, kind)
    return {"feedback": items, "counts": await feedback.counts(db, program)}


@patch("/feedback/{feedback_id:int}", guards=[require_admin])
async def triage_feedback(
    db: AsyncSession, member: Member, feedback_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """{"status": "new" | "acknowledged" | "planned" | "done" | "declined"}."""
    item = await feedback.feedback_by_id(db, feedback_id)
    item = await feedback.triage(db, member, item, data)
    return await feedback.item_json(db, member, item)


@get("/flags", guards=[require_admin])
async def list_flags(db: AsyncSession) -> dict[str, Any]:
    found = list(await db.scalars(select(Flag).order_by(Flag.key)))
    return {"flags": [flags.flag_json(f, await flags.group_names(db, f.group_ids)) for f in found]}


@get("/flags/{key:str}", guards=[require_admin])
async def show_flag(db: AsyncSession, member: Member, key: str) -> dict[str, Any]:
    flag = await flags.flag_by_key(db, key)
    return {
        **flags.flag_json(flag, await flags.group_names(db, flag.group_ids)),
        "programs": await flags.programs_listing(db, flag.key),
    }


@put("/flags/{key:str}", guards=[require_admin], status_code=200)
async def save_flag(
    db: AsyncSession, member: Member, key: str, data: dict[str, Any]
) -> dict[str, Any]:
    """{"rollout": 0-100, "groups": [...], "killed": bool, "description": "..."}: any of them;
    a new key makes the flag."""
    flag = await flags.save(db, member, key, data)
    return {
        **flags.flag_json(flag, await flags.group_names(db, flag.group_ids)),
        "programs": await flags.programs_listing(db, flag.key),
    }


@post("/programs/{program_id:int}/invites", guards=[require_admin], status_code=201)
async def create_invite(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    program_id: int,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """{"max_uses"?, "expires_in_days"?, "email"?, "note"?}: a link that enrols whoever uses
    it; its ``url`` is shown this once."""
    program = await programs.program_by_id(db, program_id)
    invite, token = await invites.create(
        db, member, program, data if data is not None else {}, request.state.site
    )
    return invites.link_json(invite, {}, request.app.state.settings.base_url, token)


@get("/programs/{program_id:int}/invites", guards=[require_admin])
async def list_invites(
    request: Request[Any, Any, Any], db: AsyncSession, program_id: int
) -> dict[str, Any]:
    program = await programs.program_by_id(db, program_id)
    base_url = request.app.state.settings.base_url
    return {
        "invites": [
            invites.link_json(invite, outcomes, base_url)
            for invite, outcomes in await invites.links(db, program)
        ]
    }


@post(
    "/programs/{program_id:int}/invites/{invite_id:int}/revoke",
    guards=[require_admin],
    status_code=200,
)
async def revoke_invite(
    request: Request[Any, Any, Any], db: AsyncSession, program_id: int, invite_id: int
) -> dict[str, Any]:
    program = await programs.program_by_id(db, program_id)
    invite = await invites.revoke(db, program, invite_id)
    return invites.link_json(invite, {}, request.app.state.settings.base_url)


@get("/me/flags")
async def my_flags(db: AsyncSession, member: Member) -> dict[str, Any]:
    """The flag keys on for the member asking."""
    await flags.cache.refresh(db)
    return {"on": sorted(k for k in flags.cache.rules if flags.cache.enabled(member, k))}


routes: list[Any] = [
    list_programs,
    create_program,
    show_program,
    change_program,
    graduation_preview,
    list_members,
    add_members,
    remove_member,
    leave,
    ask_to_join,
    show_waitlist,
    admit,
    accept_terms,
    list_acceptances,
    send_feedback,
    list_feedback,
    triage_feedback,
    list_flags,
    show_flag,
    save_flag,
    my_flags,
    create_invite,
    list_invites,
    revoke_invite,
]
