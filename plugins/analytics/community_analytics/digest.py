"""The weekly digest: the dashboard's tiles of the last full week (Monday to Sunday in the
community's time zone), stored once per week and emailed to the admins when email is set up.

The job runs every hour and does nothing once the week's digest is stored, so the digest is
made in the first hour after the week ends wherever the community is, and a missed run (the
server was down) is made up at the next."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community import mail, plugins
from community.accounts.models import Member
from community.db import utcnow
from community.errors import ServiceError
from community.jobs import Job, JobContext, Schedule
from community_analytics import catalogue, rollup
from community_analytics.models import Digest, insert
from community_analytics.reports import Period, Report

log = logging.getLogger("community.analytics")


def last_week(today: date) -> Period:
    """The last full week (Monday to Sunday) before ``today``."""
    return week_of(today - timedelta(days=today.weekday() + 7))


def week_of(monday: date) -> Period:
    return Period(monday, monday + timedelta(days=6))


def system_viewer() -> Member:
    """An admin who is no one (id 0, never stored): the digest counts what admins see."""
    return Member(id=0, username="", username_key="", display_name="", role="admin", groups=[])


TILE = ("name", "title", "total", "previous_total", "change_pct", "unit", "summary")
"""What a digest keeps of each report."""


def tile(report: Report) -> dict[str, Any]:
    found = report.to_json()
    return {key: found[key] for key in TILE}


PARALLEL = 4
"""Reports computed at once, each in a session of its own: the database works on some while
Python shapes another's answer."""


async def reports(
    db: AsyncSession,
    viewer: Any,
    period: Period,
    names: Iterable[str] = catalogue.REPORTS,
    today: date | None = None,
) -> list[Report]:
    """The reports ``names`` over ``period`` for ``viewer``, in order: the dashboard's tiles,
    the admin pages' summary and the digest's. One that cannot answer is left out (logged)."""
    seen = replace(await catalogue.viewing(db, viewer), shared={})
    turns = asyncio.Semaphore(PARALLEL)

    async def one(name: str) -> Report | None:
        async with turns, plugins.session() as own:
            try:
                return await catalogue.run(
                    own,
                    viewer,
                    name,
                    period.start.isoformat(),
                    period.end.isoformat(),
                    today=today,
                    seen=seen,
                )
            except ServiceError as exc:
                log.warning("report %s left out: %s", name, exc.detail)
                return None

    found = await asyncio.gather(*(one(name) for name in names))
    return [report for report in found if report is not None]


async def make(
    db: AsyncSession, name: str = "", base_url: str = "", today: date | None = None
) -> Digest:
    """The digest of the last full week: made and stored when it is not yet, then emailed to
    the admins if it has not been and email is configured; commits."""
    settings = plugins.settings("analytics")
    period = last_week(today or rollup.today(settings))
    stored = await db.scalar(select(Digest).where(Digest.week == period.start))
    if stored is not None:
        shown = stored.tiles
    else:
        shown = [tile(report) for report in await reports(db, system_viewer(), period, today=today)]
    sent_at = stored.sent_at if stored is not None else None
    # Mail before writing: on SQLite the first write holds the database until the job ends.
    if sent_at is None and await send(db, shown, period, name, base_url):
        sent_at = utcnow()
    if stored is None:
        row = {"week": period.start, "tiles": shown, "created_at": utcnow(), "sent_at": sent_at}
        await db.execute(
            insert(db, Digest).values([row]).on_conflict_do_nothing(index_elements=["week"])
        )
    elif sent_at != stored.sent_at:
        stored.sent_at = sent_at
    await db.commit()
    made = await db.scalar(select(Digest).where(Digest.week == period.start))
    assert made is not None
    return made


async def send(
    db: AsyncSession, shown: list[dict[str, Any]], period: Period, name: str, base_url: str
) -> bool:
    """Email the digest to every admin with an address; False when email is not configured,
    no admin has one, or the server refused (logged: the digest is kept, marked unsent)."""
    if not mail.configured():
        return False
    found = await db.scalars(
        select(Member.email).where(
            Member.role == "admin", Member.email.is_not(None), Member.email != ""
        )
    )
    to = sorted({address for address in found if address})
    if not to:
        return False
    subject = f"{name or 'Community'} analytics: week of {period.start:%d %B %Y}"
    try:
        await mail.send(to, subject, text(shown, period, base_url))
    except mail.MailError as exc:
        log.warning("digest of %s not sent: %s", period.start.isoformat(), exc)
        return False
    return True


def number(value: Any) -> str:
    """A figure as people write it: 1,234 or 12.5; "–" for none."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def figure(value: Any, unit: str = "") -> str:
    """A total with its unit: "12.5%", "3.2 hours", "1,234"."""
    if value is None:
        return "–"
    if unit == "%":
        return f"{number(value)}%"
    return f"{number(value)} {unit}" if unit else number(value)


def text(shown: list[dict[str, Any]], period: Period, base_url: str = "") -> str:
    """The digest as a plain-text email."""
    lines = [f"The week from {period.start:%A %d %B} to {period.end:%A %d %B %Y}.", ""]
    for found in shown:
        change = found["change_pct"]
        moved = "" if change is None else f" ({'+' if change > 0 else ''}{number(change)}%)"
        total = figure(found["total"], found["unit"])
        lines += [f"{found['title']}: {total}{moved}", f"  {found['summary']}", ""]
    if base_url:
        lines.append(f"{base_url.rstrip('/')}/p/analytics/digests/{period.start.isoformat()}")
    return "\n".join(lines) + "\n"


async def make_digest(ctx: JobContext) -> None:
    await make(ctx.db, ctx.settings.name, ctx.settings.base_url)


JOBS = [Job("digest", make_digest, retries=2, timeout=1800.0)]
SCHEDULES = [Schedule("digest", job="digest", cron="23 * * * *")]
