"""Who moderates: admins and moderators (the core's staff roles) everything, and the members
of a category's moderator group that category (``moderation_categories``), nothing beyond.

A member's groups are loaded with the member, so the category rule is a subquery inside the
query it guards (no query of its own); the checks that must answer yes or no before a page
runs (guards, the navigation) cost one small query, and none for staff."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from sqlalchemy import ColumnElement, Select, exists, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community_moderation.models import CategoryRule


def is_moderator(member: Any) -> bool:
    """Staff: they moderate every category and the site-wide tools."""
    return member is not None and member.is_staff


def require_moderator(connection: ASGIConnection[Any, Any, Any, Any], _: Any) -> None:
    """Route guard: moderators and admins only."""
    if not is_moderator(connection.scope.get("user")):
        raise PermissionDeniedException("Only moderators can do this.")


def group_ids(member: Any) -> list[int]:
    return [group.id for group in member.groups] if member is not None else []


def moderated_query(member: Any) -> Select[tuple[int]]:
    """The ids of the categories whose moderator group ``member`` is in (staff aside)."""
    return select(CategoryRule.category_id).where(
        CategoryRule.moderator_group_id.in_(group_ids(member))
    )


def in_moderated(member: Any, category_id: Any) -> ColumnElement[bool]:
    """SQL: ``category_id`` (a column) is a category ``member`` moderates."""
    if is_moderator(member):
        return true()
    if not group_ids(member):
        return false()
    return category_id.in_(moderated_query(member))


async def moderated_categories(db: AsyncSession, member: Any) -> frozenset[int]:
    """The ids of the categories ``member`` moderates as a category moderator."""
    if member is None or not group_ids(member):
        return frozenset()
    return frozenset((await db.scalars(moderated_query(member))).all())


async def moderates_anything(db: AsyncSession, member: Any) -> bool:
    """Staff, or the moderator of at least one category (one query, none for staff)."""
    if is_moderator(member):
        return True
    if not group_ids(member):
        return False
    return bool(await db.scalar(select(exists(moderated_query(member)))))


async def moderates_category(db: AsyncSession, member: Any, category_id: int | None) -> bool:
    """Whether ``member`` moderates ``category_id`` (None, a private conversation: staff)."""
    if is_moderator(member):
        return True
    if category_id is None or not group_ids(member):
        return False
    return category_id in await moderated_categories(db, member)


async def require_moderation(connection: ASGIConnection[Any, Any, Any, Any], _: Any) -> None:
    """Route guard: staff, and category moderators (whose pages then show only their
    categories)."""
    member = connection.scope.get("user")
    if is_moderator(member):
        return
    if member is not None and group_ids(member):
        async with plugins.session() as db:
            if await moderates_anything(db, member):
                return
    raise PermissionDeniedException("Only moderators can do this.")
