"""The audit log: every moderator action, automatic action and setting change, append-only."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from community_moderation.models import AuditEntry


def record(
    db: AsyncSession,
    actor: Any,
    action: str,
    target_type: str,
    target_id: int | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEntry:
    """Add an entry to the caller's transaction (``actor`` None: the plugin's own rules)."""
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before or {},
        after=after or {},
        reason=reason,
    )
    db.add(entry)
    return entry
