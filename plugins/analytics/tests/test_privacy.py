"""Reports count only what the viewing admin may see: a plugin hiding threads hides them from
reports too, whether the days are rolled up or not."""

from __future__ import annotations

import types
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from community_analytics import plugin

from community import hookimpl
from community.jobs import DONE
from community.plugins import Manifest
from community.testing import api_token, run_job


def hider() -> types.ModuleType:
    module = types.ModuleType("hider")
    module.MANIFEST = Manifest(  # type: ignore[attr-defined]
        name="hider",
        version="1.0",
        description="Hides threads whose title says secret.",
        api=">=1.0,<2",
        capabilities={"visibility"},
    )

    @hookimpl
    def visible_threads(member: Any, thread: Any) -> Any:
        return ~thread.title.contains("secret")

    module.visible_threads = visible_threads  # type: ignore[attr-defined]
    return module


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [plugin, hider()]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["analytics", "hider"]


async def test_hidden_threads_are_not_counted(
    app: Any, client: Any, admin: Any, forum: Any
) -> None:
    data = await forum(app)
    headers = await api_token(app, "admin")
    tz = ZoneInfo("UTC")
    today = data.now.date()
    days = [today - timedelta(days=n) for n in range(59, -1, -1)]
    params = {"start": days[0].isoformat(), "end": today.isoformat()}
    for metric in ("posts", "threads", "reactions"):
        assert data.daily(metric, days, tz, hide=True) != data.daily(metric, days, tz)
    for runs in range(3):
        for metric in ("posts", "threads", "reactions"):
            got = await client.get(
                f"/api/v1/analytics/reports/{metric}", params=params, headers=headers
            )
            assert got.json()["series"][0]["data"] == data.daily(metric, days, tz, hide=True)
        got = await client.get(
            "/api/v1/analytics/reports/response_time", params=params, headers=headers
        )
        assert got.json()["figures"]["threads"] == len(data.started(days[0], today, tz, hide=True))
        assert (await run_job(app, "analytics.rollup")).state == DONE, runs
