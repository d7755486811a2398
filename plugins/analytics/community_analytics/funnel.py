"""The invite funnel, overall and per inviter: the invites created in the period, and what became
of the people who joined with them.

The stages, each a part of the one before: invites created in the period; redeemed (accounts
made with them and usable: a multi-use invite counts once when created and once per account);
first post (the invitee wrote a post that is shown, in a thread the viewer may see, at any time
since); second week (and came back in days 7 to 13 after the day their account became usable,
in the community's time zone). Later outcomes are counted up to now, so a recent period has had
less time than the one before it.

With ``exclude_staff``, moderators and admins are left out as invitees (and the first admin's
setup link, whose invitee is an admin, as an invite); inviters are never left out, since admins
make most invites. Suspended invitees stay in: a suspension is an outcome of the invite, shown
among each inviter's invitees' penalties. Invites without a creator (the command line's, and
those whose creator's account is gone) are one row, ``COMMAND_LINE``.

Flags on invitees' posts and warnings come from the moderation plugin (``marks``): None
("n/a") while it is not enabled. Penalties are the core's ``MemberPenalised`` and always count.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Select, column, func, select, values

from community.accounts.models import Invite, Member
from community.db import UTCDateTime
from community.forum.models import Post, Thread
from community_analytics import marks
from community_analytics.metrics import live_post, shown, window
from community_analytics.models import Mark, Visit
from community_analytics.reports import (
    Definition,
    Period,
    Query,
    Report,
    Series,
    plural,
    trend,
)

STAGES = ["Invites created", "Redeemed", "First post", "Second week"]
SECOND_WEEK = (7, 13)
"""The days after joining (the joining day is day 0) that make the second week."""
COMMAND_LINE = "(command line)"
"""The row of invites nobody made on the site (not a username: those have no brackets)."""
STAFF = ("moderator", "admin")


@dataclass
class Invitee:
    """A member who joined with an invite of the period, and how far they went."""

    member_id: int
    inviter: str
    approved_at: datetime
    """When their account became usable."""
    joined: date
    """That day, in the community's time zone."""
    posted: bool = False
    returned: bool = False
    """Came back in their second week (the stage counts those who posted too)."""
    marks: Counter[str] = field(default_factory=Counter)


@dataclass
class Invites:
    """The invites created in a period, per inviter, and their invitees."""

    created: Counter[str] = field(default_factory=Counter)
    invitees: list[Invitee] = field(default_factory=list)
    by_inviter: dict[str, list[Invitee]] = field(init=False, repr=False)
    """The invitees per inviter, so that a report over thousands of inviters reads each once."""

    def __post_init__(self) -> None:
        self.by_inviter = defaultdict(list)
        for invitee in self.invitees:
            self.by_inviter[invitee.inviter].append(invitee)

    def stages(self, inviter: str | None = None) -> list[int]:
        """The count at each stage, of one inviter's invites or of all."""
        people = self.invitees if inviter is None else self.by_inviter.get(inviter, [])
        created = self.created[inviter] if inviter is not None else sum(self.created.values())
        posted = [i for i in people if i.posted]
        return [created, len(people), len(posted), sum(1 for i in posted if i.returned)]

    def marked(self, inviter: str, kind: str) -> int:
        return sum(i.marks[kind] for i in self.by_inviter.get(inviter, []))


def _made(query: Query, period: Period) -> list[Any]:
    """Conditions on ``Invite``: created in ``period`` and counted."""
    begin, end = period.span(query.scope.tz)
    found = [Invite.created_at >= begin, Invite.created_at < end]
    if query.scope.exclude:
        found.append(Invite.role.not_in(STAFF))
    return found


def _joined(query: Query, period: Period) -> Select[Any]:
    """The ids of the members who joined with an invite of ``period`` and count."""
    found = (
        select(Member.id)
        .join(Invite, Invite.id == Member.invite_id)
        .where(*_made(query, period), Member.approved_at.is_not(None))
    )
    if query.scope.exclude:
        found = found.where(Member.role.not_in(STAFF))
    return found


def _creator() -> Any:
    return select(Member.id, Member.username).subquery("creator")


async def created(query: Query, period: Period) -> Counter[str]:
    """Invites created in ``period``, per inviter."""
    creator = _creator()
    made = await query.db.execute(
        select(creator.c.username)
        .select_from(Invite)
        .outerjoin(creator, creator.c.id == Invite.created_by_id)
        .where(*_made(query, period))
    )
    return Counter(username or COMMAND_LINE for (username,) in made)


