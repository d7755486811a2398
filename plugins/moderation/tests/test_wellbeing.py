"""Moderator wellbeing: the workload view and going away."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from community_moderation import inbox
from community_moderation.models import CLAIMED, HANDLED, OPEN, AuditEntry, Item
from sqlalchemy import select

from community.db import utcnow
from community.testing import api_token, make_member, post_form, sign_in

AWAY = "/api/v1/moderation/away"


async def add_item(app: Any, **values: Any) -> int:
    async with app.state.sessionmaker() as db:
        item = await inbox.open_item(db, "unanswered", reason="Test.")
        for key, value in values.items():
            setattr(item, key, value)
        await db.commit()
        return item.id


async def test_going_away_unclaims_items(app, client, mod) -> None:
    other = await make_member(app, "othermod", "moderator")
    mine = await add_item(app, state=CLAIMED, claimed_by_id=mod.id, version=2)
    theirs = await add_item(app, state=CLAIMED, claimed_by_id=other.id, version=2)
    headers = await api_token(app, "mod")
    response = await client.post(AWAY, json={"away": True}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"away": True, "unclaimed": 1}
    async with app.state.sessionmaker() as db:
        item = await db.get(Item, mine)
        assert (item.state, item.claimed_by_id, item.version) == (OPEN, None, 3)
        assert (await db.get(Item, theirs)).claimed_by_id == other.id
        actions = [
            (e.action, e.target_id)
            for e in await db.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert ("moderator.away", mod.id) in actions
    assert ("item.unclaim", mine) in actions
    assert (await client.get(AWAY, headers=headers)).json() == {"away": True}
    back = await client.post(AWAY, json={"away": False}, headers=headers)
    assert back.json() == {"away": False, "unclaimed": 0}
    assert (await client.get(AWAY, headers=headers)).json() == {"away": False}


async def test_away_bad_input_and_members(app, client, member, mod) -> None:
    headers = await api_token(app, "mod")
    response = await client.post(AWAY, json={"away": "yes"}, headers=headers)
    assert response.status_code == 422
    response = await client.post(
        AWAY, json={"away": True}, headers=await api_token(app, member.username)
    )
    assert response.status_code == 403
    await sign_in(client, member.username)
    assert (await client.get("/p/moderation/workload")).status_code == 403


async def test_workload_counts_items_per_moderator_per_day(app, client, mod) -> None:
    other = await make_member(app, "othermod", "moderator")
    now = utcnow()
    for handler, when in [
        (mod, now),
        (mod, now),
        (mod, now - timedelta(days=1)),
        (other, now),
        (other, now - timedelta(days=20)),  # too old to count
    ]:
        await add_item(app, state=HANDLED, handled_by_id=handler.id, handled_at=when)
    response = await client.get("/api/v1/moderation/workload", headers=await api_token(app, "mod"))
    assert response.status_code == 200, response.text
    body = response.json()
    today = now.date().isoformat()
    yesterday = (now - timedelta(days=1)).date().isoformat()
    assert len(body["days"]) == 14
    assert body["moderators"]["mod"] == {yesterday: 1, today: 2}
    assert body["moderators"]["othermod"] == {today: 1}


async def test_workload_page_and_away_form(app, client, mod) -> None:
    await add_item(app, state=HANDLED, handled_by_id=mod.id, handled_at=utcnow())
    await sign_in(client, "mod")
    page = await client.get("/p/moderation/workload")
    assert page.status_code == 200
    assert "Nobody is away" in page.text
    assert '<th scope="row">mod</th>' in page.text
    response = await post_form(
        client, "/p/moderation/away", {"away": "1"}, page="/p/moderation/workload"
    )
    assert response.status_code == 200
    assert "You are away" in response.text
    assert "Nobody is away" not in response.text
    response = await post_form(
        client, "/p/moderation/away", {"away": "0"}, page="/p/moderation/workload"
    )
    assert "Nobody is away" in response.text
