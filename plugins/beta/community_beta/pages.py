"""The plugin's pages under ``/p/beta/``: the admins' programs, one program's settings,
figures, participants, waitlist and feedback to triage, and feature flags (``/admin...``), and a
program's page for its members: its terms to accept, leaving, asking to join, the feedback
board (``/programs/{id}``). Every form carries the CSRF token; a refused change shows the
form again with the reason."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.accounts.auth import require_admin, undo
from community.accounts.models import Group, Member
from community.accounts.routes import Form, text
from community.errors import ServiceError
from community.forum.models import Category
from community.web import render
from community_beta import feedback, flags, graduation, invites, participants, programs, stats
from community_beta.models import (
    FEEDBACK_STATUSES,
    KINDS,
    SEVERITIES,
    STATUSES,
    Flag,
    GatedCategory,
    Program,
)

Request_ = Request[Any, Any, Any]


def _many(data: dict[str, Any], key: str) -> list[str]:
    """A repeated form field (checkboxes) as a list."""
    value = data.get(key, [])
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]


def _program_form(data: dict[str, Any]) -> dict[str, Any]:
    """The program form's fields as ``programs.save`` takes them."""
    return {
        "name": text(data, "name"),
        "slug": text(data, "slug"),
        "description": text(data, "description"),
        "status": text(data, "status"),
        "categories": _many(data, "categories"),
        "open_groups": text(data, "open_groups"),
        "flags": text(data, "flags"),
        "terms": text(data, "terms"),
        "capacity": text(data, "capacity"),
        "waitlist_open": text(data, "waitlist_open"),
        "questions": [q for q in text(data, "questions").splitlines() if q.strip()],
    }


async def _choices(db: AsyncSession) -> dict[str, Any]:
    categories = list(
        (await db.scalars(select(Category).order_by(Category.position, Category.name))).all()
    )
    gated = {row.category_id: row.program_id for row in await db.scalars(select(GatedCategory))}
    return {"categories": categories, "gated": gated, "statuses": STATUSES}


# ---------------------------------------------------------------------------------------------
# Admin: programs


async def _programs_page(
    request: Request_, db: AsyncSession, member: Member, status_code: int = 200, **context: Any
) -> Template:
    found = await programs.listed(db, member)
    return render(
        request,
        "beta/admin_programs.html",
        status_code=status_code,
        programs=[await programs.as_json(db, p, member) for p in found],
        **await _choices(db),
        **context,
    )


@get("/admin", guards=[require_admin])
async def admin_programs(request: Request_, db: AsyncSession, member: Member) -> Template:
    return await _programs_page(request, db, member, values={}, chosen=set())


@post("/admin", guards=[require_admin])
async def create_program(request: Request_, db: AsyncSession, member: Member, data: Form) -> Any:
    values = _program_form(data)
    try:
        program = await programs.save(db, None, values)
    except ServiceError as error:
        await undo(db, member)
        chosen = {int(v) for v in values["categories"] if v.isdigit()}
        return await _programs_page(
            request, db, member, error.status, error=error.detail, values=values, chosen=chosen
        )
    return Redirect(f"/p/beta/admin/programs/{program.id}", status_code=303)


async def _program_page(
    request: Request_,
    db: AsyncSession,
    member: Member,
    program_id: int,
    status_code: int = 200,
    **context: Any,
) -> Template:
    program = await programs.program_by_id(db, program_id)
    body = await programs.as_json(db, program, member)
    rows = await participants.participants(db, program)
    order = request.query_params.get("order", "requested")
    return render(
        request,
        "beta/admin_program.html",
        status_code=status_code,
        program=body,
        chosen={c["id"] for c in body["categories"]},
        participants=[participants.participant_json(m, p, program) for m, p in rows],
        waiting=[w.to_json() for w in await participants.waitlist(db, program, order)],
        order=order,
        # Offered only while an enabled plugin rates members (asked about nobody: cheap).
        can_rank=await plugins.member_scores(db, []) is not None,
        stats=await stats.program_stats(db, program),
        links=[
            invites.link_json(invite, outcomes, request.app.state.settings.base_url)
            for invite, outcomes in await invites.links(db, program)
        ],
        groups=list(await db.scalars(select(Group).order_by(Group.name_key))),
        **await _choices(db),
        **context,
    )


