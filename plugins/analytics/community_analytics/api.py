"""The reports as JSON, or CSV (``Accept: text/csv`` or ``?format=csv``), under
/api/v1/analytics/."""

from __future__ import annotations

import csv
import io
from typing import Any

from litestar import Request, Response, get
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.accounts.models import Member
from community.errors import ServiceError
from community_analytics import catalogue, rollup
from community_analytics.access import require_viewer
from community_analytics.reports import Period, Report, parse_period


@get("/reports", guards=[require_viewer])
async def list_reports() -> dict[str, Any]:
    return {"reports": [d.to_json() for d in catalogue.REPORTS.values()]}


@get("/reports/{name:str}", guards=[require_viewer])
async def show_report(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    name: str,
    start: str | None = None,
    end: str | None = None,
    category_id: str | None = None,
    format: str | None = None,
    include_gated: str | None = None,
) -> Response[Any]:
    as_csv = wants_csv(format, request.headers.get("accept", ""))
    report, period = await answer(db, member, name, start, end, category_id, include_gated)
    return csv_response(report, period) if as_csv else Response(report.to_json())


async def answer(
    db: AsyncSession,
    member: Member,
    name: str,
    start: str | None,
    end: str | None,
    category_id: str | None,
    include_gated: str | None,
) -> tuple[Report, Period]:
    """Report ``name`` for the question in a URL's parameters, and the period it covers;
    ServiceError (404 for an unknown report, else 400) when the question is wrong."""
    catalogue.definition(name)
    period = asked_period(start, end)
    gated = yes_or_no(include_gated, "include_gated")
    found = await catalogue.run(db, member, name, *iso(period), category_id, gated=gated)
    return found, period


def asked_period(start: str | None, end: str | None) -> Period:
    """The period asked for (the last 30 days by default); ServiceError 400 when it is wrong."""
    settings = plugins.settings("analytics")
    return parse_period(start or None, end or None, rollup.today(settings))


def iso(period: Period) -> tuple[str, str]:
    return period.start.isoformat(), period.end.isoformat()


def wants_csv(format_: str | None, accept: str) -> bool:
    if format_ is not None and format_ not in ("json", "csv"):
        raise ServiceError("invalid_format", "format is json or csv.", 400)
    if format_ is not None:
        return format_ == "csv"
    return "text/csv" in accept


def yes_or_no(value: str | None, what: str) -> bool:
    if value is None or value.strip().lower() in ("", "0", "false", "no"):
        return False
    if value.strip().lower() in ("1", "true", "yes"):
        return True
    raise ServiceError("invalid_flag", f"{what} is true or false, not {value!r}.", 400)


def csv_response(report: Report, period: Period) -> Response[str]:
    """The report as a CSV download named after it and its period."""
    filename = f"{report.name}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response(
        to_csv(report),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def to_csv(report: Report) -> str:
    """One row per label (a day, a thread...), then each series."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([report.label, *(s.name for s in report.series)])
    for n, label in enumerate(report.labels):
        values = ("" if s.data[n] is None else s.data[n] for s in report.series)
        writer.writerow([inert(label), *values])
    return out.getvalue()


def inert(text: str) -> str:
    """``text`` (a thread's title, a username) as a spreadsheet shows it, never a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


routes: list[Any] = [list_reports, show_report]
