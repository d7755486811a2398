"""The waitlist ordered by engagement: with the analytics plugin enabled too, its scores
(through the core's ``member_scores`` hook: the plugins do not import each other) rank who
waits, highest first, ties in request order; admitting the next N follows that order.
Without a plugin rating members, ordering by engagement is a 400 saying what to enable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from community_analytics import plugin as analytics
from community_beta import plugin
from sqlalchemy import select

from community.accounts.models import Member
from community.db import utcnow
from community.forum.models import Category, Post, Reaction, Thread
from community.testing import enable_plugin, post_form, settle, sign_in
from plugins.analytics.tests.test_views import nothing_pending  # noqa: F401 (autouse: no views timer outlives the test)


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [plugin, analytics]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["beta", "analytics"]


async def _write_activity(app: Any, posts: dict[str, int], reactions: dict[str, int]) -> None:
    """Shown posts by each member named in ``posts`` and reactions by each named in
    ``reactions`` (to the first post), written straight into the tables a day ago."""
    at = utcnow() - timedelta(days=1)
    async with app.state.sessionmaker() as db:
        ids = {name: id_ for name, id_ in await db.execute(select(Member.username, Member.id))}
        category = Category(name="Talk", slug="talk")
        db.add(category)
        await db.flush()
        thread = Thread(
            category_id=category.id, title="Hello", slug="hello", created_at=at, last_posted_at=at
        )
        db.add(thread)
        await db.flush()
        written = []
        for name, count in posts.items():
            for _ in range(count):
                number = len(written) + 1
                written.append(
                    Post(
                        thread_id=thread.id,
                        number=number,
                        author_id=ids[name],
                        body="b",
                        html="<p>b</p>",
                        created_at=at,
                    )
                )
        db.add_all(written)
        await db.flush()
        for name, count in reactions.items():
            for emoji in ["👍", "🎉", "❤️"][:count]:
                db.add(
                    Reaction(post_id=written[0].id, member_id=ids[name], emoji=emoji, created_at=at)
                )
        await db.commit()


async def _waitlist(beta: Any) -> tuple[str, list[str]]:
    """A program whose waitlist ada, grace, linus and ken join in that order: linus writes
    two posts (6) and gets a reaction from grace (1); ada writes one (3); grace reacts (1);
    ken does nothing. Returns the program's API path and the names in request order."""
    names = ["ada", "grace", "linus", "ken"]
    headers = {name: await beta.member(name) for name in names}
    program = await beta.program(status="private_beta", waitlist_open=True)
    path = f"/programs/{program['id']}"
    for name in names:
        asked = await beta.call("POST", f"{path}/waitlist", headers[name], json={"answers": []})
        assert asked.status_code == 201, asked.text
    await _write_activity(beta.app, posts={"linus": 2, "ada": 1}, reactions={"grace": 1})
    await settle(beta.app)
    return path, names


async def test_the_waitlist_by_engagement_and_admitting_the_most_engaged(beta: Any) -> None:
    path, names = await _waitlist(beta)
    by_date = await beta.call("GET", f"{path}/waitlist")
    assert [w["username"] for w in by_date.json()["waiting"]] == names
    assert {w["score"] for w in by_date.json()["waiting"]} == {None}
    ranked = await beta.call("GET", f"{path}/waitlist", params={"order": "engagement"})
    assert ranked.status_code == 200, ranked.text
    assert ranked.json()["order"] == "engagement"
    assert [(w["username"], w["score"]) for w in ranked.json()["waiting"]] == [
        ("linus", 7.0),
        ("ada", 3.0),
        ("grace", 1.0),
        ("ken", 0.0),
    ]
    admitted = await beta.call("POST", f"{path}/admit", json={"count": 1, "order": "engagement"})
    assert admitted.status_code == 200, admitted.text
    assert admitted.json() == {"admitted": ["linus"], "participants": 1}
    in_order = await beta.call("POST", f"{path}/admit", json={"count": 1, "order": "requested"})
    assert in_order.json() == {"admitted": ["ada"], "participants": 2}
    both = await beta.call("POST", f"{path}/admit", json={"count": 2, "order": "engagement"})
    assert both.json() == {"admitted": ["grace", "ken"], "participants": 4}


async def test_bad_orders_are_refused(beta: Any) -> None:
    path, _ = await _waitlist(beta)
    bogus = await beta.call("GET", f"{path}/waitlist", params={"order": "bogus"})
    assert bogus.status_code == 400
    assert bogus.json()["error"] == "invalid_order"
    assert bogus.json()["detail"] == (
        "order is requested (by request date) or engagement (by engagement score)."
    )
    for body in ({"count": 1, "order": "bogus"}, {"count": 1, "order": ["engagement"]}):
        refused = await beta.call("POST", f"{path}/admit", json=body)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_order"
    named = await beta.call(
        "POST", f"{path}/admit", json={"usernames": ["ada"], "order": "engagement"}
    )
    assert named.status_code == 400 and named.json()["error"] == "invalid_body"
    assert len((await beta.call("GET", f"{path}/waitlist")).json()["waiting"]) == 4


async def test_without_the_analytics_plugin_engagement_is_refused(beta: Any) -> None:
    path, names = await _waitlist(beta)
    await enable_plugin(beta.app, "analytics", False)
    ranked = await beta.call("GET", f"{path}/waitlist", params={"order": "engagement"})
    assert ranked.status_code == 400
    assert ranked.json()["error"] == "scores_unavailable"
    assert ranked.json()["detail"] == (
        "Ordering the waitlist by engagement needs the analytics plugin enabled: ask an admin "
        "to enable it on Admin → Plugins, or order by request date."
    )
    refused = await beta.call("POST", f"{path}/admit", json={"count": 1, "order": "engagement"})
    assert refused.status_code == 400 and refused.json()["error"] == "scores_unavailable"
    by_date = await beta.call("GET", f"{path}/waitlist")
    assert [w["username"] for w in by_date.json()["waiting"]] == names


def _waitlist_rows(page: str) -> list[str]:
    """The names in the waitlist table of a program's admin page, top to bottom."""
    section = page.split('id="waitlist"', 1)[1]
    return [row.split("<td>", 2)[1].split("</td>", 1)[0] for row in section.split("<tr>")[2:]]


async def test_the_admin_page_orders_by_engagement(beta: Any, client: Any) -> None:
    path, names = await _waitlist(beta)
    admin_page = f"/p/beta/admin{path}"
    await sign_in(client, "admin")
    by_date = await client.get(admin_page)
    assert by_date.status_code == 200
    assert _waitlist_rows(by_date.text) == names
    assert f'href="{admin_page}?order=engagement#waitlist">engagement</a>' in by_date.text
    assert "<th>Score</th>" not in by_date.text
    ranked = await client.get(admin_page, params={"order": "engagement"})
    assert ranked.status_code == 200
    assert _waitlist_rows(ranked.text) == ["linus", "ada", "grace", "ken"]
    assert "<th>Score</th>" in ranked.text and "<td>7</td>" in ranked.text
    assert '<input type="hidden" name="order" value="engagement">' in ranked.text
    page = f"{admin_page}?order=engagement"
    admitted = await post_form(
        client, f"{admin_page}/admit", {"count": "2", "order": "engagement"}, page=page
    )
    assert "Admitted linus, ada." in admitted.text
    bogus = await client.get(admin_page, params={"order": "bogus"})
    assert bogus.status_code == 400
    await enable_plugin(beta.app, "analytics", False)
    alone = await client.get(admin_page)
    assert alone.status_code == 200 and _waitlist_rows(alone.text) == ["grace", "ken"]
    assert "?order=engagement" not in alone.text
