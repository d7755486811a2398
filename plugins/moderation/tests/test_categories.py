"""Category moderators (a group moderates one category: its inbox items, watched words and
thread tools, nothing beyond) and categories that approve every post."""

from __future__ import annotations

import itertools
from dataclasses import asdict
from types import SimpleNamespace
from typing import Any

import pytest
from community_moderation import categories, inbox
from community_moderation.models import AuditEntry, CategoryRule, Item, ThreadSettings, Word
from community_moderation.settings import Settings
from sqlalchemy import select, update

from community.accounts import services as accounts
from community.db import utcnow
from community.errors import ServiceError
from community.forum import services as forum
from community.forum.models import Post, Thread
from community.plugins import save_settings
from community.testing import (
    SITE_NAME,
    api_token,
    make_member,
    make_thread,
    post_form,
    run_job,
    settle,
    sign_in,
)

QUEUE = "/api/v1/moderation/queue"
THREADS = "/api/v1/moderation/threads"
CATEGORIES = "/api/v1/moderation/categories"
REPLIES = itertools.count(1)


async def configure(app: Any, **changes: Any) -> None:
    async with app.state.sessionmaker() as db:
        await save_settings(db, app.state.plugins, "moderation", {**asdict(Settings()), **changes})


async def join(app: Any, group_name: str, username: str) -> int:
    async with app.state.sessionmaker() as db:
        try:
            group = await accounts.group_by_name(db, group_name)
        except ServiceError:
            group = await accounts.create_group(db, group_name)
        await accounts.add_to_group(db, group, await accounts.member_by_username(db, username))
        return group.id


@pytest.fixture
async def site(app: Any) -> SimpleNamespace:
    """Staff (an admin and a moderator), alice who moderates News through the Newsdesk group,
    bob a member, carol in a bypass group, dave in a group that moderates nothing; a thread by
    bob in News and one in Chat. No first-post approval or spam delays."""
    for name, role in (("admin", "admin"), ("mod", "moderator")):
        await make_member(app, name, role)
    for name in ("alice", "bob", "carol", "dave"):
        await make_member(app, name)
    newsdesk = await join(app, "Newsdesk", "alice")
    await join(app, "Trusted", "carol")
    await join(app, "Knitters", "dave")
    await configure(app, approve_first_posts=0, first_post_seconds=0, bypass_groups="Trusted")
    news_thread = await make_thread(app, "bob", "Local news", "Read all about it.", "News")
    chat_thread = await make_thread(app, "bob", "Idle chat", "Nothing much.", "Chat")
    async with app.state.sessionmaker() as db:
        admin = await accounts.member_by_username(db, "admin")
        await categories.set_rule(
            db, admin, {"category_id": news_thread.category_id, "moderator_group_id": newsdesk}
        )
    return SimpleNamespace(
        news=news_thread.category_id,
        chat=chat_thread.category_id,
        news_thread=news_thread,
        chat_thread=chat_thread,
        newsdesk=newsdesk,
        alice=await api_token(app, "alice"),
        bob=await api_token(app, "bob"),
        mod=await api_token(app, "mod"),
        admin=await api_token(app, "admin"),
    )


async def held(app: Any, thread: Thread, body: str) -> Item:
    """A reply by bob in ``thread``, held as a gate would, with its inbox item."""
    async with app.state.sessionmaker() as db:
        bob = await accounts.member_by_username(db, "bob")
        site = await accounts.instance_settings(db, SITE_NAME)
        _, post = await forum.reply(db, bob, thread.id, body, site)
        post = await db.get(Post, post.id)
        found = await db.get(Thread, thread.id)
        await forum.hold_post(db, post, found, "A gate held it.")
        item = await inbox.open_item(db, "held", post=post, thread=found)
        await db.commit()
        return item


async def audit_entries(app: Any, action: str) -> list[AuditEntry]:
    async with app.state.sessionmaker() as db:
        rows = await db.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return list(rows.all())


# ---------------------------------------------------------------------------------------------
# The inbox


