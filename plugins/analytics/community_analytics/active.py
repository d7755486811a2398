"""Active members: daily, weekly and monthly (DAU, WAU, MAU) and stickiness (DAU / MAU). A
member is active on a day they opened a page, signed in, posted or reacted (``tracking``)."""

from __future__ import annotations

from sqlalchemy import case, func, select

from community_analytics.metrics import counted
from community_analytics.models import SITE, Visit
from community_analytics.reports import Definition, Query, Report, Series, plural, rounded, trend


async def distinct_active(query: Query) -> tuple[int, int]:
    """Members active at least once in the period, and in the one before: one query."""
    period, before = query.period, query.period.previous()
    pairs = (
        select(Visit.member_id, case((Visit.day >= period.start, 1), else_=0).label("now"))
        .where(
            Visit.day >= before.start,
            Visit.day <= period.end,
            *counted(Visit.member_id, query.scope),
        )
        .distinct()
        .subquery()
    )
    found = dict(
        (now, int(count))
        for now, count in await query.db.execute(
            select(pairs.c.now, func.count()).group_by(pairs.c.now)
        )
    )
    return found.get(1, 0), found.get(0, 0)


async def run(query: Query) -> Report:
    period = query.period
    days = period.dates()
    series = {}
    for metric in ("dau", "wau", "mau"):
        found = await query.figures(metric)
        series[metric] = [int(found.get(day, {}).get(SITE, 0)) for day in days]
    sticky = [
        rounded(dau / mau * 100, 1) if mau else None
        for dau, mau in zip(series["dau"], series["mau"], strict=True)
    ]
    mean_dau = sum(series["dau"]) / len(days)
    mean_mau = sum(series["mau"]) / len(days)
    stickiness = rounded(mean_dau / mean_mau * 100, 1) if mean_mau else None
    total, previous = await distinct_active(query)
    return Report(
        name="active",
        title="Active members",
        labels=[day.isoformat() for day in days],
        series=[
            Series("Daily active", series["dau"]),  # type: ignore[arg-type]
            Series("Weekly active", series["wau"]),  # type: ignore[arg-type]
            Series("Monthly active", series["mau"]),  # type: ignore[arg-type]
            Series("Stickiness (%)", sticky),
        ],
        total=total,
        previous_total=previous,
        summary=_sentence(total, previous, period.days, stickiness),
        figures={
            "mean_dau": rounded(mean_dau),
            "mean_mau": rounded(mean_mau),
            "stickiness_pct": stickiness,
        },
    )


def _sentence(total: int, previous: int, days: int, stickiness: float | None) -> str:
    moved = trend(total, previous, days)
    sentence = f"{plural(total, 'member')} active in these {days} days"
    sentence += f", {moved}" if moved else ""
    if stickiness is not None:
        sentence += f"; stickiness (daily / monthly active) {stickiness:g}%"
    return sentence + "."


REPORTS = [
    Definition(
        "active",
        "Active members",
        "Members active each day, in the last 7 and 30 days, and how many return daily.",
        run,
        by_category=False,
    )
]
