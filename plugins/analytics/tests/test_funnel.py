"""The invite funnel and the invites by inviter equal plain counts over the invites, members,
posts, visits and marks a seeded generator wrote; and a moderator's flag on an invitee's post,
through the moderation plugin, shows against their inviter."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from community_analytics import plugin
from community_analytics.models import Mark, Visit
from community_moderation import plugin as moderation
from sqlalchemy import select

from community.accounts import services as accounts
from community.accounts.models import Invite, Member
from community.db import utcnow
from community.forum.models import Category, Post, Thread
from community.testing import (
    api_token,
    enable_plugin,
    make_invite,
    make_member,
    make_thread,
    settle,
)
from plugins.analytics.tests.conftest import last_days, report

PERIOD = 30
COMMAND_LINE = "(command line)"
STAFF = ("moderator", "admin")


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [plugin, moderation]


@dataclass
class Invited:
    """What the generator wrote, as plain rows, and the answers counted from them."""

    now: datetime
    members: dict[int, Member] = field(default_factory=dict)
    invites: list[Invite] = field(default_factory=list)
    posts: list[tuple[int, bool]] = field(default_factory=list)
    """(author, whether the post is shown: live, in a shown thread of a category)."""
    visits: set[tuple[int, date]] = field(default_factory=set)
    marks: list[tuple[int, str, datetime]] = field(default_factory=list)

    def made(self, first: date, last: date, tz: ZoneInfo, exclude: bool) -> list[Invite]:
        return [
            i
            for i in self.invites
            if first <= i.created_at.astimezone(tz).date() <= last
            and not (exclude and i.role in STAFF)
        ]

    def inviter(self, invite: Invite) -> str:
        creator = self.members.get(invite.created_by_id or 0)
        return creator.username if creator else COMMAND_LINE

    def invitees(self, invites: list[Invite], exclude: bool) -> list[Member]:
        ids = {i.id for i in invites}
        return [
            m
            for m in self.members.values()
            if m.invite_id in ids
            and m.approved_at is not None
            and not (exclude and m.role in STAFF)
        ]

    def posted(self, member: Member) -> bool:
        return any(author == member.id and shown for author, shown in self.posts)

    def returned(self, member: Member, tz: ZoneInfo) -> bool:
        assert member.approved_at is not None
        joined = member.approved_at.astimezone(tz).date()
        return any(m == member.id and 7 <= (d - joined).days <= 13 for m, d in self.visits)

    def stages(self, invites: list[Invite], tz: ZoneInfo, exclude: bool) -> list[int]:
        people = self.invitees(invites, exclude)
        posted = [m for m in people if self.posted(m)]
        return [len(invites), len(people), len(posted), sum(self.returned(m, tz) for m in posted)]

    def marked(self, invites: list[Invite], kind: str, exclude: bool) -> int:
        people = {m.id: m for m in self.invitees(invites, exclude)}
        return sum(
            1
            for member_id, k, at in self.marks
            if k == kind and member_id in people and at >= people[member_id].approved_at
        )


async def generate(app: Any, seed: int = 5) -> Invited:
    """Inviters (an admin, a moderator, members, the command line) and about sixty invites
    over ninety days; invitees who wait for approval, are staff or suspended; posts shown and
    not; visits around each invitee's second week; marks before and after joining."""
    rng = random.Random(seed)
    now = utcnow()
    data = Invited(now=now)
    async with app.state.sessionmaker() as db:

        def person(name: str, role: str, at: datetime, invite: Invite | None = None) -> Member:
            member = Member(
                username=name,
                username_key=name,
                display_name=name,
                password_hash="x",
                role=role,
                created_at=at,
                approved_at=at,
                invite_id=invite.id if invite else None,
                invited_by_id=invite.created_by_id if invite else None,
            )
            db.add(member)
            return member

        inviters = [
            person(name, role, now - timedelta(days=200))
            for name, role in (("boss", "admin"), ("mod", "moderator"), ("ann", "member"))
        ]
        inviters.append(person("bob", "member", now - timedelta(days=200)))
        await db.flush()
        category = Category(name="General", slug="general")
        db.add(category)
        await db.flush()
        threads = []
        for n, (category_id, hidden) in enumerate(
            [(category.id, False), (category.id, True), (None, False)]
        ):
            thread = Thread(
                category_id=category_id,
                title=f"thread {n}",
                slug=f"thread-{n}",
                author_id=inviters[0].id,
                created_at=now - timedelta(days=100),
                last_posted_at=now,
                hidden_at=now if hidden else None,
            )
            db.add(thread)
            threads.append(thread)
        await db.flush()
        numbers = Counter[int]()
        for n in range(60):
            creator = rng.choice([*inviters, None])
            invite = Invite(
                token_hash=f"hash{n}",
                created_by_id=creator.id if creator else None,
                created_at=now - timedelta(days=rng.uniform(0, 90)),
                max_uses=2,
                uses=0,
                role="admin" if n == 0 else "member",  # the first admin's setup link
            )
            db.add(invite)
            await db.flush()
            data.invites.append(invite)
            for k in range(rng.choice([0, 1, 1, 1, 2])):
                joined = min(now, invite.created_at + timedelta(hours=rng.uniform(0, 72)))
                kind = rng.random()
                role = "admin" if n == 0 else "moderator" if kind < 0.08 else "member"
                member = person(f"new{n}x{k}", role, joined, invite)
                invite.uses += 1
                if 0.08 <= kind < 0.16:
                    member.approved_at = None  # waits for approval
                elif 0.16 <= kind < 0.24:
                    member.suspended_until = now + timedelta(days=9)
                await db.flush()
                for _ in range(rng.choice([0, 0, 1, 2])):
                    thread = rng.choice(threads)
                    numbers[thread.id] += 1
                    at = min(now, joined + timedelta(days=rng.uniform(0, 10)))
                    post = Post(
                        thread_id=thread.id,
                        number=numbers[thread.id],
                        author_id=member.id,
                        body="b",
                        html="<p>b</p>",
                        created_at=at,
                        deleted_at=at if rng.random() < 0.15 else None,
                        held_at=at if rng.random() < 0.1 else None,
                    )
                    db.add(post)
                    shown = (
                        thread.category_id is not None
                        and thread.hidden_at is None
                        and post.deleted_at is None
                        and post.held_at is None
                    )
                    data.posts.append((member.id, shown))
                for _ in range(rng.randrange(0, 6)):
                    day = (joined + timedelta(days=rng.uniform(-1, 16))).date()
                    if day <= now.date():
                        data.visits.add((member.id, day))
                for _ in range(rng.choice([0, 0, 1, 3])):
                    at = min(now, joined + timedelta(days=rng.uniform(-4, 20)))
                    mark = rng.choice(["flag", "warning", "penalty"])
                    db.add(Mark(member_id=member.id, kind=mark, at=at))
                    data.marks.append((member.id, mark, at))
        for member_id, day in sorted(data.visits):
            db.add(Visit(member_id=member_id, day=day, first_seen=now, hits=1))
        for thread in threads:
            thread.post_count = numbers[thread.id]
        await db.commit()
        data.members = {m.id: m for m in await db.scalars(select(Member))}
    return data


