"""Who may see what, as SQL: every content query filters through ``threads`` (and ``posts``).

The rules: enabled plugins may narrow what anyone sees (the ``visible_threads`` and
``visible_categories`` hooks; a category they hide hides its subcategories too);
staff see every category; other members see a category when it names no groups for
"see" or they belong to one of those groups, and its parent (if any) is visible too. A private
conversation is seen only by its participants, staff included. Hidden threads and deleted posts
are seen only by staff; posts (and threads) a gate held for review only by their author and
staff.

A request by a member (not staff) works out the categories they see once, as a list of ids
(``resolving``, around the request in the auth middleware), and every thread condition of
that request reads the list instead of nesting the category rules in each statement: building
the rules was a tenth of a thread page's CPU, and PostgreSQL hashed every thread through them
in search.
Staff keep the nested rules: they create and change categories within a request. A response
that lasts (the live stream, which asks again every minute) resolves again each time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from community import plugins
from community.accounts.models import Member, group_members
from community.forum.models import Category, CategoryPermission, ConversationMember, Post, Thread


def _granted(category: Any, member: Member, ability: str) -> ColumnElement[bool]:
    """``ability`` in ``category`` (an entity or alias) is open to all or to one of the groups."""
    rule = CategoryPermission
    named = exists().where(rule.category_id == category.id, rule.ability == ability)
    member_in = exists().where(
        rule.category_id == category.id,
        rule.ability == ability,
        rule.group_id == group_members.c.group_id,
        group_members.c.member_id == member.id,
    )
    return or_(~named, member_in)


def categories(member: Member, category: Any = Category) -> ColumnElement[bool]:
    """The condition on ``category`` (an entity or alias) that ``member`` may see it."""
    extra = plugins.category_conditions(member, category)
    parent = aliased(Category)
    # A plugin that hides a category hides its subcategories too, from staff as well.
    parent_rules = plugins.category_conditions(member, parent)
    own: list[ColumnElement[bool]] = []
    if not member.is_staff:
        own = [_granted(category, member, "see")]
        parent_rules.insert(0, _granted(parent, member, "see"))
    if not parent_rules:
        return and_(true(), *extra)
    parent_visible = exists().where(parent.id == category.parent_id, *parent_rules)
    return and_(*own, or_(category.parent_id.is_(None), parent_visible), *extra)


_resolved: ContextVar[tuple[int, list[int]] | None] = ContextVar("resolved", default=None)
"""(member id, the ids of the categories they see) for the request being served."""


@asynccontextmanager
async def resolving(db: AsyncSession, member: Member | None) -> AsyncIterator[None]:
    """Within the block, ``threads`` reads the ids of the categories ``member`` sees, worked
    out now in one statement; staff and visitors keep the nested rules."""
    if member is None or member.is_staff:
        yield
        return
    ids = list(await db.scalars(select(Category.id).where(categories(member))))
    token = _resolved.set((member.id, ids))
    try:
        yield
    finally:
        _resolved.reset(token)


def threads(member: Member, thread: Any = Thread) -> ColumnElement[bool]:
    """The condition on ``thread`` (an entity or alias) that ``member`` may see it."""
    participant = exists().where(
        ConversationMember.thread_id == thread.id, ConversationMember.member_id == member.id
    )
    known = _resolved.get()
    if known is not None and known[0] == member.id and not member.is_staff:
        in_category = thread.category_id.in_(known[1])
    else:
        in_category = thread.category_id.in_(select(Category.id).where(categories(member)))
    rule = or_(and_(thread.category_id.is_(None), participant), in_category)
    if not member.is_staff:
        held = or_(thread.held_at.is_(None), thread.author_id == member.id)
        rule = and_(rule, thread.hidden_at.is_(None), held)
    extra = plugins.visibility_conditions(member, thread)
    return and_(rule, *extra) if extra else rule


def posts(member: Member, post: Any = Post) -> ColumnElement[bool]:
    """The condition on ``post`` that it is listed (search, profiles, feeds): not deleted and
    not held for review (but for its author), unless ``member`` is staff. The thread's own
    condition is applied separately."""
    if member.is_staff:
        return true()
    return and_(post.deleted_at.is_(None), held_posts(member, post))


def held_posts(member: Member, post: Any = Post) -> ColumnElement[bool]:
    """Posts held for review are seen by their author and staff only."""
    if member.is_staff:
        return true()
    return or_(post.held_at.is_(None), post.author_id == member.id)
