"""Who is asking: the request's database session, the member behind it, and the guards.

Browser pages authenticate with the server-side session cookie; ``/api/`` authenticates only
with ``Authorization: Bearer <token>``, never with cookies, so it needs no CSRF token.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.models import Member
from community.accounts.services import (
    instance_settings,
    member_for_api_token,
    suspended_error,
)
from community.db import utcnow
from community.errors import ServiceError
from community.events import MemberSeen, emit
from community.forum import visibility
from community.plugins import activate
from community.web import campaign

SEEN_EVERY = timedelta(minutes=5)
NEW_VISIT_AFTER = timedelta(hours=1)
"""A member away this long starts a new visit; threads since the previous one are "new"."""


class AuthMiddleware(ASGIMiddleware):
    """Opens the request's database session and puts the member (or None) in ``scope["user"]``."""

    scopes = ("http",)  # type: ignore[assignment]

    @staticmethod
    def should_bypass_for_scope(scope: Scope) -> bool:  # type: ignore[override]
        return scope["path"].startswith("/static/") or scope["path"] == "/healthz"

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        state = scope["litestar_app"].state
        async with state.sessionmaker() as db:
            state_ = scope.setdefault("state", {})
            state_["db"] = db
            state_["site"] = site = await instance_settings(db, state.settings.name)
            # The plugins enabled right now (every request re-reads them: no restart needed).
            activate(state.plugins, site)
            scope["user"] = member = await _authenticate(scope, db)
            await campaign.note(scope, db, state.plugins.limiter, member)
            async with visibility.resolving(db, member):
                await next_app(scope, receive, send)


async def _authenticate(scope: Scope, db: AsyncSession) -> Member | None:
    if scope["path"].startswith("/api/"):
        header = _header(scope, b"authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ServiceError("unauthorized", "Use 'Authorization: Bearer <token>'.", 401)
        found = await member_for_api_token(db, token.strip())
        if found is None:
            raise ServiceError("invalid_token", "This API token is not valid.", 401)
        api_token, member = found
        scope["state"]["api_token_id"] = api_token.id
        if member.is_suspended():
            raise suspended_error(member)
        return member
    session: dict[str, Any] = scope.get("session") or {}
    member_id = session.get("member_id")
    if not isinstance(member_id, int):
        return None
    member = await db.get(Member, member_id)
    if member is not None and member.is_suspended():
        # Pages answer 403 with the reason; public pages (sign in) still work.
        scope["state"]["suspension"] = suspended_error(member)
        return None
    if member is None or member.is_pending or member.session_epoch != session.get("epoch"):
        session.clear()
        return None
    now = utcnow()
    if member.last_seen_at is None or now - member.last_seen_at > SEEN_EVERY:
        if member.last_seen_at is not None and now - member.last_seen_at > NEW_VISIT_AFTER:
            member.previous_visit_at = member.last_seen_at
        member.last_seen_at = now
        emit(db, MemberSeen(member_id=member.id, at=now.isoformat()))
        await db.commit()
    return member


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def provide_db(request: Request[Any, Any, Any]) -> AsyncSession:
    return request.state.db


async def undo(db: AsyncSession, member: Member) -> None:
    """Forget a half-applied change before showing the form again, and reload the member the
    page still needs (a rollback expires every loaded object)."""
    await db.rollback()
    await db.refresh(member)


def provide_member(request: Request[Any, Any, Any]) -> Member:
    member = request.scope.get("user")
    if member is None:
        raise NotAuthorizedException("Sign in first.")
    return member


def require_member(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """App-wide guard: everything needs a signed-in member unless its route says ``public``."""
    if handler.opt.get("public"):
        return
    if connection.scope.get("user") is None:
        suspension = connection.scope.get("state", {}).get("suspension")
        if suspension is not None:
            raise suspension
        raise NotAuthorizedException("Sign in first.")


def require_staff(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    member = connection.scope.get("user")
    if member is None or not member.is_staff:
        raise PermissionDeniedException("Only moderators and admins can do this.")


def require_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    member = connection.scope.get("user")
    if member is None or not member.is_admin:
        raise PermissionDeniedException("Only admins can do this.")
