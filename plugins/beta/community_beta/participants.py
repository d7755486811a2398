"""Who takes part in a program: members and whole groups an admin adds, members who leave,
the waitlist (a member asks to join, answering the program's questions; an admin admits
chosen members or the next N) and the terms each participant accepts. Capacity holds in
every way in; each member let in is told, by a private message from the admin who did it
(``beta.welcome``, a job run after the commit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.accounts.models import Member, group_members
from community.db import utcnow
from community.forum import conversations
from community.jobs import JobContext, enqueue
from community_beta import clock, programs
from community_beta.models import (
    ARCHIVED,
    DRAFT,
    GRADUATED,
    Acceptance,
    JoinRequest,
    Participant,
    Program,
)
from community_beta.programs import bad, no_nul

MAX_NAMES = 500
MAX_ADMIT = 500
MAX_ANSWER = 2000


def _names(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list) or len(value) > MAX_NAMES:
        raise bad(f"invalid_{field}", f"{field} is a list of at most {MAX_NAMES} names.", field)
    names = []
    for name in value:
        if not isinstance(name, str) or not name.strip().lstrip("@"):
            raise bad(f"invalid_{field}", f"{field} is a list of names.", field)
        key = no_nul(name, field).strip().lstrip("@").lower()
        if key not in names:
            names.append(key)
    return names


async def members_named(db: AsyncSession, usernames: list[str]) -> list[Member]:
    """The members called so (any case), or a 400 naming those nobody is called."""
    found = {
        m.username_key: m
        for m in (await db.scalars(select(Member).where(Member.username_key.in_(usernames))))
    }
    missing = [name for name in usernames if name not in found]
    if missing:
        raise bad("unknown_member", f"No member is called {', '.join(missing)}.", "usernames")
    return [found[name] for name in usernames]


async def _room(db: AsyncSession, program: Program, adding: int) -> None:
    """Refuse ``adding`` more participants than the program has places left (the program's
    row locked on PostgreSQL, so two admins admitting at once cannot overfill it)."""
    if program.capacity is None:
        return
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(select(Program.id).where(Program.id == program.id).with_for_update())
    taken = await programs.count_participants(db, program.id)
    left = max(program.capacity - taken, 0)
    if adding > left and left == 0:
        raise bad(
            "program_full", f"{program.name} is full: all {program.capacity} places are taken."
        )
    if adding > left:
        raise bad(
            "program_full",
            f"{program.name} has {left} of its {program.capacity} places left: "
            f"{adding} more cannot join.",
        )


async def _current(db: AsyncSession, program: Program, ids: Sequence[int]) -> set[int]:
    if not ids:
        return set()
    return set(
        await db.scalars(
            select(Participant.member_id).where(
                Participant.program_id == program.id, Participant.member_id.in_(ids)
            )
        )
    )


def check_open(program: Program) -> None:
    """Refuse joining a graduated or archived program."""
    if program.status in (GRADUATED, ARCHIVED):
        state = "graduated" if program.status == GRADUATED else "archived"
        raise bad("program_closed", f"{program.name} is {state}: nobody joins it any more.")


async def enrol(
    db: AsyncSession, program: Program, newcomers: list[tuple[Member, str]], actor: Member
) -> None:
    """Make ``newcomers`` participants when the program has room for them all, close their
    requests to join and have each told; commits. Every way in goes through here."""
    if not newcomers:
        return
    await _room(db, program, len(newcomers))
    now = utcnow()
    ids = [newcomer.id for newcomer, _ in newcomers]
    db.add_all(
        Participant(
            program_id=program.id,
            member_id=newcomer.id,
            via=via,
            added_by_id=actor.id,
            accepted_version=0,
            joined_at=now,
        )
        for newcomer, via in newcomers
    )
    # One job for them all: on SQLite, concurrent writers would trip over each other.
    await enqueue(db, "beta.welcome", program_id=program.id, member_ids=ids, actor_id=actor.id)
    await _close_requests(db, program, ids)
    await clock.tick(db)
    await db.commit()


async def add(db: AsyncSession, admin: Member, program: Program, data: Any) -> list[Member]:
    """Add the members named in ``usernames`` and every member of the groups named in
    ``groups`` (as they are now); those already in are left as they are. Returns who
    joined; commits. 400 when a name is unknown or the program has too few places."""
    if not isinstance(data, dict) or set(data) - {"usernames", "groups"}:
        raise bad("invalid_body", 'Send {"usernames": [...], "groups": [...]}.')
    usernames = _names(data.get("usernames"), "usernames")
    group_names = _names(data.get("groups"), "groups")
    if not usernames and not group_names:
        raise bad("invalid_body", "Name at least one member or group.", "usernames")
    check_open(program)
    named = await members_named(db, usernames) if usernames else []
    groups = await programs.groups_named(db, group_names, "groups") if group_names else []
    in_groups: list[Member] = []
    if groups:
        in_groups = list(
            (
                await db.scalars(
                    select(Member)
                    .join(group_members, group_members.c.member_id == Member.id)
                    .where(group_members.c.group_id.in_([g.id for g in groups]))
                    .order_by(Member.username_key)
                )
            ).unique()
        )
    wanted: dict[int, tuple[Member, str]] = {}
    for person in named:
        wanted.setdefault(person.id, (person, "admin"))
    for person in in_groups:
        wanted.setdefault(person.id, (person, "group"))
    already = await _current(db, program, list(wanted))
    newcomers = [(m, via) for i, (m, via) in wanted.items() if i not in already]
    await enrol(db, program, newcomers, admin)
    return [m for m, _ in newcomers]


async def leave(db: AsyncSession, member: Member, program: Program) -> None:
    """``member`` leaves the program by choice; commits. 400 when they are not in it."""
    participant = await db.get(Participant, (program.id, member.id))
    if participant is None:
        raise bad("not_participant", f"You are not in {program.name}.")
    await db.delete(participant)
    await clock.tick(db)
    await db.commit()


async def remove(db: AsyncSession, program: Program, username: str) -> None:
    """An admin takes a member out of the program; commits."""
    (person,) = await members_named(db, _names([username], "usernames"))
    participant = await db.get(Participant, (program.id, person.id))
    if participant is None:
        raise bad("not_participant", f"{person.username} is not in {program.name}.")
    await db.delete(participant)
    await clock.tick(db)
    await db.commit()


# ---------------------------------------------------------------------------------------------
# The waitlist


async def ask(db: AsyncSession, member: Member, program: Program, data: Any) -> JoinRequest:
    """``member`` asks to join, answering every question of the program; commits."""
    if not isinstance(data, dict) or set(data) - {"answers"}:
        raise bad("invalid_body", 'Send {"answers": ["...", ...]}, one per question.')
    if program.status == DRAFT or not program.waitlist_open:
        raise bad("waitlist_closed", f"{program.name} is not taking requests to join.")
    check_open(program)
    answers = data.get("answers", [])
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise bad("invalid_answers", "answers is a list of text, one per question.", "answers")
    answers = [no_nul(a, "answers").strip() for a in answers]
    if len(answers) != len(program.questions) or not all(answers):
        raise bad(
            "invalid_answers",
            f"Answer every question: {program.name} asks {len(program.questions)} and "
            f"{sum(1 for a in answers if a)} were answered.",
            "answers",
        )
    if any(len(a) > MAX_ANSWER for a in answers):
        raise bad("invalid_answers", f"An answer is at most {MAX_ANSWER:,} characters.", "answers")
    if await programs.is_participant(db, program.id, member):
        raise bad("already_participant", f"You are already in {program.name}.")
    request = await db.scalar(
        select(JoinRequest).where(
            JoinRequest.program_id == program.id, JoinRequest.member_id == member.id
        )
    )
    if request is not None and request.admitted_at is None:
        raise bad("already_waiting", f"You are already on the waitlist of {program.name}.")
    if request is None:
        request = JoinRequest(program_id=program.id, member_id=member.id)
        db.add(request)
    request.answers, request.requested_at, request.admitted_at = answers, utcnow(), None
    await db.commit()
    return request


@dataclass(frozen=True)
class Waiting:
    """A member on the waitlist, with what they answered."""

    member: Member
    answers: list[str]
    requested_at: datetime
    score: float | None = None
    """An engagement score, when something ranks the list (see ``waitlist``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.member.username,
            "display_name": self.member.display_name,
            "answers": list(self.answers),
            "requested_at": self.requested_at.isoformat(),
            "score": self.score,
        }


