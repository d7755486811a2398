"""Penalties: warnings with points, silences and suspensions, who may penalise whom, escalation,
penalties ending on their own, lifting, appeals once per penalty, and the pages and API."""

from __future__ import annotations

import types
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from community_moderation import penalties, plugin
from community_moderation.models import Appeal, AuditEntry, Item, Penalty
from litestar import Litestar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community import hookimpl
from community.accounts.models import Member
from community.accounts.services import instance_settings, member_by_username
from community.db import utcnow
from community.errors import ServiceError
from community.forum import conversations
from community.forum.models import ConversationMember, Post, Thread
from community.plugins import Manifest, activated
from community.testing import SITE_NAME, api_token, browser, make_member, post_form, settle
from community.testing import sign_in as sign_in_as

# A tiny plugin that hears every event, to check what penalties emit.
heard: list[Any] = []
recorder = types.ModuleType("moderation_penalty_recorder")
recorder.MANIFEST = Manifest(  # type: ignore[attr-defined]
    name="recorder",
    version="1",
    description="Hears events.",
    api=">=1.0,<2",
    capabilities={"events"},
)


@hookimpl
def _track_event(event: Any) -> None:
    heard.append(event)


recorder.track_event = _track_event  # type: ignore[attr-defined]


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [plugin, recorder]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["moderation", "recorder"]


@pytest.fixture(autouse=True)
def _forget_events() -> None:
    heard.clear()


@asynccontextmanager
async def services(app: Litestar) -> AsyncIterator[AsyncSession]:
    """A session with the plugins active, as in a request: for calling the services."""
    async with app.state.sessionmaker() as db:
        site = await instance_settings(db, SITE_NAME)
        with activated(app.state.plugins, site):
            yield db


async def penalise(app: Litestar, username: str, kind: str, by: str = "mod", **options: Any):
    async with services(app) as db:
        member = await member_by_username(db, username)
        actor = await member_by_username(db, by)
        return await penalties.penalise(
            db, member, kind, options.pop("reason", "Rude"), actor=actor, **options
        )


async def add_points(app: Litestar, username: str, points: int = 1) -> Penalty | None:
    async with services(app) as db:
        member = await member_by_username(db, username)
        escalated = await penalties.add_points(db, member, points, "Rejected post", actor=None)
        await db.commit()
        return escalated


async def rows(app: Litestar, model: Any, *where: Any) -> list[Any]:
    async with app.state.sessionmaker() as db:
        return list(await db.scalars(select(model).where(*where).order_by(model.id)))


async def silence_of(app: Litestar, username: str) -> Penalty | None:
    async with services(app) as db:
        return await penalties.silenced(db, (await member_by_username(db, username)).id)


def in_days(days: float) -> Any:
    return utcnow() + timedelta(days=days)


@asynccontextmanager
async def signed_in(app: Litestar, username: str) -> AsyncIterator[Any]:
    async with browser(app) as client:
        await sign_in_as(client, username)
        yield client


# ---------------------------------------------------------------------------------------------
# Warnings, silences, suspensions


async def test_a_warning_is_a_private_message_with_points_an_event_and_an_audit_entry(
    app, member, mod
):
    penalty = await penalise(app, "member", "warn", reason="Name-calling", message="Be kind.")
    assert (penalty.kind, penalty.points, penalty.automatic) == ("warn", 1, False)
    async with app.state.sessionmaker() as db:
        thread = await db.scalar(
            select(Thread)
            .join(ConversationMember, ConversationMember.thread_id == Thread.id)
            .where(ConversationMember.member_id == member.id)
        )
        assert thread is not None and thread.title == penalties.WARNING_TITLE
        people = {m.username for m in await conversations.participants(db, thread)}
        body = await db.scalar(select(Post.body).where(Post.thread_id == thread.id))
    assert people == {"member", "mod"}
    assert "Name-calling" in body and "Be kind." in body
    [entry] = await rows(app, AuditEntry)
    assert (entry.action, entry.actor_id, entry.target_id) == ("penalty.warn", mod.id, member.id)
    assert entry.after["penalty_id"] == penalty.id and entry.reason == "Name-calling"
    await settle(app)
    warned = [e for e in heard if e.name == "MemberWarned"]
    assert [(e.member_id, e.moderator_id, e.points) for e in warned] == [(member.id, mod.id, 1)]


