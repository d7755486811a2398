"""Programs: what an admin creates and changes (name, status, gated categories, groups a
public beta opens to, feature flags, terms, capacity, waitlist questions), checked field by
field with a clear 400 for anything that does not fit, and read back as JSON."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.models import Group, Member
from community.accounts.services import MAX_ID
from community.db import utcnow
from community.errors import ServiceError
from community.forum.models import Category
from community.forum.services import check_id, slugify
from community_beta import clock
from community_beta.models import (
    ARCHIVED,
    DRAFT,
    GRADUATED,
    PUBLIC,
    STATUSES,
    GatedCategory,
    JoinRequest,
    OpenGroup,
    Participant,
    Program,
)

SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
FLAG_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
FIELDS = (
    "name",
    "slug",
    "description",
    "status",
    "categories",
    "open_groups",
    "flags",
    "terms",
    "capacity",
    "waitlist_open",
    "questions",
)
MAX_CAPACITY = 1_000_000
MAX_QUESTIONS = 10
MAX_LIST = 200


def bad(code: str, detail: str, field: str | None = None) -> ServiceError:
    """A 400 naming the field at fault."""
    return ServiceError(code, detail, 400, **({"field": field} if field else {}))


def no_nul(value: str, field: str) -> str:
    """``value``, refused when it holds a NUL character (PostgreSQL text cannot)."""
    if "\x00" in value:
        raise bad(f"invalid_{field}", f"{field} cannot contain NUL characters.", field)
    return value


# ---------------------------------------------------------------------------------------------
# Checking each field


def _text(value: Any, field: str, limit: int, required: bool = False) -> str:
    if not isinstance(value, str):
        raise bad(f"invalid_{field}", f"{field} is text.", field)
    value = no_nul(value, field).strip()
    if required and not value:
        raise bad(f"invalid_{field}", f"A program needs a {field}.", field)
    if len(value) > limit:
        raise bad(f"invalid_{field}", f"{field} is at most {limit:,} characters.", field)
    return value


def _slug(value: Any) -> str:
    if not isinstance(value, str) or not SLUG_RE.fullmatch(value):
        raise bad(
            "invalid_slug",
            "slug is lower-case letters, digits and dashes (at most 64), like private-editor.",
            "slug",
        )
    return value


def _status(value: Any) -> str:
    if value not in STATUSES:
        raise bad("invalid_status", f"status is one of {', '.join(STATUSES)}.", "status")
    return str(value)


def _capacity(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CAPACITY:
        raise bad(
            "invalid_capacity",
            f"capacity is a whole number from 1 to {MAX_CAPACITY:,}, or null for no limit.",
            "capacity",
        )
    return value


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, str):
        value = {"on": True, "true": True, "1": True, "": False, "false": False, "0": False}.get(
            value.strip().lower(), value
        )
    if not isinstance(value, bool):
        raise bad(f"invalid_{field}", f"{field} is true or false.", field)
    return value


def _list(value: Any, field: str, what: str) -> list[Any]:
    if isinstance(value, str):
        value = [part for part in re.split(r"[,\n]", value) if part.strip()]
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise bad(f"invalid_{field}", f"{field} is a list of {what}.", field)
    for item in value:
        if isinstance(item, str):
            no_nul(item, field)
    return value


def _flags(value: Any) -> list[str]:
    keys = []
    for key in _list(value, "flags", "feature flag keys"):
        key = key.strip() if isinstance(key, str) else key
        if not isinstance(key, str) or not FLAG_RE.fullmatch(key):
            raise bad(
                "invalid_flags",
                f"{key!r} is not a flag key: lower-case letters, digits, _ . - "
                "(at most 64), like new-editor.",
                "flags",
            )
        if key not in keys:
            keys.append(key)
    return keys


def _questions(value: Any) -> list[str]:
    questions = [_text(q, "questions", 500) for q in _list(value, "questions", "questions (text)")]
    questions = [q for q in questions if q]
    if len(questions) > MAX_QUESTIONS:
        raise bad(
            "invalid_questions", f"A program asks at most {MAX_QUESTIONS} questions.", "questions"
        )
    return questions


async def _categories(db: AsyncSession, value: Any, program: Program | None) -> list[Category]:
    """The categories named by id, each existing and not gated by another program."""
    ids = []
    for item in _list(value, "categories", "category ids"):
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int):
            raise bad("invalid_categories", "categories is a list of category ids.", "categories")
        if item not in ids:
            ids.append(item)
    ids_kept = [i for i in ids if 1 <= i <= MAX_ID]  # a larger number is no id the database holds
    found = {c.id: c for c in (await db.scalars(select(Category).where(Category.id.in_(ids_kept))))}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise bad("unknown_category", f"No category has id {', '.join(missing)}.", "categories")
    taken = await db.execute(
        select(GatedCategory.category_id, Program.name)
        .join(Program, Program.id == GatedCategory.program_id)
        .where(GatedCategory.category_id.in_(ids))
        .where(GatedCategory.program_id != (program.id if program and program.id else 0))
    )
    for category_id, name in taken:
        raise bad(
            "category_taken",
            f"{found[category_id].name} is already gated by the program {name}; "
            "a category belongs to at most one program.",
            "categories",
        )
    return [found[i] for i in ids]


async def groups_named(db: AsyncSession, value: Any, field: str) -> list[Group]:
    """The groups named (by name, any case), or a 400 naming those that do not exist."""
    names = []
    for name in _list(value, field, "group names"):
        if not isinstance(name, str) or not name.strip():
            raise bad(f"invalid_{field}", f"{field} is a list of group names.", field)
        if name.strip().lower() not in names:
            names.append(name.strip().lower())
    found = {
        g.name_key: g for g in (await db.scalars(select(Group).where(Group.name_key.in_(names))))
    }
    missing = [n for n in names if n not in found]
    if missing:
        raise bad("unknown_group", f"No group is called {', '.join(missing)}.", field)
    return [found[n] for n in names]


def _moves(before: str, after: str) -> None:
    """Refuse a status change that makes no sense: an archived program is not opened."""
    if before == ARCHIVED and after in (PUBLIC, GRADUATED):
        raise bad(
            "archived",
            "An archived program cannot be opened or graduated; move it back to a private "
            "beta first.",
            "status",
        )
    if before == GRADUATED and after == DRAFT:
        raise bad("graduated", "A graduated program cannot go back to draft.", "status")


# ---------------------------------------------------------------------------------------------
# Saving


async def save(db: AsyncSession, program: Program | None, data: Any) -> Program:
    """Create (``program`` None) or change a program from the fields ``data`` holds; commits.
    Editing the terms text makes a new terms version that participants accept again."""
    if not isinstance(data, dict):
        raise bad("invalid_body", "Send a JSON object.")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise bad("invalid_body", f"Unknown fields: {', '.join(unknown)}.")
    creating = program is None
    if creating and "name" not in data:
        raise bad("invalid_name", "A program needs a name.", "name")
    target = program or Program(
        description="",
        status=DRAFT,
        terms="",
        terms_version=0,
        capacity=None,
        waitlist_open=False,
        questions=[],
        flags=[],
    )
    if "name" in data:
        target.name = _text(data["name"], "name", 100, required=True)
    if "slug" in data and data["slug"] not in (None, ""):
        target.slug = _slug(data["slug"])
    elif creating:
        target.slug = slugify(target.name, fallback="program", limit=64)
    clash = await db.scalar(
        select(Program.name).where(Program.slug == target.slug, Program.id != (target.id or 0))
    )
    if clash is not None:
        raise bad("slug_taken", f"The program {clash} already has the slug {target.slug}.", "slug")
    if "description" in data:
        target.description = _text(data["description"], "description", 5000)
    if "status" in data:
        status = _status(data["status"])
        if not creating:
            _moves(target.status, status)
        target.status = status
    if "terms" in data:
        terms = _text(data["terms"], "terms", 20000)
        if terms != target.terms:
            target.terms = terms
            target.terms_version += 1
    if "capacity" in data:
        target.capacity = _capacity(data["capacity"])
        if target.capacity is not None and not creating:
            taken = await count_participants(db, target.id)
            if taken > target.capacity:
                raise bad(
                    "invalid_capacity",
                    f"The program already has {taken} participants: capacity cannot be "
                    f"{target.capacity}.",
                    "capacity",
                )
    if "waitlist_open" in data:
        target.waitlist_open = _bool(data["waitlist_open"], "waitlist_open")
    if "questions" in data:
        target.questions = _questions(data["questions"])
    if "flags" in data:
        target.flags = _flags(data["flags"])
    categories = (
        await _categories(db, data["categories"], program) if "categories" in data else None
    )
    groups = (
        await groups_named(db, data["open_groups"], "open_groups")
        if "open_groups" in data
        else None
    )
    target.updated_at = utcnow()
    if creating:
        target.created_at = target.updated_at
        db.add(target)
    await db.flush()
    if categories is not None:
        await db.execute(delete(GatedCategory).where(GatedCategory.program_id == target.id))
        db.add_all(GatedCategory(category_id=c.id, program_id=target.id) for c in categories)
    if groups is not None:
        await db.execute(delete(OpenGroup).where(OpenGroup.program_id == target.id))
        db.add_all(OpenGroup(program_id=target.id, group_id=g.id) for g in groups)
    await clock.tick(db)
    await db.commit()
    return target


# ---------------------------------------------------------------------------------------------
# Reading


async def program_by_id(db: AsyncSession, program_id: int) -> Program:
    program = await db.get(Program, check_id(program_id, "program"))
    if program is None:
        raise ServiceError("not_found", "No such program.", 404)
    return program


async def count_participants(db: AsyncSession, program_id: int) -> int:
    return int(
        await db.scalar(
            select(func.count())
            .select_from(Participant)
            .where(Participant.program_id == program_id)
        )
        or 0
    )


async def is_participant(db: AsyncSession, program_id: int, member: Member) -> bool:
    return await db.get(Participant, (program_id, member.id)) is not None


async def listed(db: AsyncSession, member: Member) -> list[Program]:
    """The programs ``member`` may know of: every one for admins; for others those they
    take part in and those open to requests (not drafts)."""
    query = select(Program).order_by(Program.created_at, Program.id)
    if not member.is_admin:
        mine = select(Participant.program_id).where(Participant.member_id == member.id)
        query = query.where(
            Program.status != DRAFT, Program.id.in_(mine) | Program.waitlist_open.is_(True)
        )
    return list((await db.scalars(query)).all())


async def visible(db: AsyncSession, member: Member, program_id: int) -> Program:
    """One program ``member`` may know of; 404 (as if there were none) otherwise."""
    program = await program_by_id(db, program_id)
    if member.is_admin:
        return program
    if program.status != DRAFT and (
        program.waitlist_open or await is_participant(db, program.id, member)
    ):
        return program
    raise ServiceError("not_found", "No such program.", 404)


async def as_json(db: AsyncSession, program: Program, member: Member) -> dict[str, Any]:
    """The program as the API shows it: its gated categories, flags and counts only to
    admins and participants."""
    body: dict[str, Any] = {
        "id": program.id,
        "name": program.name,
        "slug": program.slug,
        "description": program.description,
        "status": program.status,
        "terms": program.terms,
        "terms_version": program.terms_version,
        "capacity": program.capacity,
        "waitlist_open": program.waitlist_open,
        "questions": list(program.questions),
    }
    participant = await db.get(Participant, (program.id, member.id))
    if participant is not None:
        body["me"] = {
            "accepted_version": participant.accepted_version,
            "joined_at": participant.joined_at.isoformat(),
        }
    if member.is_admin or participant is not None:
        rows = await db.execute(
            select(Category.id, Category.name)
            .join(GatedCategory, GatedCategory.category_id == Category.id)
            .where(GatedCategory.program_id == program.id)
            .order_by(Category.position, Category.name)
        )
        body["categories"] = [{"id": i, "name": n} for i, n in rows]
        body["flags"] = list(program.flags)
    if member.is_admin:
        groups = await db.scalars(
            select(Group.name)
            .join(OpenGroup, OpenGroup.group_id == Group.id)
            .where(OpenGroup.program_id == program.id)
            .order_by(Group.name_key)
        )
        waiting = await db.scalar(
            select(func.count())
            .select_from(JoinRequest)
            .where(JoinRequest.program_id == program.id, JoinRequest.admitted_at.is_(None))
        )
        body["open_groups"] = list(groups)
        body["participants"] = await count_participants(db, program.id)
        body["waiting"] = int(waiting or 0)
        body["created_at"] = program.created_at.isoformat()
        body["updated_at"] = program.updated_at.isoformat()
    return body
