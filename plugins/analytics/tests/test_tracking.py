"""Visits: one row per member per day, from pages seen, sign-ins, posts and reactions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from community_analytics.models import Visit
from community_analytics.tracking import record_visit
from sqlalchemy import select, update

from community.accounts.models import Member
from community.db import utcnow
from community.testing import api_token, make_thread, settle, sign_in


async def visits(app: Any) -> list[Visit]:
    async with app.state.sessionmaker() as db:
        return list(await db.scalars(select(Visit).order_by(Visit.member_id, Visit.day)))


async def test_signing_in_and_coming_back_is_one_visit_a_day(
    app: Any, client: Any, member: Any
) -> None:
    await sign_in(client, "member")
    await settle(app)
    [visit] = await visits(app)
    assert (visit.member_id, visit.day, visit.hits) == (member.id, utcnow().date(), 1)
    await client.get("/")  # seen a moment ago: no new signal
    await settle(app)
    assert (await visits(app))[0].hits == 1
    async with app.state.sessionmaker() as db:
        earlier = utcnow() - timedelta(minutes=10)
        await db.execute(update(Member).where(Member.id == member.id).values(last_seen_at=earlier))
        await db.commit()
    await client.get("/")  # MemberSeen
    await settle(app)
    [visit] = await visits(app)
    assert visit.hits == 2


async def test_posting_counts_as_active(app: Any, member: Any) -> None:
    await make_thread(app, "member")
    await settle(app)
    [visit] = await visits(app)
    assert visit.member_id == member.id and visit.hits >= 1


async def test_the_day_is_the_communitys(app: Any, member: Any) -> None:
    at = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    async with app.state.sessionmaker() as db:
        await record_visit(db, member.id, at, ZoneInfo("Pacific/Kiritimati"))  # UTC+14
        await record_visit(db, member.id, at, ZoneInfo("UTC"))
        await record_visit(db, member.id, at + timedelta(hours=1), ZoneInfo("UTC"))
        await db.commit()
    found = [(v.day, v.hits) for v in await visits(app)]
    assert found == [(date(2026, 3, 1), 2), (date(2026, 3, 2), 1)]


async def test_member_seen_is_in_the_event_catalogue(app: Any, client: Any, admin: Any) -> None:
    response = await client.get("/api/v1/plugins/events", headers=await api_token(app, "admin"))
    [seen] = [e for e in response.json()["event_types"] if e["name"] == "MemberSeen"]
    assert seen["source"] == "core"
    assert seen["fields"] == {"member_id": "integer", "at": "string"}
