"""The slots: the admin pages' engagement summary for those who may see analytics, and a
member's own activity on their own profile only; both load a fragment of the plugin."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from community_analytics import slots
from community_analytics.catalogue import REPORTS
from community_analytics.models import Visit
from sqlalchemy import select

from community.db import utcnow
from community.forum.models import Post, Reaction
from community.testing import make_member, make_thread, settle, sign_in
from community.web.slots import Slot
from plugins.analytics.tests.conftest import new_post

SUMMARY = 'hx-get="/p/analytics/summary"'
OWN = 'hx-get="/p/analytics/me"'


def stats(fragment: str) -> dict[str, str]:
    return dict(re.findall(r"<dt>(?:<a [^>]+>)?(.*?)(?:</a>)?</dt><dd>(.*?)</dd>", fragment))


async def test_admin_pages_load_the_summary(app: Any, client: Any, admin: Any) -> None:
    await make_thread(app, "admin")
    await sign_in(client, "admin")
    page = await client.get("/admin/members")
    assert page.status_code == 200 and SUMMARY in page.text
    fragment = await client.get("/p/analytics/summary", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text  # a fragment, not a page
    found = stats(fragment.text)
    assert set(found) == {REPORTS[name].title for name in slots.SUMMARY if name in REPORTS}
    assert found["Threads"] == "0"  # an admin's thread: staff are left out by default


async def test_the_summary_counts_members(app: Any, client: Any, admin: Any, member: Any) -> None:
    await make_thread(app, "member")
    await sign_in(client, "admin")
    found = stats((await client.get("/p/analytics/summary")).text)
    assert found["Threads"] == "1" and found["Posts"] == "1"


def test_the_summary_slot_is_for_who_may_see_analytics() -> None:
    admin = SimpleNamespace(id=1, role="admin", is_admin=True)
    assert SUMMARY in (slots.render(Slot.admin_dashboard, {"member": admin}) or "")
    assert slots.render(Slot.admin_dashboard, {"member": None}) is None
    assert slots.render(Slot.nav, {"member": admin}) is None


async def test_members_see_their_own_activity_only(
    app: Any, client: Any, admin: Any, member: Any
) -> None:
    await make_member(app, "other")
    await sign_in(client, "member")
    assert OWN in (await client.get("/u/member")).text
    assert OWN not in (await client.get("/u/other")).text
    await sign_in(client, "admin")
    assert OWN not in (await client.get("/u/member")).text  # admins too see only their own
    assert OWN in (await client.get("/u/admin")).text


def test_the_profile_slot_is_for_the_profile_member() -> None:
    me = SimpleNamespace(id=7, role="member", is_admin=False)
    mine = SimpleNamespace(member=SimpleNamespace(id=7))
    theirs = SimpleNamespace(member=SimpleNamespace(id=8))
    assert OWN in (slots.render(Slot.profile, {"member": me, "profile": mine}) or "")
    assert slots.render(Slot.profile, {"member": me, "profile": theirs}) is None
    assert slots.render(Slot.profile, {"member": None, "profile": mine}) is None
    assert slots.render(Slot.admin_dashboard, {"member": me}) is None


async def test_own_activity_counts_the_last_30_days(
    app: Any, client: Any, admin: Any, member: Any
) -> None:
    mine = await make_thread(app, "member", title="Mine")  # a thread and a post, now
    theirs = await make_thread(app, "admin", title="Theirs")
    now = utcnow()
    today = now.date()
    async with app.state.sessionmaker() as db:
        replies = [
            new_post(theirs.id, 2, member.id, now - timedelta(days=5)),
            new_post(theirs.id, 3, member.id, now - timedelta(days=40)),
            new_post(theirs.id, 4, member.id, now - timedelta(days=2)),
        ]
        replies[2].deleted_at = now
        db.add_all(replies)
        await db.flush()
        mine_post = await db.scalar(select(Post.id).where(Post.thread_id == mine.id))
        theirs_post = await db.scalar(
            select(Post.id).where(Post.thread_id == theirs.id, Post.number == 1)
        )
        db.add_all(
            [
                Reaction(post_id=mine_post, member_id=admin.id, emoji="👍", created_at=now),
                Reaction(post_id=mine_post, member_id=member.id, emoji="🎉", created_at=now),
                Reaction(post_id=theirs_post, member_id=member.id, emoji="👍", created_at=now),
                Reaction(
                    post_id=replies[1].id,
                    member_id=admin.id,
                    emoji="🎉",
                    created_at=now - timedelta(days=39),
                ),
            ]
        )
        for days in (3, 10, 40):
            db.add(Visit(member_id=member.id, day=today - timedelta(days=days), first_seen=now))
        await db.commit()
    await sign_in(client, "member")
    await settle(app)
    fragment = await client.get("/p/analytics/me", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert stats(fragment.text) == {
        "Days active": "3",  # today (signing in), 3 and 10 days ago
        "Posts": "2",  # the opening post and the reply 5 days ago
        "Threads": "1",
        "Reactions given": "2",
        "Reactions received": "1",  # their own reaction is not received
    }