async def invites(query: Query, period: Period, with_marks: bool = False) -> Invites:
    """The invites created in ``period``, their invitees and how far each went."""
    db, tz = query.db, query.scope.tz
    joined = _joined(query, period)
    creator = _creator()
    rows = await db.execute(
        select(Member.id, Member.approved_at, creator.c.username, _posted(query).is_not(None))
        .join(Invite, Invite.id == Member.invite_id)
        .outerjoin(creator, creator.c.id == Invite.created_by_id)
        .where(Member.id.in_(joined))
    )
    by_id = {
        member_id: Invitee(
            member_id,
            username or COMMAND_LINE,
            approved_at,
            approved_at.astimezone(tz).date(),
            posted=bool(posted),
        )
        for member_id, approved_at, username, posted in rows
    }
    if by_id:
        for member_id, back in await db.execute(_back(query, joined, by_id.values())):
            invitee = by_id[member_id]
            invitee.returned = back is not None and (back - invitee.joined).days <= SECOND_WEEK[1]
        if with_marks:
            await _add_marks(query, joined, by_id)
    return Invites(await created(query, period), sorted(by_id.values(), key=lambda i: i.member_id))


def _posted(query: Query) -> Any:
    """The first post ``Member`` wrote that counts, or NULL: a subquery that stops at the first
    row, where PostgreSQL makes an EXISTS a join with every post of every invitee."""
    return (
        select(Post.id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.author_id == Member.id, *live_post(), *shown(query.scope))
        .limit(1)
        .scalar_subquery()
    )


def _back(query: Query, joined: Select[Any], invitees: Iterable[Invitee]) -> Select[Any]:
    """(member id, first visit since the start of their second week or NULL) of each invitee:
    one read of the visits' primary key each.

    The database knows no time zones to find the day an account became usable on, so the
    start of the second week comes from ``second_week``: a row per day the invitees joined,
    with that day's span in UTC (one matches; the limit stops the scan there)."""
    days = sorted({invitee.joined for invitee in invitees})
    week = (
        values(
            column("starts", UTCDateTime),
            column("ends", UTCDateTime),
            column("back_from", Date),
            name="second_week",
        )
        .data(
            [(*window(day, query.scope.tz), day + timedelta(days=SECOND_WEEK[0])) for day in days]
        )
        .cte()
    )
    back_from = (
        select(week.c.back_from)
        .where(Member.approved_at >= week.c.starts, Member.approved_at < week.c.ends)
        .correlate(Member)
        .limit(1)
        .scalar_subquery()
    )
    first = (
        select(func.min(Visit.day))
        .where(Visit.member_id == Member.id, Visit.day >= back_from)
        .scalar_subquery()
    )
    return select(Member.id, first).where(Member.id.in_(joined))


async def _add_marks(query: Query, joined: Select[Any], by_id: dict[int, Invitee]) -> None:
    """Count each invitee's marks since their account became usable, up to now."""
    rows = await query.db.execute(
        select(Mark.member_id, Mark.kind, Mark.at).where(
            Mark.member_id.in_(joined), Mark.at <= query.scope.now
        )
    )
    for member_id, kind, at in rows:
        invitee = by_id[member_id]
        if at >= invitee.approved_at:
            invitee.marks[kind] += 1


def _pct(part: int, whole: int) -> float | None:
    return round(part / whole * 100, 1) if whole else None


# -- the funnel -------------------------------------------------------------------------------


async def funnel_report(query: Query) -> Report:
    period = query.period
    now = await invites(query, period)
    counts = now.stages()
    before = (await invites(query, period.previous())).stages()
    today = query.scope.now.astimezone(query.scope.tz).date()
    waiting = sum(1 for i in now.invitees if (today - i.joined).days <= SECOND_WEEK[1])
    conversion = [None] + [_pct(counts[n], counts[n - 1]) for n in range(1, len(STAGES))]
    return Report(
        name="invites",
        title="Invite funnel",
        labels=STAGES,
        series=[Series("Count", counts)],  # type: ignore[arg-type]
        total=counts[1],
        previous_total=before[1],
        summary=_funnel_sentence(counts, before, period.days),
        figures={
            "created": counts[0],
            "redeemed": counts[1],
            "first_post": counts[2],
            "second_week": counts[3],
            "conversion_pct": conversion,
            "overall_pct": _pct(counts[3], counts[0]),
            "previous": before,
            "second_week_not_over": waiting,
        },
        chart="bar",
        label="stage",
    )


