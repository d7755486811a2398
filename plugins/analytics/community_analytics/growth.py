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

from sqlalchemy import select

from community.accounts.models import Member
from community_analytics.metrics import counted, window
from community_analytics.models import Visit
from community_analytics.reports import Definition, Period, Query, Report, Series, rounded, trend

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


async def active_members(query: Query, period: Period) -> set[int]:
    """Members active at least once in ``period``."""
    found = await query.db.scalars(
        select(Visit.member_id)
        .where(
            Visit.day >= period.start,
            Visit.day <= period.end,
            *counted(Visit.member_id, query.scope),
        )
        .distinct()
    )
    return set(found)


async def joined(query: Query, period: Period) -> set[int]:
    """Members whose (approved) account was made in ``period``."""
    start, _ = window(period.start, query.scope.tz)
    _, end = window(period.end, query.scope.tz)
    found = await query.db.scalars(
        select(Member.id).where(
            Member.created_at >= start,
            Member.created_at < end,
            Member.approved_at.is_not(None),
            *counted(Member.id, query.scope),
        )
    )
    return set(found)


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
    now_active = await active_members(query, period)
    before_active = await active_members(query, previous)
    earlier_active = await active_members(query, previous.previous())
    now = flow(await joined(query, period), now_active, before_active)
    before = flow(await joined(query, previous), before_active, earlier_active)
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
            f"{now.active} active member{'s' if now.active != 1 else ''} in these {days} days,"
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
