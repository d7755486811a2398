"""Admin pages: members, groups, invites with their tree, categories, instance settings."""

from __future__ import annotations

import contextlib
from typing import Any

from litestar import Request, Router, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts import services
from community.accounts.auth import require_admin, undo
from community.accounts.models import Member
from community.accounts.routes import Form, create_invite_from_form, text
from community.errors import ServiceError
from community.forum import services as forum
from community.forum.models import Category
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
        request,
        "admin/members.html",
        status_code=status_code,
        members=members,
        pending=await services.pending_members(db),
        q=q,
        **context,
    )


@get("/members")
async def members(request: Request_, db: AsyncSession, q: str = "") -> Template:
    return await _members_page(request, db, q.strip())


@post("/members/{username:str}")
async def update_member(
    request: Request_, db: AsyncSession, member: Member, username: str, data: Form
) -> Template:
    """One form per member row: change role, suspend (until a date, with a reason) or unsuspend."""
    target = await services.member_by_username(db, username)
    action = text(data, "action")
    try:
        if action == "role":
            await services.set_role(db, target, text(data, "role"))
        elif action == "suspend":
            until = text(data, "until").strip()
            when = services.parse_until(until) if until else None
            await services.suspend(db, target, when, text(data, "reason"), actor=member)
        elif action == "unsuspend":
            await services.unsuspend(db, target)
        else:
            raise ServiceError("invalid_action", f"Unknown action {action!r}.", 400)
    except ServiceError as error:
        return await _members_page(request, db, status_code=error.status, error=error.detail)
    return await _members_page(request, db, notice=f"Saved {target.username}.")


@post("/members/pending/{member_id:int}/approve")
async def approve_member(request: Request_, db: AsyncSession, member_id: int) -> Template:
    """Let in an account a ``check_member`` gate held."""
    try:
        member = await services.approve_member(db, member_id)
    except ServiceError as error:
        return await _members_page(request, db, status_code=error.status, error=error.detail)
    return await _members_page(request, db, notice=f"Approved {member.username}: they can sign in.")


@post("/members/pending/{member_id:int}/reject")
async def reject_member(request: Request_, db: AsyncSession, member_id: int) -> Template:
    """Delete an account a gate held (the services refuse an approved one)."""
    try:
        member = await services.reject_member(db, member_id)
    except ServiceError as error:
        return await _members_page(request, db, status_code=error.status, error=error.detail)
    return await _members_page(
        request, db, notice=f"Rejected {member.username}: the account is deleted."
    )


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


# ---------------------------------------------------------------------------------------------
# Categories

GROUP_FIELDS = ("visible_to_groups", "start_groups", "reply_groups")
GROUP_LEGENDS = {
    "visible_to_groups": "Who can see it",
    "start_groups": "Who can start threads",
    "reply_groups": "Who can reply",
}
ABILITY_OF = {"visible_to_groups": "see", "start_groups": "start", "reply_groups": "reply"}
FORM_MARKER = "category_form"
"""A hidden field the category form always sends: with it, unchecked boxes mean "none"."""


def texts(data: dict[str, Any], key: str) -> list[str]:
    """A repeated form field as a list of non-empty strings; a single value is a list of one."""
    value = data.get(key, [])
    values = value if isinstance(value, list) else [value]
    return [item.strip() for item in values if isinstance(item, str) and item.strip()]


def category_data(data: dict[str, Any]) -> dict[str, Any]:
    """The form's fields as ``forum.save_category`` takes them.

    Browsers send nothing for an unchecked box, so the page's form carries ``FORM_MARKER``:
    with it, a missing read-only box is False and a group list with no box checked is empty
    (every member). Without it, only the fields that were sent change.
    """
    values: dict[str, Any] = {
        key: text(data, key)
        for key in ("name", "description", "color", "position", "parent_id")
        if key in data
    }
    complete = FORM_MARKER in data
    if complete or "read_only" in data:
        values["read_only"] = "read_only" in data and text(data, "read_only") != ""
    for key in GROUP_FIELDS:
        if complete or key in data:
            # Always a list: save_category splits a single string on commas, and group names
            # may contain commas.
            values[key] = texts(data, key)
    return values


