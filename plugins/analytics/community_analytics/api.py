"""The reports as JSON, or CSV (``Accept: text/csv`` or ``?format=csv``), under
/api/v1/analytics/."""

from __future__ import annotations

import csv
import io
from typing import Any

from litestar import Request, Response, get
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.models import Member
from community.errors import ServiceError
from community_analytics import catalogue
from community_analytics.access import require_viewer
from community_analytics.reports import Report


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
    gated = yes_or_no(include_gated, "include_gated")
    report = await catalogue.run(db, member, name, start, end, category_id, gated=gated)
    if as_csv:
        filename = f"{report.name}-{report.labels[0]}-{report.labels[-1]}.csv"
        return Response(
            to_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return Response(report.to_json())


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


def to_csv(report: Report) -> str:
    """One row per label (a day, a thread...), then each series."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([report.label, *(s.name for s in report.series)])
    for n, label in enumerate(report.labels):
        writer.writerow([label, *("" if s.data[n] is None else s.data[n] for s in report.series)])
    return out.getvalue()


routes: list[Any] = [list_reports, show_report]
