"""Top threads and top contributors equal a plain ranking of the generated rows: in UTC and in a
time zone whose days begin at odd hours, with staff left out or not, and never counting a
thread the viewer may not see (a plugin hides threads whose title says secret)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from community_analytics.models import ThreadView

from community.testing import api_token
from plugins.analytics.tests.conftest import last_days, report

pytestmark = pytest.mark.visibility("hider")

PERIOD = 45


async def add_views(app: Any, forum: Any, today: date) -> dict[tuple[int, date], int]:
    """Views of every thread on a few days, some of them outside the period."""
    views = {
        (t.id, today - timedelta(days=back)): (t.id * 7 + back) % 13 + 1
        for t in forum.threads
        for back in (0, 3, 20, PERIOD + 2)
    }
    async with app.state.sessionmaker() as db:
        for (thread_id, day), count in views.items():
            db.add(ThreadView(thread_id=thread_id, day=day, views=count))
        await db.commit()
    return views


def within(at: Any, tz: ZoneInfo, first: date, last: date) -> bool:
    return first <= at.astimezone(tz).date() <= last


def expected_threads(
    forum: Any, tz: ZoneInfo, first: date, last: date, views: dict, exclude: bool = True
) -> tuple[int, list[dict[str, Any]]]:
    replies: Counter[int] = Counter()
    reactions: Counter[int] = Counter()
    posters: dict[int, set[int]] = defaultdict(set)
    active: set[int] = set()
    for post in forum.posts:
        if not forum.post_counts(post, hide_secret=True) or forum.excluded(post.author_id, exclude):
            continue
        if within(post.created_at, tz, first, last):
            active.add(post.thread_id)
            replies[post.thread_id] += post.number > 1
            if post.author_id is not None:
                posters[post.thread_id].add(post.author_id)
    for reaction in forum.reactions:
        post = forum.post(reaction.post_id)
        if not forum.post_counts(post, hide_secret=True):
            continue
        if forum.excluded(reaction.member_id, exclude):
            continue
        if within(reaction.created_at, tz, first, last):
            active.add(post.thread_id)
            reactions[post.thread_id] += 1

    def seen(thread_id: int) -> int:
        return sum(n for (t, day), n in views.items() if t == thread_id and first <= day <= last)

    ranked = sorted(
        active,
        key=lambda t: (-(replies[t] + reactions[t] + len(posters[t])), -seen(t), -t),
    )
    top = [
        {
            "id": t,
            "title": forum.thread(t).title,
            "replies": replies[t],
            "reactions": reactions[t],
            "participants": len(posters[t]),
            "views": seen(t),
        }
        for t in ranked[:10]
    ]
    return len(active), top


def expected_members(
    forum: Any, tz: ZoneInfo, first: date, last: date, exclude: bool = True
) -> tuple[int, list[tuple[int, int, int, int]]]:
    found: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for post in forum.posts:
        if not forum.post_counts(post, hide_secret=True) or post.author_id is None:
            continue
        if within(post.created_at, tz, first, last) and not forum.excluded(post.author_id, exclude):
            found[post.author_id][0] += 1
    for reaction in forum.reactions:
        post = forum.post(reaction.post_id)
        if not forum.post_counts(post, hide_secret=True):
            continue
        if forum.excluded(reaction.member_id, exclude):
            continue
        if not within(reaction.created_at, tz, first, last):
            continue
        found[reaction.member_id][2] += 1
        if post.author_id is not None and not forum.excluded(post.author_id, exclude):
            found[post.author_id][1] += 1
    ranked = sorted(found.items(), key=lambda item: (-sum(item[1]), -item[1][0], item[0]))
    return len(found), [(m, *counts) for m, counts in ranked[:10]]  # type: ignore[misc]


def check_threads(got: dict[str, Any], forum: Any, tz: ZoneInfo, days: list[date], **how: Any):
    before = (days[0] - timedelta(days=len(days)), days[0] - timedelta(days=1))
    total, top = expected_threads(forum, tz, days[0], days[-1], **how)
    previous, _ = expected_threads(forum, tz, *before, **how)
    assert (got["total"], got["previous_total"]) == (total, previous)
    assert got["labels"] == [t["title"] for t in top]
    assert [s["name"] for s in got["series"]] == ["Replies", "Reactions", "Participants", "Views"]
    for series, key in zip(
        got["series"], ["replies", "reactions", "participants", "views"], strict=True
    ):
        assert series["data"] == [t[key] for t in top], key
    assert [t["id"] for t in got["figures"]["threads"]] == [t["id"] for t in top]
    assert all(t["url"].endswith(f"/{t['id']}") for t in got["figures"]["threads"])
    assert (got["chart"], got["label"]) == ("bar", "thread")


def check_members(got: dict[str, Any], forum: Any, tz: ZoneInfo, days: list[date], **how: Any):
    before = (days[0] - timedelta(days=len(days)), days[0] - timedelta(days=1))
    total, top = expected_members(forum, tz, days[0], days[-1], **how)
    previous, _ = expected_members(forum, tz, *before, **how)
    assert (got["total"], got["previous_total"]) == (total, previous)
    found = [
        (m["id"], m["posts"], m["reactions_received"], m["reactions_given"])
        for m in got["figures"]["members"]
    ]
    assert found == top
    names = {m.id: m.display_name for m in forum.members}
    assert got["labels"] == [names[m] for m, *_ in top]
    assert [s["data"] for s in got["series"]] == [[row[n] for row in top] for n in (1, 2, 3)]
    assert (got["chart"], got["label"]) == ("bar", "member")


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Chatham"])
async def test_top_threads_and_contributors_equal_a_ranking_of_raw_rows(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any, zone: str
) -> None:
    await settings_of(app, time_zone=zone)
    data = await forum(app, zone)
    tz = ZoneInfo(zone)
    today = data.now.astimezone(tz).date()
    views = await add_views(app, data, today)
    headers = await api_token(app, "admin")
    days = last_days(today, PERIOD)
    params = {"start": days[0].isoformat(), "end": today.isoformat()}
    got = await report(client, headers, "top_threads", **params)
    check_threads(got, data, tz, days, views=views)
    assert any(t["views"] for t in got["figures"]["threads"])
    assert not any("secret" in title for title in got["labels"])
    check_members(await report(client, headers, "contributors", **params), data, tz, days)


async def test_staff_count_when_the_setting_says_so(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any
) -> None:
    await settings_of(app, exclude_staff=False)
    data = await forum(app)
    tz = ZoneInfo("UTC")
    today = data.now.date()
    days = last_days(today, 30)
    headers = await api_token(app, "admin")
    got = await report(client, headers, "contributors")
    check_members(got, data, tz, days, exclude=False)
    assert expected_members(data, tz, days[0], today, exclude=False) != expected_members(
        data, tz, days[0], today
    )
    got = await report(client, headers, "top_threads")
    check_threads(got, data, tz, days, views={}, exclude=False)


async def test_a_category_ranks_only_its_threads(
    app: Any, client: Any, admin: Any, forum: Any
) -> None:
    data = await forum(app)
    headers = await api_token(app, "admin")
    ideas = data.categories[1]
    start = (data.now.date() - timedelta(days=130)).isoformat()
    got = await report(client, headers, "top_threads", category_id=str(ideas.id), start=start)
    assert got["labels"]
    assert {data.thread(t["id"]).category_id for t in got["figures"]["threads"]} == {ideas.id}


async def test_nothing_to_rank_and_bad_input(app: Any, client: Any, admin: Any) -> None:
    headers = await api_token(app, "admin")
    got = await report(client, headers, "top_threads")
    assert (got["total"], got["labels"], got["change_pct"]) == (0, [], None)
    assert got["summary"] == "No thread had a post or a reaction in these 30 days."
    got = await report(client, headers, "contributors")
    assert got["summary"] == "Nobody posted or reacted in these 30 days."
    for params, message in (
        ({"start": "yesterday"}, "start must be a date like 2026-01-31"),
        ({"category_id": "x"}, "category_id must be a whole number"),
        ({"category_id": "999"}, "There is no category 999"),
    ):
        response = await client.get(
            "/api/v1/analytics/reports/top_threads", params=params, headers=headers
        )
        assert response.status_code == 400, params
        assert message in response.json()["detail"]
