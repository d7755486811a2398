"""Every report equals a plain count over the rows the generator wrote: with nothing rolled up,
with part of the history rolled up, and with all of it; in UTC and in a time zone whose days
begin at odd hours."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from community_analytics.catalogue import REPORTS

from community.jobs import DONE
from community.testing import api_token, run_job
from plugins.analytics.tests.conftest import last_days, median, report

PERIOD = 45


def change(total: float | None, previous: float | None) -> float | None:
    if total is None or not previous:
        return None
    return round((total - previous) / previous * 100, 1)


def p90(values: list[float]) -> float | None:
    values = sorted(values)
    if not values:
        return None
    rank = -(-9 * len(values) // 10)  # the nearest rank: ceil(0.9 n)
    return values[rank - 1]


def hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def check_counts(got: dict[str, Any], forum: Any, metric: str, days: list[date], tz: Any) -> None:
    before = last_days(days[0] - timedelta(days=1), len(days))
    per_day = forum.daily(metric, days, tz)
    assert got["labels"] == [d.isoformat() for d in days]
    assert got["series"][0]["data"] == per_day
    assert got["total"] == sum(per_day)
    assert got["previous_total"] == sum(forum.daily(metric, before, tz))
    assert got["change_pct"] == change(got["total"], got["previous_total"])


def check_active(got: dict[str, Any], forum: Any, days: list[date]) -> None:
    dau = [len(forum.active(d, 1)) for d in days]
    mau = [len(forum.active(d, 30)) for d in days]
    assert got["series"][0]["data"] == dau
    assert got["series"][1]["data"] == [len(forum.active(d, 7)) for d in days]
    assert got["series"][2]["data"] == mau
    assert got["total"] == len(forum.active(days[-1], len(days)))
    assert got["previous_total"] == len(forum.active(days[0] - timedelta(days=1), len(days)))
    assert got["figures"]["stickiness_pct"] == round(sum(dau) / sum(mau) * 100, 1)


def check_time(got: dict[str, Any], forum: Any, days: list[date], tz: Any) -> None:
    started = forum.started(days[0], days[-1], tz)
    answered = [h for _, h in started if h is not None]
    before = forum.started(days[0] - timedelta(days=len(days)), days[0] - timedelta(days=1), tz)
    assert got["total"] == hours(median(answered))
    assert got["previous_total"] == hours(median([h for _, h in before if h is not None]))
    figures = got["figures"]
    assert figures["threads"] == len(started)
    assert figures["without_response"] == len(started) - len(answered)
    assert figures["mean_hours"] == hours(sum(answered) / len(answered))
    assert figures["p90_hours"] == hours(p90(answered))
    waiting = [
        sum(1 for t, h in started if h is None and t.created_at.astimezone(tz).date() == d)
        for d in days
    ]
    assert got["series"][1]["data"] == waiting


def check_rate(got: dict[str, Any], forum: Any, days: list[date], tz: Any) -> None:
    def rate(started: list[Any]) -> float | None:
        due = [(t, h) for t, h in started if forum.now - t.created_at >= timedelta(hours=24)]
        if not due:
            return None
        return round(sum(1 for _, h in due if h is not None and h <= 24) / len(due) * 100, 1)

    before = forum.started(days[0] - timedelta(days=len(days)), days[0] - timedelta(days=1), tz)
    assert got["total"] == rate(forum.started(days[0], days[-1], tz))
    assert got["previous_total"] == rate(before)


async def check_all(client: Any, headers: dict[str, str], forum: Any, tz: Any) -> None:
    today = forum.now.astimezone(tz).date()
    days = last_days(today, PERIOD)
    params = {"start": days[0].isoformat(), "end": days[-1].isoformat()}
    for metric in ("posts", "threads", "reactions", "members"):
        check_counts(await report(client, headers, metric, **params), forum, metric, days, tz)
    check_active(await report(client, headers, "active", **params), forum, days)
    check_time(await report(client, headers, "response_time", **params), forum, days, tz)
    check_rate(await report(client, headers, "response_rate", **params), forum, days, tz)


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Chatham"])
async def test_every_report_equals_a_count_over_raw_rows(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any, zone: str
) -> None:
    await settings_of(app, time_zone=zone)
    data = await forum(app, zone)
    headers = await api_token(app, "admin")
    tz = ZoneInfo(zone)
    await check_all(client, headers, data, tz)  # nothing rolled up: every day counted live
    assert (await run_job(app, "analytics.rollup")).state == DONE
    await check_all(client, headers, data, tz)  # the oldest days and yesterday rolled up
    for _ in range(2):
        assert (await run_job(app, "analytics.rollup")).state == DONE
    await check_all(client, headers, data, tz)  # every past day rolled up, today live


async def test_every_report_is_tested() -> None:
    """Each report is checked against raw counts: here, or in the test file named for it."""
    tested_elsewhere = {
        "engaged": "test_engagement.py",
        "growth": "test_growth.py",
        "retention": "test_cohorts.py",
        "invites": "test_funnel.py",
        "inviters": "test_funnel.py",
        "top_threads": "test_top.py",
        "contributors": "test_top.py",
        "categories": "test_topics.py",
        "best_time": "test_timing.py",
        "shares": "test_campaigns.py",
    }
    here = {"active", "posts", "threads", "reactions", "members", "response_time"}
    assert set(REPORTS) == here | {"response_rate"} | set(tested_elsewhere)
    folder = Path(__file__).parent
    for name, file in tested_elsewhere.items():
        assert re.search(rf"\b{name}\b", (folder / file).read_text()), name


async def test_a_category_counts_only_its_threads(
    app: Any, client: Any, admin: Any, forum: Any
) -> None:
    data = await forum(app)
    headers = await api_token(app, "admin")
    tz = ZoneInfo("UTC")
    today = data.now.date()
    ideas = data.categories[1]
    got = await report(client, headers, "posts", category_id=str(ideas.id))
    days = last_days(today, 30)
    expected = [
        sum(
            1
            for p in data.posts
            if data.post_counts(p)
            and data.thread(p.thread_id).category_id == ideas.id
            and not data.excluded(p.author_id)
            and p.created_at.astimezone(tz).date() == d
        )
        for d in days
    ]
    assert got["series"][0]["data"] == expected
    everything = await report(client, headers, "posts")
    assert got["total"] == everything["figures"]["by_category"].get("Ideas", 0)


async def test_staff_and_suspended_members_count_when_the_setting_says_so(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any
) -> None:
    data = await forum(app)
    headers = await api_token(app, "admin")
    today = data.now.date()
    days = last_days(today, 30)
    tz = ZoneInfo("UTC")
    with_staff = data.daily("posts", days, tz, exclude=False)
    assert with_staff != data.daily("posts", days, tz)  # the dataset has staff posts
    assert (await report(client, headers, "posts"))["series"][0]["data"] == data.daily(
        "posts", days, tz
    )
    assert (await run_job(app, "analytics.rollup")).state == DONE
    await settings_of(app, exclude_staff=False)
    got = await report(client, headers, "posts")  # rolled-up days no longer match: live again
    assert got["series"][0]["data"] == with_staff
    assert (await run_job(app, "analytics.rollup")).state == DONE
    assert (await report(client, headers, "posts"))["series"][0]["data"] == with_staff


async def test_the_summary_names_the_change_and_the_leading_category(
    app: Any, client: Any, admin: Any, forum: Any
) -> None:
    data = await forum(app)
    headers = await api_token(app, "admin")
    tz = ZoneInfo("UTC")
    days = last_days(data.now.date(), 30)
    names = {c.id: c.name for c in data.categories}

    def per_category(span: list[date]) -> Counter[str]:
        return Counter(
            names[data.thread(p.thread_id).category_id]
            for p in data.posts
            if data.post_counts(p)
            and not data.excluded(p.author_id)
            and p.created_at.astimezone(tz).date() in span
        )

    now, before = per_category(days), per_category(last_days(days[0] - timedelta(days=1), 30))
    total, previous = sum(now.values()), sum(before.values())
    assert previous  # the dataset has posts to compare with
    pct = change(total, previous)
    moved = "unchanged on" if pct == 0 else f"{'up' if pct > 0 else 'down'} {abs(pct):g}% on"
    led = ""
    if total != previous:
        moves = {name: now[name] - before[name] for name in {*now, *before}}
        name = (max if total > previous else min)(sorted(moves), key=lambda n: moves[n])
        if (moves[name] > 0) == (total > previous) and moves[name]:
            led = f", {'led by' if total > previous else 'mostly in'} {name}"
    got = await report(client, headers, "posts")
    assert (got["total"], got["previous_total"], got["change_pct"]) == (total, previous, pct)
    assert got["summary"] == (
        f"Posts {moved} the previous 30 days{led} ({total} against {previous})."
    )
