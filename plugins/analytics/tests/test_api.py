"""The reports API: who may ask, what a bad question gets, and CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from community.db import utcnow
from community.errors import ServiceError
from community.testing import api_token, enable_plugin, make_member, make_thread

URL = "/api/v1/analytics/reports"


async def test_the_list_names_every_report(app: Any, client: Any, admin: Any) -> None:
    response = await client.get(URL, headers=await api_token(app, "admin"))
    assert response.status_code == 200
    names = [r["name"] for r in response.json()["reports"]]
    assert {"active", "posts", "response_time", "response_rate"} <= set(names)
    assert all(r["title"] and r["description"] for r in response.json()["reports"])


async def test_a_report_has_the_documented_shape(app: Any, client: Any, admin: Any) -> None:
    await make_thread(app, "admin")
    headers = await api_token(app, "admin")
    got = (await client.get(f"{URL}/threads", headers=headers)).json()
    assert {"name", "title", "labels", "series", "total", "previous_total", "change_pct"} <= set(
        got
    )
    assert got["name"] == "threads" and len(got["labels"]) == 30
    assert got["series"] == [{"name": "Threads", "data": [0] * 30}]  # an admin's: left out
    assert got["summary"] == "No threads in these 30 days or the previous 30."
    timing = (await client.get(f"{URL}/response_time", headers=headers)).json()
    assert timing["unit"] == "hours" and timing["total"] is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-02-30"}, "start must be a date like 2026-01-31"),
        ({"end": "yesterday"}, "end must be a date like 2026-01-31"),
        ({"start": "2025-03-02", "end": "2025-03-01"}, "start must be on or before end"),
        ({"start": "2020-01-01", "end": "2022-01-02"}, "at most two years"),
        ({"category_id": "abc"}, "category_id must be a whole number"),
        ({"category_id": "999999"}, "There is no category 999999"),
        ({"category_id": "99999999999999999999"}, "There is no category"),
        ({"format": "xml"}, "format is json or csv"),
    ],
)
async def test_bad_questions_get_400_saying_why(
    app: Any, client: Any, admin: Any, params: dict[str, str], message: str
) -> None:
    response = await client.get(
        f"{URL}/posts", params=params, headers=await api_token(app, "admin")
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]


async def test_the_future_and_a_category_for_a_community_wide_report_are_refused(
    app: Any, client: Any, admin: Any, thread: Any
) -> None:
    headers = await api_token(app, "admin")
    tomorrow = (utcnow() + timedelta(days=2)).date().isoformat()
    response = await client.get(f"{URL}/posts", params={"end": tomorrow}, headers=headers)
    assert response.status_code == 400 and "after today" in response.json()["detail"]
    params = {"category_id": str(thread.category_id)}
    response = await client.get(f"{URL}/active", params=params, headers=headers)
    assert response.status_code == 400
    assert "covers the whole community" in response.json()["detail"]


async def test_two_years_exactly_is_allowed(app: Any, client: Any, admin: Any) -> None:
    params = {"start": "2024-01-01", "end": "2025-12-31"}  # 731 days
    response = await client.get(
        f"{URL}/members", params=params, headers=await api_token(app, "admin")
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["labels"]) == 731


async def test_an_unknown_report_is_404(app: Any, client: Any, admin: Any) -> None:
    response = await client.get(f"{URL}/nonsense", headers=await api_token(app, "admin"))
    assert response.status_code == 404
    assert "No report called 'nonsense'" in response.json()["detail"]


@pytest.mark.parametrize("how", ["accept", "query"])
async def test_csv_has_a_row_per_day(
    app: Any, client: Any, admin: Any, member: Any, how: str
) -> None:
    await make_thread(app, "member")
    headers = await api_token(app, "admin")
    params = {"start": "2026-01-01", "end": utcnow().date().isoformat()}
    if how == "accept":
        headers["Accept"] = "text/csv"
    else:
        params["format"] = "csv"
    response = await client.get(f"{URL}/threads", params=params, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["day", "Threads"]
    assert rows[1][0] == "2026-01-01"
    assert rows[-1] == [utcnow().date().isoformat(), "1"]
    json = await client.get(f"{URL}/threads", params={**params, "format": "json"}, headers=headers)
    assert len(rows) - 1 == len(json.json()["labels"])


async def test_members_may_not_see_reports(app: Any, client: Any, member: Any) -> None:
    headers = await api_token(app, "member")
    assert (await client.get(URL, headers=headers)).status_code == 403
    assert (await client.get(f"{URL}/posts", headers=headers)).status_code == 403
    assert (await client.get(f"{URL}/posts")).status_code == 401


async def test_moderators_see_reports_only_when_the_setting_says_so(
    app: Any, client: Any, settings_of: Any
) -> None:
    await make_member(app, "mod", "moderator")
    headers = await api_token(app, "mod")
    assert (await client.get(f"{URL}/posts", headers=headers)).status_code == 403
    await settings_of(app, moderators_may_view=True)
    assert (await client.get(f"{URL}/posts", headers=headers)).status_code == 200


async def test_a_disabled_plugin_answers_404(app: Any, client: Any, admin: Any) -> None:
    await enable_plugin(app, "analytics", False)
    assert (await client.get(URL, headers=await api_token(app, "admin"))).status_code == 404


async def test_a_bad_time_zone_is_a_field_error(app: Any, settings_of: Any) -> None:
    with pytest.raises(ServiceError) as caught:
        await settings_of(app, time_zone="Mars/Olympus")
    assert caught.value.status == 422
    assert "Unknown time zone 'Mars/Olympus'" in caught.value.detail
