"""Engaged members and participation equal a count over the generated rows: live, partly and
wholly rolled up; for the community and for a category (with its subcategory); in a time
zone whose days begin at odd hours; with and without staff; and counting only what the
viewer sees. Threads whose title says secret are for admins only here (like a beta
program's), so a plain request counts the viewer's categories live while ``include_gated``
reads the rollup."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from community_analytics.models import Daily
from sqlalchemy import select, update

from community.forum.models import Category, Thread
from community.jobs import DONE
from community.testing import api_token, run_job
from plugins.analytics.tests.conftest import last_days, report

pytestmark = pytest.mark.visibility("programme", admins_see_all=True)

URL = "/api/v1/analytics/reports/engaged"
KINDS = ("started", "replied", "reacted")


def doings(
    forum: Any, tz: Any, hide: bool, exclude: bool = True, categories: set[int] | None = None
) -> list[tuple[date, int, str]]:
    """(day, member, kind) of every thread started, reply and reaction that counts."""
    found = []

    def keep(member_id: int | None, thread: Any) -> bool:
        in_scope = categories is None or thread.category_id in categories
        return member_id is not None and in_scope and not forum.excluded(member_id, exclude)

    for thread in forum.threads:
        if forum.thread_counts(thread, hide) and keep(thread.author_id, thread):
            found.append((thread.created_at.astimezone(tz).date(), thread.author_id, "started"))
    for post in forum.posts:
        thread = forum.thread(post.thread_id)
        if post.number > 1 and forum.post_counts(post, hide) and keep(post.author_id, thread):
            found.append((post.created_at.astimezone(tz).date(), post.author_id, "replied"))
    for reaction in forum.reactions:
        post = forum.post(reaction.post_id)
        thread = forum.thread(post.thread_id)
        if forum.post_counts(post, hide) and keep(reaction.member_id, thread):
            found.append((reaction.created_at.astimezone(tz).date(), reaction.member_id, "reacted"))
    return found


def expected(forum: Any, days: list[date], tz: Any, **how: Any) -> dict[str, Any]:
    """The report's numbers, counted from the rows the generator wrote."""
    done = doings(forum, tz, **how)
    exclude = how.get("exclude", True)
    per_day: dict[date, set[int]] = defaultdict(set)
    for day, member_id, _ in done:
        per_day[day].add(member_id)
    before = [days[0] - timedelta(days=n) for n in range(len(days), 0, -1)]

    def members(span: list[date], kind: str | None = None) -> set[int]:
        return {m for d, m, k in done if d in span and (kind is None or k == kind)}

    engaged = [len(per_day[d]) for d in days]
    visiting = [len(forum.active(d, 1, exclude)) for d in days]
    return {
        "engaged": engaged,
        "visiting": visiting,
        "share": [
            round(e / v * 100, 1) if v else None for e, v in zip(engaged, visiting, strict=True)
        ],
        "participation": round(sum(engaged) / sum(visiting) * 100, 1),
        "total": len(members(days)),
        "previous_total": len(members(before)),
        "kinds": {k: len(members(days, k)) for k in KINDS},
        "previous": {k: len(members(before, k)) for k in KINDS},
    }


def check(got: dict[str, Any], want: dict[str, Any], days: list[date]) -> None:
    assert got["labels"] == [d.isoformat() for d in days]
    assert [s["name"] for s in got["series"]] == ["Engaged", "Visiting", "Participation (%)"]
    assert got["series"][0]["data"] == want["engaged"]
    assert got["series"][1]["data"] == want["visiting"]
    assert got["series"][2]["data"] == want["share"]
    assert got["total"] == want["total"]
    assert got["previous_total"] == want["previous_total"]
    assert got["figures"]["participation_pct"] == want["participation"]
    assert {k: got["figures"][k] for k in KINDS} == want["kinds"]
    assert got["figures"]["previous"] == want["previous"]


def period(forum: Any, tz: Any, length: int = 45) -> list[date]:
    today = forum.now.astimezone(tz).date()
    return last_days(today, length)


async def roll_everything(app: Any) -> None:
    for _ in range(3):
        assert (await run_job(app, "analytics.rollup", within=120)).state == DONE


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Chatham"])
async def test_engaged_members_equal_a_count_over_raw_rows(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any, zone: str
) -> None:
    await settings_of(app, time_zone=zone)
    data = await forum(app, zone)
    headers = await api_token(app, "admin")
    tz = ZoneInfo(zone)
    days = period(data, tz)
    params = {"start": days[0].isoformat(), "end": days[-1].isoformat()}
    hidden, whole = expected(data, days, tz, hide=True), expected(data, days, tz, hide=False)
    assert hidden["engaged"] != whole["engaged"]  # the secret threads matter
    for _ in range(3):  # nothing rolled up, part of the history, all of it
        check(await report(client, headers, "engaged", **params), hidden, days)
        check(await report(client, headers, "engaged", **params, include_gated="true"), whole, days)
        assert (await run_job(app, "analytics.rollup", within=120)).state == DONE