def category_form(
    category: Category | None = None, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the form shows: the submitted ``values`` over the category's (or a new one's)."""
    form: dict[str, Any] = {
        "name": "",
        "description": "",
        "color": "#2f5fd0",
        "position": "0",
        "parent_id": "",
        "read_only": False,
        **{key: set() for key in GROUP_FIELDS},
    }
    if category is not None:
        form.update(
            name=category.name,
            description=category.description,
            color=category.color,
            position=str(category.position),
            parent_id=str(category.parent_id or ""),
            read_only=category.read_only,
        )
        for key in GROUP_FIELDS:
            form[key] = {group.name_key for group in category.groups_for(ABILITY_OF[key])}
    for key, value in (values or {}).items():
        form[key] = {name.lower() for name in value} if key in GROUP_FIELDS else value
    return form


async def _categories_context(
    db: AsyncSession, member: Member, editing: Category | None = None
) -> dict[str, Any]:
    categories = await forum.list_categories(db, member)
    return {
        "categories": categories,
        # A subcategory's parent is a top-level category, never the category itself.
        "parents": [
            c for c in categories if c.parent_id is None and (editing is None or c.id != editing.id)
        ],
        "groups": [group for group, _ in await services.list_groups(db)],
        "group_fields": [(key, GROUP_LEGENDS[key]) for key in GROUP_FIELDS],
        "marker": FORM_MARKER,
    }


async def _categories_page(
    request: Request_,
    db: AsyncSession,
    member: Member,
    status_code: int = 200,
    values: dict[str, Any] | None = None,
    **context: Any,
) -> Template:
    context.setdefault("error", None)
    context.setdefault("error_field", None)
    return render(
        request,
        "admin/categories.html",
        status_code=status_code,
        form=category_form(None, values),
        action="/admin/categories",
        **await _categories_context(db, member),
        **context,
    )


async def _category_page(
    request: Request_,
    db: AsyncSession,
    member: Member,
    category_id: int,
    status_code: int = 200,
    values: dict[str, Any] | None = None,
    **context: Any,
) -> Template:
    category = await forum.category_for(db, member, category_id)
    context.setdefault("error", None)
    context.setdefault("error_field", None)
    return render(
        request,
        "admin/category.html",
        status_code=status_code,
        category=category,
        form=category_form(category, values),
        action=f"/admin/categories/{category.id}",
        **await _categories_context(db, member, category),
        **context,
    )


@get("/categories")
async def categories(
    request: Request_, db: AsyncSession, member: Member, created: int | None = None
) -> Template:
    notice = None
    if created is not None:
        with contextlib.suppress(ServiceError):  # deleted since: no notice
            notice = f"Created {(await forum.category_for(db, member, created)).name}."
    return await _categories_page(request, db, member, notice=notice)


@post("/categories")
async def create_category(
    request: Request_, db: AsyncSession, member: Member, data: Form
) -> Template | Redirect:
    values = category_data(data)
    try:
        category = await forum.save_category(db, None, values)
    except ServiceError as error:
        await undo(db, member)
        return await _categories_page(
            request,
            db,
            member,
            error.status,
            values,
            error=error.detail,
            error_field=error.extra.get("field"),
        )
    return Redirect(f"/admin/categories?created={category.id}")


@get("/categories/{category_id:int}")
async def category(
    request: Request_, db: AsyncSession, member: Member, category_id: int
) -> Template:
    return await _category_page(request, db, member, category_id)


@post("/categories/{category_id:int}")
async def update_category(
    request: Request_, db: AsyncSession, member: Member, category_id: int, data: Form
) -> Template:
    category = await forum.category_for(db, member, category_id)
    values = category_data(data)
    try:
        await forum.save_category(db, category, values)
    except ServiceError as error:
        await undo(db, member)
        return await _category_page(
            request,
            db,
            member,
            category_id,
            error.status,
            values,
            error=error.detail,
            error_field=error.extra.get("field"),
        )
    return await _category_page(request, db, member, category_id, notice=f"Saved {category.name}.")


@post("/categories/{category_id:int}/delete")
async def delete_category(
    request: Request_, db: AsyncSession, member: Member, category_id: int
) -> Template:
    category = await forum.category_for(db, member, category_id)
    name = category.name
    try:
        await forum.delete_category(db, category)
    except ServiceError as error:
        return await _category_page(
            request, db, member, category_id, error.status, error=error.detail
        )
    return await _categories_page(request, db, member, notice=f"Deleted {name}.")


@get("/settings")
async def settings(request: Request_) -> Template:
    return render(request, "admin/settings.html", error=None)


SETTING_FIELDS = (
    "name",
    "invite_policy",
    "invite_quota",
    "edit_window_minutes",
    "max_post_length",
    "reactions",
)


@post("/settings")
async def save_settings(request: Request_, db: AsyncSession, data: Form) -> Template:
    fields = {key: text(data, key) for key in SETTING_FIELDS if key in data}
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
        approve_member,
        reject_member,
        groups,
        create_group,
        group,
        add_group_member,
        remove_group_member,
        invites,
        create_invite,
        revoke_invite,
        categories,
        create_category,
        category,
        update_category,
        delete_category,
        settings,
        save_settings,
    ],
    include_in_schema=True,
    tags=["admin"],
)