async def test_a_category_moderator_sees_only_their_categorys_items(app, client, site):
    news_item = await held(app, site.news_thread, "Breaking: a held reply.")
    chat_item = await held(app, site.chat_thread, "Chatter held for review.")

    queue = await client.get(QUEUE, headers=site.alice)
    assert queue.status_code == 200, queue.text
    assert [item["id"] for item in queue.json()["items"]] == [news_item.id]
    everything = await client.get(QUEUE, headers=site.mod)
    assert {item["id"] for item in everything.json()["items"]} == {news_item.id, chat_item.id}

    await sign_in(client, "alice")
    page = await client.get("/p/moderation/")
    assert page.status_code == 200
    assert "Breaking: a held reply." in page.text
    assert "Chatter held for review." not in page.text
    assert (await client.get("/p/moderation/badge")).text.count(">1<") == 1


async def test_the_inbox_link_shows_for_category_moderators_only(app, client, site):
    await sign_in(client, "alice")
    home = await client.get("/")
    assert 'hx-get="/p/moderation/nav"' in home.text
    link = await client.get("/p/moderation/nav")
    assert 'href="/p/moderation/"' in link.text
    thread_page = await client.get(site.news_thread.url)
    assert f"/p/moderation/threads/{site.news_thread.id}/link" in thread_page.text
    tools = await client.get(f"/p/moderation/threads/{site.news_thread.id}/link")
    assert "Thread tools" in tools.text
    elsewhere = await client.get(f"/p/moderation/threads/{site.chat_thread.id}/link")
    assert elsewhere.status_code == 200 and elsewhere.text == ""

    await sign_in(client, "dave")  # in a group, but it moderates nothing
    assert (await client.get("/p/moderation/nav")).text == ""
    assert (await client.get("/p/moderation/")).status_code == 403
    await sign_in(client, "bob")  # in no group: not even asked
    assert "/p/moderation/nav" not in (await client.get("/")).text


async def test_acting_outside_the_category_is_not_found(app, client, site):
    news_item = await held(app, site.news_thread, "Held in News.")
    chat_item = await held(app, site.chat_thread, "Held in Chat.")

    outside = await client.post(
        f"{QUEUE}/{chat_item.id}/approve", json={"version": 1}, headers=site.alice
    )
    assert outside.status_code == 404, outside.text
    await sign_in(client, "alice")
    form = await post_form(
        client, f"/p/moderation/items/{chat_item.id}/approve", {"version": "1"}, "/p/moderation/"
    )
    assert form.status_code == 404

    approved = await client.post(
        f"{QUEUE}/{news_item.id}/approve", json={"version": 1}, headers=site.alice
    )
    assert approved.status_code == 200, approved.text
    async with app.state.sessionmaker() as db:
        assert (await db.get(Post, news_item.post_id)).held_at is None
        assert (await db.get(Post, chat_item.post_id)).held_at is not None

    # Silencing or suspending is site-wide: staff only.
    again = await held(app, site.news_thread, "Held in News again.")
    silence = await client.post(
        f"{QUEUE}/{again.id}/silence", json={"version": 1, "reason": "Rude"}, headers=site.alice
    )
    assert silence.status_code == 403, silence.text


async def test_a_category_moderator_deletes_a_held_opening_post(app, client, site):
    await configure(app, approve_first_posts=1, first_post_seconds=0, bypass_groups="")
    made = await client.post(
        "/api/v1/threads",
        json={"category_id": site.news, "title": "Buy my stuff", "body": "Cheap stuff."},
        headers=await api_token(app, "dave"),
    )
    assert made.status_code == 201 and made.json()["first_post"]["held"] is True, made.text
    await settle(app)
    queue = (await client.get(QUEUE, headers=site.alice)).json()["items"]
    item = next(i for i in queue if i["thread_id"] == made.json()["id"])
    done = await client.post(
        f"{QUEUE}/{item['id']}/delete", json={"version": item["version"]}, headers=site.alice
    )
    assert done.status_code == 200, done.text
    async with app.state.sessionmaker() as db:
        thread = await db.get(Thread, made.json()["id"])
        assert thread.hidden_at is not None


