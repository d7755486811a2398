"""The pages: the dashboard (a tile per report), a page per report with its chart, figures,
table and CSV, for admins only; bad questions are explained on the page."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from community_analytics.catalogue import REPORTS
from community_analytics.digest import number

from community.testing import api_token, make_member, make_thread, sign_in

ROW = re.compile(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', re.S)
CELL = re.compile(r'<td class="number">(.*?)</td>')
SCRIPT = re.compile(r"<script([^>]*)>", re.S)


def table(page: str) -> list[list[str]]:
    """The rows of the report's table, each its label then its cells."""
    return [[html.unescape(label), *CELL.findall(cells)] for label, cells in ROW.findall(page)]


async def test_admins_see_a_tile_per_report(app: Any, client: Any, admin: Any, member: Any) -> None:
    await make_thread(app, "member")
    await sign_in(client, "admin")
    page = await client.get("/p/analytics/")
    assert page.status_code == 200
    for name in REPORTS:
        assert f'id="tile-{name}"' in page.text
        assert f'href="/p/analytics/reports/{name}?start=' in page.text
    assert "1 thread in these 30 days; none in the previous 30." in page.text
    assert 'href="/p/analytics/digests"' in page.text
    assert 'href="/p/analytics/"' in (await client.get("/admin")).text


async def test_line_tiles_have_a_sparkline(app: Any, client: Any, admin: Any, forum: Any) -> None:
    await forum(app)
    await sign_in(client, "admin")
    headers = await api_token(app, "admin")
    page = (await client.get("/p/analytics/")).text
    tiles = dict(re.findall(r'id="tile-([a-z_]+)">(.*?)</section>', page, re.S))
    for name in REPORTS:
        got = (await client.get(f"/api/v1/analytics/reports/{name}", headers=headers)).json()
        points = re.search(r'<polyline points="([^"]+)"', tiles[name])
        drawn = [v for v in got["series"][0]["data"] if v is not None] if got["series"] else []
        if got["chart"] != "line" or len(drawn) < 2:
            assert points is None, name
            continue
        assert points is not None, name
        ys = [float(p.split(",")[1]) for p in points.group(1).split()]
        assert len(ys) == len(drawn)
        if max(drawn) > min(drawn):  # the highest day is drawn highest (smallest y)
            assert ys[drawn.index(max(drawn))] == min(ys)
            assert ys[drawn.index(min(drawn))] == max(ys)


@pytest.mark.parametrize("name", list(REPORTS))
async def test_every_report_has_a_page(
    app: Any, client: Any, admin: Any, forum: Any, name: str
) -> None:
    await forum(app)
    await sign_in(client, "admin")
    headers = await api_token(app, "admin")
    got = (await client.get(f"/api/v1/analytics/reports/{name}", headers=headers)).json()
    page = await client.get(f"/p/analytics/reports/{name}")
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert f"<h1>{REPORTS[name].title}</h1>" in text
    assert REPORTS[name].description in text
    assert got["summary"] in text
    assert ('<select name="category_id">' in page.text) == REPORTS[name].by_category
    assert 'name="include_gated"' in page.text
    expected = [
        [label, *(number(s["data"][n]) for s in got["series"])]
        for n, label in enumerate(got["labels"])
    ]
    assert table(page.text) == expected
    header = re.search(r"<thead><tr><th scope=\"col\">(.*?)</th>", page.text)
    if got["labels"]:
        assert header is not None and header.group(1).lower() == html.escape(got["label"]).lower()
    else:
        assert header is None and "Nothing to show for this period." in page.text
    drawn = 'class="analytics-chart-data"' in page.text
    assert drawn == (got["chart"] != "table" and bool(got["labels"]) and bool(got["series"]))
    for attributes in SCRIPT.findall(page.text):  # the policy forbids inline scripts
        assert "src=" in attributes or 'type="application/json"' in attributes


async def test_the_csv_link_downloads_the_table(
    app: Any, client: Any, admin: Any, forum: Any
) -> None:
    await forum(app)
    await sign_in(client, "admin")
    headers = await api_token(app, "admin")
    last = (await client.get("/api/v1/analytics/reports/posts", headers=headers)).json()
    params = {"start": last["labels"][-10], "end": last["labels"][-1]}
    page = await client.get("/p/analytics/reports/posts", params=params)
    link = re.search(r'<a class="button" href="([^"]+)" download>Download CSV</a>', page.text)
    assert link is not None
    url = html.unescape(link.group(1))
    assert url.startswith("/p/analytics/reports/posts/csv?")
    csv = await client.get(url)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert f"posts-{params['start']}-{params['end']}.csv" in csv.headers["content-disposition"]
    api = await client.get(
        "/api/v1/analytics/reports/posts", params={**params, "format": "csv"}, headers=headers
    )
    assert csv.text == api.text
    assert csv.text.splitlines()[0] == "day,Posts"
    assert f"/api/v1/analytics/reports/posts?format=csv&amp;start={params['start']}" in page.text