def pct(part: int, whole: int) -> float | None:
    return round(part / whole * 100, 1) if whole else None


def check_funnel(got: dict[str, Any], data: Invited, days: list[date], tz: Any, **how: Any) -> None:
    exclude = how.get("exclude", True)
    made = data.made(days[0], days[-1], tz, exclude)
    before = data.made(
        days[0] - timedelta(days=len(days)), days[0] - timedelta(days=1), tz, exclude
    )
    stages = data.stages(made, tz, exclude)
    assert got["labels"] == ["Invites created", "Redeemed", "First post", "Second week"]
    assert got["series"][0]["data"] == stages
    assert got["total"] == stages[1]
    assert got["previous_total"] == data.stages(before, tz, exclude)[1]
    assert got["figures"]["conversion_pct"] == [None] + [
        pct(stages[n], stages[n - 1]) for n in (1, 2, 3)
    ]
    assert got["figures"]["overall_pct"] == pct(stages[3], stages[0])
    assert (got["chart"], got["label"]) == ("bar", "stage")
    assert f"{stages[0]} invites created in these {len(days)} days" in got["summary"]


def check_inviters(
    got: dict[str, Any], data: Invited, days: list[date], tz: Any, moderated: bool
) -> None:
    made = data.made(days[0], days[-1], tz, True)
    by_inviter: dict[str, list[Invite]] = {}
    for invite in made:
        by_inviter.setdefault(data.inviter(invite), []).append(invite)
    assert sorted(got["labels"]) == sorted(by_inviter)
    assert got["labels"][-1] == COMMAND_LINE
    assert got["total"] == len(set(by_inviter) - {COMMAND_LINE})
    earlier = data.made(days[0] - timedelta(days=len(days)), days[0] - timedelta(days=1), tz, True)
    assert got["previous_total"] == len({data.inviter(i) for i in earlier} - {COMMAND_LINE})
    series = {s["name"]: s["data"] for s in got["series"]}
    for row, name in enumerate(got["labels"]):
        stages = data.stages(by_inviter[name], tz, True)
        assert [series[s][row] for s in ("Invites created", "Redeemed")] == stages[:2]
        assert [series[s][row] for s in ("First post", "Second week")] == stages[2:]
        penalties = data.marked(by_inviter[name], "penalty", True)
        assert series["Penalties"][row] == penalties
        for title, kind in (("Flags", "flag"), ("Warnings", "warning")):
            expected = data.marked(by_inviter[name], kind, True) if moderated else None
            assert series[title][row] == expected
    redeemed = series["Redeemed"][:-1]
    assert redeemed == sorted(redeemed, reverse=True)
    assert got["figures"]["moderation"] is moderated


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Chatham"])
async def test_the_funnel_equals_a_count_over_raw_rows(
    app: Any, client: Any, admin: Any, settings_of: Any, zone: str
) -> None:
    await settings_of(app, time_zone=zone)
    data = await generate(app)
    tz = ZoneInfo(zone)
    headers = await api_token(app, "admin")
    today = data.now.astimezone(tz).date()
    days = last_days(today, PERIOD)
    params = {"start": days[0].isoformat(), "end": today.isoformat()}
    got = await report(client, headers, "invites", **params)
    check_funnel(got, data, days, tz)
    assert 0 < got["series"][0]["data"][3] < got["series"][0]["data"][1]  # the data tells
    check_inviters(await report(client, headers, "inviters", **params), data, days, tz, True)
    earlier = [d - timedelta(days=40) for d in days]
    params = {"start": earlier[0].isoformat(), "end": earlier[-1].isoformat()}
    check_funnel(await report(client, headers, "invites", **params), data, earlier, tz)
    whole = last_days(today, 90)
    params = {"start": whole[0].isoformat(), "end": today.isoformat()}
    check_inviters(await report(client, headers, "inviters", **params), data, whole, tz, True)


