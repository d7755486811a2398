"""The dashboard: a tile per report, for admins only."""

from __future__ import annotations

from typing import Any

from community.testing import make_thread, sign_in


async def test_admins_see_a_tile_per_report(app: Any, client: Any, admin: Any, member: Any) -> None:
    await make_thread(app, "member")
    await sign_in(client, "admin")
    page = await client.get("/p/analytics/")
    assert page.status_code == 200
    for name in ("active", "posts", "threads", "reactions", "members", "response_time"):
        assert f'id="tile-{name}"' in page.text
    assert "1 thread in these 30 days; none in the previous 30." in page.text
    assert 'href="/p/analytics/"' in (await client.get("/admin")).text


async def test_a_bad_period_says_why(app: Any, client: Any, admin: Any) -> None:
    await sign_in(client, "admin")
    page = await client.get("/p/analytics/", params={"start": "2026-05-02", "end": "2026-05-01"})
    assert page.status_code == 400
    assert "start must be on or before end" in page.text


async def test_members_may_not_see_the_dashboard(app: Any, client: Any, member: Any) -> None:
    await sign_in(client, "member")
    assert (await client.get("/p/analytics/")).status_code == 403