async def test_the_page_keeps_the_question(app: Any, client: Any, admin: Any, forum: Any) -> None:
    data = await forum(app)
    await sign_in(client, "admin")
    ideas = next(c for c in data.categories if c.name == "Ideas")
    params = {"category_id": str(ideas.id), "include_gated": "1"}
    page = await client.get("/p/analytics/reports/threads", params=params)
    assert page.status_code == 200
    assert f'<option value="{ideas.id}" selected>Ideas</option>' in page.text
    assert 'name="include_gated" value="1" checked' in page.text
    assert f"category_id={ideas.id}&amp;include_gated=1" in page.text  # in the CSV link
    headers = await api_token(app, "admin")
    got = await client.get("/api/v1/analytics/reports/threads", params=params, headers=headers)
    assert html.escape(got.json()["summary"], quote=False) in page.text


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("posts", {"start": "2026-05-02", "end": "2026-05-01"}, "start must be on or before end"),
        ("posts", {"start": "yesterday"}, "start must be a date like 2026-01-31"),
        ("posts", {"category_id": "999999"}, "There is no category 999999."),
        ("posts", {"category_id": "ideas"}, "category_id must be a whole number"),
        ("active", {"category_id": "{category}"}, "has no category"),
        ("posts", {"include_gated": "maybe"}, "include_gated is true or false"),
    ],
)
async def test_a_bad_question_says_why_on_the_page(
    app: Any, client: Any, admin: Any, name: str, params: dict[str, str], message: str
) -> None:
    made = await make_thread(app, "admin")
    params = {key: value.format(category=made.category_id) for key, value in params.items()}
    await sign_in(client, "admin")
    page = await client.get(f"/p/analytics/reports/{name}", params=params)
    assert page.status_code == 400
    assert message in html.unescape(page.text)
    assert '<form method="get" action="/p/analytics/reports/' in page.text  # to ask again
    csv = await client.get(f"/p/analytics/reports/{name}/csv", params=params)
    assert csv.status_code == 400


async def test_an_unknown_report_is_not_found(app: Any, client: Any, admin: Any) -> None:
    await sign_in(client, "admin")
    assert (await client.get("/p/analytics/reports/nothing")).status_code == 404
    assert (await client.get("/p/analytics/reports/nothing/csv")).status_code == 404


async def test_a_bad_period_says_why(app: Any, client: Any, admin: Any) -> None:
    await sign_in(client, "admin")
    page = await client.get("/p/analytics/", params={"start": "2026-05-02", "end": "2026-05-01"})
    assert page.status_code == 400
    assert "start must be on or before end" in page.text
    assert 'name="start" value="2026-05-02"' in page.text


@pytest.mark.parametrize(
    "path",
    [
        "/p/analytics/",
        "/p/analytics/reports/posts",
        "/p/analytics/reports/posts/csv",
        "/p/analytics/digests",
        "/p/analytics/summary",
    ],
)
async def test_members_may_not_see_the_pages(app: Any, client: Any, member: Any, path: str) -> None:
    await sign_in(client, "member")
    assert (await client.get(path)).status_code == 403


async def test_moderators_may_when_the_setting_says(
    app: Any, client: Any, settings_of: Any
) -> None:
    await make_member(app, "mod", "moderator")
    await sign_in(client, "mod")
    assert (await client.get("/p/analytics/reports/posts")).status_code == 403
    await settings_of(app, moderators_may_view=True)
    assert (await client.get("/p/analytics/reports/posts")).status_code == 200


@pytest.mark.parametrize(
    "name",
    ["analytics.js", "analytics.css", "chart.umd.min.js", "chartjs-chart-matrix.min.js"],
)
async def test_the_static_files_are_served(app: Any, client: Any, admin: Any, name: str) -> None:
    await sign_in(client, "admin")
    served = await client.get(f"/static/analytics/{name}")
    assert served.status_code == 200
    assert len(served.content) > 1000
    page = await client.get("/p/analytics/reports/posts")
    assert f"/static/analytics/{name}" in page.text