@get("/admin/programs/{program_id:int}", guards=[require_admin])
async def admin_program(
    request: Request_, db: AsyncSession, member: Member, program_id: int
) -> Template:
    notice = request.session.pop("beta_notice", None) if request.session else None
    return await _program_page(request, db, member, program_id, notice=notice)


async def _act(
    request: Request_, db: AsyncSession, member: Member, program_id: int, work: Any
) -> Any:
    """Run ``work(program)``; back to the program's page, with the reason when refused."""
    program = await programs.program_by_id(db, program_id)
    try:
        notice = await work(program)
    except ServiceError as error:
        await undo(db, member)
        return await _program_page(
            request, db, member, program_id, error.status, error=error.detail
        )
    request.session["beta_notice"] = notice
    return Redirect(f"/p/beta/admin/programs/{program_id}", status_code=303)


@post("/admin/programs/{program_id:int}", guards=[require_admin])
async def change_program(
    request: Request_, db: AsyncSession, member: Member, program_id: int, data: Form
) -> Any:
    """Saves the form; a move to public beta or graduated first shows what will become
    visible and to how many more members (``graduation.preview``), with a Confirm button that
    posts the same form again with ``confirm``."""
    values = _program_form(data)
    program = await programs.program_by_id(db, program_id)
    if (
        values["status"] in graduation.TARGETS
        and values["status"] != program.status
        and text(data, "confirm") != "yes"
    ):
        try:
            figures = await graduation.preview(db, program, values["status"], values["open_groups"])
        except ServiceError as error:
            return await _program_page(
                request, db, member, program_id, error.status, error=error.detail
            )
        return render(
            request,
            "beta/admin_graduation.html",
            program=await programs.as_json(db, program, member),
            figures=figures,
            summary=graduation.summary(figures),
            values=values,
        )

    async def work(program: Program) -> str:
        await programs.save(db, program, values)
        return "Saved."

    return await _act(request, db, member, program_id, work)


@post("/admin/programs/{program_id:int}/members", guards=[require_admin])
async def add_members(
    request: Request_, db: AsyncSession, member: Member, program_id: int, data: Form
) -> Any:
    async def work(program: Program) -> str:
        added = await participants.add(
            db,
            member,
            program,
            {"usernames": text(data, "usernames"), "groups": text(data, "groups")},
        )
        return f"Added {len(added)} member{'' if len(added) == 1 else 's'}."

    return await _act(request, db, member, program_id, work)


@post("/admin/programs/{program_id:int}/remove", guards=[require_admin])
async def remove_member(
    request: Request_, db: AsyncSession, member: Member, program_id: int, data: Form
) -> Any:
    async def work(program: Program) -> str:
        await participants.remove(db, program, text(data, "username"))
        return f"Removed {text(data, 'username')}."

    return await _act(request, db, member, program_id, work)


@post("/admin/programs/{program_id:int}/admit", guards=[require_admin])
async def admit(
    request: Request_, db: AsyncSession, member: Member, program_id: int, data: Form
) -> Any:
    """One waiting member (``username``) or the next ``count`` in the waitlist's ``order``."""

    async def work(program: Program) -> str:
        username, count = text(data, "username"), text(data, "count").strip()
        if username:
            choice: dict[str, Any] = {"usernames": [username]}
        else:
            choice = {"count": int(count) if count.isdigit() else count}
            if text(data, "order"):
                choice["order"] = text(data, "order")
        admitted = await participants.admit(db, member, program, choice)
        return f"Admitted {', '.join(m.username for m in admitted)}."

    return await _act(request, db, member, program_id, work)


