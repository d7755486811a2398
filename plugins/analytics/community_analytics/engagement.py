"""Engaged members and participation. A member is engaged on a day they started a thread,
replied or reacted (each member once a day, whatever they did, on content that counts: see
``metrics``); participation is the share of the day's visitors (daily active members) who
were engaged.

Narrowed to a category, a member is engaged in it when they did something in its threads;
participation still divides by the whole community's visitors, since a visit belongs to no
category. Distinct members do not add up across days or categories, so the rollup keeps the
whole community's figure (``engaged``) beside each category's (``engaged_in``); a category
with subcategories, or a viewer who sees some categories only in part, is counted live.
"""

from __future__ import annotations

from sqlalchemy import func, select

from community_analytics.activity import member_rows
from community_analytics.metrics import METRICS
from community_analytics.models import SITE
from community_analytics.reports import (
    Definition,
    Query,
    Report,
    Series,
    plural,
    rounded,
    trend,
)

KINDS = {"started": "starting threads", "replied": "replying", "reacted": "reacting"}
"""What engaged members did, and how the sentence says it."""


async def per_day(query: Query) -> list[int]:
    """Engaged members on each day of the period, from the rollup where it can answer."""
    days = query.period.dates()
    scope = query.scope
    if scope.category_ids is None and not query.partial:
        found = await query.figures("engaged")
    elif scope.category_ids is not None and len(scope.category_ids) == 1:
        found = await query.figures("engaged_in")
    else:
        found = {day: await METRICS["engaged"](query.db, day, scope) for day in days}
    return [int(sum(found.get(day, {}).values())) for day in days]


async def engaged_members(query: Query) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """The members engaged at least once in the period and in the one before, per kind of
    doing: one query for both."""
    rows = await member_rows(query)
    found: tuple[dict[str, set[int]], dict[str, set[int]]] = (
        {kind: set() for kind in KINDS},
        {kind: set() for kind in KINDS},
    )
    grouped = await query.db.execute(
        select(
            rows.c.now,
            rows.c.member_id,
            func.sum(rows.c.started),
            func.sum(rows.c.replies),
            func.sum(rows.c.given),
        )
        .where(rows.c.member_id.is_not(None))
        .group_by(rows.c.now, rows.c.member_id)
    )
    for now, member_id, *done in grouped:
        for kind, count in zip(KINDS, done, strict=True):
            if count:
                found[0 if now else 1][kind].add(member_id)
    return found


async def run(query: Query) -> Report:
    period = query.period
    days = period.dates()
    engaged = await per_day(query)
    visiting_found = await query.figures("dau")
    visiting = [int(visiting_found.get(day, {}).get(SITE, 0)) for day in days]
    share = [rounded(e / v * 100, 1) if v else None for e, v in zip(engaged, visiting, strict=True)]
    participation = rounded(sum(engaged) / sum(visiting) * 100, 1) if sum(visiting) else None
    now, before = await engaged_members(query)
    total, previous = len(set().union(*now.values())), len(set().union(*before.values()))
    return Report(
        name="engaged",
        title="Engaged members",
        labels=[day.isoformat() for day in days],
        series=[
            Series("Engaged", engaged),  # type: ignore[arg-type]
            Series("Visiting", visiting),  # type: ignore[arg-type]
            Series("Participation (%)", share),
        ],
        total=total,
        previous_total=previous,
        summary=_sentence(total, previous, period.days, now, before, participation),
        figures={
            "participation_pct": participation,
            "mean_engaged": rounded(sum(engaged) / len(days)),
            **{kind: len(now[kind]) for kind in KINDS},
            "previous": {kind: len(before[kind]) for kind in KINDS},
        },
    )


def _sentence(
    total: int,
    previous: int,
    days: int,
    now: dict[str, set[int]],
    before: dict[str, set[int]],
    participation: float | None,
) -> str:
    moved = trend(total, previous, days)
    sentence = f"{plural(total, 'member')} engaged in these {days} days"
    if moved:
        sentence += f", {moved}"
        driver = _driver(now, before, rising=total > previous) if total != previous else None
        if driver:
            counts = f"{len(now[driver])} against {len(before[driver])}"
            sentence += f", {'led by' if total > previous else 'mostly'} {KINDS[driver]} ({counts})"
    elif total and not previous:
        sentence += f"; none in the previous {days}"
    if participation is not None:
        sentence += f"; {participation:g}% of the day's visitors took part on average"
    return sentence + "."


def _driver(now: dict[str, set[int]], before: dict[str, set[int]], rising: bool) -> str | None:
    """The kind of doing whose members moved most in the direction of the whole."""
    moves = {kind: len(now[kind]) - len(before[kind]) for kind in KINDS}
    kind = (max if rising else min)(KINDS, key=lambda k: moves[k])
    return kind if (moves[kind] > 0 if rising else moves[kind] < 0) else None


REPORTS = [
    Definition(
        "engaged",
        "Engaged members",
        "Members who started a thread, replied or reacted each day, and the share of the "
        "day's visitors they make (participation).",
        run,
    )
]
