"""Retention cohorts equal a count over the generated members and visits: members grouped by
the week they joined (from Monday, in the community's time zone), the share active in each
of the 8 weeks after; cohorts under 5 members are not shown; weeks not begun have no
figure."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from community_analytics.models import Visit

from community.accounts.models import Member
from community.testing import api_token
from plugins.analytics.tests.conftest import report

URL = "/api/v1/analytics/reports/retention"
LENGTH = 70


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


async def add_cohort(
    app: Any, forum: Any, week: date, size: int, tz: Any, seed: int, role: str = "member"
) -> list[Member]:
    """``size`` members joining in the week beginning ``week`` (in ``tz``), the first at
    00:30 on the Monday, each visiting on some days of the following weeks up to today."""
    rng = random.Random(seed)
    today = forum.now.astimezone(tz).date()
    made = []
    async with app.state.sessionmaker() as db:
        for n in range(size):
            at = datetime.combine(week, time(0, 30), tz)
            if n:
                at += timedelta(hours=rng.uniform(0, 7 * 24 - 1))
            name = f"c{seed}x{n}"
            member = Member(
                username=name,
                username_key=name,
                display_name=name,
                password_hash="x",
                role=role if n == 0 else "member",
                created_at=at,
                approved_at=at,
            )
            db.add(member)
            made.append(member)
        await db.flush()
        pairs = set()
        for member in made:
            for k in range(9):
                if rng.random() < 0.6:
                    pairs.add((member.id, week + timedelta(days=7 * k + rng.randrange(7))))
        pairs = {(m, day) for m, day in pairs if day <= today}
        for member_id, day in sorted(pairs):
            db.add(Visit(member_id=member_id, day=day, first_seen=forum.now, hits=1))
        await db.commit()
    forum.members.extend(made)
    forum.visits.extend(sorted(pairs))
    return made


def cohorts(forum: Any, first: date, last: date, tz: Any, exclude: bool = True) -> list[Any]:
    """(Monday, members, active per week or None) of every week beginning from first to last."""
    today = forum.now.astimezone(tz).date()
    seen: dict[int, set[date]] = defaultdict(set)
    for member_id, day in forum.visits:
        seen[member_id].add(day)
    found = []
    for week in (first + timedelta(days=n) for n in range((last - first).days + 1)):
        if week.weekday():
            continue
        members = [
            m.id
            for m in forum.members
            if m.approved_at is not None
            and not forum.excluded(m.id, exclude)
            and monday(m.created_at.astimezone(tz).date()) == week
        ]
        if not members:
            continue
        active: list[int | None] = []
        for k in range(9):
            begins = week + timedelta(days=7 * k)
            ends = begins + timedelta(days=6)
            in_week = [m for m in members if any(begins <= d <= ends for d in seen[m])]
            active.append(len(in_week) if begins <= today else None)
        found.append((week, len(members), active))
    return found


def week_one(found: list[Any]) -> float | None:
    reached = [(size, active) for _, size, active in found if active[1] is not None]
    members = sum(size for size, _ in reached)
    return round(sum(a[1] for _, a in reached) / members * 100, 1) if members else None


def expected(forum: Any, first: date, last: date, tz: Any, exclude: bool = True) -> Any:
    every = cohorts(forum, first, last, tz, exclude)
    shown = [c for c in every if c[1] >= 5]
    length = (last - first).days + 1
    before = cohorts(forum, first - timedelta(days=length), first - timedelta(days=1), tz, exclude)
    return {
        "series": [
            {
                "name": week.isoformat(),
                "data": [None if n is None else round(n / size * 100, 1) for n in active],
            }
            for week, size, active in shown
        ],
        "total": week_one(shown),
        "previous_total": week_one([c for c in before if c[1] >= 5]),
        "hidden": len(every) - len(shown),
        "sizes": {week.isoformat(): size for week, size, _ in shown},
    }


def check(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["chart"] == "heatmap" and got["unit"] == "%"
    assert got["labels"] == [f"Week {n}" for n in range(9)]
    assert got["series"] == want["series"]
    assert got["total"] == want["total"]
    assert got["previous_total"] == want["previous_total"]
    assert got["figures"]["hidden_cohorts"] == want["hidden"]
    assert got["figures"]["sizes"] == want["sizes"]


async def seeded(app: Any, forum: Any, tz: Any) -> tuple[Any, date, date]:
    """The forum with cohorts large enough to show, in this period and the previous one."""
    data = await forum(app, tz.key)
    last = data.now.astimezone(tz).date()
    first = last - timedelta(days=LENGTH - 1)
    this_week = monday(last)
    for n, (week, size) in enumerate(
        [
            (this_week, 5),  # not past week 0 yet
            (this_week - timedelta(weeks=2), 6),
            (this_week - timedelta(weeks=5), 8),
            (this_week - timedelta(weeks=7), 3),  # too small to show
            (this_week - timedelta(weeks=13), 7),  # the previous period
            (this_week - timedelta(weeks=16), 9),
        ]
    ):
        await add_cohort(app, data, week, size, tz, seed=n)
    return data, first, last


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Chatham"])
async def test_cohorts_equal_a_count_over_raw_rows(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any, zone: str
) -> None:
    await settings_of(app, time_zone=zone)
    tz = ZoneInfo(zone)
    data, first, last = await seeded(app, forum, tz)
    want = expected(data, first, last, tz)
    assert len(want["series"]) >= 3 and want["hidden"] >= 1
    assert want["series"][-1]["data"][1:] == [None] * 8  # this week's cohort
    assert want["total"] is not None and want["previous_total"] is not None
    got = await report(client, await api_token(app, "admin"), "retention", start=first.isoformat())
    check(got, want)
    if zone != "UTC":  # a member joining at 00:30 on Monday joined on Sunday in UTC
        utc = expected(data, first, last, ZoneInfo("UTC"))
        assert utc["sizes"] != want["sizes"]


async def test_a_period_of_one_week_has_its_monday_cohort(
    app: Any, client: Any, admin: Any, forum: Any
) -> None:
    tz = ZoneInfo("UTC")
    data, _, last = await seeded(app, forum, tz)
    week = monday(last) - timedelta(weeks=5)
    first, end = week - timedelta(days=3), week + timedelta(days=3)  # Friday to Thursday
    want = expected(data, first, end, tz)
    assert [s["name"] for s in want["series"]] == [week.isoformat()]
    params = {"start": first.isoformat(), "end": end.isoformat()}
    check(await report(client, await api_token(app, "admin"), "retention", **params), want)


async def test_small_cohorts_are_hidden_and_staff_left_out(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any
) -> None:
    tz = ZoneInfo("UTC")
    data = await forum(app)
    last = data.now.date()
    joined = {monday(m.created_at.date()) for m in data.members}
    weeks = [monday(last) - timedelta(weeks=n) for n in range(2, 9)]
    week = next(w for w in weeks if w not in joined)  # no one else joined that week
    made = await add_cohort(app, data, week, 5, tz, seed=40, role="moderator")
    assert made[0].role == "moderator"
    first = last - timedelta(days=LENGTH - 1)
    headers = await api_token(app, "admin")
    without = expected(data, first, last, tz)
    with_staff = expected(data, first, last, tz, exclude=False)
    shown = week.isoformat() in with_staff["sizes"]
    assert shown and week.isoformat() not in without["sizes"]
    assert [size for _, size, _ in cohorts(data, week, week, tz)] == [4]  # hidden
    assert with_staff["sizes"][week.isoformat()] == 5
    got = await report(client, headers, "retention", start=first.isoformat())
    check(got, without)
    assert f"{without['hidden']} cohorts under 5 members not shown" in got["summary"]
    await settings_of(app, exclude_staff=False)
    check(await report(client, headers, "retention", start=first.isoformat()), with_staff)


async def test_the_sentence_gives_week_one_retention_and_the_best_cohort(
    app: Any, client: Any, admin: Any, forum: Any
) -> None:
    tz = ZoneInfo("UTC")
    data, first, last = await seeded(app, forum, tz)
    want = expected(data, first, last, tz)
    got = await report(client, await api_token(app, "admin"), "retention", start=first.isoformat())
    members = sum(want["sizes"].values())
    count = len(want["sizes"])
    assert got["summary"].startswith(
        f"Week-1 retention {want['total']:g}% across {count} weekly cohorts ({members} members)"
    )
    pct = round((want["total"] - want["previous_total"]) / want["previous_total"] * 100, 1)
    if pct:
        assert (
            f"{'up' if pct > 0 else 'down'} {abs(pct):g}% on the previous 70 days"
            in (got["summary"])
        )
    reached = [s for s in want["series"] if s["data"][1] is not None]
    best = max(reached, key=lambda s: (s["data"][1], s["name"]))
    assert f"best the week of {best['name']} ({best['data'][1]:g}%)" in got["summary"]


async def test_nothing_to_count_says_so(app: Any, client: Any, admin: Any) -> None:
    got = await report(client, await api_token(app, "admin"), "retention")
    assert got["series"] == [] and got["total"] is None
    assert got["summary"] == "No weekly cohort of 5 or more members joined in these 30 days."


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"category_id": "THREAD"}, "covers the whole community"),
        ({"start": "2026-02-30"}, "start must be a date like"),
        ({"start": "2025-03-02", "end": "2025-03-01"}, "start must be on or before end"),
    ],
)
async def test_bad_questions_get_400(
    app: Any, client: Any, admin: Any, thread: Any, params: dict[str, str], message: str
) -> None:
    params = {k: str(thread.category_id) if v == "THREAD" else v for k, v in params.items()}
    response = await client.get(URL, params=params, headers=await api_token(app, "admin"))
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]
