"""Who sees analytics: admins, and moderators when the ``moderators_may_view`` setting says so."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException

from community import plugins


def may_view(member: Any) -> bool:
    if member is None:
        return False
    if member.is_admin:
        return True
    return member.role == "moderator" and plugins.settings("analytics").moderators_may_view


def require_viewer(connection: ASGIConnection[Any, Any, Any, Any], _: Any) -> None:
    """Route guard: admins (and moderators, by the setting) only."""
    if not may_view(connection.scope.get("user")):
        raise PermissionDeniedException("Only admins can see analytics.")
