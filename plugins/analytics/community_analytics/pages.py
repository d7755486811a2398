"""The plugin's pages under /p/analytics/: the dashboard (a tile per report), a page per report
(chart, figures, table, CSV), the weekly digests, and the fragments the slots load."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community import mail, plugins
from community.accounts.models import Member
from community.errors import ServiceError
from community.forum.models import Category
from community.web import render
from community_analytics import catalogue, digest, slots
from community_analytics.access import require_viewer
from community_analytics.api import answer, asked_period, csv_response, iso, yes_or_no
from community_analytics.digest import figure, number
from community_analytics.models import Digest
from community_analytics.reports import Period, Report, parse_day

SPARK_WIDTH = 100
SPARK_HEIGHT = 24
SUMMARY_SECONDS = 300
"""How long the admin pages' summary is kept (in the app's ``cache`` store, shared by the
processes when Redis is configured) before its reports are run again."""


@get("/", guards=[require_viewer])
async def dashboard(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    start: str | None = None,
    end: str | None = None,
) -> Template:
    try:
        period = asked_period(start, end)
    except ServiceError as exc:
        form = {"start": start or "", "end": end or ""}
        return render(
            request, "analytics/dashboard.html", exc.status, tiles=[], error=exc.detail, **form
        )
    tiles = await digest.reports(db, member, period)
    return render(
        request,
        "analytics/dashboard.html",
        tiles=tiles,
        sparks={tile.name: sparkline(tile) for tile in tiles},
        links={tile.name: report_url(tile.name, period) for tile in tiles},
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        figure=figure,
    )


@get("/reports/{name:str}", guards=[require_viewer])
async def report_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    name: str,
    start: str | None = None,
    end: str | None = None,
    category_id: str | None = None,
    include_gated: str | None = None,
) -> Template:
    found = catalogue.definition(name)
    form = {
        "start": start or "",
        "end": end or "",
        "category_id": category_id or "",
        "include_gated": False,
    }
    context: dict[str, Any] = {
        "definition": found,
        "categories": await categories(db) if found.by_category else [],
        "form": form,
        "figure": figure,
        "number": number,
    }
    try:
        period = asked_period(start, end)
        form.update(start=period.start.isoformat(), end=period.end.isoformat())
        gated = form["include_gated"] = yes_or_no(include_gated, "include_gated")
        report = await catalogue.run(db, member, name, *iso(period), category_id, gated=gated)
    except ServiceError as exc:
        if exc.status == 404:
            raise
        return render(request, "analytics/report.html", exc.status, error=exc.detail, **context)
    question = {
        "start": form["start"],
        "end": form["end"],
        "category_id": category_id or "",
        "include_gated": "1" if gated else "",
    }
    query = urlencode({k: v for k, v in question.items() if v})
    return render(
        request,
        "analytics/report.html",
        report=report,
        chart=chart_data(report),
        figures=described(report.figures),
        csv_url=f"/p/analytics/reports/{name}/csv?{query}",
        api_url=f"/api/v1/analytics/reports/{name}?format=csv&{query}",
        **context,
    )


@get("/reports/{name:str}/csv", guards=[require_viewer])
async def report_csv(
    db: AsyncSession,
    member: Member,
    name: str,
    start: str | None = None,
    end: str | None = None,
    category_id: str | None = None,
    include_gated: str | None = None,
) -> Response[str]:
    """The report as CSV for a signed-in browser (the API's CSV needs a token)."""
    report, period = await answer(db, member, name, start, end, category_id, include_gated)
    return csv_response(report, period)


@get("/digests", guards=[require_viewer])
async def digests(request: Request[Any, Any, Any], db: AsyncSession) -> Template:
    found = list(await db.scalars(select(Digest).order_by(Digest.week.desc()).limit(104)))
    return render(request, "analytics/digests.html", digests=found, mail=mail.configured())


@get("/digests/{week:str}", guards=[require_viewer])
async def digest_page(request: Request[Any, Any, Any], db: AsyncSession, week: str) -> Template:
    try:
        monday = parse_day(week, "week")
    except ServiceError:
        raise NotFoundException(f"No digest for the week of {week}.") from None
    found = await db.scalar(select(Digest).where(Digest.week == monday))
    if found is None:
        raise NotFoundException(f"No digest for the week of {monday.isoformat()}.")
    period = digest.week_of(monday)
    return render(
        request,
        "analytics/digest.html",
        digest=found,
        period=period,
        links={tile["name"]: report_url(tile["name"], period) for tile in found.tiles},
        figure=figure,
    )


@get("/summary", guards=[require_viewer])
async def summary(request: Request[Any, Any, Any], db: AsyncSession, member: Member) -> Template:
    """The admin pages' engagement summary (the ``admin_dashboard`` slot loads it): the
    reports of ``slots.SUMMARY`` over the last 30 days, made at most every ``SUMMARY_SECONDS``
    for each viewer, since every admin page asks for it."""
    period = asked_period(None, None)
    key = f"analytics:summary:{member.id}:{plugins.settings('analytics').signature}:{period.end}"
    store = request.app.stores.get("cache")
    kept = await store.get(key)
    if kept is not None:
        tiles = json.loads(kept)
    else:
        names = [name for name in slots.SUMMARY if name in catalogue.REPORTS]
        tiles = [digest.tile(report) for report in await digest.reports(db, member, period, names)]
        await store.set(key, json.dumps(tiles), expires_in=SUMMARY_SECONDS)
    return render(request, "analytics/_summary.html", tiles=tiles, figure=figure)


@get("/me")
async def me(request: Request[Any, Any, Any], db: AsyncSession, member: Member) -> Template:
    """The signed-in member's own activity (the ``profile`` slot loads it on their profile)."""
    activity = await slots.own_activity(db, member)
    return render(request, "analytics/_me.html", activity=activity, days=slots.OWN_DAYS)


# -- helpers ---------------------------------------------------------------------------------


def report_url(name: str, period: Period) -> str:
    start, end = iso(period)
    return f"/p/analytics/reports/{name}?{urlencode({'start': start, 'end': end})}"


async def categories(db: AsyncSession) -> list[tuple[int, str]]:
    """Every category as (id, name), each parent followed by its subcategories (indented)."""
    rows = list(
        await db.execute(
            select(Category.id, Category.name, Category.parent_id).order_by(
                Category.position, Category.name
            )
        )
    )
    found = []
    for id_, name, parent_id in rows:
        if parent_id is None:
            found.append((id_, name))
            found += [(c, f"— {n}") for c, n, p in rows if p == id_]
    return found


def described(figures: dict[str, Any]) -> list[tuple[str, Any]]:
    """The report's extra figures as (label, text or list of texts) for a definition list."""
    found: list[tuple[str, Any]] = []
    for key, value in figures.items():
        label = key.replace("_", " ").capitalize().replace(" pct", " (%)")
        if isinstance(value, dict):
            found.append((label, [f"{k}: {text(v)}" for k, v in value.items()]))
        elif isinstance(value, list):
            found.append((label, [text(item) for item in value]))
        else:
            found.append((label, text(value)))
    return found


def text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(text(v) for v in value)
    return number(value)


def sparkline(report: Report) -> str | None:
    """The points of an SVG polyline of the report's first series, for line reports only."""
    if report.chart != "line" or not report.series:
        return None
    values = [(n, v) for n, v in enumerate(report.series[0].data) if v is not None]
    if len(values) < 2:
        return None
    low = min(v for _, v in values)
    high = max(v for _, v in values)
    last = max(len(report.series[0].data) - 1, 1)
    points = []
    for n, value in values:
        x = n / last * SPARK_WIDTH
        share = (value - low) / (high - low) if high > low else 0.5
        y = SPARK_HEIGHT - 2 - share * (SPARK_HEIGHT - 4)
        points.append(f"{x:.1f},{y:.1f}")
    return " ".join(points)


def chart_data(report: Report) -> dict[str, Any]:
    """What analytics.js needs to draw the report."""
    return {
        "chart": report.chart,
        "title": report.title,
        "labels": report.labels,
        "series": [{"name": s.name, "data": s.data} for s in report.series],
        "unit": report.unit,
        "label": report.label,
    }


routes: list[Any] = [dashboard, report_page, report_csv, digests, digest_page, summary, me]