async def test_a_silence_stops_posting_until_its_end_and_emits_member_penalised(app, member, mod):
    until = in_days(2)
    penalty = await penalise(app, "member", "silence", until=until)
    active = await silence_of(app, "member")
    assert active is not None and active.id == penalty.id
    await settle(app)
    [event] = [e for e in heard if e.name == "MemberPenalised"]
    assert (event.kind, event.actor_id, event.until) == ("silence", mod.id, until.isoformat())
    assert "silenced until" in penalties.silence_notice(active)


async def test_a_silence_ends_by_itself(app, member, mod):
    penalty = await penalise(app, "member", "silence", until=in_days(1))
    async with app.state.sessionmaker() as db:
        row = await db.get(Penalty, penalty.id)
        row.ends_at = utcnow() - timedelta(minutes=1)
        await db.commit()
    assert await silence_of(app, "member") is None


async def test_a_suspension_ends_sessions_and_tokens_at_once(app, member, mod):
    headers = await api_token(app, "member")
    async with signed_in(app, "member") as client:
        assert (await client.get("/p/moderation/my-penalties")).status_code == 200
        penalty = await penalise(app, "member", "suspend", until=in_days(3), reason="Spam")
        assert penalty.kind == "suspend"
        assert (await client.get("/p/moderation/my-penalties")).status_code == 403
    async with browser(app) as client:
        response = await client.get("/api/v1/categories", headers=headers)
        assert (response.status_code, response.json()["error"]) == (403, "suspended")
    async with app.state.sessionmaker() as db:
        again = await db.get(Member, member.id)
        assert again.is_suspended() and again.suspended_reason == "Spam"
    [entry] = await rows(app, AuditEntry)
    assert entry.action == "penalty.suspend"


async def test_bad_input_is_refused_clearly(app, member, mod):
    with pytest.raises(ServiceError) as past:
        await penalise(app, "member", "silence", until=utcnow() - timedelta(hours=1))
    assert (past.value.status, past.value.detail) == (422, "The end date is in the past.")
    with pytest.raises(ServiceError) as no_reason:
        await penalise(app, "member", "warn", reason="   ")
    assert no_reason.value.status == 422
    with pytest.raises(ServiceError) as kind:
        await penalise(app, "member", "ban")
    assert kind.value.status == 422
    assert await rows(app, Penalty) == [] and await rows(app, AuditEntry) == []


async def test_who_may_penalise_whom(app, member, mod, admin):
    await make_member(app, "mod2", "moderator")
    with pytest.raises(ServiceError) as on_admin:
        await penalise(app, "admin", "warn")
    assert on_admin.value.status == 409
    with pytest.raises(ServiceError) as on_moderator:
        await penalise(app, "mod2", "silence")
    assert on_moderator.value.status == 403
    with pytest.raises(ServiceError) as by_member:
        await penalise(app, "mod", "warn", by="member")
    assert by_member.value.status == 403
    assert (await penalise(app, "mod2", "silence", by="admin")).kind == "silence"


# ---------------------------------------------------------------------------------------------
# Escalation


