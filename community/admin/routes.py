"""Admin pages for the core: members, groups, invites with their tree, instance settings."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts import services
from community.accounts.auth import require_admin
from community.accounts.models import Member
from community.accounts.routes import Form, create_invite_from_form, text
from community.errors import ServiceError
from community.web import render

Request_ = Request[Any, Any, Any]


@get("/")
async def index() -> Redirect:
    return Redirect("/admin/members")


async def _members_page(
    request: Request_, db: AsyncSession, q: str = "", status_code: int = 200, **context: Any
) -> Template:
    context.setdefault("error", None)
    members = await services.search_members(db, q, limit=200)
    return render(
        request, "admin/members.html", status_code=status_code, members=members, q=q, **context
    )


@get("/members")
async def members(request: Request_, db: AsyncSession, q: str = "") -> Template:
    return await _members_page(request, db, q.strip())


@post("/members/{username:str}")
async def update_member(request: Request_, db: AsyncSession, username: str, data: Form) -> Template:
    """One form per member row: change role, suspend (until a date, with a reason) or unsuspend."""
    member = await services.member_by_username(db, username)
    action = text(data, "action")
    try:
        if action == "role":
            await services.set_role(db, member, text(data, "role"))
        elif action == "suspend":
            until = text(data, "until").strip()
            when = services.parse_until(until) if until else None
            await services.suspend(db, member, when, text(data, "reason"))
        elif action == "unsuspend":
            await services.unsuspend(db, member)
        else:
            raise ServiceError("invalid_action", f"Unknown action {action!r}.", 400)
    except ServiceError as error:
        return await _members_page(request, db, status_code=error.status, error=error.detail)
    return await _members_page(request, db, notice=f"Saved {member.username}.")


async def _groups_page(
    request: Request_, db: AsyncSession, status_code: int = 200, **context: Any
) -> Template:
    context.setdefault("error", None)
    groups = await services.list_groups(db)
    return render(request, "admin/groups.html", status_code=status_code, groups=groups, **context)


@get("/groups")
async def groups(request: Request_, db: AsyncSession) -> Template:
    return await _groups_page(request, db)


@post("/groups")
async def create_group(request: Request_, db: AsyncSession, data: Form) -> Template | Redirect:
    try:
        group = await services.create_group(db, text(data, "name"))
    except ServiceError as error:
        return await _groups_page(request, db, error.status, error=error.detail)
    return Redirect(f"/admin/groups/{group.name}")


async def _group_page(
    request: Request_, db: AsyncSession, name: str, status_code: int = 200, **context: Any
) -> Template:
    group = await services.group_by_name(db, name)
    context.setdefault("error", None)
    return render(
        request,
        "admin/group.html",
        status_code=status_code,
        group=group,
        members=await services.group_members_of(db, group),
        **context,
    )


@get("/groups/{name:str}")
async def group(request: Request_, db: AsyncSession, name: str) -> Template:
    return await _group_page(request, db, name)


@post("/groups/{name:str}/members")
async def add_group_member(request: Request_, db: AsyncSession, name: str, data: Form) -> Template:
    try:
        group = await services.group_by_name(db, name)
        member = await services.member_by_username(db, text(data, "username").strip())
        await services.add_to_group(db, group, member)
    except ServiceError as error:
        return await _group_page(request, db, name, error.status, error=error.detail)
    return await _group_page(request, db, name)


@post("/groups/{name:str}/members/{username:str}/remove")
async def remove_group_member(
    request: Request_, db: AsyncSession, name: str, username: str
) -> Template:
    group = await services.group_by_name(db, name)
    member = await services.member_by_username(db, username)
    await services.remove_from_group(db, group, member)
    return await _group_page(request, db, name)


async def _invites_page(
    request: Request_, db: AsyncSession, status_code: int = 200, **context: Any
) -> Template:
    context.setdefault("error", None)
    return render(
        request,
        "admin/invites.html",
        status_code=status_code,
        invites=await services.list_invites(db),
        tree=await services.invite_tree(db),
        groups=[group for group, _ in await services.list_groups(db)],
        **context,
    )


@get("/invites")
async def invites(request: Request_, db: AsyncSession) -> Template:
    return await _invites_page(request, db)


@post("/invites")
async def create_invite(
    request: Request_, db: AsyncSession, member: Member, data: Form
) -> Template:
    try:
        new = await create_invite_from_form(request, db, member, data)
    except ServiceError as error:
        return await _invites_page(request, db, error.status, error=error.detail)
    url = f"{request.app.state.settings.base_url}/invite/{new.token}"
    return await _invites_page(request, db, new_url=url)


@post("/invites/{invite_id:int}/revoke")
async def revoke_invite(request: Request_, db: AsyncSession, invite_id: int) -> Template:
    await services.revoke_invite(db, await services.invite_by_id(db, invite_id))
    return await _invites_page(request, db)


@get("/settings")
async def settings(request: Request_) -> Template:
    return render(request, "admin/settings.html", error=None)


@post("/settings")
async def save_settings(request: Request_, db: AsyncSession, data: Form) -> Template:
    fields = {
        key: text(data, key) for key in ("name", "invite_policy", "invite_quota") if key in data
    }
    try:
        await services.update_instance_settings(db, fields)
        request.state.site = await services.instance_settings(db, request.app.state.settings.name)
    except ServiceError as error:
        return render(request, "admin/settings.html", status_code=error.status, error=error.detail)
    return render(request, "admin/settings.html", error=None, notice="Settings saved.")


router = Router(
    path="/admin",
    guards=[require_admin],
    route_handlers=[
        index,
        members,
        update_member,
        groups,
        create_group,
        group,
        add_group_member,
        remove_group_member,
        invites,
        create_invite,
        revoke_invite,
        settings,
        save_settings,
    ],
    include_in_schema=True,
    tags=["admin"],
)
