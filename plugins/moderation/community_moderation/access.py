"""Who moderates: admins and moderators (the core's staff roles)."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException


def is_moderator(member: Any) -> bool:
    return member is not None and member.is_staff


def require_moderator(connection: ASGIConnection[Any, Any, Any, Any], _: Any) -> None:
    """Route guard: moderators and admins only."""
    if not is_moderator(connection.scope.get("user")):
        raise PermissionDeniedException("Only moderators can do this.")
