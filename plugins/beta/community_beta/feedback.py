"""The feedback board: participants who accepted the current terms tell a running program
about a bug, an idea or praise (with a severity, optionally about a thread they can see);
every participant reads the whole board; admins triage each item (new, acknowledged,
planned, done, declined) and its author is told of the new status by a private message from
the admin (``beta.feedback_status``, a job run after the commit)."""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.accounts.models import Member
from community.db import utcnow
from community.errors import ServiceError
from community.forum import conversations, services, visibility
from community.forum.models import Thread
from community.jobs import JobContext, enqueue
from community_beta.models import (
    ARCHIVED,
    DRAFT,
    FEEDBACK_STATUSES,
    GRADUATED,
    KINDS,
    SEVERITIES,
    Feedback,
    Participant,
    Program,
)
from community_beta.programs import bad, no_nul

FIELDS = ("kind", "severity", "title", "body", "thread_id")
TITLE_MIN, TITLE_MAX = 3, 150
BODY_MAX = 10_000
MAX_LISTED = 500
"""The board shows the newest this many items."""


# ---------------------------------------------------------------------------------------------
# Checking what a participant sends


def _choice(value: Any, field: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.strip().lower() not in choices:
        raise bad(f"invalid_{field}", f"{field} is one of {', '.join(choices)}.", field)
    return value.strip().lower()


def _title(value: Any) -> str:
    if not isinstance(value, str):
        raise bad("invalid_title", "title is text.", "title")
    value = no_nul(value, "title")
    value = "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cf"))
    value = " ".join(value.split())
    if not TITLE_MIN <= len(value) <= TITLE_MAX:
        raise bad(
            "invalid_title",
            f"A title is {TITLE_MIN} to {TITLE_MAX} characters long; this one has {len(value)}.",
            "title",
        )
    return value


