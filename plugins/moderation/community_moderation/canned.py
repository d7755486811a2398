"""Canned replies: Markdown templates moderators reuse in replies, private messages and
rejection reasons. ``{member}``, ``{thread_title}``, ``{thread_url}`` and ``{moderator}`` are
filled in when one is used; any other ``{name}`` is refused when it is saved, so a typo never
reaches a member. Every use is counted and the most used come first."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, delete, get, post, put
from litestar.response import Redirect, Template
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.auth import undo
from community.accounts.models import Member
from community.accounts.routes import Form, text
from community.db import utcnow
from community.errors import ServiceError
from community.forum import services
from community.forum.models import Thread
from community.web import render
from community_moderation import audit
from community_moderation.access import require_moderator
from community_moderation.models import Canned

VARIABLES = ("member", "thread_title", "thread_url", "moderator")
VARIABLE_RE = re.compile(r"\{([A-Za-z0-9_]+)\}")
TITLE_MAX = 200
BODY_MAX = 10_000


def check_canned(title: Any, body: Any) -> tuple[str, str]:
    """A title and body fit to save, or 422 naming what is wrong."""
    title = " ".join(title.split()) if isinstance(title, str) else ""
    if not 1 <= len(title) <= TITLE_MAX:
        raise ServiceError(
            "invalid_title", f"Titles are 1 to {TITLE_MAX} characters.", 422, field="title"
        )
    body = body.strip() if isinstance(body, str) else ""
    if not 1 <= len(body) <= BODY_MAX:
        raise ServiceError(
            "invalid_body", f"Bodies are 1 to {BODY_MAX:,} characters.", 422, field="body"
        )
    unknown = sorted({name for name in VARIABLE_RE.findall(body) if name not in VARIABLES})
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in VARIABLES)
        raise ServiceError(
            "unknown_variable",
            f"Unknown variable {', '.join(f'{{{n}}}' for n in unknown)}: use {known}.",
            422,
            field="body",
        )
    return title, body


async def list_canned(db: AsyncSession) -> list[Canned]:
    """Most used first."""
    rows = await db.scalars(select(Canned).order_by(Canned.uses.desc(), Canned.title))
    return list(rows.all())


async def canned_for(db: AsyncSession, canned_id: Any) -> Canned:
    found = await db.get(Canned, services.check_id(canned_id, "canned reply"))
    if found is None:
        raise services.not_found("canned reply")
    return found


async def save_canned(
    db: AsyncSession, moderator: Member, canned: Canned | None, title: Any, body: Any
) -> Canned:
    """Create (``canned`` None) or change a canned reply; commits."""
    title, body = check_canned(title, body)
    taken = await db.scalar(select(Canned.id).where(func.lower(Canned.title) == title.lower()))
    if taken is not None and (canned is None or taken != canned.id):
        raise ServiceError(
            "title_taken", "A canned reply already has this title.", 422, field="title"
        )
    before = {"title": canned.title, "body": canned.body} if canned else {}
    if canned is None:
        canned = Canned(title=title, body=body, uses=0, created_at=utcnow())
        db.add(canned)
    else:
        canned.title, canned.body = title, body
    try:
        await db.flush()
    except IntegrityError:  # the same title saved twice at once
        await db.rollback()
        raise ServiceError(
            "title_taken", "A canned reply already has this title.", 422, field="title"
        ) from None
    action = "canned.update" if before else "canned.create"
    audit.record(db, moderator, action, "canned", canned.id, before=before, after={"title": title})
    await db.commit()
    return canned


async def delete_canned(db: AsyncSession, moderator: Member, canned_id: Any) -> None:
    canned = await canned_for(db, canned_id)
    audit.record(
        db, moderator, "canned.delete", "canned", canned.id, before={"title": canned.title}
    )
    await db.delete(canned)
    await db.commit()


def fill(body: str, values: dict[str, str]) -> str:
    """``body`` with its variables replaced (an unknown one, saved before a rule changed, is
    left as written)."""
    return VARIABLE_RE.sub(lambda m: values.get(m.group(1), m.group(0)), body)


async def render_canned(
    db: AsyncSession,
    canned_id: Any,
    *,
    member: Member,
    thread: Thread | None = None,
    moderator: Member,
) -> str:
    """The canned reply's text for ``member`` (about ``thread``), counting one use; no commit.
    An unknown id is a 422 on the ``canned_id`` field: it came with the moderator's form."""
    try:
        canned = await canned_for(db, canned_id)
    except ServiceError:
        raise ServiceError(
            "unknown_canned", "No such canned reply.", 422, field="canned_id"
        ) from None
    await db.execute(
        update(Canned)
        .where(Canned.id == canned.id)
        .values(uses=Canned.uses + 1)
        .execution_options(synchronize_session=False)
    )
    values = {
        "member": member.display_name,
        "moderator": moderator.display_name,
        "thread_title": thread.title if thread else "",
        "thread_url": thread.url if thread else "",
    }
    return fill(canned.body, values)