async def test_a_category_moderator_edits_a_held_post_in_their_category_only(app, client, site):
    news_item = await held(app, site.news_thread, "Breaking: a held reply with a typo.")
    chat_item = await held(app, site.chat_thread, "Chatter held for review.")
    edited = await client.post(
        f"{QUEUE}/{news_item.id}/edit",
        json={"version": news_item.version, "body": "Breaking: a held reply."},
        headers=site.alice,
    )
    assert edited.status_code == 200, edited.text
    async with app.state.sessionmaker() as db:
        assert (await db.get(Post, news_item.post_id)).body == "Breaking: a held reply."
    outside = await client.post(
        f"{QUEUE}/{chat_item.id}/edit",
        json={"version": chat_item.version, "body": "Not yours to change."},
        headers=site.alice,
    )
    assert outside.status_code == 404, outside.text
    async with app.state.sessionmaker() as db:
        assert (await db.get(Post, chat_item.post_id)).body == "Chatter held for review."


# ---------------------------------------------------------------------------------------------
# Watched words


async def test_a_category_moderator_manages_only_their_categorys_words(app, client, site):
    words = "/api/v1/moderation/watched-words"
    sitewide = await client.post(
        words, json={"pattern": "casino", "action": "block"}, headers=site.mod
    )
    assert sitewide.status_code == 201

    mine = await client.post(
        words,
        json={"pattern": "rumour", "action": "approve", "category_id": site.news},
        headers=site.alice,
    )
    assert mine.status_code == 201, mine.text
    refused = await client.post(
        words, json={"pattern": "lottery", "action": "block"}, headers=site.alice
    )
    assert refused.status_code == 403
    assert "site-wide" in refused.json()["detail"]
    other = await client.post(
        words,
        json={"pattern": "lottery", "action": "block", "category_id": site.chat},
        headers=site.alice,
    )
    assert other.status_code == 403
    unknown = await client.post(
        words,
        json={"pattern": "lottery", "action": "block", "category_id": 999999},
        headers=site.alice,
    )
    assert unknown.status_code == 422

    listed = (await client.get(words, headers=site.alice)).json()["words"]
    assert [word["pattern"] for word in listed] == ["rumour"]
    gone = await client.delete(f"{words}/{sitewide.json()['id']}", headers=site.alice)
    assert gone.status_code == 404
    removed = await client.delete(f"{words}/{mine.json()['id']}", headers=site.alice)
    assert removed.status_code == 200
    async with app.state.sessionmaker() as db:
        assert [w.pattern for w in await db.scalars(select(Word))] == ["casino"]

    await sign_in(client, "alice")
    page = await client.get("/p/moderation/words")
    assert page.status_code == 200
    assert "Everywhere</option>" not in page.text
    assert "Only in News" in page.text and "Only in Chat" not in page.text
    form = await post_form(
        client, "/p/moderation/words", {"pattern": "gossip", "action": "flag", "category_id": ""}
    )
    assert form.status_code == 403
    assert "site-wide" in form.text


# ---------------------------------------------------------------------------------------------
# Thread tools


async def test_thread_tools_work_on_own_category_threads_only(app, client, site):
    news, chat = site.news_thread.id, site.chat_thread.id
    slow = await client.post(f"{THREADS}/{news}", json={"slow_seconds": 30}, headers=site.alice)
    assert slow.status_code == 200, slow.text
    assert (
        await client.post(f"{THREADS}/{chat}", json={"slow_seconds": 30}, headers=site.alice)
    ).status_code == 404
    assert (await client.get(f"{THREADS}/{chat}", headers=site.alice)).status_code == 404

    locked = await client.post(
        f"{THREADS}/{news}/moderate",
        json={"locked": True, "pinned": "category"},
        headers=site.alice,
    )
    assert locked.status_code == 200, locked.text
    assert locked.json()["locked"] is True and locked.json()["pinned"] == "category"
    hidden = await client.post(
        f"{THREADS}/{news}/moderate", json={"hidden": True}, headers=site.alice
    )
    assert hidden.json()["hidden"] is True
    # Hidden from members, the thread is still theirs to restore.
    restored = await client.post(
        f"{THREADS}/{news}/moderate", json={"hidden": False}, headers=site.alice
    )
    assert restored.status_code == 200 and restored.json()["hidden"] is False

    other = await client.post(
        f"{THREADS}/{chat}/moderate", json={"locked": True}, headers=site.alice
    )
    assert other.status_code == 404, other.text
    beyond = await client.post(
        f"{THREADS}/{news}/moderate", json={"category_id": site.chat}, headers=site.alice
    )
    assert beyond.status_code == 403
    everywhere = await client.post(
        f"{THREADS}/{news}/moderate", json={"pinned": "global"}, headers=site.alice
    )
    assert everywhere.status_code == 403
    bad = await client.post(
        f"{THREADS}/{news}/moderate", json={"locked": "yes"}, headers=site.alice
    )
    assert bad.status_code == 422 and "locked is true or false" in bad.text
    refused = await client.post(
        f"{THREADS}/{news}/moderate", json={"locked": False}, headers=site.bob
    )
    assert refused.status_code == 403

    entries = await audit_entries(app, "thread.moderate")
    assert [(e.before, e.after) for e in entries] == [
        ({"locked": False, "pinned": "none"}, {"locked": True, "pinned": "category"}),
        ({"hidden": False}, {"hidden": True}),
        ({"hidden": True}, {"hidden": False}),
    ]