async def test_points_escalate_to_a_silence_then_a_suspension(app, member, mod):
    headers = await api_token(app, "member")
    assert await add_points(app, "member") is None
    silence = await add_points(app, "member")  # 2 points: silence_points
    assert silence is not None and silence.kind == "silence" and silence.automatic
    assert silence.ends_at is not None and silence.ends_at > in_days(6.9)
    assert (await silence_of(app, "member")).id == silence.id
    assert await add_points(app, "member") is None  # 3: nothing new
    async with signed_in(app, "member") as client:
        suspension = await add_points(app, "member")  # 4: suspend_points
        assert suspension is not None and suspension.kind == "suspend"
        assert (await client.get("/p/moderation/my-penalties")).status_code == 403
    async with browser(app) as client:
        response = await client.get("/api/v1/moderation/audit-log", headers=headers)
        assert response.status_code == 403
        assert response.json()["error"] == "suspended"
    automatic = await rows(app, AuditEntry, AuditEntry.actor_id.is_(None))
    assert [e.action for e in automatic] == [
        "penalty.points",
        "penalty.points",
        "penalty.silence",
        "penalty.points",
        "penalty.points",
        "penalty.suspend",
    ]
    await settle(app)
    kinds = [(e.kind, e.actor_id) for e in heard if e.name == "MemberPenalised"]
    assert kinds == [("silence", None), ("suspend", None)]


async def test_manual_warnings_escalate_too_but_never_silence_twice(app, member, mod):
    manual = await penalise(app, "member", "silence", reason="Cool down")
    await penalise(app, "member", "warn")
    await penalise(app, "member", "warn")  # crosses silence_points: already silenced
    silences = await rows(app, Penalty, Penalty.kind == "silence")
    assert [p.id for p in silences] == [manual.id]


async def test_lifted_and_expired_points_do_not_count(app, member, mod):
    first = await penalise(app, "member", "warn")
    async with services(app) as db:
        await penalties.lift(db, first.id, await member_by_username(db, "mod"), "Mistake")
    old = await penalise(app, "member", "warn")
    async with app.state.sessionmaker() as db:
        (await db.get(Penalty, old.id)).created_at = utcnow() - timedelta(days=91)
        await db.commit()
    assert await add_points(app, "member") is None  # 1 point in force: no silence
    async with services(app) as db:
        assert await penalties.points_in_force(db, member.id) == 1


# ---------------------------------------------------------------------------------------------
# Lifting and silenced conversations


async def test_lifting_ends_a_silence_and_a_suspension(app, member, mod):
    silence = await penalise(app, "member", "silence")
    suspension = await penalise(app, "member", "suspend")
    async with services(app) as db:
        moderator = await member_by_username(db, "mod")
        await penalties.lift(db, silence.id, moderator, "Served")
        await penalties.lift(db, suspension.id, moderator, "Served")
        with pytest.raises(ServiceError) as again:
            await penalties.lift(db, silence.id, moderator)
        assert again.value.status == 409
    assert await silence_of(app, "member") is None
    async with app.state.sessionmaker() as db:
        assert not (await db.get(Member, member.id)).is_suspended()
    lifts = await rows(app, AuditEntry, AuditEntry.action == "penalty.lift")
    assert [(e.before["lifted_at"], e.reason) for e in lifts] == [(None, "Served")] * 2
    assert all(e.after["lifted_at"] for e in lifts)


async def test_a_silenced_member_may_still_message_only_moderators(app, member, mod):
    await make_member(app, "friend")
    async with services(app) as db:
        me = await member_by_username(db, "member")
        site = await instance_settings(db, SITE_NAME)
        to_mod, _ = await conversations.start(
            db, me, usernames=["mod"], title="Why?", body="Please explain.", site=site
        )
        to_friend, _ = await conversations.start(
            db, me, usernames=["friend", "mod"], title="Hello there", body="Hello", site=site
        )
        assert await penalties.may_message_while_silenced(db, to_mod, me)
        assert await penalties.may_message_while_silenced(db, to_mod)
        assert not await penalties.may_message_while_silenced(db, to_friend, me)
        assert not await penalties.may_message_while_silenced(db, to_friend)


# ---------------------------------------------------------------------------------------------
# Appeals