async def test_staff_invitees_count_when_asked(
    app: Any, client: Any, admin: Any, settings_of: Any
) -> None:
    await settings_of(app, exclude_staff=False)
    data = await generate(app)
    tz = ZoneInfo("UTC")
    today = data.now.date()
    days = last_days(today, 90)
    got = await report(client, await api_token(app, "admin"), "invites", start=days[0].isoformat())
    check_funnel(got, data, days, tz, exclude=False)
    assert got["series"][0]["data"] != data.stages(data.made(days[0], today, tz, True), tz, True)


async def test_flags_and_warnings_are_na_without_moderation(
    app: Any, client: Any, admin: Any, settings_of: Any
) -> None:
    await settings_of(app)
    data = await generate(app)
    await enable_plugin(app, "moderation", False)
    tz = ZoneInfo("UTC")
    today = data.now.date()
    days = last_days(today, PERIOD)
    got = await report(client, await api_token(app, "admin"), "inviters")
    check_inviters(got, data, days, tz, False)
    assert "flags" not in got["summary"]


async def test_a_moderators_flag_shows_against_the_inviter(
    app: Any, client: Any, admin: Any, settings_of: Any
) -> None:
    """Through the services and the moderation plugin's API, as people would do it."""
    await settings_of(app)
    await make_member(app, "mod", "moderator")
    ann = await make_member(app, "ann", "admin")  # inviters are never left out
    tokens = [await make_invite(app, ann), await make_invite(app, ann), await make_invite(app)]
    async with app.state.sessionmaker() as db:
        for name, token in zip(("newcomer", "quiet"), tokens, strict=False):
            await accounts.redeem_invite(db, token, username=name, password="a long password 1")
    thread = await make_thread(app, "newcomer", "Buy my things")
    await make_thread(app, "newcomer", "Hello from a newcomer")  # stays shown
    await settle(app)
    async with app.state.sessionmaker() as db:
        post_id = await db.scalar(select(Post.id).where(Post.thread_id == thread.id))
    mod = await api_token(app, "mod")
    flagged = await client.post(
        "/api/v1/moderation/flags", json={"post_id": post_id, "reason": "spam"}, headers=mod
    )
    assert flagged.status_code == 201, flagged.text
    warned = await client.post(
        "/api/v1/moderation/penalties",
        json={"username": "newcomer", "kind": "warn", "reason": "Spam"},
        headers=mod,
    )
    assert warned.status_code == 201, warned.text
    async with app.state.sessionmaker() as db:
        newcomer = await accounts.member_by_username(db, "newcomer")
        await accounts.suspend(db, newcomer, None, "Spam again")
    await settle(app)
    headers = await api_token(app, "admin")
    got = await report(client, headers, "inviters")
    assert got["labels"] == ["ann", COMMAND_LINE]
    series = {s["name"]: s["data"] for s in got["series"]}
    assert series["Invites created"] == [2, 1]
    assert series["Redeemed"] == [2, 0]
    assert series["First post"] == [1, 0]
    assert series["Second week"] == [0, 0]
    assert (series["Flags"], series["Warnings"], series["Penalties"]) == ([1, 0], [1, 0], [1, 0])
    assert "ann's invitees drew the most flags (1)" in got["summary"]
    assert got["summary"].startswith("1 member created invites in these 30 days")
    funnel = await report(client, headers, "invites")
    assert funnel["series"][0]["data"] == [3, 2, 1, 0]
    assert funnel["figures"]["second_week_not_over"] == 2
    await enable_plugin(app, "moderation", False)
    series = {s["name"]: s["data"] for s in (await report(client, headers, "inviters"))["series"]}
    assert (series["Flags"], series["Warnings"], series["Penalties"]) == (
        [None, None],
        [None, None],
        [1, 0],
    )


async def test_the_funnel_has_no_category(app: Any, client: Any, admin: Any) -> None:
    async with app.state.sessionmaker() as db:
        db.add(Category(name="General", slug="general"))
        await db.commit()
        category_id = await db.scalar(select(Category.id))
    headers = await api_token(app, "admin")
    for name in ("invites", "inviters"):
        response = await client.get(
            f"/api/v1/analytics/reports/{name}",
            params={"category_id": category_id},
            headers=headers,
        )
        assert response.status_code == 400
        assert "whole community" in response.json()["detail"]


async def test_an_empty_period_says_so(app: Any, client: Any, admin: Any) -> None:
    headers = await api_token(app, "admin")
    got = await report(client, headers, "invites")
    assert got["series"][0]["data"] == [0, 0, 0, 0]
    assert got["summary"] == "No invites were created in these 30 days."
    got = await report(client, headers, "inviters")
    assert got["labels"] == [] and got["total"] == 0
    assert got["summary"] == "Nobody created an invite in these 30 days."
