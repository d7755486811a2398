"""Shares and clicks: threads shared to other networks (the cross-posting plugin's
``DeliverySent``, whose ``link`` carries the target's ``utm_`` tags) and tagged links followed
back into the community (the core's ``LinkFollowed``, members and visitors on their way to sign
in alike), counted per day, source (``utm_source``; the network when a share's link has none),
campaign and thread in ``analytics_campaigns``.

The report ranks sources by clicks. Threads the viewer may not see are left out, and so are
their clicks; clicks on pages that are not a thread's count for their source.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, or_, select

from community import plugins
from community.db import utcnow
from community.events import Event
from community.forum.models import Thread
from community_analytics.models import Campaign, insert
from community_analytics.reports import Definition, Query, Report, Series, plural, trend

TOP = 10
"""Sources charted and threads listed."""
MAX_TAG = 100


async def record(event: Event) -> None:
    """Count a share (``DeliverySent``) or a click (``LinkFollowed``) on its day."""
    thread_id = getattr(event, "thread_id", None) or 0
    if event.name == "DeliverySent":
        tags = parse_qs(urlsplit(getattr(event, "link", "") or "").query)
        source = (tags.get("utm_source") or [getattr(event, "network", "")])[0]
        campaign = (tags.get("utm_campaign") or [""])[0]
        counts = {"shares": 1, "clicks": 0, "member_clicks": 0}
        at = utcnow()
    else:
        source, campaign = event.source, event.campaign  # type: ignore[attr-defined]
        member = getattr(event, "member_id", None) is not None
        counts = {"shares": 0, "clicks": 1, "member_clicks": int(member)}
        at = datetime.fromisoformat(event.at)  # type: ignore[attr-defined]
    if not source.strip():
        return
    day = at.astimezone(plugins.settings("analytics").tz).date()
    async with plugins.session() as db:
        if thread_id and await db.get(Thread, thread_id) is None:
            thread_id = 0  # a visitor's link to a thread that is not there
        row = {
            "day": day,
            "source": source.strip()[:MAX_TAG],
            "campaign": campaign.strip()[:MAX_TAG],
            "thread_id": thread_id,
            **counts,
        }
        statement = insert(db, Campaign).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["day", "source", "campaign", "thread_id"],
            set_={
                name: getattr(Campaign, name) + getattr(statement.excluded, name) for name in counts
            },
        )
        await db.execute(statement)
        await db.commit()


async def _rows(query: Query) -> list[Any]:
    """The period's and the period before's rows the viewer may see: (now, source, campaign,
    thread id, shares, clicks, member clicks), summed over days."""
    before = query.period.previous()
    now = (Campaign.day >= query.period.start).label("now")
    seen = select(Thread.id).where(*query.scope.conditions)
    statement = (
        select(
            now,
            Campaign.source,
            Campaign.campaign,
            Campaign.thread_id,
            func.sum(Campaign.shares),
            func.sum(Campaign.clicks),
            func.sum(Campaign.member_clicks),
        )
        .where(
            Campaign.day.between(before.start, query.period.end),
            or_(Campaign.thread_id == 0, Campaign.thread_id.in_(seen)),
        )
        .group_by(now, Campaign.source, Campaign.campaign, Campaign.thread_id)
    )
    return list(await query.db.execute(statement))


async def _titles(query: Query, ids: list[int]) -> dict[int, Thread]:
    if not ids:
        return {}
    found = await query.db.scalars(select(Thread).where(Thread.id.in_(ids)))
    return {thread.id: thread for thread in found}


async def run(query: Query) -> Report:
    rows = await _rows(query)
    sources: dict[str, dict[str, int]] = defaultdict(lambda: {"shares": 0, "clicks": 0})
    campaigns: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"shares": 0, "clicks": 0}
    )
    threads: dict[int, dict[str, int]] = defaultdict(lambda: {"shares": 0, "clicks": 0})
    totals = {"shares": 0, "clicks": 0, "member_clicks": 0}
    previous = {"shares": 0, "clicks": 0}
    for in_period, source, campaign, thread_id, shares, clicks, member_clicks in rows:
        shares, clicks = int(shares or 0), int(clicks or 0)
        if not in_period:
            previous["shares"] += shares
            previous["clicks"] += clicks
            continue
        totals["shares"] += shares
        totals["clicks"] += clicks
        totals["member_clicks"] += int(member_clicks or 0)
        for counted in (sources[source], campaigns[(source, campaign)]):
            counted["shares"] += shares
            counted["clicks"] += clicks
        if thread_id:
            threads[thread_id]["shares"] += shares
            threads[thread_id]["clicks"] += clicks
    ranked = sorted(sources, key=lambda s: (-sources[s]["clicks"], -sources[s]["shares"], s))
    shown = ranked[:TOP]
    top = sorted(threads, key=lambda t: (-threads[t]["clicks"], -threads[t]["shares"], -t))[:TOP]
    found = await _titles(query, top)
    return Report(
        name="shares",
        title="Shares and clicks",
        labels=shown,
        series=[
            Series("Clicks", [sources[s]["clicks"] for s in shown]),
            Series("Shares", [sources[s]["shares"] for s in shown]),
        ],
        total=totals["clicks"],
        previous_total=previous["clicks"],
        summary=_sentence(query, totals, previous, ranked, sources),
        figures={
            "shares": totals["shares"],
            "previous_shares": previous["shares"],
            "member_clicks": totals["member_clicks"],
            "clicks_per_share": round(totals["clicks"] / totals["shares"], 2)
            if totals["shares"]
            else None,
            "campaigns": [
                {"source": source, "campaign": campaign, **counted}
                for (source, campaign), counted in sorted(
                    campaigns.items(), key=lambda item: (-item[1]["clicks"], item[0])
                )
            ],
            "threads": [
                {
                    "id": t,
                    "title": found[t].title,
                    "url": found[t].url,
                    **threads[t],
                }
                for t in top
                if t in found
            ],
        },
        chart="bar",
        label="source",
    )


def _sentence(
    query: Query,
    totals: dict[str, int],
    previous: dict[str, int],
    ranked: list[str],
    sources: dict[str, dict[str, int]],
) -> str:
    days = query.period.days
    if not totals["clicks"] and not totals["shares"]:
        return f"No threads shared and no tagged links followed in these {days} days."
    sentence = (
        f"{plural(totals['clicks'], 'click')} on tagged links and "
        f"{plural(totals['shares'], 'share')} to other networks in these {days} days"
    )
    moved = trend(totals["clicks"], previous["clicks"], days)
    if moved:
        sentence += f"; clicks {moved}"
    first = ranked[0]
    if sources[first]["clicks"]:
        sentence += f"; {first} brought the most ({sources[first]['clicks']})"
    if totals["clicks"]:
        sentence += f"; {totals['member_clicks']} by signed-in members"
    return sentence + "."


REPORTS = [
    Definition(
        "shares",
        "Shares and clicks",
        "Threads shared to other networks (the cross-posting plugin) and clicks on links "
        "tagged with utm_source back into the community, per source, campaign and thread.",
        run,
        by_category=False,
    )
]