async def test_a_member_appeals_once_and_the_appeal_lands_in_the_inbox(app, member, mod):
    penalty = await penalise(app, "member", "silence", reason="Flame war")
    headers = await api_token(app, "member")
    async with browser(app) as client:
        url = f"/api/v1/moderation/penalties/{penalty.id}/appeal"
        first = await client.post(url, json={"text": "It was a joke."}, headers=headers)
        assert first.status_code == 201, first.text
        second = await client.post(url, json={"text": "Really."}, headers=headers)
        assert second.status_code == 409
        assert second.json()["detail"] == "You have already appealed this penalty."
        empty = await client.post(url, json={"text": ""}, headers=headers)
        assert empty.status_code == 422
    [item] = await rows(app, Item, Item.kind == "appeal")
    assert (item.member_id, item.reason, item.state) == (member.id, "It was a joke.", "open")


async def test_nobody_appeals_someone_elses_penalty(app, member, mod):
    await make_member(app, "other")
    penalty = await penalise(app, "member", "warn")
    headers = await api_token(app, "other")
    async with browser(app) as client:
        response = await client.post(
            f"/api/v1/moderation/penalties/{penalty.id}/appeal",
            json={"text": "Not mine"},
            headers=headers,
        )
    assert response.status_code == 404
    assert await rows(app, Appeal) == []


async def test_the_appeal_form_on_my_penalties(app, member, mod):
    penalty = await penalise(app, "member", "warn", reason="Off-topic again")
    async with signed_in(app, "member") as client:
        page = await client.get("/p/moderation/my-penalties")
        assert "Off-topic again" in page.text and "Appeal" in page.text
        url = f"/p/moderation/my-penalties/{penalty.id}/appeal"
        sent = await post_form(
            client, url, {"text": "I was on topic."}, "/p/moderation/my-penalties"
        )
        assert sent.status_code == 200 and "with the moderators" in sent.text
        again = await post_form(client, url, {"text": "Again"}, "/p/moderation/my-penalties")
        assert again.status_code == 409 and "already appealed" in again.text


async def test_an_appeal_without_text_is_refused(app, member, mod):
    penalty = await penalise(app, "member", "warn")
    async with signed_in(app, "member") as client:
        url = f"/p/moderation/my-penalties/{penalty.id}/appeal"
        blank = await post_form(client, url, {"text": "  "}, "/p/moderation/my-penalties")
    assert blank.status_code == 422
    assert await rows(app, Appeal) == []


async def test_moderators_uphold_or_lift_an_appeal(app, member, mod):
    kept = await penalise(app, "member", "warn")
    lifted = await penalise(app, "member", "silence")
    async with services(app) as db:
        me = await member_by_username(db, "member")
        await penalties.appeal(db, me, kept.id, "Sorry")
        await penalties.appeal(db, me, lifted.id, "Sorry again")
    async with signed_in(app, "mod") as client:
        page = f"/p/moderation/penalties/{lifted.id}"
        assert "Sorry again" in (await client.get(page)).text
        decided = await post_form(
            client, f"{page}/decide", {"outcome": "lift", "reason": "Fair"}, page
        )
        assert decided.status_code == 200 and "Appeal lifted" in decided.text
        twice = await post_form(client, f"{page}/decide", {"outcome": "uphold"}, page)
        assert twice.status_code == 409
        other = f"/p/moderation/penalties/{kept.id}"
        odd = await post_form(client, f"{other}/decide", {"outcome": "maybe"}, other)
        assert odd.status_code == 422
        upheld = await post_form(client, f"{other}/decide", {"outcome": "uphold"}, other)
        assert upheld.status_code == 200
    assert await silence_of(app, "member") is None
    outcomes = {a.penalty_id: a.outcome for a in await rows(app, Appeal)}
    assert outcomes == {kept.id: "upheld", lifted.id: "lifted"}
    items = await rows(app, Item, Item.kind == "appeal")
    assert [(i.state, i.handled_by_id) for i in items] == [("handled", mod.id)] * 2
    actions = [e.action for e in await rows(app, AuditEntry, AuditEntry.action.like("appeal.%"))]
    assert actions == ["appeal.lift", "appeal.uphold"]


