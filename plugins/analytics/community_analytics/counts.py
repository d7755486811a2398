"""Reports that count things per day: posts, threads, reactions, new members."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from community_analytics.metrics import BY_CATEGORY
from community_analytics.reports import Definition, Period, Query, Report, Series, leader, trend


def _sum(found: dict[int, float]) -> float:
    return sum(found.values())


def count_report(metric: str, title: str, noun: str) -> Callable[[Query], Awaitable[Report]]:
    async def run(query: Query) -> Report:
        period, before = query.period, query.period.previous()
        found = await query.figures(metric, Period(before.start, period.end))
        per_day = [int(_sum(found.get(day, {}))) for day in period.dates()]
        total = sum(per_day)
        previous = int(sum(_sum(found.get(day, {})) for day in before.dates()))
        by_category = _by_category(query, found, period)
        summary = _sentence(query, title, noun, total, previous, by_category, found)
        return Report(
            name=metric,
            title=title,
            labels=[day.isoformat() for day in period.dates()],
            series=[Series(title, per_day)],  # type: ignore[arg-type]
            total=total,
            previous_total=previous,
            summary=summary,
            figures={"by_category": by_category} if metric in BY_CATEGORY else {},
        )

    return run


def _by_category(query: Query, found: dict, period: Period) -> dict[str, int]:
    totals: dict[str, int] = {}
    for day in period.dates():
        for category_id, value in found.get(day, {}).items():
            name = query.names.get(category_id, f"category {category_id}")
            totals[name] = totals.get(name, 0) + int(value)
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


def _sentence(
    query: Query,
    title: str,
    noun: str,
    total: int,
    previous: int,
    by_category: dict[str, int],
    found: dict,
) -> str:
    days = query.period.days
    moved = trend(total, previous, days)
    if not moved:
        if not total:
            return f"No {noun} in these {days} days or the previous {days}."
        named = noun if total != 1 else noun.removesuffix("s")
        return f"{total} {named} in these {days} days; none in the previous {days}."
    sentence = f"{title} {moved}"
    if total != previous and noun in {"posts", "threads", "reactions"}:
        before = _by_category(query, found, query.period.previous())
        name = leader(by_category, before, rising=total > previous)
        if name:
            sentence += f", {'led by' if total > previous else 'mostly in'} {name}"
    return f"{sentence} ({total} against {previous})."


REPORTS = [
    Definition(
        "posts",
        "Posts",
        "Posts written per day, opening posts and replies.",
        count_report("posts", "Posts", "posts"),
    ),
    Definition(
        "threads",
        "Threads",
        "Threads started per day.",
        count_report("threads", "Threads", "threads"),
    ),
    Definition(
        "reactions",
        "Reactions",
        "Reactions given per day.",
        count_report("reactions", "Reactions", "reactions"),
    ),
    Definition(
        "members",
        "New members",
        "Accounts made per day (those waiting for approval are not counted).",
        count_report("members", "New members", "new members"),
        by_category=False,
    ),
]
