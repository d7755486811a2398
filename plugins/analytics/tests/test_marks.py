"""Marks are recorded from events by their name alone: the moderation plugin's (here stand-ins
of the same name, since this plugin never imports it) and the core's suspensions; without the
moderation plugin the inviters report says "n/a" for flags and warnings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from community_analytics.models import Mark
from sqlalchemy import select, text

from community.accounts import services as accounts
from community.db import utcnow
from community.events import Event, PostEdited, emit
from community.forum.models import Post
from community.testing import api_token, make_invite, make_member, make_thread, settle


@dataclass(frozen=True)
class PostFlagged(Event):
    post_id: int
    flagger_id: int
    reason: str
    score: float


@dataclass(frozen=True)
class MemberWarned(Event):
    member_id: int
    moderator_id: int | None
    points: int


async def tell(app: Any, *events: Event) -> None:
    """Emit ``events`` in a transaction of their own, and wait until they are heard."""
    async with app.state.sessionmaker() as db:
        await db.execute(text("SELECT 1"))
        for event in events:
            emit(db, event)
        await db.commit()
    await settle(app)


async def all_marks(app: Any) -> list[tuple[int, str]]:
    async with app.state.sessionmaker() as db:
        rows = await db.execute(select(Mark.member_id, Mark.kind).order_by(Mark.id))
        return [(member_id, kind) for member_id, kind in rows]


async def test_events_mark_the_member_they_are_about(app: Any, member: Any) -> None:
    flagger = await make_member(app, "flagger")
    thread = await make_thread(app, "member")
    async with app.state.sessionmaker() as db:
        post_id = await db.scalar(select(Post.id).where(Post.thread_id == thread.id))
        assert post_id is not None
    before = utcnow()
    await tell(
        app,
        PostFlagged(post_id=post_id, flagger_id=flagger.id, reason="spam", score=1.0),
        PostFlagged(post_id=999_999, flagger_id=flagger.id, reason="spam", score=1.0),
        MemberWarned(member_id=flagger.id, moderator_id=None, points=1),
        PostEdited(post_id=post_id, thread_id=thread.id, editor_id=member.id),
    )
    async with app.state.sessionmaker() as db:
        target = await accounts.member_by_username(db, "member")
        await accounts.suspend(db, target, utcnow() + timedelta(days=3), "Rude")
    await settle(app)
    # the flag is against the post's author, not the flagger; a post gone marks nobody
    assert await all_marks(app) == [
        (member.id, "flag"),
        (flagger.id, "warning"),
        (member.id, "penalty"),
    ]
    async with app.state.sessionmaker() as db:
        times = list(await db.scalars(select(Mark.at)))
    assert all(before <= at <= utcnow() for at in times)


async def test_without_moderation_flags_and_warnings_are_na(
    app: Any, client: Any, admin: Any, settings_of: Any
) -> None:
    await settings_of(app)
    token = await make_invite(app, admin)
    async with app.state.sessionmaker() as db:
        await accounts.redeem_invite(db, token, username="newcomer", password="a long password 1")
        newcomer = await accounts.member_by_username(db, "newcomer")
        await accounts.suspend(db, newcomer, None, "Spam")
    await tell(app, MemberWarned(member_id=newcomer.id, moderator_id=None, points=1))
    response = await client.get(
        "/api/v1/analytics/reports/inviters", headers=await api_token(app, "admin")
    )
    got = response.json()
    assert got["labels"] == ["admin"]
    series = {s["name"]: s["data"] for s in got["series"]}
    assert (series["Flags"], series["Warnings"], series["Penalties"]) == ([None], [None], [1])
    assert got["figures"]["moderation"] is False
