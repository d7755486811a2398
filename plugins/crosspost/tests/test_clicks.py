"""With the analytics plugin: each share and each click on the tagged link back (a visitor on
the way to sign in, a member reading) is counted in its "Shares and clicks" report."""

from __future__ import annotations

from typing import Any

import pytest
from community_analytics import plugin as analytics
from community_crosspost import plugin as crosspost_plugin

from community.testing import browser, make_member, make_thread, settle, sign_in
from plugins.analytics.tests.test_views import nothing_pending  # noqa: F401 (autouse: no views timer outlives the test)


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [crosspost_plugin, analytics]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["crosspost", "analytics"]


async def test_shares_and_clicks_through_the_link_back_are_counted(
    crosspost: Any, app: Any, fake: Any
) -> None:
    thread = await make_thread(app, "admin", title="Spring launch", category="Announcements")
    target = await crosspost.target(kind="discord", webhook_url=f"{fake.url}/discord")
    assert target["config"]["utm"] == {"utm_source": "discord", "utm_medium": "social"}
    shared = await crosspost.call(
        "POST", f"/threads/{thread.id}/share", json={"targets": [target["id"]]}
    )
    assert shared.status_code == 201, shared.text
    await crosspost.run_jobs()
    [sent] = fake.seen
    link = sent.json()["embeds"][0]["url"]
    assert link.endswith(f"{thread.url}?utm_source=discord&utm_medium=social")
    path = link.removeprefix(app.state.settings.base_url)

    async with browser(app) as visitor:  # someone on Discord, not a member
        assert (await visitor.get(path)).url.path == "/signin"
    await make_member(app, "reader")
    async with browser(app) as reader:
        await sign_in(reader, "reader")
        assert (await reader.get(path)).status_code == 200
    await settle(app)

    got = await crosspost.client.get(
        "/api/v1/analytics/reports/shares", headers=crosspost.admin_headers
    )
    assert got.status_code == 200, got.text
    report = got.json()
    assert report["labels"] == ["discord"]
    assert [s["data"] for s in report["series"]] == [[2], [1]]  # clicks, shares
    assert report["figures"]["member_clicks"] == 1
    assert report["figures"]["threads"] == [
        {"id": thread.id, "title": "Spring launch", "url": thread.url, "shares": 1, "clicks": 2}
    ]
    assert report["summary"].startswith("2 clicks on tagged links and 1 share to other")
