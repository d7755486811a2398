"""Reports count only what the viewing admin may see: a plugin hiding threads hides them from
reports too, whether the days are rolled up or not."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from community.jobs import DONE
from community.testing import api_token, run_job
from plugins.analytics.tests.conftest import last_days, report

pytestmark = pytest.mark.visibility("hider")


async def test_hidden_threads_are_not_counted(
    app: Any, client: Any, admin: Any, forum: Any
) -> None:
    data = await forum(app)
    headers = await api_token(app, "admin")
    tz = ZoneInfo("UTC")
    today = data.now.date()
    days = last_days(today, 60)
    params = {"start": days[0].isoformat(), "end": today.isoformat()}
    for metric in ("posts", "threads", "reactions"):
        assert data.daily(metric, days, tz, hide=True) != data.daily(metric, days, tz)
    for runs in range(3):
        for metric in ("posts", "threads", "reactions"):
            got = await report(client, headers, metric, **params)
            assert got["series"][0]["data"] == data.daily(metric, days, tz, hide=True)
        got = await report(client, headers, "response_time", **params)
        assert got["figures"]["threads"] == len(data.started(days[0], today, tz, hide=True))
        assert (await run_job(app, "analytics.rollup")).state == DONE, runs