@post("/admin/programs/{program_id:int}/invites", guards=[require_admin])
async def create_invite(
    request: Request_, db: AsyncSession, member: Member, program_id: int, data: Form
) -> Any:
    """A new link into the program; its address is shown on the page this once."""
    program = await programs.program_by_id(db, program_id)
    fields = {
        "max_uses": text(data, "max_uses").strip() or "1",
        "expires_in_days": text(data, "expires_in_days").strip() or invites.DEFAULT_DAYS,
        "email": text(data, "email").strip(),
        "note": text(data, "note").strip(),
    }
    try:
        _, token = await invites.create(db, member, program, fields, request.state.site)
    except ServiceError as error:
        await undo(db, member)
        return await _program_page(
            request, db, member, program_id, error.status, error=error.detail
        )
    url = f"{request.app.state.settings.base_url}/invite/{token}"
    return await _program_page(request, db, member, program_id, new_link=url)


@post("/admin/programs/{program_id:int}/invites/{invite_id:int}/revoke", guards=[require_admin])
async def revoke_invite(
    request: Request_, db: AsyncSession, member: Member, program_id: int, invite_id: int
) -> Any:
    async def work(program: Program) -> str:
        await invites.revoke(db, program, invite_id)
        return "The invite link is revoked."

    return await _act(request, db, member, program_id, work)


# ---------------------------------------------------------------------------------------------
# Admin: feature flags


async def _flags_page(
    request: Request_, db: AsyncSession, status_code: int = 200, **context: Any
) -> Template:
    found = list(await db.scalars(select(Flag).order_by(Flag.key)))
    return render(
        request,
        "beta/admin_flags.html",
        status_code=status_code,
        flags=[
            {
                **flags.flag_json(f, await flags.group_names(db, f.group_ids)),
                "programs": await flags.programs_listing(db, f.key),
            }
            for f in found
        ],
        **context,
    )


@get("/admin/flags", guards=[require_admin])
async def admin_flags(request: Request_, db: AsyncSession) -> Template:
    return await _flags_page(request, db, values={})


@post("/admin/flags", guards=[require_admin])
async def save_flag(request: Request_, db: AsyncSession, member: Member, data: Form) -> Any:
    values = {
        "description": text(data, "description"),
        "rollout": text(data, "rollout") or "0",
        "groups": text(data, "groups"),
        "killed": text(data, "killed") == "on",
    }
    try:
        await flags.save(db, member, text(data, "key").strip(), values)
    except ServiceError as error:
        await undo(db, member)
        return await _flags_page(
            request,
            db,
            error.status,
            error=error.detail,
            values={**values, "key": text(data, "key")},
        )
    return Redirect("/p/beta/admin/flags", status_code=303)


# ---------------------------------------------------------------------------------------------
# A program's page for members


async def _member_page(
    request: Request_,
    db: AsyncSession,
    member: Member,
    program_id: int,
    status_code: int = 200,
    **context: Any,
) -> Template:
    await invites.catch_up(db, member)  # landing from an invite link before it was acted on
    program = await programs.visible(db, member, program_id)
    body = await programs.as_json(db, program, member)
    waiting = await participants.is_waiting(db, program, member)
    board = None
    if await feedback.may_read(db, program, member):
        board = {
            "items": await feedback.listing(db, member, program),
            "counts": await feedback.counts(db, program),
            "can_send": await feedback.may_send(db, program, member),
        }
    context.setdefault("values", {})
    return render(
        request,
        "beta/program.html",
        status_code=status_code,
        program=body,
        waiting=waiting,
        board=board,
        kinds=KINDS,
        severities=SEVERITIES,
        **context,
    )


@get("/programs/{program_id:int}")
async def program_page(
    request: Request_, db: AsyncSession, member: Member, program_id: int
) -> Template:
    notice = request.session.pop("beta_notice", None) if request.session else None
    return await _member_page(request, db, member, program_id, notice=notice)


async def _member_act(
    request: Request_,
    db: AsyncSession,
    member: Member,
    program_id: int,
    work: Any,
    **context: Any,
) -> Any:
    """Run ``work(program)``; back to the program's page, with the reason (and ``context``,
    the form's values) when refused."""
    program = await programs.visible(db, member, program_id)
    try:
        notice = await work(program)
    except ServiceError as error:
        await undo(db, member)
        return await _member_page(
            request, db, member, program_id, error.status, error=error.detail, **context
        )
    request.session["beta_notice"] = notice
    return Redirect(f"/p/beta/programs/{program_id}", status_code=303)


