"""Engagement by category: per category, the period's posts, participants (members who posted
or reacted there), reactions, median hours to a thread's first response (threads started in
the period, as ``responses`` counts them) and its share of the community's posts.

Each category (a subcategory on its own) is a row; one with fewer than ``MIN_SEGMENT``
participants is left out of the table, so no one can be picked out, and counted in
``figures["left_out"]``; its posts still count in the total and the shares.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import case, func, select

from community_analytics.activity import member_rows
from community_analytics.reports import (
    MIN_SEGMENT,
    Definition,
    Query,
    Report,
    Series,
    leader,
    median,
    rounded,
    trend,
)
from community_analytics.responses import both, started


async def _activity(query: Query) -> tuple[dict[int, dict[str, int]], dict[int, dict[str, int]]]:
    """Per category, in the period: posts, reactions and the members who did either; in the
    one before, posts and reactions (one pass over both periods' rows)."""
    rows = await member_rows(query)
    # Per member first, then per category: one pass, and a count of members that is hashed
    # where count(DISTINCT) would sort every row. A deleted member's posts count, not them.
    # Nothing needs the participants of the period before: its rows are not told apart.
    member = case((rows.c.now == 1, rows.c.member_id)).label("member_id")
    members = (
        select(
            rows.c.category_id,
            rows.c.now,
            member,
            func.sum(rows.c.posts).label("posts"),
            func.sum(rows.c.given).label("given"),
        )
        .where((rows.c.posts > 0) | (rows.c.given > 0))
        .group_by(rows.c.category_id, rows.c.now, member)
        .subquery()
    )
    grouped = await query.db.execute(
        select(
            members.c.category_id,
            members.c.now,
            func.sum(members.c.posts),
            func.sum(members.c.given),
            func.count(members.c.member_id),
        ).group_by(members.c.category_id, members.c.now)
    )
    now: dict[int, dict[str, int]] = {}
    before: dict[int, dict[str, int]] = {}
    for category_id, in_period, posts_, reactions_, participants in grouped:
        (now if in_period else before)[category_id] = {
            "posts": int(posts_ or 0),
            "reactions": int(reactions_ or 0),
            "participants": int(participants or 0),
        }
    return now, before


async def _response_hours(query: Query) -> dict[int, list[float]]:
    """Per category: hours to the first response of each answered thread started in the
    period: alone, those of the period; in a dashboard, the ones its response reports read
    for both periods (``responses.both``)."""
    found: dict[int, list[float]] = defaultdict(list)
    shared = query.shared is not None
    for thread in (await both(query))[0] if shared else await started(query, query.period):
        if thread.hours is not None:
            found[thread.category_id].append(thread.hours)
    return found


async def run(query: Query) -> Report:
    now, before = await _activity(query)
    hours = await _response_hours(query)
    total = sum(c["posts"] for c in now.values())
    previous = sum(c["posts"] for c in before.values())
    shown_ = sorted(
        (c for c in now if now[c]["participants"] >= MIN_SEGMENT),
        key=lambda c: (-now[c]["posts"], query.names.get(c, ""), c),
    )
    left_out = len(now) - len(shown_)
    rows = [
        {
            "id": c,
            "name": query.names.get(c, f"category {c}"),
            **now[c],
            "median_hours": rounded(median(hours.get(c, []))),
            "share_pct": rounded(now[c]["posts"] / total * 100, 1) if total else None,
            "previous_posts": before.get(c, {}).get("posts", 0),
        }
        for c in shown_
    ]
    return Report(
        name="categories",
        title="Engagement by category",
        labels=[r["name"] for r in rows],
        series=[
            Series("Posts", [r["posts"] for r in rows]),
            Series("Participants", [r["participants"] for r in rows]),
            Series("Reactions", [r["reactions"] for r in rows]),
            Series("Median hours to first response", [r["median_hours"] for r in rows]),
            Series("Share of posts (%)", [r["share_pct"] for r in rows]),
        ],
        total=total,
        previous_total=previous,
        summary=_sentence(rows, before, query, total, previous),
        figures={"categories": rows, "left_out": left_out, "min_segment": MIN_SEGMENT},
        chart="bar",
        label="category",
    )


def _sentence(
    rows: list[dict[str, Any]],
    before: dict[int, dict[str, int]],
    query: Query,
    total: int,
    previous: int,
) -> str:
    days = query.period.days
    if not rows:
        if not total:
            return f"No posts in any category in these {days} days."
        return f"No category had {MIN_SEGMENT} participants or more in these {days} days."
    first = rows[0]
    sentence = (
        f"{first['name']} drives engagement with {first['share_pct']:g}% of posts "
        f"({first['posts']} of {total})"
    )
    moved = trend(total, previous, days)
    if moved:
        now_posts = {r["name"]: r["posts"] for r in rows}
        named = {r["id"]: r["name"] for r in rows}
        then = {named[c]: before[c]["posts"] for c in named if c in before}
        name = leader(now_posts, then, rising=total > previous)
        sentence += f"; posts {moved}"
        if name:
            sentence += f", {'most of all in' if total > previous else 'mostly in'} {name}"
    return sentence + "."


REPORTS = [
    Definition(
        "categories",
        "Engagement by category",
        "Posts, participants, reactions, time to first response and share of posts per "
        f"category; categories with fewer than {MIN_SEGMENT} participants are left out.",
        run,
        by_category=False,
    )
]