async def test_thread_tools_page_offers_lock_pin_hide_and_move(app, client, site):
    news_id = site.news_thread.id
    await sign_in(client, "alice")
    assert (await client.get(f"/p/moderation/threads/{site.chat_thread.id}")).status_code == 404
    path = f"/p/moderation/threads/{news_id}"
    page = await client.get(path)
    assert page.status_code == 200
    assert f'action="{path}/moderate"' in page.text
    assert "Everywhere</option>" not in page.text  # no global pin for a category's moderator
    assert ">Chat</option>" not in page.text  # moves only to categories they moderate
    locked = await post_form(client, f"{path}/moderate", {"locked": "1"}, path)
    assert locked.history and locked.history[0].status_code == 303, locked.text
    async with app.state.sessionmaker() as db:
        assert (await db.get(Thread, news_id)).locked_at is not None
    wrong = await post_form(client, f"{path}/moderate", {"pinned": "sideways"}, path)
    assert wrong.status_code == 422 and "pinned is" in wrong.text

    await sign_in(client, "mod")
    staff_page = await client.get(path)
    assert "Everywhere</option>" in staff_page.text and ">Chat</option>" in staff_page.text
    moved = await post_form(client, f"{path}/moderate", {"category_id": str(site.chat)}, path)
    assert moved.history and moved.history[0].status_code == 303
    async with app.state.sessionmaker() as db:
        assert (await db.get(Thread, news_id)).category_id == site.chat


async def test_a_category_moderators_close_timer_locks_the_thread(app, client, site):
    news_id = site.news_thread.id
    set_timer = await client.post(
        f"{THREADS}/{news_id}", json={"close_at": "2099-01-01T00:00:00Z"}, headers=site.alice
    )
    assert set_timer.status_code == 200, set_timer.text
    async with app.state.sessionmaker() as db:
        await db.execute(
            update(ThreadSettings)
            .where(ThreadSettings.thread_id == news_id)
            .values(close_at=utcnow())
        )
        await db.commit()
    await run_job(app, "moderation.close_threads")
    async with app.state.sessionmaker() as db:
        assert (await db.get(Thread, news_id)).locked_at is not None


# ---------------------------------------------------------------------------------------------
# Approve every post


async def post_reply(client: Any, headers: dict[str, str], thread_id: int) -> Any:
    """Whether the reply was held (each reply's text differs: no duplicate check)."""
    body = f"Some words, number {next(REPLIES)}."
    made = await client.post(
        f"/api/v1/threads/{thread_id}/posts", json={"body": body}, headers=headers
    )
    assert made.status_code == 201, made.text
    return made.json()["held"]


async def test_approve_all_holds_members_posts_but_not_moderators_or_bypass(app, client, site):
    changed = await client.post(
        CATEGORIES, json={"category_id": site.news, "approve_all": True}, headers=site.admin
    )
    assert changed.status_code == 200, changed.text
    news, chat = site.news_thread.id, site.chat_thread.id

    assert await post_reply(client, site.bob, news) is True
    started = await client.post(
        "/api/v1/threads",
        json={"category_id": site.news, "title": "Held thread", "body": "Please approve."},
        headers=site.bob,
    )
    assert started.json()["first_post"]["held"] is True
    assert await post_reply(client, site.bob, chat) is False  # another category
    assert await post_reply(client, site.alice, news) is False  # its moderator
    assert await post_reply(client, await api_token(app, "carol"), news) is False  # bypass
    assert await post_reply(client, site.mod, news) is False  # staff
    dave = await post_reply(client, await api_token(app, "dave"), news)
    assert dave is True  # a group, but not one that bypasses
    await settle(app)

    queue = (await client.get(QUEUE, headers=site.alice)).json()["items"]
    assert sum(1 for item in queue if item["kind"] == "held") == 3
    assert all(item["reason"].startswith("Every post in this category") for item in queue)