async def test_the_rollup_stores_what_is_counted_live(
    app: Any, client: Any, admin: Any, forum: Any
) -> None:
    data = await forum(app)
    headers = await api_token(app, "admin")
    tz = ZoneInfo("UTC")
    days = period(data, tz, 60)
    params = {"start": days[0].isoformat(), "end": days[-1].isoformat(), "include_gated": "1"}
    live = await report(client, headers, "engaged", **params)
    await roll_everything(app)
    async with app.state.sessionmaker() as db:
        stored = {
            (r.day, r.metric, r.category_id): r.value
            for r in await db.scalars(select(Daily).where(Daily.metric.startswith("engaged")))
        }
    want = expected(data, days, tz, hide=False)
    assert [stored.get((d, "engaged", 0), 0) for d in days[:-1]] == want["engaged"][:-1]
    ideas = data.categories[1].id
    in_ideas = expected(data, days, tz, hide=False, categories={ideas})["engaged"]
    assert [stored.get((d, "engaged_in", ideas), 0) for d in days[:-1]] == in_ideas[:-1]
    assert await report(client, headers, "engaged", **params) == live


async def test_a_category_counts_members_engaged_in_it(
    app: Any, client: Any, admin: Any, forum: Any
) -> None:
    data = await forum(app)
    headers = await api_token(app, "admin")
    tz = ZoneInfo("UTC")
    ideas = data.categories[1]
    async with app.state.sessionmaker() as db:
        sub = Category(name="Ideas beta", slug="ideas-beta", parent_id=ideas.id)
        db.add(sub)
        await db.flush()
        moved = [t for t in data.threads if t.category_id == ideas.id][::2]
        await db.execute(
            update(Thread).where(Thread.id.in_([t.id for t in moved])).values(category_id=sub.id)
        )
        await db.commit()
    for thread in moved:
        thread.category_id = sub.id
    days = period(data, tz)
    params = {"start": days[0].isoformat(), "end": days[-1].isoformat(), "include_gated": "1"}
    both = expected(data, days, tz, hide=False, categories={ideas.id, sub.id})
    alone = expected(data, days, tz, hide=False, categories={sub.id})
    site = expected(data, days, tz, hide=False)
    assert both["engaged"] != alone["engaged"] != site["engaged"]
    for _ in range(2):  # live, then rolled up: the parent with its subcategory is always live
        got = await report(client, headers, "engaged", **params, category_id=str(ideas.id))
        check(got, {**both, "visiting": site["visiting"]}, days)
        got = await report(client, headers, "engaged", **params, category_id=str(sub.id))
        check(got, alone, days)
        await roll_everything(app)


async def test_staff_and_suspended_members_count_when_the_setting_says_so(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any
) -> None:
    data = await forum(app)
    headers = await api_token(app, "admin")
    tz = ZoneInfo("UTC")
    days = period(data, tz, 30)
    staff = expected(data, days, tz, hide=True, exclude=False)
    assert staff["total"] > expected(data, days, tz, hide=True)["total"]
    await roll_everything(app)
    await settings_of(app, exclude_staff=False)
    # rolled-up days no longer match: live
    check(await report(client, headers, "engaged"), staff, days)
    await roll_everything(app)
    check(await report(client, headers, "engaged"), staff, days)


async def test_the_sentence_names_the_change_and_what_drove_it(
    app: Any, client: Any, admin: Any, forum: Any
) -> None:
    data = await forum(app)
    headers = await api_token(app, "admin")
    tz = ZoneInfo("UTC")
    words = {"started": "starting threads", "replied": "replying", "reacted": "reacting"}
    for length in (20, 30, 45):
        days = period(data, tz, length)
        want = expected(data, days, tz, hide=True)
        got = await report(client, headers, "engaged", start=days[0].isoformat())
        total, previous = want["total"], want["previous_total"]
        assert got["summary"].startswith(f"{total} members engaged in these {length} days")
        assert f"{want['participation']:g}% of the day's visitors" in got["summary"]
        if total == previous or not previous:
            continue
        pct = round((total - previous) / previous * 100, 1)
        assert f"{'up' if pct > 0 else 'down'} {abs(pct):g}% on the previous" in got["summary"]
        moves = {k: want["kinds"][k] - want["previous"][k] for k in KINDS}
        kind = (max if total > previous else min)(KINDS, key=lambda k: moves[k])
        if moves[kind] and (moves[kind] > 0) == (total > previous):
            counts = f"({want['kinds'][kind]} against {want['previous'][kind]})"
            assert f"{words[kind]} {counts}" in got["summary"]


async def test_nothing_to_count_says_so(app: Any, client: Any, admin: Any) -> None:
    got = await report(client, await api_token(app, "admin"), "engaged")
    assert got["total"] == 0 and got["previous_total"] == 0 and got["change_pct"] is None
    assert got["series"][0]["data"] == [0] * 30
    assert got["series"][2]["data"] == [None] * 30
    assert got["summary"] == "0 members engaged in these 30 days."


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"category_id": "abc"}, "category_id must be a whole number"),
        ({"category_id": "424242"}, "There is no category 424242"),
        ({"start": "2026-13-01"}, "start must be a date like"),
        ({"start": "2025-03-02", "end": "2025-03-01"}, "start must be on or before end"),
    ],
)
async def test_bad_questions_get_400(
    app: Any, client: Any, admin: Any, params: dict[str, str], message: str
) -> None:
    response = await client.get(URL, params=params, headers=await api_token(app, "admin"))
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]