def canned_json(canned: Canned) -> dict[str, Any]:
    return {
        "id": canned.id,
        "title": canned.title,
        "body": canned.body,
        "uses": canned.uses,
        "created_at": canned.created_at.isoformat(),
    }


# ---------------------------------------------------------------------------------------------
# Pages


async def _canned_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    status_code: int = 200,
    **context: Any,
) -> Template:
    context.setdefault("values", {})
    return render(
        request,
        "moderation/canned.html",
        status_code=status_code,
        replies=await list_canned(db),
        variables=VARIABLES,
        **context,
    )


@get("/canned", guards=[require_moderator])
async def canned_page(request: Request[Any, Any, Any], db: AsyncSession) -> Template:
    return await _canned_page(request, db)


@post("/canned", guards=[require_moderator])
async def create_from_form(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: Form
) -> Any:
    values = {"title": text(data, "title"), "body": text(data, "body")}
    try:
        await save_canned(db, member, None, values["title"], values["body"])
    except ServiceError as error:
        await undo(db, member)
        return await _canned_page(request, db, error.status, values=values, error=error.detail)
    return Redirect("/p/moderation/canned", status_code=303)


@post("/canned/{canned_id:int}", guards=[require_moderator])
async def update_from_form(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, canned_id: int, data: Form
) -> Any:
    try:
        canned = await canned_for(db, canned_id)
        await save_canned(db, member, canned, text(data, "title"), text(data, "body"))
    except ServiceError as error:
        await undo(db, member)
        return await _canned_page(request, db, error.status, error=error.detail)
    return Redirect("/p/moderation/canned", status_code=303)


@post("/canned/{canned_id:int}/delete", guards=[require_moderator])
async def delete_from_form(db: AsyncSession, member: Member, canned_id: int) -> Redirect:
    await delete_canned(db, member, canned_id)
    return Redirect("/p/moderation/canned", status_code=303)


# ---------------------------------------------------------------------------------------------
# API


@get("/canned", guards=[require_moderator])
async def list_api(db: AsyncSession) -> dict[str, Any]:
    return {"canned": [canned_json(canned) for canned in await list_canned(db)]}


@post("/canned", guards=[require_moderator], status_code=201)
async def create_api(db: AsyncSession, member: Member, data: dict[str, Any]) -> dict[str, Any]:
    canned = await save_canned(db, member, None, data.get("title"), data.get("body"))
    return canned_json(canned)


@put("/canned/{canned_id:int}", guards=[require_moderator])
async def update_api(
    db: AsyncSession, member: Member, canned_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    canned = await canned_for(db, canned_id)
    canned = await save_canned(db, member, canned, data.get("title"), data.get("body"))
    return canned_json(canned)


@delete("/canned/{canned_id:int}", guards=[require_moderator], status_code=204)
async def delete_api(db: AsyncSession, member: Member, canned_id: int) -> None:
    await delete_canned(db, member, canned_id)


routes: list[Any] = [canned_page, create_from_form, update_from_form, delete_from_form]
api_routes: list[Any] = [list_api, create_api, update_api, delete_api]
