"""Questions at the edges get an answer or a 400, never a 500: a start so early that the period
before it cannot be told, a category for a report about the whole community, the longest
period for the reports that read more than the period (the weeks before it, the period before
the one before)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from community_analytics import catalogue
from community_analytics.reports import EARLIEST, MAX_DAYS, plural

from community.db import utcnow
from community.testing import api_token, make_thread

URL = "/api/v1/analytics/reports"
READ_LIVE = [
    "best_time",
    "retention",
    "growth",
    "invites",
    "inviters",
    "top_threads",
    "contributors",
    "categories",
    "response_time",
    "response_rate",
]
"""Reports that read raw rows rather than the rollup, some beyond the period asked for."""


@pytest.mark.parametrize("name", sorted(catalogue.REPORTS))
@pytest.mark.parametrize("start", ["0001-01-01", "1969-12-31"])
async def test_a_start_before_1970_is_refused(
    app: Any, client: Any, admin: Any, name: str, start: str
) -> None:
    params = {"start": start, "end": "1970-01-31"}
    response = await client.get(
        f"{URL}/{name}", params=params, headers=await api_token(app, "admin")
    )
    assert response.status_code == 400, response.text
    assert EARLIEST.isoformat() in response.json()["detail"]


async def test_the_earliest_start_is_allowed(app: Any, client: Any, admin: Any) -> None:
    params = {"start": EARLIEST.isoformat(), "end": EARLIEST.isoformat()}
    response = await client.get(
        f"{URL}/growth", params=params, headers=await api_token(app, "admin")
    )
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 0


@pytest.mark.parametrize(
    "name", sorted(name for name, found in catalogue.REPORTS.items() if not found.by_category)
)
async def test_a_category_for_a_community_wide_report_is_a_400(
    app: Any, client: Any, admin: Any, thread: Any, name: str
) -> None:
    params = {"category_id": str(thread.category_id)}
    response = await client.get(
        f"{URL}/{name}", params=params, headers=await api_token(app, "admin")
    )
    assert response.status_code == 400, response.text
    assert "covers the whole community" in response.json()["detail"]


@pytest.mark.parametrize("name", READ_LIVE)
async def test_the_longest_period_answers(
    app: Any, client: Any, admin: Any, member: Any, name: str
) -> None:
    await make_thread(app, "member", title="Long ago and now")
    today = utcnow().date() - timedelta(days=1)
    params = {
        "start": (today - timedelta(days=MAX_DAYS - 1)).isoformat(),
        "end": today.isoformat(),
    }
    response = await client.get(
        f"{URL}/{name}", params=params, headers=await api_token(app, "admin")
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == name


def test_plural_says_one_and_many() -> None:
    assert plural(1, "post") == "1 post"
    assert plural(0, "post") == "0 posts"
    assert plural(2, "reply", "replies") == "2 replies"
    assert plural(1, "reply", "replies") == "1 reply"
