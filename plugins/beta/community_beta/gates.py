"""Writing in gated categories: the core checks only its own category rules before a new
thread, so a member who cannot see a gated category is refused here as if it did not exist;
and an archived program's categories are read-only for everyone but admins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select

from community import plugins
from community.plugins import Gate
from community_beta.gating import hidden_categories
from community_beta.models import ARCHIVED, GRADUATED, GatedCategory, Program


async def _program(category_id: int | None, member: Any) -> tuple[str, str, bool] | None:
    """The name and status of the program gating ``category_id`` and whether ``member`` is
    kept out of it; None when no program gates it (one query)."""
    if category_id is None:
        return None
    hidden = exists(hidden_categories(member).where(GatedCategory.category_id == category_id))
    async with plugins.session() as db:
        row = (
            await db.execute(
                select(Program.name, Program.status, hidden)
                .join(GatedCategory, GatedCategory.program_id == Program.id)
                .where(GatedCategory.category_id == category_id)
            )
        ).first()
    return (row[0], row[1], bool(row[2])) if row is not None else None


def _verdict(found: tuple[str, str, bool] | None) -> Gate | None:
    if found is None:
        return None
    name, status, kept_out = found
    if status == GRADUATED:
        return None
    if kept_out:
        return Gate.reject("No such category.")
    if status == ARCHIVED:
        return Gate.reject(f"{name} is archived: its categories are read-only.")
    return None


async def check_thread(member: Any, category: Any) -> Gate | None:
    """A new thread in a gated category: refused to those kept out, and while archived."""
    if member is None or member.is_admin:
        return None
    return _verdict(await _program(getattr(category, "id", None), member))


async def check_post(member: Any, thread: Any) -> Gate | None:
    """A reply or an edit in a gated category (the thread page already hides it from those
    kept out): refused while the program is archived."""
    if member is None or member.is_admin or thread.category_id is None:
        return None
    return _verdict(await _program(thread.category_id, member))