@post("/programs/{program_id:int}/accept")
async def accept_terms(
    request: Request_, db: AsyncSession, member: Member, program_id: int, data: Form
) -> Any:
    async def work(program: Program) -> str:
        await participants.accept(db, member, program, {"version": text(data, "version")})
        return "Thank you: the program's categories are open to you."

    return await _member_act(request, db, member, program_id, work)


@post("/programs/{program_id:int}/leave")
async def leave(request: Request_, db: AsyncSession, member: Member, program_id: int) -> Any:
    async def work(program: Program) -> str:
        await participants.leave(db, member, program)
        return f"You left {program.name}."

    done = await _member_act(request, db, member, program_id, work)
    if isinstance(done, Redirect):
        try:
            await programs.visible(db, member, program_id)
        except ServiceError:  # a private program is gone from their sight: home, not a 404
            request.session.pop("beta_notice", None)
            return Redirect("/", status_code=303)
    return done


@post("/programs/{program_id:int}/waitlist")
async def ask_to_join(
    request: Request_, db: AsyncSession, member: Member, program_id: int, data: Form
) -> Any:
    async def work(program: Program) -> str:
        answers = [text(data, f"answer-{n}") for n in range(len(program.questions))]
        await participants.ask(db, member, program, {"answers": answers})
        return "You are on the waitlist; an admin will let you know."

    return await _member_act(request, db, member, program_id, work)


@post("/programs/{program_id:int}/feedback")
async def send_feedback(
    request: Request_, db: AsyncSession, member: Member, program_id: int, data: Form
) -> Any:
    values = {key: text(data, key) for key in ("kind", "severity", "title", "body", "thread_id")}

    async def work(program: Program) -> str:
        await feedback.send(db, member, program, values)
        return "Thank you: your feedback is on the board."

    return await _member_act(request, db, member, program_id, work, values=values)


# ---------------------------------------------------------------------------------------------
# Admin: triaging feedback


async def _triage_page(
    request: Request_,
    db: AsyncSession,
    member: Member,
    program_id: int,
    status_code: int = 200,
    **context: Any,
) -> Template:
    program = await programs.program_by_id(db, program_id)
    return render(
        request,
        "beta/admin_feedback.html",
        status_code=status_code,
        program=await programs.as_json(db, program, member),
        items=await feedback.listing(db, member, program),
        counts=await feedback.counts(db, program),
        statuses=FEEDBACK_STATUSES,
        **context,
    )


@get("/admin/programs/{program_id:int}/feedback", guards=[require_admin])
async def admin_feedback(
    request: Request_, db: AsyncSession, member: Member, program_id: int
) -> Template:
    notice = request.session.pop("beta_notice", None) if request.session else None
    return await _triage_page(request, db, member, program_id, notice=notice)


@post("/admin/programs/{program_id:int}/feedback/{feedback_id:int}", guards=[require_admin])
async def triage_feedback(
    request: Request_,
    db: AsyncSession,
    member: Member,
    program_id: int,
    feedback_id: int,
    data: Form,
) -> Any:
    """One item's new ``status``; its author is told."""
    item = await feedback.feedback_by_id(db, feedback_id)
    if item.program_id != program_id:
        raise ServiceError("not_found", "No such feedback.", 404)
    try:
        await feedback.triage(db, member, item, {"status": text(data, "status")})
    except ServiceError as error:
        await undo(db, member)
        return await _triage_page(request, db, member, program_id, error.status, error=error.detail)
    request.session["beta_notice"] = f"{item.title}: {item.status}."
    return Redirect(f"/p/beta/admin/programs/{program_id}/feedback", status_code=303)


routes: list[Any] = [
    admin_programs,
    create_program,
    admin_program,
    change_program,
    add_members,
    remove_member,
    admit,
    create_invite,
    revoke_invite,
    admin_flags,
    save_flag,
    program_page,
    accept_terms,
    leave,
    ask_to_join,
    send_feedback,
    admin_feedback,
    triage_feedback,
]