def _funnel_sentence(counts: list[int], before: list[int], days: int) -> str:
    created, redeemed, posted, returned = counts
    if not created:
        earlier = f"; {before[0]} in the previous {days}" if before[0] else ""
        return f"No invites were created in these {days} days{earlier}."
    sentence = (
        f"{plural(created, 'invite')} created in these {days} days brought "
        f"{plural(redeemed, 'member')}"
    )
    if redeemed:
        sentence += f" ({_pct(redeemed, created):g}%)"
    moved = trend(redeemed, before[1], days)
    sentence += f", {moved}" if moved else ""
    if redeemed:
        sentence += f"; {posted} posted and {returned} of those came back in their second week"
        drops = {
            STAGES[n]: counts[n - 1] - counts[n] for n in range(2, len(STAGES)) if counts[n - 1]
        }
        worst = max(drops, key=lambda stage: drops[stage], default=None)
        if worst and drops[worst]:
            sentence += f", most lost before the {worst.lower()} stage"
    return sentence + "."


# -- per inviter ------------------------------------------------------------------------------


def _ordered(found: Invites) -> list[str]:
    """Inviters with the most new members first, the command line last."""
    names = set(found.created) | {i.inviter for i in found.invitees}
    named = sorted(
        names - {COMMAND_LINE},
        key=lambda name: (-found.stages(name)[1], -found.created[name], name.lower()),
    )
    return named + ([COMMAND_LINE] if COMMAND_LINE in names else [])


async def inviters_report(query: Query) -> Report:
    period = query.period
    found = await invites(query, period, with_marks=True)
    before = await created(query, period.previous())
    names = _ordered(found)
    moderated = marks.moderated()
    stages = {name: found.stages(name) for name in names}
    columns: list[tuple[str, list[Any]]] = [
        (stage, [stages[name][n] for name in names]) for n, stage in enumerate(STAGES)
    ]
    for title, kind, heard in (
        ("Flags", "flag", moderated),
        ("Warnings", "warning", moderated),
        ("Penalties", "penalty", True),
    ):
        columns.append((title, [found.marked(name, kind) if heard else None for name in names]))
    total = len([n for n in names if n != COMMAND_LINE])
    previous = len([n for n in before if n != COMMAND_LINE])
    return Report(
        name="inviters",
        title="Invites by inviter",
        labels=names,
        series=[Series(title, data) for title, data in columns],
        total=total,
        previous_total=previous,
        summary=_inviters_sentence(found, names, total, previous, period.days, moderated),
        figures={
            "moderation": moderated,
            "redeemed_pct": {name: _pct(stages[name][1], stages[name][0]) for name in names},
        },
        chart="bar",
        label="inviter",
    )


def _inviters_sentence(
    found: Invites, names: list[str], total: int, previous: int, days: int, moderated: bool
) -> str:
    if not names:
        return f"Nobody created an invite in these {days} days."
    sentence = f"{plural(total, 'member')} created invites in these {days} days"
    moved = trend(total, previous, days)
    sentence += f", {moved}" if moved else ""
    best = names[0]
    brought = found.stages(best)[1]
    if brought:
        who = "the command line" if best == COMMAND_LINE else best
        posting = found.stages(best)[2]
        sentence += f"; {who} brought the most new members ({brought}, {posting} of them posting)"
    if moderated:
        flags = {name: found.marked(name, "flag") for name in names}
        worst = max(names, key=lambda name: flags[name])
        if flags[worst]:
            who = "the command line's" if worst == COMMAND_LINE else f"{worst}'s"
            sentence += f"; {who} invitees drew the most flags ({flags[worst]})"
    return sentence + "."


REPORTS = [
    Definition(
        "invites",
        "Invite funnel",
        "Invites created, redeemed, the invitees who posted and who came back in their "
        "second week.",
        funnel_report,
        by_category=False,
    ),
    Definition(
        "inviters",
        "Invites by inviter",
        "Each inviter's invites through the funnel, and their invitees' later flags, "
        "warnings and penalties.",
        inviters_report,
        by_category=False,
    ),
]