# ---------------------------------------------------------------------------------------------
# Pages and API


async def test_a_member_sees_only_their_own_penalties(app, member, mod):
    await make_member(app, "other")
    await penalise(app, "member", "warn", reason="Mine to see")
    await penalise(app, "other", "warn", reason="Not for member")
    async with signed_in(app, "member") as client:
        page = (await client.get("/p/moderation/my-penalties")).text
    assert "Mine to see" in page and "Not for member" not in page


async def test_moderators_penalise_from_the_member_page(app, member, mod):
    async with signed_in(app, "mod") as client:
        page = "/p/moderation/members/member"
        assert "Penalise" in (await client.get(page)).text
        made = await post_form(
            client,
            f"{page}/penalties",
            {
                "kind": "silence",
                "reason": "Heated",
                "message": "Take a break",
                "until": (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            },
            page,
        )
        assert made.status_code == 200 and "silenced" in made.text
        past = await post_form(
            client,
            f"{page}/penalties",
            {"kind": "suspend", "reason": "x", "until": "2001-01-01T00:00"},
            page,
        )
        assert past.status_code == 422 and "The end date is in the past." in past.text
        nonsense = await post_form(
            client, f"{page}/penalties", {"kind": "warn", "reason": "x", "until": "soon"}, page
        )
        assert nonsense.status_code == 422
        [silence] = await rows(app, Penalty)
        lifted = await post_form(client, f"/p/moderation/penalties/{silence.id}/lift", {}, page)
        assert lifted.status_code == 200 and "Lifted" in lifted.text
    assert await silence_of(app, "member") is None


async def test_the_api_penalises_lists_and_lifts(app, member, mod):
    headers = await api_token(app, "mod")
    async with browser(app) as client:
        made = await client.post(
            "/api/v1/moderation/penalties",
            json={
                "username": "member",
                "kind": "silence",
                "reason": "Spam",
                "until": in_days(1).isoformat(),
                "message": "Stop",
            },
            headers=headers,
        )
        assert made.status_code == 201, made.text
        body = made.json()
        assert (body["member"], body["kind"], body["created_by"], body["active"]) == (
            "member",
            "silence",
            "mod",
            True,
        )
        listed = await client.get("/api/v1/moderation/penalties?username=member", headers=headers)
        assert [p["id"] for p in listed.json()["penalties"]] == [body["id"]]
        lifted = await client.post(
            f"/api/v1/moderation/penalties/{body['id']}/lift",
            json={"reason": "ok"},
            headers=headers,
        )
        assert lifted.status_code == 200 and lifted.json()["active"] is False
        past = await client.post(
            "/api/v1/moderation/penalties",
            json={"username": "member", "kind": "warn", "reason": "x", "until": "2000-01-01"},
            headers=headers,
        )
        assert past.status_code == 422 and past.json()["detail"] == "The end date is in the past."
        nobody = await client.post(
            "/api/v1/moderation/penalties",
            json={"username": "ghost", "kind": "warn", "reason": "x"},
            headers=headers,
        )
        assert nobody.status_code == 404
        unknown = await client.post("/api/v1/moderation/penalties/999/lift", headers=headers)
        assert unknown.status_code == 404


async def test_moderator_pages_and_api_are_refused_to_members(app, member, mod):
    penalty = await penalise(app, "member", "warn")
    headers = await api_token(app, "member")
    async with signed_in(app, "member") as client:
        for path in ("/p/moderation/members/member", f"/p/moderation/penalties/{penalty.id}"):
            assert (await client.get(path)).status_code == 403, path
    async with browser(app) as client:
        for method, path in (
            ("GET", "/api/v1/moderation/penalties?username=member"),
            ("POST", "/api/v1/moderation/penalties"),
            ("POST", f"/api/v1/moderation/penalties/{penalty.id}/lift"),
        ):
            response = await client.request(method, path, json={}, headers=headers)
            assert response.status_code == 403, path
