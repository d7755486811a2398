"""Growth and churn equal a count over the generated members and visits: who joined, who was
active, who stayed, came back or churned (active in the previous period of the same length
but not in this one), in UTC and in a time zone whose days begin at odd hours, with and
without staff."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from community.accounts.models import Member
from community.testing import api_token
from plugins.analytics.tests.conftest import report

URL = "/api/v1/analytics/reports/growth"
KEYS = ["new", "active", "retained", "new_active", "returning", "churned", "net"]


def active(forum: Any, first: date, last: date, exclude: bool) -> set[int]:
    return {m for m, day in forum.visits if first <= day <= last and not forum.excluded(m, exclude)}


def joined(forum: Any, first: date, last: date, tz: Any, exclude: bool) -> set[int]:
    return {
        m.id
        for m in forum.members
        if m.approved_at is not None
        and first <= m.created_at.astimezone(tz).date() <= last
        and not forum.excluded(m.id, exclude)
    }


def expected(forum: Any, last: date, days: int, tz: Any, exclude: bool = True) -> dict[str, Any]:
    """This period's figures and the previous one's, each against the period before it."""

    def span(n: int) -> tuple[date, date]:
        end = last - timedelta(days=days * n)
        return end - timedelta(days=days - 1), end

    def figures(n: int) -> dict[str, Any]:
        now, before = active(forum, *span(n), exclude), active(forum, *span(n + 1), exclude)
        new = joined(forum, *span(n), tz, exclude)
        found = {
            "new": len(new),
            "active": len(now),
            "retained": len(now & before),
            "new_active": len((now - before) & new),
            "returning": len((now - before) - new),
            "churned": len(before - now),
            "net": len(now) - len(before),
        }
        churn = round(len(before - now) / len(before) * 100, 1) if before else None
        return {**found, "churn_pct": churn}

    return {"now": figures(0), "before": figures(1)}


def check(got: dict[str, Any], want: dict[str, Any]) -> None:
    now, before = want["now"], want["before"]
    assert got["chart"] == "bar" and got["label"] == "figure"
    assert got["labels"] == [
        "New members",
        "Active members",
        "Retained",
        "New and active",
        "Returning",
        "Churned",
        "Net growth",
    ]
    assert got["series"][0] == {"name": "This period", "data": [now[k] for k in KEYS]}
    assert got["series"][1] == {"name": "Previous period", "data": [before[k] for k in KEYS]}
    assert got["total"] == now["active"]
    assert got["previous_total"] == now["active"] - now["net"]
    assert {k: got["figures"][k] for k in [*KEYS, "churn_pct"]} == now
    assert got["figures"]["previous"] == before
    assert now["active"] == now["retained"] + now["new_active"] + now["returning"]


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Chatham"])
@pytest.mark.parametrize("days", [7, 14, 30])
async def test_growth_equals_a_count_over_raw_rows(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any, zone: str, days: int
) -> None:
    await settings_of(app, time_zone=zone)
    data = await forum(app, zone)
    tz = ZoneInfo(zone)
    today = data.now.astimezone(tz).date()
    want = expected(data, today, days, tz)
    assert want["now"]["churned"] and want["now"]["retained"]  # the dataset has both
    start = (today - timedelta(days=days - 1)).isoformat()
    check(await report(client, await api_token(app, "admin"), "growth", start=start), want)


async def test_joining_counts_by_the_communitys_day(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any
) -> None:
    await settings_of(app, time_zone="Pacific/Chatham")
    data = await forum(app, "Pacific/Chatham")
    tz = ZoneInfo("Pacific/Chatham")
    last = data.now.astimezone(tz).date() - timedelta(days=25)
    first = last - timedelta(days=29)
    early = datetime.combine(first, time(0, 30), tz)  # the day before, in UTC
    async with app.state.sessionmaker() as db:
        member = Member(
            username="early",
            username_key="early",
            display_name="Early",
            password_hash="x",
            created_at=early,
            approved_at=early,
        )
        db.add(member)
        await db.commit()
        data.members.append(member)
    assert early.astimezone(UTC).date() < first
    want = expected(data, last, 30, tz)
    assert member.id in joined(data, first, last, tz, True)
    params = {"start": first.isoformat(), "end": last.isoformat()}
    check(await report(client, await api_token(app, "admin"), "growth", **params), want)


async def test_staff_and_suspended_members_count_when_the_setting_says_so(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any
) -> None:
    data = await forum(app)
    tz = ZoneInfo("UTC")
    today = data.now.date()
    headers = await api_token(app, "admin")
    everyone = expected(data, today, 30, tz, exclude=False)
    assert everyone != expected(data, today, 30, tz)
    await settings_of(app, exclude_staff=False)
    check(await report(client, headers, "growth"), everyone)


async def test_the_sentence_says_where_the_change_came_from(
    app: Any, client: Any, admin: Any, forum: Any
) -> None:
    data = await forum(app)
    headers = await api_token(app, "admin")
    today = data.now.date()
    for days in (10, 30):
        now = expected(data, today, days, ZoneInfo("UTC"))["now"]
        start = today - timedelta(days=days - 1)
        got = await report(client, headers, "growth", start=start.isoformat())
        previous = now["active"] - now["net"]
        pct = round(now["net"] / previous * 100, 1)
        moved = "unchanged" if not pct else f"{'up' if pct > 0 else 'down'} {abs(pct):g}%"
        assert got["summary"].startswith(f"Active members {moved} on the previous {days} days")
        assert f"({now['active']} against {previous})" in got["summary"]
        came = f"{now['new_active']} new and {now['returning']} returning"
        assert came in got["summary"] and f"{now['churned']} who churned" in got["summary"]
        assert f"(churn {now['churn_pct']:g}%)" in got["summary"]


async def test_nothing_to_count_says_so(app: Any, client: Any, admin: Any) -> None:
    got = await report(client, await api_token(app, "admin"), "growth")
    assert got["series"][0]["data"] == [0] * 7
    assert got["total"] == 0 and got["change_pct"] is None
    assert got["summary"] == "No active members in these 30 days or the previous 30."


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"category_id": "THREAD"}, "covers the whole community"),
        ({"end": "30/11/2026"}, "end must be a date like"),
        ({"start": "2020-01-01", "end": "2022-06-01"}, "at most two years"),
    ],
)
async def test_bad_questions_get_400(
    app: Any, client: Any, admin: Any, thread: Any, params: dict[str, str], message: str
) -> None:
    params = {k: str(thread.category_id) if v == "THREAD" else v for k, v in params.items()}
    response = await client.get(URL, params=params, headers=await api_token(app, "admin"))
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]
