"""Content private to some members (a beta program's categories) is left out of reports
unless the admin asks for it (``include_gated``), even though admins may see it."""

from __future__ import annotations

import types
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from community_analytics import plugin

from community import hookimpl
from community.plugins import Manifest
from community.testing import api_token


def programme() -> types.ModuleType:
    module = types.ModuleType("programme")
    module.MANIFEST = Manifest(  # type: ignore[attr-defined]
        name="programme",
        version="1.0",
        description="Threads whose title says secret are for admins only, like a beta program.",
        api=">=1.0,<2",
        capabilities={"visibility"},
    )

    @hookimpl
    def visible_threads(member: Any, thread: Any) -> Any:
        return None if member.role == "admin" else ~thread.title.contains("secret")

    module.visible_threads = visible_threads  # type: ignore[attr-defined]
    return module


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [plugin, programme()]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["analytics", "programme"]


async def test_gated_content_only_when_asked(app: Any, client: Any, admin: Any, forum: Any) -> None:
    data = await forum(app)
    headers = await api_token(app, "admin")
    tz = ZoneInfo("UTC")
    today = data.now.date()
    days = [today - timedelta(days=n) for n in range(59, -1, -1)]
    params = {"start": days[0].isoformat(), "end": today.isoformat()}
    for metric in ("posts", "threads", "reactions"):
        hidden, whole = data.daily(metric, days, tz, hide=True), data.daily(metric, days, tz)
        assert hidden != whole
        url = f"/api/v1/analytics/reports/{metric}"
        got = await client.get(url, params=params, headers=headers)
        assert got.json()["series"][0]["data"] == hidden
        for flag in ("true", "1", "yes"):
            got = await client.get(url, params={**params, "include_gated": flag}, headers=headers)
            assert got.json()["series"][0]["data"] == whole
    got = await client.get(
        "/api/v1/analytics/reports/posts", params={"include_gated": "maybe"}, headers=headers
    )
    assert got.status_code == 400
    assert "include_gated is true or false" in got.json()["detail"]