def _body(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad("invalid_body", "body is text.", "body")
    value = no_nul(value, "body").strip()
    if len(value) > BODY_MAX:
        raise bad(
            "invalid_body",
            f"body is at most {BODY_MAX:,} characters; this one has {len(value):,}.",
            "body",
        )
    return value


async def _thread(db: AsyncSession, member: Member, value: Any) -> Thread | None:
    """The forum thread ``value`` names, if ``member`` may see it (the core's visibility,
    in the query); any other id is "no such thread", whether it exists or not."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        value = value.strip().lstrip("#")
    try:
        thread = await services.thread_for(db, member, value)
    except ServiceError:
        raise bad("unknown_thread", "No such thread.", "thread_id") from None
    if thread.category_id is None:
        raise bad(
            "invalid_thread",
            "Link a thread of the forum: the board is shared, a private conversation is not.",
            "thread_id",
        )
    return thread


# ---------------------------------------------------------------------------------------------
# Who may do what


async def _participant(db: AsyncSession, program: Program, member: Member) -> Participant | None:
    return await db.get(Participant, (program.id, member.id))


def _accepted(program: Program, participant: Participant | None) -> bool:
    return participant is not None and participant.accepted_version == program.terms_version


async def may_read(db: AsyncSession, program: Program, member: Member) -> bool:
    """Admins and the participants who accepted the current terms read the board."""
    return member.is_admin or _accepted(program, await _participant(db, program, member))


async def may_send(db: AsyncSession, program: Program, member: Member) -> bool:
    """Whether ``member`` may send feedback now (the page shows the form only then)."""
    return program.status not in (DRAFT, ARCHIVED, GRADUATED) and _accepted(
        program, await _participant(db, program, member)
    )


def _running(program: Program) -> None:
    if program.status == DRAFT:
        raise bad("program_closed", f"{program.name} has not started: no feedback yet.")
    if program.status == ARCHIVED:
        raise bad("program_closed", f"{program.name} is archived: its feedback is read-only.")
    if program.status == GRADUATED:
        raise bad("program_closed", f"{program.name} has graduated: it takes no more feedback.")


# ---------------------------------------------------------------------------------------------
# Sending, listing, triage


async def send(db: AsyncSession, member: Member, program: Program, data: Any) -> Feedback:
    """``member`` sends feedback to ``program``: ``kind``, ``title``, and optionally
    ``severity`` (normal), ``body`` and ``thread_id``. Commits; 400 saying what is wrong."""
    if not isinstance(data, dict):
        raise bad("invalid_body", 'Send {"kind", "title", "body", "severity"?, "thread_id"?}.')
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise bad("invalid_body", f"Unknown fields: {', '.join(unknown)}.")
    _running(program)
    participant = await _participant(db, program, member)
    if participant is None:
        raise bad("not_participant", f"You are not in {program.name}.")
    if not _accepted(program, participant):
        raise bad(
            "terms_not_accepted",
            f"Accept the current terms of {program.name} (version {program.terms_version}) "
            "before sending feedback.",
        )
    kind = _choice(data.get("kind"), "kind", KINDS)
    severity = data.get("severity")
    severity = "normal" if severity in (None, "") else _choice(severity, "severity", SEVERITIES)
    title = _title(data.get("title"))
    body = _body(data.get("body"))
    thread = await _thread(db, member, data.get("thread_id"))
    now = utcnow()
    item = Feedback(
        program_id=program.id,
        author_id=member.id,
        kind=kind,
        severity=severity,
        title=title,
        body=body,
        thread_id=thread.id if thread is not None else None,
        status="new",
        created_at=now,
        updated_at=now,
    )
    db.add(item)
    await db.commit()
    return item


def _filter(value: Any, field: str, choices: tuple[str, ...]) -> str | None:
    if value in (None, ""):
        return None
    return _choice(value, field, choices)


async def listing(
    db: AsyncSession,
    member: Member,
    program: Program,
    status: Any = None,
    kind: Any = None,
) -> list[dict[str, Any]]:
    """The program's feedback, newest first, as JSON (``status`` and ``kind`` narrow it):
    the board is shared, so every participant who accepted the terms reads all of it. A
    linked thread is shown only to those who may see it."""
    if not await may_read(db, program, member):
        raise ServiceError(
            "forbidden",
            f"Only the participants of {program.name} who accepted its terms read its feedback.",
            403,
        )
    query = (
        select(Feedback, Member.username, Member.display_name)
        .outerjoin(Member, Member.id == Feedback.author_id)
        .where(Feedback.program_id == program.id)
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
        .limit(MAX_LISTED)
    )
    status = _filter(status, "status", FEEDBACK_STATUSES)
    kind = _filter(kind, "kind", KINDS)
    if status:
        query = query.where(Feedback.status == status)
    if kind:
        query = query.where(Feedback.kind == kind)
    rows = (await db.execute(query)).all()
    linked = {item.thread_id for item, _, _ in rows if item.thread_id is not None}
    threads = await _threads_seen(db, member, linked)
    return [feedback_json(item, username, name, threads) for item, username, name in rows]


async def _threads_seen(
    db: AsyncSession, member: Member, ids: set[int]
) -> dict[int, dict[str, Any]]:
    """The linked threads ``member`` may see (the core's visibility, in the query)."""
    if not ids:
        return {}
    found = await db.scalars(select(Thread).where(Thread.id.in_(ids), visibility.threads(member)))
    return {t.id: {"id": t.id, "title": t.title, "url": t.url} for t in found}


def feedback_json(
    item: Feedback,
    username: str | None,
    display_name: str | None,
    threads: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    """An item as the API shows it; ``threads``: the linked threads the reader may see."""
    thread = threads.get(item.thread_id) if item.thread_id is not None else None
    return {
        "id": item.id,
        "program_id": item.program_id,
        "kind": item.kind,
        "severity": item.severity,
        "title": item.title,
        "body": item.body,
        "status": item.status,
        "author": username,
        "author_name": display_name,
        "thread": thread,
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }


async def item_json(db: AsyncSession, member: Member, item: Feedback) -> dict[str, Any]:
    """One item as the API shows it to ``member``."""
    author = await db.get(Member, item.author_id) if item.author_id is not None else None
    threads = await _threads_seen(db, member, {item.thread_id} if item.thread_id else set())
    return feedback_json(
        item,
        author.username if author else None,
        author.display_name if author else None,
        threads,
    )


async def feedback_by_id(db: AsyncSession, feedback_id: Any) -> Feedback:
    item = await db.get(Feedback, services.check_id(feedback_id, "feedback"))
    if item is None:
        raise ServiceError("not_found", "No such feedback.", 404)
    return item


async def triage(db: AsyncSession, admin: Member, item: Feedback, data: Any) -> Feedback:
    """An admin sets ``status``; the author (unless it is the admin) is told the new status
    by a private message after the commit. The same status again changes nothing. Commits."""
    if not admin.is_admin:
        raise ServiceError("forbidden", "Only admins triage feedback.", 403)
    if not isinstance(data, dict) or set(data) != {"status"}:
        raise bad("invalid_body", 'Send {"status": "..."}.')
    status = _choice(data["status"], "status", FEEDBACK_STATUSES)
    if status == item.status:
        return item
    item.status, item.updated_at = status, utcnow()
    if item.author_id is not None and item.author_id != admin.id:
        await enqueue(
            db, "beta.feedback_status", feedback_id=item.id, status=status, actor_id=admin.id
        )
    await db.commit()
    return item


async def counts(db: AsyncSession, program: Program) -> dict[str, Any]:
    """How many items the program has: in all, by status and by kind (every one named)."""
    by_status = dict(
        (
            await db.execute(
                select(Feedback.status, func.count())
                .where(Feedback.program_id == program.id)
                .group_by(Feedback.status)
            )
        ).all()
    )
    by_kind = dict(
        (
            await db.execute(
                select(Feedback.kind, func.count())
                .where(Feedback.program_id == program.id)
                .group_by(Feedback.kind)
            )
        ).all()
    )
    return {
        "total": sum(by_status.values()),
        "status": {s: int(by_status.get(s, 0)) for s in FEEDBACK_STATUSES},
        "kind": {k: int(by_kind.get(k, 0)) for k in KINDS},
    }


# ---------------------------------------------------------------------------------------------
# Telling the author


STATUS_WORDS = {
    "new": "is back among the new feedback",
    "acknowledged": "was acknowledged",
    "planned": "is planned",
    "done": "is done",
    "declined": "was declined",
}
TOLD = "Your feedback **{title}** to {name} {words} (status: {status}).\n\nThe board: {link}"


async def told(ctx: JobContext, feedback_id: int, status: str, actor_id: int) -> None:
    """Send the author a private message from the admin who changed the status, through the
    core's conversations (which notifies them). Skipped when the item is gone, its author
    left, or its status changed again since (that change has a job of its own)."""
    db = ctx.db
    item = await db.get(Feedback, feedback_id)
    if item is None or item.status != status or item.author_id is None:
        return
    program = await db.get(Program, item.program_id)
    author = await db.get(Member, item.author_id)
    actor = await db.get(Member, actor_id)
    if program is None or author is None or actor is None or author.id == actor.id:
        return
    current = plugins.active()
    await conversations.start(
        db,
        actor,
        usernames=[author.username],
        title=f"Your feedback {STATUS_WORDS[status]}: {item.title}"[:200],
        body=TOLD.format(
            title=item.title,
            name=program.name,
            words=STATUS_WORDS[status],
            status=status,
            link=f"/p/beta/programs/{program.id}#feedback",
        ),
        site=current.site if current is not None else {},
    )
