"""Moderator wellbeing: a workload view (items handled per moderator per day, so the team can
share the load) and "away", which sends a moderator's claimed items back to the queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.models import Member
from community.accounts.routes import Form, text
from community.db import utcnow
from community.errors import ServiceError
from community.web import render
from community_moderation import audit
from community_moderation.access import require_moderator
from community_moderation.live import announce
from community_moderation.models import CLAIMED, OPEN, Away, Item

WORKLOAD_DAYS = 14


# ---------------------------------------------------------------------------------------------
# Workload


@dataclass
class Workload:
    days: list[date]
    """Newest first."""
    counts: dict[str, dict[date, int]] = field(default_factory=dict)
    """Per moderator's username, items handled per day."""

    def total(self, username: str) -> int:
        return sum(self.counts.get(username, {}).values())


async def workload(db: AsyncSession, days: int = WORKLOAD_DAYS) -> Workload:
    """Items handled per moderator per (UTC) day over the last ``days`` days."""
    today = utcnow().date()
    since = today - timedelta(days=days - 1)
    rows = (
        await db.execute(
            select(Member.username, Item.handled_at)
            .join(Member, Member.id == Item.handled_by_id)
            .where(
                Item.handled_at.is_not(None),
                Item.handled_at >= datetime.combine(since, time(), tzinfo=UTC),
            )
        )
    ).all()
    result = Workload([today - timedelta(days=n) for n in range(days)])
    for username, handled_at in rows:
        per_day = result.counts.setdefault(username, {})
        day = handled_at.date()
        per_day[day] = per_day.get(day, 0) + 1
    return result


# ---------------------------------------------------------------------------------------------
# Away


async def away_list(db: AsyncSession) -> list[tuple[Member, Away]]:
    rows = await db.execute(
        select(Member, Away).join(Away, Away.member_id == Member.id).order_by(Away.since)
    )
    return [(member, away) for member, away in rows.all()]


async def is_away(db: AsyncSession, member: Member) -> bool:
    return await db.get(Away, member.id) is not None


async def set_away(db: AsyncSession, moderator: Member, away: bool) -> int:
    """Set ``moderator`` away (their claimed items go back to the queue) or back (commits).
    Returns how many items were unclaimed."""
    current = await db.get(Away, moderator.id)
    unclaimed = 0
    if away and current is None:
        db.add(Away(member_id=moderator.id, since=utcnow()))
        audit.record(db, moderator, "moderator.away", "member", moderator.id)
        unclaimed = await unclaim_all(db, moderator)
    elif not away and current is not None:
        await db.delete(current)
        audit.record(db, moderator, "moderator.back", "member", moderator.id)
    await db.commit()
    return unclaimed


async def unclaim_all(db: AsyncSession, moderator: Member) -> int:
    """Every item ``moderator`` claimed goes back to the queue, each audited (no commit)."""
    items = (
        await db.scalars(
            select(Item).where(Item.state == CLAIMED, Item.claimed_by_id == moderator.id)
        )
    ).all()
    unclaimed = 0
    for item_id, version in [(item.id, item.version) for item in items]:
        result = await db.execute(
            update(Item)
            .where(Item.id == item_id, Item.version == version, Item.state == CLAIMED)
            .values(state=OPEN, claimed_by_id=None, version=Item.version + 1)
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            continue  # acted on meanwhile
        unclaimed += 1
        announce(db)
        audit.record(
            db,
            moderator,
            "item.unclaim",
            "item",
            item_id,
            before={"state": CLAIMED, "version": version, "claimed_by_id": moderator.id},
            after={"state": OPEN, "version": version + 1, "claimed_by_id": None},
            reason="The moderator is away.",
        )
    return unclaimed


def parse_away(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ServiceError("invalid_away", "away is true or false.", 422, field="away")
    return value


# ---------------------------------------------------------------------------------------------
# Pages


@get("/workload", guards=[require_moderator])
async def workload_page(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member
) -> Template:
    return render(
        request,
        "moderation/workload.html",
        workload=await workload(db),
        away=await away_list(db),
        me_away=await is_away(db, member),
    )


@post("/away", guards=[require_moderator])
async def away_from_form(db: AsyncSession, member: Member, data: Form) -> Redirect:
    """From the workload page, or the inbox's (``next=inbox``), back to it."""
    await set_away(db, member, text(data, "away") == "1")
    back = "/p/moderation/" if text(data, "next") == "inbox" else "/p/moderation/workload"
    return Redirect(back, status_code=303)


# ---------------------------------------------------------------------------------------------
# API


@get("/away", guards=[require_moderator])
async def away_api(db: AsyncSession, member: Member) -> dict[str, Any]:
    return {"away": await is_away(db, member)}


@post("/away", guards=[require_moderator], status_code=200)
async def set_away_api(db: AsyncSession, member: Member, data: dict[str, Any]) -> dict[str, Any]:
    away = parse_away(data.get("away"))
    unclaimed = await set_away(db, member, away)
    return {"away": away, "unclaimed": unclaimed}


@get("/workload", guards=[require_moderator])
async def workload_api(db: AsyncSession) -> dict[str, Any]:
    result = await workload(db)
    return {
        "days": [day.isoformat() for day in result.days],
        "moderators": {
            username: {day.isoformat(): count for day, count in sorted(per_day.items())}
            for username, per_day in result.counts.items()
        },
        "away": [m.username for m, _ in await away_list(db)],
    }


routes: list[Any] = [workload_page, away_from_form]
api_routes: list[Any] = [away_api, set_away_api, workload_api]
