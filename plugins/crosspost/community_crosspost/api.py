"""The JSON API under ``/api/v1/crosspost/`` (bearer tokens, admins): targets, shares and
deliveries. Bad input is a 400 saying what is wrong; secrets are never in an answer."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, patch, post
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.auth import require_admin, require_staff
from community.accounts.models import Member
from community_crosspost import shares, targets

Request_ = Request[Any, Any, Any]


@get("/targets", guards=[require_admin])
async def list_targets(db: AsyncSession) -> dict[str, Any]:
    return {"targets": [targets.target_json(t) for t in await targets.listing(db)]}


@post("/targets", guards=[require_admin], status_code=201)
async def create_target(request: Request_, db: AsyncSession, data: dict[str, Any]) -> Any:
    """The target's fields (see ``targets``); a signed webhook's ``signing_secret`` is in
    this answer only."""
    target, shown_once = await targets.save(db, None, data, request.app.state.settings.secret_key)
    body = targets.target_json(target)
    if shown_once is not None:
        body["signing_secret"] = shown_once
    return body


@get("/targets/{target_id:int}", guards=[require_admin])
async def show_target(db: AsyncSession, target_id: int) -> Any:
    return targets.target_json(await targets.target_by_id(db, target_id))


@patch("/targets/{target_id:int}", guards=[require_admin])
async def change_target(
    request: Request_, db: AsyncSession, target_id: int, data: dict[str, Any]
) -> Any:
    found = await targets.target_by_id(db, target_id)
    target, _ = await targets.save(db, found, data, request.app.state.settings.secret_key)
    return targets.target_json(target)


routes: list[Any] = [list_targets, create_target, show_target, change_target]


# -- shares and deliveries (moderators) ------------------------------------------------------


def delivery_json(delivery: Any, target_name: str = "") -> dict[str, Any]:
    return {
        "id": delivery.id,
        "thread_id": delivery.thread_id,
        "target_id": delivery.target_id,
        "target": target_name,
        "status": delivery.status,
        "reason": delivery.reason,
        "due_at": delivery.due_at.isoformat(),
        "attempts": delivery.attempts,
        "text": delivery.text,
        "remote_id": delivery.remote_id,
        "remote_url": delivery.remote_url,
        "last_error": delivery.last_error,
        "sent_at": delivery.sent_at.isoformat() if delivery.sent_at else None,
        "created_at": delivery.created_at.isoformat(),
    }


@post("/threads/{thread_id:int}/share", guards=[require_staff], status_code=201)
async def share_thread(
    db: AsyncSession, member: Member, thread_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """{"targets": [ids], "at"?: ISO time | "now" | "best"}: one delivery per target."""
    made = await shares.share(db, member, thread_id, data)
    return {"deliveries": [delivery_json(d) for d in made]}


@post("/threads/{thread_id:int}/mark", guards=[require_staff], status_code=201)
async def mark_thread(db: AsyncSession, member: Member, thread_id: int) -> dict[str, Any]:
    """Share the thread to every enabled target that takes marked threads (``on_mark``)."""
    made = await shares.mark(db, member, thread_id)
    return {"deliveries": [delivery_json(d) for d in made]}


@get("/deliveries", guards=[require_staff])
async def list_deliveries(
    db: AsyncSession,
    thread_id: int | None = None,
    target_id: int | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """The delivery log, newest first: ``?thread_id=``, ``?target_id=``, ``?status=``."""
    found = await shares.log(db, thread_id=thread_id, target_id=target_id, status=status)
    return {"deliveries": [delivery_json(d, name) for d, name in found]}


@post("/deliveries/{delivery_id:int}/retry", guards=[require_staff], status_code=200)
async def retry_delivery(db: AsyncSession, delivery_id: int) -> dict[str, Any]:
    return delivery_json(await shares.retry(db, await shares.delivery_by_id(db, delivery_id)))


@post("/deliveries/{delivery_id:int}/approve", guards=[require_staff], status_code=200)
async def approve_delivery(db: AsyncSession, member: Member, delivery_id: int) -> dict[str, Any]:
    found = await shares.delivery_by_id(db, delivery_id)
    return delivery_json(await shares.approve(db, member, found))


@post("/deliveries/{delivery_id:int}/cancel", guards=[require_staff], status_code=200)
async def cancel_delivery(db: AsyncSession, delivery_id: int) -> dict[str, Any]:
    return delivery_json(await shares.cancel(db, await shares.delivery_by_id(db, delivery_id)))


@post("/targets/{target_id:int}/test", guards=[require_admin], status_code=200)
async def test_target(request: Request_, db: AsyncSession, target_id: int) -> dict[str, Any]:
    """Whether the target works: {"ok": true, "detail"} or {"ok": false, "detail"}."""
    target = await targets.target_by_id(db, target_id)
    ok, detail = await targets.check(
        db, target, request.app.state.settings.secret_key, request.state.site
    )
    return {"ok": ok, "detail": detail}


@get("/targets/{target_id:int}/preview", guards=[require_staff])
async def preview(
    request: Request_, db: AsyncSession, target_id: int, thread_id: int
) -> dict[str, Any]:
    """Exactly what the network would receive for ``thread_id`` now."""
    target = await targets.target_by_id(db, target_id)
    rendered = await shares.preview(db, target, thread_id, request.app.state.settings.base_url)
    return {"kind": rendered.kind, "text": rendered.text, "payload": rendered.payload}


routes.extend(
    [
        share_thread,
        mark_thread,
        list_deliveries,
        retry_delivery,
        approve_delivery,
        cancel_delivery,
        test_target,
        preview,
    ]
)
