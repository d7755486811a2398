"""Growth and churn: how the active membership of the period came about from the previous
period of the same length. Members active in either period split into four groups:

- retained: active in both;
- churned: active in the previous period but not in this one;
- new and active: active in this period only, and joined in it;
- returning: active in this period only, though they joined before it.

So net growth (active now less active before) is new and active plus returning less churned.
"New members" counts the accounts made in the period (approved), active or not. The total is
the period's active members, so its change is the net growth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, select

from community.accounts.models import Member
from community_analytics.metrics import counted
from community_analytics.models import Visit
from community_analytics.reports import (
    Definition,
    Period,
    Query,
    Report,
    Series,
    plural,
    rounded,
    trend,
)

LABELS = {
    "new": "New members",
    "active": "Active members",
    "retained": "Retained",
    "new_active": "New and active",
    "returning": "Returning",
    "churned": "Churned",
    "net": "Net growth",
}


@dataclass(frozen=True)
class Flow:
    """One period's figures against the period before it."""

    new: int
    active: int
    retained: int
    new_active: int
    returning: int
    churned: int
    previous_active: int

    @property
    def net(self) -> int:
        return self.active - self.previous_active

    @property
    def churn_pct(self) -> float | None:
        """Churned members as a share of the previous period's active members."""
        if not self.previous_active:
            return None
        return rounded(self.churned / self.previous_active * 100, 1)

    def figures(self) -> dict[str, int]:
        return {key: getattr(self, key) for key in LABELS}


async def active_members(query: Query, periods: list[Period]) -> list[set[int]]:
    """Members active at least once in each of ``periods`` (consecutive, oldest first): one
    query for all of them."""
    found: list[set[int]] = [set() for _ in periods]
    which = case(
        *((Visit.day >= period.start, n) for n, period in reversed(list(enumerate(periods)))),
        else_=0,
    )
    rows = await query.db.execute(
        select(Visit.member_id, which)
        .where(
            Visit.day >= periods[0].start,
            Visit.day <= periods[-1].end,
            *counted(Visit.member_id, query.scope),
        )
        .distinct()
    )
    for member_id, n in rows:
        found[n].add(member_id)
    return found


async def joined(query: Query, periods: list[Period]) -> list[set[int]]:
    """Members whose (approved) account was made in each of ``periods`` (consecutive, oldest
    first): one query for all of them."""
    tz = query.scope.tz
    start, _ = periods[0].span(tz)
    _, end = periods[-1].span(tz)
    found: list[set[int]] = [set() for _ in periods]
    rows = await query.db.execute(
        select(Member.id, Member.created_at).where(
            Member.created_at >= start,
            Member.created_at < end,
            Member.approved_at.is_not(None),
            *counted(Member.id, query.scope),
        )
    )
    for member_id, created_at in rows:
        found[_which(periods, created_at.astimezone(tz).date())].add(member_id)
    return found


def _which(periods: list[Period], day: date) -> int:
    """The index of the period of ``periods`` holding ``day``."""
    return next(n for n, period in enumerate(periods) if period.start <= day <= period.end)


def flow(new: set[int], active: set[int], before: set[int]) -> Flow:
    """How ``active`` came from ``before``, ``new`` being the members who joined meanwhile."""
    arrived = active - before
    return Flow(
        new=len(new),
        active=len(active),
        retained=len(active & before),
        new_active=len(arrived & new),
        returning=len(arrived - new),
        churned=len(before - active),
        previous_active=len(before),
    )


async def run(query: Query) -> Report:
    period = query.period
    previous = period.previous()
    earlier_active, before_active, now_active = await active_members(
        query, [previous.previous(), previous, period]
    )
    joined_before, joined_now = await joined(query, [previous, period])
    now = flow(joined_now, now_active, before_active)
    before = flow(joined_before, before_active, earlier_active)
    figures: dict[str, object] = {
        **now.figures(),
        "churn_pct": now.churn_pct,
        "previous": {**before.figures(), "churn_pct": before.churn_pct},
    }
    return Report(
        name="growth",
        title="Growth and churn",
        labels=list(LABELS.values()),
        series=[
            Series("This period", list(now.figures().values())),  # type: ignore[arg-type]
            Series("Previous period", list(before.figures().values())),  # type: ignore[arg-type]
        ],
        total=now.active,
        previous_total=now.previous_active,
        summary=_sentence(now, period.days),
        figures=figures,
        chart="bar",
        label="figure",
    )


def _sentence(now: Flow, days: int) -> str:
    moved = trend(now.active, now.previous_active, days)
    if not moved:
        if not now.active:
            return f"No active members in these {days} days or the previous {days}."
        return (
            f"{plural(now.active, 'active member')} in these {days} days,"
            f" {now.new_active} of them new; none in the previous {days}."
        )
    came = f"{now.new_active} new and {now.returning} returning"
    went = f"{now.churned} who churned"
    if now.net > 0:
        why = f"{came} outweighed {went}"
    elif now.net < 0:
        why = f"{went} outweighed {came}"
    else:
        why = f"{came} made up for {went}"
    rate = f" (churn {now.churn_pct:g}%)" if now.churn_pct is not None else ""
    return f"Active members {moved} ({now.active} against {now.previous_active}): {why}{rate}."


REPORTS = [
    Definition(
        "growth",
        "Growth and churn",
        "New, returning and churned members (active in the previous period of the same "
        "length but not in this one), and the net growth of active members.",
        run,
        by_category=False,
    )
]
