"""Category moderation: the group whose members moderate a category (its inbox items, its
watched words, its threads' tools, nothing beyond), and categories where every post waits
for approval. Admins set both on Admin → Moderation categories or through
``/api/v1/moderation/categories``; every change is in the audit log.

Also the links a category's moderators get in the navigation and on their threads: slots
cannot ask the database, so the page asks here.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Response, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.accounts.auth import require_admin, undo
from community.accounts.models import Group, Member
from community.accounts.routes import Form, text
from community.errors import ServiceError
from community.forum import services
from community.forum.models import Category
from community.plugins import Gate
from community.web import render
from community_moderation import audit, tasks, threads
from community_moderation.access import (
    group_ids,
    is_moderator,
    moderates_anything,
    require_moderator,
)
from community_moderation.models import CategoryRule

FIELDS = ("moderator_group_id", "approve_all")
LINK_CACHE = "private, max-age=60"
"""The lazy links change only when an admin changes a category's group."""


# ---------------------------------------------------------------------------------------------
# Rules


async def list_rules(db: AsyncSession) -> list[tuple[Category, CategoryRule | None]]:
    """Every category (as the admin lists them) with its rule, if it has one."""
    rows = await db.execute(
        select(Category, CategoryRule)
        .outerjoin(CategoryRule, CategoryRule.category_id == Category.id)
        .order_by(Category.position, Category.name)
    )
    return [(category, rule) for category, rule in rows.all()]


def rule_json(category: Category, rule: CategoryRule | None) -> dict[str, Any]:
    return {
        "category_id": category.id,
        "category": category.name,
        "moderator_group_id": rule.moderator_group_id if rule is not None else None,
        "approve_all": bool(rule.approve_all) if rule is not None else False,
    }


async def _group_id(db: AsyncSession, value: Any) -> int | None:
    """A moderator group's id (None, "" or 0: no group), or 422 for an unknown group."""
    if value in (None, "", "0", 0):
        return None
    try:
        group_id = services.check_id(value, "group")
    except ServiceError:
        group_id = None
    if group_id is None or await db.get(Group, group_id) is None:
        raise ServiceError("unknown_group", "No such group.", 422, field="moderator_group_id")
    return group_id


def _approve_all(value: Any) -> bool:
    if isinstance(value, str):
        value = {"on": True, "1": True, "true": True, "": False, "0": False, "false": False}.get(
            value.strip().lower(), value
        )
    if not isinstance(value, bool):
        raise ServiceError(
            "invalid_approve_all", "approve_all is true or false.", 422, field="approve_all"
        )
    return value


async def set_rule(db: AsyncSession, admin: Member, data: Any) -> tuple[Category, CategoryRule]:
    """Change a category's moderator group and approve-all setting (the fields ``data``
    holds; commits, audited): 422 for an unknown category or group or a bad value."""
    if not isinstance(data, dict):
        raise ServiceError("invalid_body", "Send a JSON object.", 422)
    unknown = sorted(set(data) - {"category_id", *FIELDS})
    if unknown:
        raise ServiceError("invalid_body", f"Unknown fields: {', '.join(unknown)}.", 422)
    try:
        category_id = services.check_id(data.get("category_id"), "category")
    except ServiceError:
        category_id = None
    category = await db.get(Category, category_id) if category_id is not None else None
    if category is None:
        raise ServiceError("unknown_category", "No such category.", 422, field="category_id")
    changes: dict[str, Any] = {}
    if "moderator_group_id" in data:
        changes["moderator_group_id"] = await _group_id(db, data["moderator_group_id"])
    if "approve_all" in data:
        changes["approve_all"] = _approve_all(data["approve_all"])
    rule = await db.get(CategoryRule, category.id)
    if rule is None:
        rule = CategoryRule(category_id=category.id, moderator_group_id=None, approve_all=False)
        db.add(rule)
    before = {field: getattr(rule, field) for field in FIELDS}
    for field, value in changes.items():
        setattr(rule, field, value)
    after = {field: getattr(rule, field) for field in FIELDS}
    if before != after:
        audit.record(
            db, admin, "category.moderation", "category", category.id, before=before, after=after
        )
    await db.commit()
    return category, rule


