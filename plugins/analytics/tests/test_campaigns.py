"""Shares and clicks: a share (the cross-posting plugin's ``DeliverySent``, matched by name as
any plugin's event is) counts for its link's ``utm_source`` (the network without one); a tagged
link followed (the core's ``LinkFollowed``) counts as a click, a member's as a member click;
the report compares with the period before and leaves out threads the viewer may not see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from community_analytics import campaigns
from community_analytics.models import Campaign
from sqlalchemy import select

from community.events import Event, LinkFollowed
from community.testing import api_token, make_member, make_thread
from plugins.analytics.tests.conftest import plugins_active, report

pytestmark = pytest.mark.visibility("hider")


@dataclass(frozen=True)
class DeliverySent(Event):
    """The cross-posting plugin's event, as other plugins see it."""

    delivery_id: int
    target_id: int
    thread_id: int | None
    network: str
    link: str = ""


def click(
    source: str, thread_id: int | None, member_id: int | None = None, days_ago: int = 0
) -> LinkFollowed:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    return LinkFollowed("/t/x/1", source, "social", "launch", thread_id, member_id, at.isoformat())


async def test_shares_and_clicks_per_source_campaign_and_thread(app: Any, client: Any) -> None:
    reader = await make_member(app, "reader")
    await make_member(app, "admin", role="admin")
    shown = await make_thread(app, "reader", title="Launch day")
    hidden = await make_thread(app, "reader", title="A secret plan")
    tagged = f"https://forum.example{shown.url}?utm_source=toot&utm_campaign=launch"
    async with plugins_active(app):
        await campaigns.record(DeliverySent(1, 1, shown.id, "mastodon", tagged))
        await campaigns.record(DeliverySent(2, 2, shown.id, "discord"))  # no tags: the network
        await campaigns.record(DeliverySent(3, 2, hidden.id, "discord"))
        await campaigns.record(click("toot", shown.id))
        await campaigns.record(click("toot", shown.id, reader.id))
        await campaigns.record(click("toot", hidden.id))  # left out: the viewer cannot see it
        await campaigns.record(click("newsletter", None, reader.id))
        await campaigns.record(click("toot", 10**9))  # no such thread: counted as a page
        await campaigns.record(click("toot", shown.id, days_ago=40))  # the period before
    headers = await api_token(app, "admin")
    got = await report(client, headers, "shares")
    assert got["labels"] == ["toot", "newsletter", "discord"]
    assert got["series"] == [
        {"name": "Clicks", "data": [3, 1, 0]},
        {"name": "Shares", "data": [1, 0, 1]},
    ]
    assert (got["total"], got["previous_total"], got["change_pct"]) == (4, 1, 300.0)
    figures = got["figures"]
    assert (figures["shares"], figures["member_clicks"], figures["clicks_per_share"]) == (2, 2, 2)
    assert figures["threads"] == [
        {"id": shown.id, "title": "Launch day", "url": shown.url, "shares": 2, "clicks": 2}
    ]
    assert figures["campaigns"][0] == {
        "source": "toot",
        "campaign": "launch",
        "shares": 1,
        "clicks": 3,
    }
    assert got["summary"] == (
        "4 clicks on tagged links and 2 shares to other networks in these 30 days; clicks up "
        "300% on the previous 30 days; toot brought the most (3); 2 by signed-in members."
    )
    async with app.state.sessionmaker() as db:
        pages = await db.scalars(select(Campaign.clicks).where(Campaign.thread_id == 0))
        assert sorted(pages) == [1, 1]  # the newsletter's and the missing thread's


async def test_nothing_shared_says_so(app: Any, client: Any) -> None:
    await make_member(app, "admin", role="admin")
    got = await report(client, await api_token(app, "admin"), "shares")
    assert got["labels"] == [] and got["total"] == 0
    assert got["summary"] == "No threads shared and no tagged links followed in these 30 days."
