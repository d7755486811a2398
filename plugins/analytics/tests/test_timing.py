"""The best time to post equals a plain count of the generated posts, reactions and replies per
local weekday and hour over the last 16 weeks: in UTC and in a time zone 12:45 ahead (whose
hours straddle UTC's), with staff left out or not, never counting threads the viewer may not
see; and ``best_slot`` gives the reply peak to other plugins."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from community_analytics.timing import best_slot

from community import plugins
from community.testing import api_token
from plugins.analytics.tests.conftest import plugins_active, report

pytestmark = pytest.mark.visibility("hider")

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def grids(
    forum: Any, tz: ZoneInfo, first: date, last: date, exclude: bool = True
) -> tuple[list[list[int]], list[list[int]]]:
    """Activity (posts and reactions) and replies per local weekday and hour."""
    activity = [[0] * 24 for _ in range(7)]
    replies = [[0] * 24 for _ in range(7)]

    def add(grid: list[list[int]], at: datetime) -> None:
        local = at.astimezone(tz)
        if first <= local.date() <= last:
            grid[local.weekday()][local.hour] += 1

    for post in forum.posts:
        if forum.post_counts(post, hide_secret=True) and not forum.excluded(
            post.author_id, exclude
        ):
            add(activity, post.created_at)
            if post.number > 1:
                add(replies, post.created_at)
    for reaction in forum.reactions:
        post = forum.post(reaction.post_id)
        if forum.post_counts(post, hide_secret=True) and not forum.excluded(
            reaction.member_id, exclude
        ):
            add(activity, reaction.created_at)
    return activity, replies


def top(grid: list[list[int]], count: int) -> list[tuple[int, int]]:
    slots = [(d, h) for d in range(7) for h in range(24) if grid[d][h]]
    return sorted(slots, key=lambda s: (-grid[s[0]][s[1]], s))[:count]


def check(got: dict[str, Any], forum: Any, tz: ZoneInfo, end: date, exclude: bool = True) -> None:
    first = end - timedelta(days=16 * 7 - 1)
    activity, replies = grids(forum, tz, first, end, exclude)
    before, _ = grids(forum, tz, first - timedelta(days=112), first - timedelta(days=1), exclude)
    assert got["labels"] == [f"{h:02d}" for h in range(24)]
    assert [s["name"] for s in got["series"]] == WEEKDAYS
    assert [s["data"] for s in got["series"]] == activity
    assert got["figures"]["replies"] == replies
    assert got["figures"]["start"] == first.isoformat()
    assert [(b["weekday"], b["hour"]) for b in got["figures"]["best"]] == top(replies, 3)
    assert got["total"] == sum(map(sum, activity))
    assert got["previous_total"] == sum(map(sum, before))
    day, hour = top(activity, 1)[0]
    assert got["summary"].startswith(
        f"Members are most active on {WEEKDAYS[day]}s around {hour:02d}:00; threads get most "
        f"replies on {WEEKDAYS[top(replies, 1)[0][0]]}s"
    )
    assert (got["chart"], got["label"]) == ("heatmap", "hour")


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Chatham"])
async def test_the_heatmap_equals_counts_over_raw_rows(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any, zone: str
) -> None:
    await settings_of(app, time_zone=zone)
    data = await forum(app, zone)
    tz = ZoneInfo(zone)
    today = data.now.astimezone(tz).date()
    headers = await api_token(app, "admin")
    check(await report(client, headers, "best_time"), data, tz, today)
    end = today - timedelta(days=40)  # the 16 weeks end on the period's last day
    check(await report(client, headers, "best_time", end=end.isoformat()), data, tz, end)
    async with plugins_active(app), app.state.sessionmaker() as db:
        slot = await best_slot(db, plugins.settings("analytics"), data.now)
    assert slot == top(grids(data, tz, today - timedelta(days=111), today)[1], 1)[0]
    weekday, hour = slot
    async with plugins_active(app), app.state.sessionmaker() as db:
        best = await plugins.best_time(db, data.now)  # the core's hook, answered here
    local = best.astimezone(tz)
    assert (local.weekday(), local.hour, local.minute) == (weekday, hour, 0)
    assert data.now < best <= data.now + timedelta(days=7)


async def test_staff_count_when_the_setting_says_so(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any
) -> None:
    await settings_of(app, exclude_staff=False)
    data = await forum(app)
    tz = ZoneInfo("UTC")
    today = data.now.date()
    headers = await api_token(app, "admin")
    check(await report(client, headers, "best_time"), data, tz, today, exclude=False)
    first = today - timedelta(days=111)
    assert grids(data, tz, first, today, False) != grids(data, tz, first, today)


async def test_a_quiet_community_and_bad_input(app: Any, client: Any, admin: Any) -> None:
    headers = await api_token(app, "admin")
    got = await report(client, headers, "best_time")
    assert got["total"] == 0 and got["figures"]["best"] == []
    assert got["summary"].startswith("No posts or reactions in the 16 weeks to ")
    async with plugins_active(app), app.state.sessionmaker() as db:
        now = datetime.now().astimezone()
        assert await best_slot(db, plugins.settings("analytics"), now) is None
        assert await plugins.best_time(db, now) is None
    for params, message in (
        ({"end": "2026-13-01"}, "end must be a date like 2026-01-31"),
        ({"end": "2999-01-01"}, "after today"),
    ):
        response = await client.get(
            "/api/v1/analytics/reports/best_time", params=params, headers=headers
        )
        assert response.status_code == 400, params
        assert message in response.json()["detail"]
