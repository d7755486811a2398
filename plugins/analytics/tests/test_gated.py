"""Content private to some members (a beta program's categories) is left out of reports
unless the admin asks for it (``include_gated``), even though admins may see it."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from community.testing import api_token
from plugins.analytics.tests.conftest import last_days, report

pytestmark = pytest.mark.visibility("programme", admins_see_all=True)


async def test_gated_content_only_when_asked(app: Any, client: Any, admin: Any, forum: Any) -> None:
    data = await forum(app)
    headers = await api_token(app, "admin")
    tz = ZoneInfo("UTC")
    today = data.now.date()
    days = last_days(today, 60)
    params = {"start": days[0].isoformat(), "end": today.isoformat()}
    for metric in ("posts", "threads", "reactions"):
        hidden, whole = data.daily(metric, days, tz, hide=True), data.daily(metric, days, tz)
        assert hidden != whole
        got = await report(client, headers, metric, **params)
        assert got["series"][0]["data"] == hidden
        for flag in ("true", "1", "yes"):
            got = await report(client, headers, metric, **params, include_gated=flag)
            assert got["series"][0]["data"] == whole
    got = await client.get(
        "/api/v1/analytics/reports/posts", params={"include_gated": "maybe"}, headers=headers
    )
    assert got.status_code == 400
    assert "include_gated is true or false" in got.json()["detail"]