ORDERS = ("requested", "engagement")
"""How the waitlist can be ordered: by request date, or by engagement score (highest first)."""


async def waitlist(db: AsyncSession, program: Program, order: str = "requested") -> list[Waiting]:
    """Who waits to join: in the order they asked ("requested"), or by engagement score,
    highest first and ties in the order they asked ("engagement", with each one's score).
    Scores come through the core's ``member_scores`` hook (the analytics plugin's): without
    an enabled plugin rating members, "engagement" is a 400 saying so."""
    if order not in ORDERS:
        raise bad(
            "invalid_order",
            "order is requested (by request date) or engagement (by engagement score).",
            "order",
        )
    rows = await db.execute(
        select(Member, JoinRequest)
        .join(JoinRequest, JoinRequest.member_id == Member.id)
        .where(JoinRequest.program_id == program.id, JoinRequest.admitted_at.is_(None))
        .order_by(JoinRequest.requested_at, JoinRequest.id)
    )
    waiting = [Waiting(m, list(r.answers), r.requested_at) for m, r in rows]
    if order == "requested":
        return waiting
    scores = await plugins.member_scores(db, [w.member.id for w in waiting])
    if scores is None:
        raise bad(
            "scores_unavailable",
            "Ordering the waitlist by engagement needs the analytics plugin enabled: ask an "
            "admin to enable it on Admin → Plugins, or order by request date.",
            "order",
        )
    ranked = [replace(w, score=scores[w.member.id]) for w in waiting]
    return sorted(ranked, key=lambda w: -scores[w.member.id])  # stable: ties keep request order


