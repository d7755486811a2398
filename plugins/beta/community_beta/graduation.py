"""Graduation: before a program moves to public beta or graduates, what will become visible
and to how many more members. ``preview`` reads and changes nothing; the move itself is
``programs.save`` with the new ``status`` (and ``open_groups``).

Figures, on the program's gated categories as they are now:

- ``categories``: their names;
- ``threads`` and ``posts``: the shown ones there ("shown" as in ``stats``: not deleted, not
  held, in a thread neither hidden nor held);
- ``members``: the members (admins aside: they see everything already) who cannot see the
  categories now and will after the change, by the rules of ``gating``: graduated and a
  public beta opened to every member: everyone not seeing them now; a public beta opened to
  groups: the members of those groups and the participants who accepted the current terms,
  less those seeing them now. A program without gated categories opens nothing: 0.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, literal, not_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.models import Member, group_members
from community.forum.models import Category, Post, Thread
from community_beta.gating import sees
from community_beta.models import (
    ARCHIVED,
    GRADUATED,
    PUBLIC,
    GatedCategory,
    OpenGroup,
    Participant,
    Program,
)
from community_beta.programs import bad, groups_named
from community_beta.stats import shown

TARGETS = (PUBLIC, GRADUATED)


def _accepted(program: Program) -> ColumnElement[bool]:
    """The member (``Member``) takes part in ``program`` and accepted its current terms."""
    return exists().where(
        Participant.program_id == program.id,
        Participant.member_id == Member.id,
        Participant.accepted_version == program.terms_version,
    )


def _in_groups(group_ids: list[int]) -> ColumnElement[bool]:
    if not group_ids:
        return false()
    return exists().where(
        group_members.c.member_id == Member.id, group_members.c.group_id.in_(group_ids)
    )


def _sees(status: str, program: Program, group_ids: list[int]) -> Any:
    """Whether a member (``Member``, not an admin) sees the program's categories at
    ``status``, opened to ``group_ids`` (every member when empty): ``gating.sees``."""
    opened = _in_groups(group_ids) if group_ids else true()
    return sees(literal(status), _accepted(program), opened)


async def preview(
    db: AsyncSession, program: Program, status: Any, open_groups: Any = None
) -> dict[str, Any]:
    """What moving ``program`` to ``status`` (public_beta or graduated), opened to the groups
    named in ``open_groups`` (names, a list or comma-separated; public beta only), would make
    visible and to how many more members. Changes nothing. A 400 for another status, an
    unknown group, or an archived or already graduated program."""
    if status not in TARGETS:
        raise bad("invalid_status", "A preview is for public_beta or graduated.", "status")
    if program.status == ARCHIVED:
        raise bad(
            "archived",
            "An archived program cannot be opened or graduated; move it back to a private "
            "beta first.",
            "status",
        )
    if program.status == GRADUATED:
        raise bad("graduated", "The program has already graduated.", "status")
    groups = await groups_named(db, open_groups if open_groups is not None else [], "groups")
    after_ids = [g.id for g in groups] if status == PUBLIC else []
    now_ids = list(
        await db.scalars(select(OpenGroup.group_id).where(OpenGroup.program_id == program.id))
    )

    gated = select(GatedCategory.category_id).where(GatedCategory.program_id == program.id)
    names = list(
        await db.scalars(
            select(Category.name)
            .where(Category.id.in_(gated))
            .order_by(Category.position, Category.name)
        )
    )
    threads = await db.scalar(
        select(func.count())
        .select_from(Thread)
        .where(Thread.category_id.in_(gated), Thread.hidden_at.is_(None), Thread.held_at.is_(None))
    )
    posts = await db.scalar(
        select(func.count())
        .select_from(Post)
        .join(Thread, Thread.id == Post.thread_id)
        .where(shown(), Thread.category_id.in_(gated))
    )
    members = 0
    if names:
        members = await db.scalar(
            select(func.count())
            .select_from(Member)
            .where(
                Member.role != "admin",
                and_(
                    _sees(status, program, after_ids),
                    not_(_sees(program.status, program, now_ids)),
                ),
            )
        )
    return {
        "program": program.id,
        "from": program.status,
        "status": status,
        "open_groups": [g.name for g in groups] if status == PUBLIC else [],
        "categories": names,
        "threads": int(threads or 0),
        "posts": int(posts or 0),
        "members": int(members or 0),
    }


def summary(figures: dict[str, Any]) -> str:
    """One sentence for the admin page: "Lab and Lab-2 (12 threads, 85 posts) will become
    visible to 240 more members."."""
    names = figures["categories"]
    if not names:
        return "The program gates no category: nothing will become visible."
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"

    def n(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    more = figures["members"]
    return (
        f"{listed} ({n(figures['threads'], 'thread')}, {n(figures['posts'], 'post')}) will "
        f"become visible to {more} more member{'' if more == 1 else 's'}."
    )
