"""The admin pages' summary is made once for a while, not on every admin page; CSV of a report
with no rows downloads, from the pages and the API alike; a title is never a formula in it."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from community_analytics import catalogue, pages
from community_analytics.api import to_csv
from community_analytics.reports import Report, Series

from community.testing import api_token, make_thread, sign_in


async def test_the_summary_is_made_once_then_kept(
    app: Any, client: Any, admin: Any, member: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_thread(app, "member")
    await sign_in(client, "admin")
    ran: list[str] = []
    run = catalogue.run

    async def counted(*args: Any, **kwargs: Any) -> Any:
        ran.append(args[2])
        return await run(*args, **kwargs)

    monkeypatch.setattr(catalogue, "run", counted)
    first = await client.get("/p/analytics/summary")
    assert first.status_code == 200 and ran == ["active", "engaged", "posts", "threads"]
    await make_thread(app, "member", title="Another")
    second = await client.get("/p/analytics/summary")
    assert second.text == first.text and len(ran) == 4  # kept: no report ran again
    assert pages.SUMMARY_SECONDS <= 600  # and not for long


@pytest.mark.parametrize("path", ["/p/analytics/reports", "/api/v1/analytics/reports"])
async def test_an_empty_table_downloads_as_csv(
    app: Any, client: Any, admin: Any, path: str
) -> None:
    await sign_in(client, "admin")
    headers = await api_token(app, "admin") if path.startswith("/api") else {}
    suffix = "?format=csv&" if path.startswith("/api") else "/csv?"
    response = await client.get(
        f"{path}/top_threads{suffix}start=2026-01-01&end=2026-01-07", headers=headers
    )
    assert response.status_code == 200
    assert response.text.splitlines() == ["thread,Replies,Reactions,Participants,Views"]
    disposition = response.headers["content-disposition"]
    assert disposition == 'attachment; filename="top_threads-2026-01-01-2026-01-07.csv"'


def test_a_title_is_never_a_formula_in_the_csv() -> None:
    report = Report(
        name="top_threads",
        title="Top threads",
        labels=['=HYPERLINK("http://x.test")', "-1 idea", "Plain", "2026-01-01"],
        series=[Series("Replies", [3, None, 1, -2])],
        total=4,
        previous_total=None,
        summary="",
        label="thread",
    )
    assert list(csv.reader(io.StringIO(to_csv(report)))) == [
        ["thread", "Replies"],
        ['\'=HYPERLINK("http://x.test")', "3"],
        ["'-1 idea", ""],
        ["Plain", "1"],
        ["2026-01-01", "-2"],
    ]
