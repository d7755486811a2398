"""Spam heuristics and pre-approval, through the real HTTP API: new members' links and
mentions, duplicates, the posting rate, a first post too soon after joining, the first posts
held for approval, bypass groups, staff exempt."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from community_moderation import spam
from community_moderation.settings import Settings
from sqlalchemy import update

from community.accounts import services as accounts
from community.accounts.models import Member
from community.db import utcnow
from community.forum import services as forum
from community.forum.models import Post
from community.plugins import save_settings
from community.testing import api_token, make_member

# ---------------------------------------------------------------------------------------------
# Counting


@pytest.mark.parametrize(
    ("text", "links"),
    [
        ("no links at all", 0),
        ("see http://a.com and https://b.org/x?y=1", 2),
        ("[here](https://a.com) and [there](/t/local/1)", 1),
        ("<https://x.io/a>", 1),
        ("go to example.com/path now", 1),
        ("spam.ru and cheap.xyz", 2),
        ("www.example.org", 1),
        ("mail me at bob@example.com", 0),
        ("read file.txt, use node.js, e.g. this", 0),
        ("a sub.example.co.uk domain", 1),
    ],
)
def test_links_are_counted(text, links):
    assert spam.count_links(text) == links


def test_mentions_are_counted_once_each_and_not_in_addresses():
    assert spam.count_mentions("@alice @bob @ALICE @carol a@b.com @al") == 3


def test_duplicates_compare_normalised_text():
    assert spam.same_text("Buy  NOW\n") == spam.same_text("buy now") == "buy now"
    assert spam.same_text("ｂｕｙ now") == "buy now"


# ---------------------------------------------------------------------------------------------
# Through the API


async def configure(app: Any, **changes: Any) -> None:
    async with app.state.sessionmaker() as db:
        await save_settings(db, app.state.plugins, "moderation", {**asdict(Settings()), **changes})


async def age(app: Any, username: str, days: float) -> None:
    """Make ``username`` joined ``days`` ago."""
    joined = utcnow() - timedelta(days=days)
    async with app.state.sessionmaker() as db:
        await db.execute(
            update(Member)
            .where(Member.username_key == username)
            .values(created_at=joined, approved_at=joined)
        )
        await db.commit()


@pytest.fixture
async def site(app: Any) -> SimpleNamespace:
    """A moderator, an established member (old, with a thread) and a brand-new member."""
    await make_member(app, "mod", "moderator")
    await make_member(app, "alice")
    await make_member(app, "newbie")
    async with app.state.sessionmaker() as db:
        general = (await forum.save_category(db, None, {"name": "General"})).id
    await age(app, "alice", 30)
    return SimpleNamespace(
        general=general,
        mod=await api_token(app, "mod"),
        alice=await api_token(app, "alice"),
        newbie=await api_token(app, "newbie"),
    )


async def start(
    client: Any, headers: dict[str, str], category: int, body: str, title: str = ""
) -> Any:
    return await client.post(
        "/api/v1/threads",
        json={"category_id": category, "title": title or "A thread title", "body": body},
        headers=headers,
    )


async def reply(client: Any, headers: dict[str, str], thread_id: int, body: str) -> Any:
    return await client.post(
        f"/api/v1/threads/{thread_id}/posts", json={"body": body}, headers=headers
    )


async def reason(app: Any, response: Any) -> str | None:
    """The held reason of the post a 201 answer made (None: not held)."""
    assert response.status_code == 201, response.text
    data = response.json()
    post_id = data["first_post"]["id"] if "first_post" in data else data["id"]
    async with app.state.sessionmaker() as db:
        post = await db.get(Post, post_id)
    assert post is not None
    return post.held_reason if post.held_at is not None else None


async def opened(client: Any, site: SimpleNamespace) -> int:
    made = await start(client, site.alice, site.general, "Welcome, everyone")
    assert made.status_code == 201
    return int(made.json()["id"])


def three_links() -> str:
    return "http://one.example https://two.example/x and spam.ru"


async def test_a_new_member_posting_too_many_links_is_held(app, client, site):
    await configure(app, approve_first_posts=0, first_post_seconds=0)
    thread_id = await opened(client, site)
    held = await reply(client, site.newbie, thread_id, three_links())
    assert held.json()["held"] is True
    assert await reason(app, held) == "New members may post at most 2 links at a time."
    two = await reply(client, site.newbie, thread_id, "http://one.example and two.com/x")
    assert await reason(app, two) is None
    in_thread = await start(
        client, site.newbie, site.general, "Read [this](https://a.io)", "See b.io c.io"
    )
    assert "at most 2 links" in (await reason(app, in_thread) or "")


async def test_members_stop_being_new_by_age_and_by_posts(app, client, site):
    await configure(app, approve_first_posts=0, first_post_seconds=0, new_member_posts=0)
    thread_id = await opened(client, site)
    assert await reason(app, await reply(client, site.alice, thread_id, three_links())) is None
    assert await reason(app, await reply(client, site.newbie, thread_id, three_links()))
    await configure(
        app, approve_first_posts=0, first_post_seconds=0, new_member_days=0, new_member_posts=2
    )
    # newbie has one post (the held one counts): still new by posts
    assert await reason(app, await reply(client, site.newbie, thread_id, three_links() + " 2"))
    assert (
        await reason(app, await reply(client, site.newbie, thread_id, three_links() + " 3")) is None
    )


async def test_a_new_member_mentioning_too_many_members_is_held(app, client, site):
    await configure(app, approve_first_posts=0, first_post_seconds=0, new_member_mentions=2)
    thread_id = await opened(client, site)
    held = await reply(client, site.newbie, thread_id, "@alice @mod @carol look")
    assert await reason(app, held) == "New members may mention at most 2 members at a time."
    fine = await reply(client, site.newbie, thread_id, "@alice @mod @ALICE look")
    assert await reason(app, fine) is None


async def test_the_same_text_again_within_the_window_is_held(app, client, site):
    await configure(app, approve_first_posts=0, first_post_seconds=0)
    thread_id = await opened(client, site)
    first = await reply(client, site.newbie, thread_id, "Great   offer, DM me")
    assert await reason(app, first) is None
    again = await reply(client, site.newbie, thread_id, "great offer, dm me\n")
    assert "same text" in (await reason(app, again) or "")
    other = await reply(client, site.alice, thread_id, "Great offer, DM me")
    assert await reason(app, other) is None  # someone else's post is not a duplicate

    await configure(app, approve_first_posts=0, first_post_seconds=0, duplicate_minutes=0)
    assert (
        await reason(app, await reply(client, site.newbie, thread_id, "Great offer, DM me")) is None
    )


async def test_posting_too_fast_is_refused_with_the_wait(app, client, site):
    await configure(app, approve_first_posts=0, first_post_seconds=0, posts_per_minute=2)
    thread_id = await opened(client, site)
    for n in range(2):
        assert (await reply(client, site.newbie, thread_id, f"reply {n}")).status_code == 201
    refused = await reply(client, site.newbie, thread_id, "reply 3")
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail.startswith("You are posting too fast. Try again in ") and "second" in detail
    assert (await reply(client, site.alice, thread_id, "alice is fine")).status_code == 201


async def test_a_first_post_too_soon_after_joining_is_held(app, client, site):
    await configure(app, approve_first_posts=0, first_post_seconds=60)
    thread_id = await opened(client, site)
    held = await reply(client, site.newbie, thread_id, "Hello all")
    assert "soon after joining" in (await reason(app, held) or "")
    # the second post is not a first post
    assert await reason(app, await reply(client, site.newbie, thread_id, "Me again")) is None


async def test_a_first_post_written_later_is_not_held_for_speed(app, client, site):
    await configure(app, approve_first_posts=0, first_post_seconds=60)
    await age(app, "newbie", 0.01)  # about 15 minutes ago
    thread_id = await opened(client, site)
    assert await reason(app, await reply(client, site.newbie, thread_id, "Hello all")) is None


async def test_a_new_members_first_posts_wait_for_approval(app, client, site):
    await configure(app, approve_first_posts=0, first_post_seconds=0)
    thread_id = await opened(client, site)
    await configure(app, approve_first_posts=2, first_post_seconds=0)
    await age(app, "newbie", 1)
    first = await start(client, site.newbie, site.general, "Hello, I am new here")
    assert first.json()["first_post"]["held"] is True
    assert "approved by a moderator" in (await reason(app, first) or "")
    assert await reason(app, await reply(client, site.newbie, thread_id, "second"))  # held too
    assert await reason(app, await reply(client, site.newbie, thread_id, "third")) is None


async def test_bypass_groups_skip_pre_approval(app, client, site):
    async with app.state.sessionmaker() as db:
        group = await accounts.create_group(db, "Trusted")
        await accounts.add_to_group(db, group, await accounts.member_by_username(db, "newbie"))
    await configure(
        app, approve_first_posts=1, first_post_seconds=0, bypass_groups="friends, trusted"
    )
    made = await start(client, site.newbie, site.general, "Hello, I am trusted")
    assert await reason(app, made) is None


async def test_staff_are_exempt_from_spam_checks_and_pre_approval(app, client, site):
    await configure(app, approve_first_posts=1, first_post_seconds=60, posts_per_minute=1)
    made = await start(client, site.mod, site.general, three_links() + " @a1a @b2b @c3c @d4d")
    assert await reason(app, made) is None
    again = await reply(client, site.mod, made.json()["id"], three_links() + " @a1a @b2b @c3c @d4d")
    assert await reason(app, again) is None


async def test_private_messages_get_spam_checks_but_not_pre_approval(app, client, site):
    await configure(app, approve_first_posts=1, first_post_seconds=0)
    await age(app, "newbie", 1)

    def message(body: str) -> Any:
        return client.post(
            "/api/v1/conversations",
            json={"usernames": ["alice"], "title": "Hello alice", "body": body},
            headers=site.newbie,
        )

    assert await reason(app, await message("Hi there")) is None
    assert "at most 2 links" in (await reason(app, await message(three_links())) or "")


async def test_edits_check_links_but_not_rate_duplicates_or_pre_approval(app, client, site):
    await configure(app, approve_first_posts=0, first_post_seconds=0, posts_per_minute=1)
    await age(app, "newbie", 1)
    made = await start(client, site.newbie, site.general, "Hello")
    post_id = made.json()["first_post"]["id"]
    url = f"/api/v1/posts/{post_id}"
    for n in range(3):  # past the rate, and the same text as the post itself
        edited = await client.patch(url, json={"body": f"Hello {n}"}, headers=site.newbie)
        assert edited.status_code == 200 and edited.json()["held"] is False, edited.text
    with_links = await client.patch(url, json={"body": three_links()}, headers=site.newbie)
    assert with_links.status_code == 200 and with_links.json()["held"] is True
