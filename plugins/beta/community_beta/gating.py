"""Which gated categories a member may not see, as SQL the core puts inside every content
query (the ``visible_threads`` hook) and every category list (``visible_categories``: an
outsider does not even see the category's name): one subquery on the plugin's tables by the
member's id, never a query of its own.

By the program's status:

- draft: nobody but admins (participants wait for the start);
- private beta and archived: participants who accepted the current terms (an archived
  program stays readable to them);
- public beta: those participants, and every member of the groups it is opened to (every
  member when it names none);
- graduated: everyone: the categories are ordinary ones again.

Admins see everything. ``plugins.ordinary_member()`` (id 0, no group, in no program) sees
only what is open to every member.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, not_, or_, select

from community_beta.models import (
    ARCHIVED,
    GRADUATED,
    PRIVATE,
    PUBLIC,
    GatedCategory,
    OpenGroup,
    Participant,
    Program,
)


def _accepted(member_id: int) -> ColumnElement[bool]:
    """The member takes part in the program and accepted its current terms."""
    return exists().where(
        Participant.program_id == Program.id,
        Participant.member_id == member_id,
        Participant.accepted_version == Program.terms_version,
    )


def _opened(group_ids: list[int]) -> ColumnElement[bool]:
    """The program is opened to every member (it names no group), or to a group the member
    is in (what counts in a public beta)."""
    named = exists().where(OpenGroup.program_id == Program.id)
    member_in = (
        exists().where(OpenGroup.program_id == Program.id, OpenGroup.group_id.in_(group_ids))
        if group_ids
        else false()
    )
    return or_(not_(named), member_in)


def sees(status: Any, accepted: ColumnElement[bool], opened: ColumnElement[bool]) -> Any:
    """The rule, once: a member who is not an admin sees a program's categories at ``status``
    (the program's column, or a value for what it would be) when they ``accepted`` its
    current terms as a participant of a private beta, public beta or archived program, when
    it is a public beta ``opened`` to them, or when it graduated."""
    return or_(
        and_(status.in_((PRIVATE, PUBLIC, ARCHIVED)), accepted),
        and_(status == PUBLIC, opened),
        status == GRADUATED,
    )


def hidden_categories(member: Any) -> Select[tuple[int]]:
    """The ids of the gated categories ``member`` may not see."""
    member_id = int(getattr(member, "id", 0) or 0)
    group_ids = tuple(sorted(group.id for group in getattr(member, "groups", None) or []))
    return _hidden(member_id, group_ids)


@functools.lru_cache(maxsize=4096)
def _hidden(member_id: int, group_ids: tuple[int, ...]) -> Select[tuple[int]]:
    """``hidden_categories`` by what it depends on, made once per process and member (a
    statement is immutable; building it was a twentieth of a page's CPU, asked for up to
    three times a request)."""
    return (
        select(GatedCategory.category_id)
        .join(Program, Program.id == GatedCategory.program_id)
        .where(not_(sees(Program.status, _accepted(member_id), _opened(list(group_ids)))))
    )


def visible_threads(member: Any, thread: Any) -> ColumnElement[bool] | None:
    """The condition on ``thread`` that it is not in a category hidden from ``member``
    (None for admins, who see everything)."""
    if member is not None and getattr(member, "is_admin", False):
        return None
    return or_(
        thread.category_id.is_(None),
        thread.category_id.not_in(hidden_categories(member)),
    )


def visible_categories(member: Any, category: Any) -> ColumnElement[bool] | None:
    """The condition on ``category`` that it is not hidden from ``member`` (None for admins)."""
    if member is not None and getattr(member, "is_admin", False):
        return None
    return category.id.not_in(hidden_categories(member))
