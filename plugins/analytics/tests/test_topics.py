"""Engagement by category equals plain counts of the generated rows per category, in UTC and
in a time zone whose days begin at odd hours; a category with fewer than MIN_SEGMENT
participants is left out of the table but not of the total; threads the viewer may not see
(a plugin hides those whose title says secret) never count."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from community_analytics.reports import MIN_SEGMENT

from community.forum.models import Category, Thread
from community.testing import api_token
from plugins.analytics.tests.conftest import last_days, median, new_post, report

pytestmark = pytest.mark.visibility("hider")

PERIOD = 45


async def add_quiet_category(app: Any, forum: Any) -> Category:
    """A category where only two members talk, today: too few to be shown."""
    quiet = Category(name="Quiet", slug="quiet")
    two = [m.id for m in forum.members if m.role == "member" and m.suspended_until is None][:2]
    async with app.state.sessionmaker() as db:
        db.add(quiet)
        await db.flush()
        thread = Thread(
            category_id=quiet.id,
            title="quiet thread",
            slug="quiet",
            author_id=two[0],
            created_at=forum.now - timedelta(minutes=30),
            last_posted_at=forum.now,
        )
        db.add(thread)
        await db.flush()
        for number, author in enumerate([two[0], two[1], two[0]], start=1):
            at = forum.now - timedelta(minutes=30 - number)
            post = new_post(thread.id, number, author, at)
            db.add(post)
            forum.posts.append(post)
        await db.commit()
    forum.threads.append(thread)
    forum.categories.append(quiet)
    return quiet


def expected(
    forum: Any, tz: ZoneInfo, first: date, last: date, exclude: bool = True
) -> dict[int, dict[str, Any]]:
    posts: Counter[int] = Counter()
    reactions: Counter[int] = Counter()
    people: dict[int, set[int]] = defaultdict(set)

    def within(at: Any) -> bool:
        return first <= at.astimezone(tz).date() <= last

    for post in forum.posts:
        if not forum.post_counts(post, hide_secret=True) or forum.excluded(post.author_id, exclude):
            continue
        if within(post.created_at):
            category = forum.thread(post.thread_id).category_id
            posts[category] += 1
            if post.author_id is not None:
                people[category].add(post.author_id)
    for reaction in forum.reactions:
        post = forum.post(reaction.post_id)
        if not forum.post_counts(post, hide_secret=True):
            continue
        if forum.excluded(reaction.member_id, exclude) or not within(reaction.created_at):
            continue
        category = forum.thread(post.thread_id).category_id
        reactions[category] += 1
        people[category].add(reaction.member_id)
    hours: dict[int, list[float]] = defaultdict(list)
    for thread, waited in forum.started(first, last, tz, hide=True):
        if waited is not None:
            hours[thread.category_id].append(waited)
    return {
        c: {
            "posts": posts[c],
            "reactions": reactions[c],
            "participants": len(people[c]),
            "hours": hours[c],
        }
        for c in {*posts, *reactions}
    }


def check(got: dict[str, Any], forum: Any, tz: ZoneInfo, days: list[date]) -> list[int]:
    """Compare, and return the categories shown."""
    now = expected(forum, tz, days[0], days[-1])
    before = expected(forum, tz, days[0] - timedelta(days=len(days)), days[0] - timedelta(days=1))
    total = sum(c["posts"] for c in now.values())
    assert got["total"] == total
    assert got["previous_total"] == sum(c["posts"] for c in before.values())
    names = {c.id: c.name for c in forum.categories}
    shown = sorted(
        (c for c in now if now[c]["participants"] >= MIN_SEGMENT),
        key=lambda c: (-now[c]["posts"], names[c]),
    )
    assert got["labels"] == [names[c] for c in shown]
    assert got["figures"]["left_out"] == len(now) - len(shown)
    series = {s["name"]: s["data"] for s in got["series"]}
    assert series["Posts"] == [now[c]["posts"] for c in shown]
    assert series["Participants"] == [now[c]["participants"] for c in shown]
    assert series["Reactions"] == [now[c]["reactions"] for c in shown]
    assert series["Median hours to first response"] == [
        None if not now[c]["hours"] else round(median(now[c]["hours"]), 2)  # type: ignore[arg-type]
        for c in shown
    ]
    assert series["Share of posts (%)"] == [round(now[c]["posts"] / total * 100, 1) for c in shown]
    assert (got["chart"], got["label"]) == ("bar", "category")
    return shown


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Chatham"])
async def test_categories_equal_counts_over_raw_rows(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any, zone: str
) -> None:
    await settings_of(app, time_zone=zone)
    data = await forum(app, zone)
    quiet = await add_quiet_category(app, data)
    tz = ZoneInfo(zone)
    today = data.now.astimezone(tz).date()
    headers = await api_token(app, "admin")
    days = last_days(today, PERIOD)
    params = {"start": days[0].isoformat(), "end": today.isoformat()}
    got = await report(client, headers, "categories", **params)
    shown = check(got, data, tz, days)
    assert shown and quiet.id not in shown
    assert got["figures"]["left_out"] >= 1
    assert "Quiet" not in got["summary"]
    assert got["summary"].startswith(f"{got['labels'][0]} drives engagement with ")


async def test_staff_count_when_the_setting_says_so(
    app: Any, client: Any, admin: Any, forum: Any, settings_of: Any
) -> None:
    await settings_of(app, exclude_staff=False)
    data = await forum(app)
    tz = ZoneInfo("UTC")
    today = data.now.date()
    headers = await api_token(app, "admin")
    got = await report(client, headers, "categories")
    first = today - timedelta(days=29)
    counted = expected(data, tz, first, today, exclude=False)
    assert got["total"] == sum(c["posts"] for c in counted.values())
    assert got["total"] != sum(c["posts"] for c in expected(data, tz, first, today).values())


async def test_no_category_narrowing_and_nothing_to_show(app: Any, client: Any, admin: Any) -> None:
    headers = await api_token(app, "admin")
    got = await report(client, headers, "categories")
    assert (got["total"], got["labels"], got["figures"]["left_out"]) == (0, [], 0)
    assert got["summary"] == "No posts in any category in these 30 days."
    async with app.state.sessionmaker() as db:
        category = Category(name="Any", slug="any")
        db.add(category)
        await db.commit()
    response = await client.get(
        "/api/v1/analytics/reports/categories",
        params={"category_id": str(category.id)},
        headers=headers,
    )
    assert response.status_code == 400
    assert "covers the whole community" in response.json()["detail"]