async def approve_all(db: AsyncSession, member: Any, category_id: int | None) -> Gate | None:
    """Hold a new post in a category that approves every post, unless its author is staff,
    one of the category's moderators or in a bypass group (one query)."""
    if category_id is None or is_moderator(member):
        return None
    rule = (
        await db.execute(
            select(CategoryRule.approve_all, CategoryRule.moderator_group_id).where(
                CategoryRule.category_id == category_id
            )
        )
    ).first()
    if rule is None or not rule.approve_all:
        return None
    if rule.moderator_group_id is not None and rule.moderator_group_id in group_ids(member):
        return None
    settings = plugins.settings("moderation")
    bypass = {name.strip().casefold() for name in settings.bypass_groups.split(",")} - {""}
    if {group.name.casefold() for group in member.groups} & bypass:
        return None
    return Gate.hold("Every post in this category is approved by a moderator first.")


# ---------------------------------------------------------------------------------------------
# Admin page (/p/moderation/categories) and API (/api/v1/moderation/categories)


async def _categories_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    status_code: int = 200,
    error: str | None = None,
) -> Template:
    groups = list((await db.scalars(select(Group).order_by(Group.name_key))).all())
    return render(
        request,
        "moderation/categories.html",
        status_code=status_code,
        rules=[rule_json(category, rule) for category, rule in await list_rules(db)],
        groups=groups,
        error=error,
    )


@get("/categories", guards=[require_admin])
async def categories_page(request: Request[Any, Any, Any], db: AsyncSession) -> Template:
    return await _categories_page(request, db)


@post("/categories", guards=[require_admin])
async def categories_from_form(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: Form
) -> Any:
    """One category's row: its group and the approve-all box (unticked: not sent)."""
    values = {
        "category_id": text(data, "category_id"),
        "moderator_group_id": text(data, "moderator_group_id"),
        "approve_all": text(data, "approve_all"),
    }
    try:
        await set_rule(db, member, values)
    except ServiceError as error:
        await undo(db, member)
        return await _categories_page(request, db, error.status, error.detail)
    return Redirect("/p/moderation/categories", status_code=303)


@get("/categories", guards=[require_moderator])
async def list_api(db: AsyncSession) -> dict[str, Any]:
    return {"categories": [rule_json(category, rule) for category, rule in await list_rules(db)]}


@post("/categories", guards=[require_admin], status_code=200)
async def set_api(db: AsyncSession, member: Member, data: dict[str, Any]) -> dict[str, Any]:
    """{"category_id": 3, "moderator_group_id": 2, "approve_all": true}: either field may be
    left out."""
    category, rule = await set_rule(db, member, data)
    return rule_json(category, rule)


# ---------------------------------------------------------------------------------------------
# The links slots ask for


def _fragment(html: str) -> Response[str]:
    return Response(html, media_type="text/html", headers={"Cache-Control": LINK_CACHE})


@get("/nav")
async def nav_link(db: AsyncSession, member: Member) -> Response[str]:
    """The inbox link for anyone who moderates something; nothing for anyone else."""
    return _fragment(tasks.inbox_link() if await moderates_anything(db, member) else "")


@get("/threads/{thread_id:int}/link")
async def tools_link(db: AsyncSession, member: Member, thread_id: int) -> Response[str]:
    """The thread tools link for a moderator of the thread's category; else nothing."""
    try:
        thread = await threads.thread_in_scope(db, member, thread_id)
    except ServiceError:
        return _fragment("")
    return _fragment(
        f'<a href="/p/moderation/threads/{thread.id}" class="thread-tools">Thread tools</a>'
    )


routes: list[Any] = [categories_page, categories_from_form, nav_link, tools_link]
api_routes: list[Any] = [list_api, set_api]