async def is_waiting(db: AsyncSession, program: Program, member: Member) -> bool:
    """Whether ``member`` is on the program's waitlist (one query)."""
    found = await db.scalar(
        select(JoinRequest.id).where(
            JoinRequest.program_id == program.id,
            JoinRequest.member_id == member.id,
            JoinRequest.admitted_at.is_(None),
        )
    )
    return found is not None


async def admit(db: AsyncSession, admin: Member, program: Program, data: Any) -> list[Member]:
    """Admit the waiting members named in ``usernames``, or the next ``count`` in the
    waitlist's ``order`` ("requested", the default, or "engagement": see ``waitlist``; all
    there are when fewer wait); each is told. Commits; 400 for a name not on the waitlist or
    more members than places left."""
    if not isinstance(data, dict) or set(data) - {"count", "usernames", "order"}:
        raise bad(
            "invalid_body", 'Send {"count": N}, optionally with "order", or {"usernames": [...]}.'
        )
    if ("count" in data) == ("usernames" in data):
        raise bad("invalid_body", 'Send either {"count": N} or {"usernames": [...]}.')
    if "order" in data and "count" not in data:
        raise bad("invalid_body", 'order goes with {"count": N}: it says who is next.', "order")
    check_open(program)
    waiting = await waitlist(db, program, data.get("order", "requested"))
    if "usernames" in data:
        names = _names(data["usernames"], "usernames")
        if not names:
            raise bad("invalid_usernames", "Name at least one member to admit.", "usernames")
        by_name = {w.member.username_key: w.member for w in waiting}
        strangers = [name for name in names if name not in by_name]
        if strangers:
            await members_named(db, strangers)  # an unknown name is said so first
            raise bad(
                "not_waiting",
                f"{', '.join(strangers)} {'is' if len(strangers) == 1 else 'are'} not on the "
                f"waitlist of {program.name}.",
                "usernames",
            )
        chosen = [by_name[name] for name in names]
    else:
        count = data["count"]
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_ADMIT:
            raise bad("invalid_count", f"count is a whole number from 1 to {MAX_ADMIT}.", "count")
        if not waiting:
            raise bad("nobody_waiting", f"Nobody is on the waitlist of {program.name}.", "count")
        chosen = [w.member for w in waiting[:count]]
    await enrol(db, program, [(m, "waitlist") for m in chosen], admin)
    return chosen


async def _close_requests(db: AsyncSession, program: Program, member_ids: list[int]) -> None:
    """Mark the requests of members now in the program as admitted (one UPDATE)."""
    await db.execute(
        update(JoinRequest)
        .where(
            JoinRequest.program_id == program.id,
            JoinRequest.member_id.in_(member_ids),
            JoinRequest.admitted_at.is_(None),
        )
        .values(admitted_at=utcnow())
    )


# ---------------------------------------------------------------------------------------------
# Terms


