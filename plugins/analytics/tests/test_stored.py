"""Every report answers the same from the rollup's tables as from the raw rows: after the
rollup has done every past day, each report's JSON is what it was with nothing rolled up (which
the other test files check against counts in Python). Also when the viewer sees a category
only in part (read live there), for one category, and in a time zone whose days begin at odd
hours."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from community_analytics.catalogue import REPORTS
from community_analytics.rollup import days_to_roll, roll_up_day
from community_analytics.settings import Settings

from community.testing import api_token
from plugins.analytics.tests.conftest import report

PERIOD = 40


async def roll_everything(app: Any, settings: Settings) -> None:
    async with app.state.sessionmaker() as db:
        while len(days := await days_to_roll(db, settings)) > 1:
            for day in days:
                await roll_up_day(db, day, settings)
        for day in days:
            await roll_up_day(db, day, settings)


async def every_report(client: Any, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    found = {}
    for name, definition in REPORTS.items():
        if "category_id" in params and not definition.by_category:
            continue
        found[name] = await report(client, headers, name, **params)
    return found


async def check(app: Any, client: Any, forum: Any, zone: str, settings_of: Any) -> None:
    await settings_of(app, time_zone=zone)
    data = await forum(app, zone)
    headers = await api_token(app, "admin")
    today = data.now.astimezone(Settings(time_zone=zone).tz).date()
    period = {
        "start": (today - timedelta(days=PERIOD - 1)).isoformat(),
        "end": today.isoformat(),
    }
    ends_before = {
        "start": (today - timedelta(days=PERIOD + 9)).isoformat(),
        "end": (today - timedelta(days=10)).isoformat(),
    }
    category = {**period, "category_id": str(data.categories[1].id)}
    questions = [period, ends_before, category]
    live = [await every_report(client, headers, **q) for q in questions]
    await roll_everything(app, Settings(time_zone=zone))
    stored = [await every_report(client, headers, **q) for q in questions]
    for question, was, now in zip(questions, live, stored, strict=True):
        for name in was:
            assert now[name] == was[name], (name, question)


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Chatham"])
async def test_reports_read_from_the_rollup_equal_reports_counted_live(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any, zone: str
) -> None:
    await check(app, client, forum, zone, settings_of)


@pytest.mark.visibility("hider")
async def test_a_category_seen_in_part_is_counted_live(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any
) -> None:
    await check(app, client, forum, "UTC", settings_of)
