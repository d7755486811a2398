"""The dashboard at /p/analytics/: a tile per report with its figure, change and sentence."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.models import Member
from community.web import render
from community_analytics import catalogue
from community_analytics.access import require_viewer


@get("/", guards=[require_viewer])
async def dashboard(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    start: str | None = None,
    end: str | None = None,
) -> Template:
    tiles = [await catalogue.run(db, member, name, start, end) for name in catalogue.REPORTS]
    first = tiles[0].labels
    return render(request, "analytics/dashboard.html", tiles=tiles, start=first[0], end=first[-1])


routes: list[Any] = [dashboard]