# ---------------------------------------------------------------------------------------------
# The admin page and the API


async def test_admins_set_a_categorys_group_and_approval_audited(app, client, site):
    await sign_in(client, "admin")
    page = await client.get("/p/moderation/categories")
    assert page.status_code == 200
    assert f'id="moderation-category-{site.chat}"' in page.text
    assert "/p/moderation/categories" in (await client.get("/admin/members")).text
    done = await post_form(
        client,
        "/p/moderation/categories",
        {
            "category_id": str(site.chat),
            "moderator_group_id": str(site.newsdesk),
            "approve_all": "on",
        },
        "/p/moderation/categories",
    )
    assert done.history and done.history[0].status_code == 303, done.text
    async with app.state.sessionmaker() as db:
        rule = await db.get(CategoryRule, site.chat)
        assert (rule.moderator_group_id, rule.approve_all) == (site.newsdesk, True)
    # alice now moderates Chat too.
    assert (
        await client.get(f"{THREADS}/{site.chat_thread.id}", headers=site.alice)
    ).status_code == 200

    api = await client.post(
        CATEGORIES,
        json={"category_id": site.chat, "moderator_group_id": None},
        headers=site.admin,
    )
    assert api.status_code == 200, api.text
    assert api.json() == {
        "category_id": site.chat,
        "category": "Chat",
        "moderator_group_id": None,
        "approve_all": True,
    }
    listed = (await client.get(CATEGORIES, headers=site.mod)).json()["categories"]
    assert {row["category_id"]: row["moderator_group_id"] for row in listed} == {
        site.news: site.newsdesk,
        site.chat: None,
    }
    entries = await audit_entries(app, "category.moderation")
    assert [(e.target_id, e.before, e.after) for e in entries] == [
        (
            site.news,
            {"moderator_group_id": None, "approve_all": False},
            {"moderator_group_id": site.newsdesk, "approve_all": False},
        ),
        (
            site.chat,
            {"moderator_group_id": None, "approve_all": False},
            {"moderator_group_id": site.newsdesk, "approve_all": True},
        ),
        (
            site.chat,
            {"moderator_group_id": site.newsdesk, "approve_all": True},
            {"moderator_group_id": None, "approve_all": True},
        ),
    ]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"category_id": 999999, "approve_all": True}, 422, "unknown_category"),
        ({"category_id": "news"}, 422, "unknown_category"),
        ({"moderator_group_id": 999999}, 422, "unknown_group"),
        ({"moderator_group_id": "staff"}, 422, "unknown_group"),
        ({"approve_all": "maybe"}, 422, "invalid_approve_all"),
        ({"colour": "red"}, 422, "invalid_body"),
    ],
)
async def test_bad_changes_are_refused_clearly(app, client, site, body, status, error):
    body = {"category_id": site.news, **body} if "category_id" not in body else body
    answer = await client.post(CATEGORIES, json=body, headers=site.admin)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error and answer.json()["detail"]
    assert len(await audit_entries(app, "category.moderation")) == 1  # the fixture's


async def test_only_admins_change_categories(app, client, site):
    for headers in (site.mod, site.alice, site.bob):
        answer = await client.post(
            CATEGORIES, json={"category_id": site.chat, "approve_all": True}, headers=headers
        )
        assert answer.status_code == 403
    assert (await client.get(CATEGORIES, headers=site.bob)).status_code == 403
    await sign_in(client, "mod")
    assert (await client.get("/p/moderation/categories")).status_code == 403
    await sign_in(client, "admin")
    unknown = await post_form(
        client,
        "/p/moderation/categories",
        {"category_id": str(site.chat), "moderator_group_id": "999999"},
        "/p/moderation/categories",
    )
    assert unknown.status_code == 422 and "No such group." in unknown.text
    async with app.state.sessionmaker() as db:
        assert await db.get(CategoryRule, site.chat) is None