async def accept(db: AsyncSession, member: Member, program: Program, data: Any) -> Acceptance:
    """``member`` accepts the program's current terms (the version they read); recorded with
    the time. Commits; 400 for an old or unknown version or a member not in the program."""
    if not isinstance(data, dict) or set(data) - {"version"}:
        raise bad("invalid_body", 'Send {"version": N}, the terms version you accept.')
    version = data.get("version")
    if isinstance(version, str) and version.strip().isdigit():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int):
        raise bad("invalid_version", "version is the number of the terms you accept.", "version")
    participant = await db.get(Participant, (program.id, member.id))
    if participant is None:
        raise bad("not_participant", f"You are not in {program.name}.")
    if program.terms_version == 0:
        raise bad("no_terms", f"{program.name} has no terms to accept.", "version")
    if version != program.terms_version:
        raise bad(
            "old_terms" if version < program.terms_version else "invalid_version",
            f"Version {version} is not the current terms of {program.name}: read and accept "
            f"version {program.terms_version}.",
            "version",
        )
    participant.accepted_version = version
    acceptance = Acceptance(
        program_id=program.id, member_id=member.id, version=version, accepted_at=utcnow()
    )
    db.add(acceptance)
    await clock.tick(db)
    await db.commit()
    return acceptance


async def acceptances(db: AsyncSession, program: Program) -> list[tuple[Member, Acceptance]]:
    """Every acceptance of the program's terms, newest first."""
    rows = await db.execute(
        select(Member, Acceptance)
        .join(Acceptance, Acceptance.member_id == Member.id)
        .where(Acceptance.program_id == program.id)
        .order_by(Acceptance.accepted_at.desc(), Acceptance.id.desc())
    )
    return [(m, a) for m, a in rows]


async def participants(db: AsyncSession, program: Program) -> list[tuple[Member, Participant]]:
    rows = await db.execute(
        select(Member, Participant)
        .join(Participant, Participant.member_id == Member.id)
        .where(Participant.program_id == program.id)
        .order_by(Member.username_key)
    )
    return [(m, p) for m, p in rows]


def participant_json(member: Member, participant: Participant, program: Program) -> dict[str, Any]:
    return {
        "username": member.username,
        "display_name": member.display_name,
        "via": participant.via,
        "joined_at": participant.joined_at.isoformat(),
        "accepted_version": participant.accepted_version,
        "accepted_current_terms": participant.accepted_version == program.terms_version,
    }


async def counts(db: AsyncSession, program: Program) -> dict[str, int]:
    total = await programs.count_participants(db, program.id)
    accepted = await db.scalar(
        select(func.count())
        .select_from(Participant)
        .where(
            Participant.program_id == program.id,
            Participant.accepted_version == program.terms_version,
        )
    )
    return {"participants": total, "accepted": int(accepted or 0)}


# ---------------------------------------------------------------------------------------------
# Telling a member they are in


WELCOME = (
    "You are now in the beta program **{name}**.\n\n"
    "{terms}"
    "You can leave the program at any time from its page: {link}"
)


async def welcome(ctx: JobContext, program_id: int, member_ids: list[int], actor_id: int) -> None:
    """Send each member a private message from the admin who let them in: a notification
    through the core's conversations, written in the job's own transaction. Once each: the
    participant is marked welcomed first, and one who left meanwhile is skipped."""
    db = ctx.db
    for member_id in member_ids:
        marked = await db.execute(
            update(Participant)
            .where(
                Participant.program_id == program_id,
                Participant.member_id == member_id,
                Participant.welcomed_at.is_(None),
            )
            .values(welcomed_at=utcnow())
        )
        if marked.rowcount == 1:  # type: ignore[attr-defined]
            await _welcome(db, program_id, member_id, actor_id)


async def _welcome(db: AsyncSession, program_id: int, member_id: int, actor_id: int) -> None:
    program = await db.get(Program, program_id)
    member = await db.get(Member, member_id)
    actor = await db.get(Member, actor_id)
    if program is None or member is None or actor is None or member.id == actor.id:
        return
    terms = (
        f"Before you see its categories, read and accept its terms (version "
        f"{program.terms_version}).\n\n"
        if program.terms_version
        else ""
    )
    current = plugins.active()
    await conversations.start(
        db,
        actor,
        usernames=[member.username],
        title=f"Welcome to {program.name}"[:150],
        body=WELCOME.format(name=program.name, terms=terms, link=f"/p/beta/programs/{program.id}"),
        site=current.site if current is not None else {},
    )
