"""Server-side sessions that take a fresh id at sign-in, so a planted session id is useless."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.types import Empty, Message

_NEW_ID = "community_new_session_id"


class SessionBackend(ServerSideSessionBackend):
    async def store_in_message(
        self, scope_session: Any, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        # An empty session is no session: store nothing for anonymous visitors.
        if not scope_session:
            if self.config.key not in connection.cookies:
                return
            scope_session = Empty
        await super().store_in_message(scope_session, message, connection)

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        renewed = connection.scope.get("state", {}).get(_NEW_ID)
        return renewed or super().get_session_id(connection)


@dataclass
class SessionConfig(ServerSideSessionConfig):
    _backend_class = SessionBackend  # type: ignore[assignment]


def renew_session_id(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Store this request's session under a new id (call at sign-in)."""
    connection.scope.setdefault("state", {})[_NEW_ID] = secrets.token_hex(32)
