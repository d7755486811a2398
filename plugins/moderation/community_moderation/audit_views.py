"""Reading the audit log: filtered, newest first, a page at a time (keyset on id), as a page,
as JSON and as CSV; and moderator action counts for the analytics plugin. The log is
append-only: nothing here changes or deletes an entry."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from litestar import Request, Response, get
from litestar.response import Template
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.models import Member
from community.accounts.services import MAX_ID
from community.errors import ServiceError
from community.web import render
from community_moderation.access import require_moderator
from community_moderation.models import AuditEntry

PAGE_SIZE = 50
CSV_MAX_ROWS = 50_000
CSV_COLUMNS = (
    "id",
    "at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "before",
    "after",
    "reason",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""Spreadsheets run a cell starting with these as a formula: such text is quoted."""


@dataclass(frozen=True)
class AuditFilters:
    """What the log is narrowed to: the actor's username, an action (or its prefix, like
    "penalty" for every "penalty.*"), a target type, and dates (inclusive, UTC)."""

    actor: str = ""
    action: str = ""
    target_type: str = ""
    since: date | None = None
    until: date | None = None

    def query(self) -> dict[str, str]:
        """The filters as URL parameters, for the next page and the CSV link."""
        values = {
            "actor": self.actor,
            "action": self.action,
            "target_type": self.target_type,
            "from": self.since.isoformat() if self.since else "",
            "to": self.until.isoformat() if self.until else "",
        }
        return {key: value for key, value in values.items() if value}


def _date(value: str | None, field: str) -> date | None:
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ServiceError(
            "invalid_date", f"{field}: {value!r} is not a date (YYYY-MM-DD).", 422, field=field
        ) from None


def parse_filters(
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> AuditFilters:
    filters = AuditFilters(
        actor=(actor or "").strip().lstrip("@"),
        action=(action or "").strip(),
        target_type=(target_type or "").strip(),
        since=_date(since, "from"),
        until=_date(until, "to"),
    )
    if filters.since and filters.until and filters.since > filters.until:
        raise ServiceError("invalid_date", "The 'from' date is after the 'to' date.", 422)
    return filters


def _conditions(filters: AuditFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.actor:
        actor_ids = select(Member.id).where(Member.username_key == filters.actor.lower())
        conditions.append(AuditEntry.actor_id.in_(actor_ids))
    if filters.action:
        like = filters.action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(
            or_(AuditEntry.action == filters.action, AuditEntry.action.like(f"{like}.%", "\\"))
        )
    if filters.target_type:
        conditions.append(AuditEntry.target_type == filters.target_type)
    if filters.since:
        conditions.append(AuditEntry.at >= datetime.combine(filters.since, time(), UTC))
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time(), UTC)
        conditions.append(AuditEntry.at < end)
    return conditions


@dataclass
class AuditRow:
    entry: AuditEntry
    actor: str | None
    """The actor's username; None for the plugin's own actions."""


async def list_entries(
    db: AsyncSession,
    filters: AuditFilters,
    *,
    before_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[AuditRow], int | None]:
    """Entries newest first, and the ``before_id`` of the next page (None: no more)."""
    stmt = (
        select(AuditEntry, Member.username)
        .outerjoin(Member, Member.id == AuditEntry.actor_id)
        .where(*_conditions(filters))
        .order_by(AuditEntry.id.desc())
        .limit(limit + 1)
    )
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    found = [AuditRow(entry, username) for entry, username in (await db.execute(stmt)).all()]
    more = len(found) > limit
    rows = found[:limit]
    return rows, rows[-1].entry.id if more else None


def entry_json(row: AuditRow) -> dict[str, Any]:
    entry = row.entry
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": row.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "'" + text if text.startswith(FORMULA_START) else text


async def export_csv(db: AsyncSession, filters: AuditFilters) -> str:
    """The filtered log as CSV, newest first (at most ``CSV_MAX_ROWS`` rows)."""
    rows, _ = await list_entries(db, filters, limit=CSV_MAX_ROWS)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values = entry_json(row)
        values["actor"] = row.actor or "(automatic)"
        writer.writerow([_cell(values[column]) for column in CSV_COLUMNS])
    return out.getvalue()


async def moderator_actions(db: AsyncSession, since: datetime) -> dict[str, int]:
    """Audit entries per moderator username since ``since`` (the plugin's own left out),
    for the analytics plugin."""
    rows = await db.execute(
        select(Member.username, func.count(AuditEntry.id))
        .join(Member, Member.id == AuditEntry.actor_id)
        .where(AuditEntry.at >= since)
        .group_by(Member.username)
    )
    return {username: count for username, count in rows.all()}


def _before_id(value: int | None) -> int | None:
    if value is not None and not 0 < value <= MAX_ID:
        raise ServiceError("invalid_before_id", "before_id is a positive entry id.", 422)
    return value


# ---------------------------------------------------------------------------------------------
# Pages and API


@get("/audit", guards=[require_moderator])
async def audit_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    before_id: int | None = None,
) -> Template:
    """The audit log, filtered, newest first, 50 entries a page."""
    form = {
        "actor": actor or "",
        "action": action or "",
        "target_type": target_type or "",
        "from": date_from or "",
        "to": date_to or "",
    }
    try:
        filters = parse_filters(actor, action, target_type, date_from, date_to)
        rows, next_id = await list_entries(db, filters, before_id=_before_id(before_id))
    except ServiceError as error:
        return render(
            request,
            "moderation/audit.html",
            status_code=error.status,
            rows=[],
            next_id=None,
            form=form,
            query={},
            error=error.detail,
        )
    return render(
        request,
        "moderation/audit.html",
        rows=rows,
        next_id=next_id,
        form=form,
        query=_page_query(filters),
        error=None,
    )


def _page_query(filters: AuditFilters) -> dict[str, str]:
    """The filters under the page's own parameter names (``date_from``, ``date_to``)."""
    renamed = {"from": "date_from", "to": "date_to"}
    return {renamed.get(key, key): value for key, value in filters.query().items()}


@get("/audit.csv", guards=[require_moderator])
async def audit_csv(
    db: AsyncSession,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> Response[str]:
    """The filtered log as a CSV download."""
    filters = parse_filters(actor, action, target_type, date_from, date_to)
    body = await export_csv(db, filters)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="moderation-audit.csv"'},
    )


@get("/audit-log", guards=[require_moderator])
async def api_audit_log(
    db: AsyncSession,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    before_id: int | None = None,
    limit: int | None = None,
) -> Any:
    """``{"entries": [...], "next_before_id"}``, newest first."""
    if limit is not None and not 1 <= limit <= 200:
        raise ServiceError("invalid_limit", "limit is from 1 to 200.", 422)
    filters = parse_filters(actor, action, target_type, date_from, date_to)
    rows, next_id = await list_entries(
        db, filters, before_id=_before_id(before_id), limit=limit or PAGE_SIZE
    )
    return {"entries": [entry_json(row) for row in rows], "next_before_id": next_id}


routes: list[Any] = [audit_page, audit_csv]
api_routes: list[Any] = [api_audit_log]
