"""Flags: the rules on who flags what, the weights, hiding at the threshold, and the
flaggers hearing the outcome."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from community_moderation import flags
from community_moderation.models import AuditEntry, Flag, Item
from sqlalchemy import select

from community.accounts import services as accounts
from community.forum import conversations
from community.forum import services as forum
from community.forum.models import Post, Thread
from community.testing import SITE_NAME, api_token, make_member, post_form, sign_in

FLAGS = "/api/v1/moderation/flags"


async def reply(app: Any, username: str, thread: Thread, body: str = "A reply.") -> Post:
    async with app.state.sessionmaker() as db:
        author = await accounts.member_by_username(db, username)
        site = await accounts.instance_settings(db, SITE_NAME)
        _, made = await forum.reply(db, author, thread.id, body, site)
        return made


async def flag(
    app: Any, client: Any, username: str, post_id: Any, reason: str = "spam", note: str = ""
) -> Any:
    body = {"post_id": post_id, "reason": reason, "note": note}
    return await client.post(FLAGS, json=body, headers=await api_token(app, username))


async def the_item(app: Any, post_id: int) -> Item | None:
    async with app.state.sessionmaker() as db:
        return await db.scalar(select(Item).where(Item.post_id == post_id))


async def test_a_member_flags_a_post_into_the_inbox(app, client, member, thread):
    await make_member(app, "alice")
    post = await reply(app, "member", thread)
    response = await flag(app, client, "alice", post.id, "off_topic")
    assert response.status_code == 201, response.text
    assert response.json()["reason"] == "off_topic"
    item = await the_item(app, post.id)
    assert item is not None and item.kind == "flag" and item.score == 1.0
    assert item.member_id == member.id and item.thread_id == thread.id


async def test_flagging_your_own_post_is_refused(app, client, member, thread):
    post = await reply(app, "member", thread)
    response = await flag(app, client, "member", post.id)
    assert response.status_code == 422
    assert "your own post" in response.json()["detail"]


async def test_flagging_twice_is_refused(app, client, member, thread):
    await make_member(app, "alice")
    post = await reply(app, "member", thread)
    assert (await flag(app, client, "alice", post.id)).status_code == 201
    again = await flag(app, client, "alice", post.id, "harassment")
    assert again.status_code == 409
    assert "already flagged" in again.json()["detail"]
    async with app.state.sessionmaker() as db:
        assert len((await db.scalars(select(Flag))).all()) == 1


async def test_something_else_needs_a_note(app, client, member, thread):
    await make_member(app, "alice")
    post = await reply(app, "member", thread)
    bare = await flag(app, client, "alice", post.id, "other")
    assert bare.status_code == 422 and bare.json()["field"] == "note"
    noted = await flag(app, client, "alice", post.id, "other", "It leaks a phone number.")
    assert noted.status_code == 201


async def test_bad_input_is_a_clear_error(app, client, member, thread):
    await make_member(app, "alice")
    post = await reply(app, "member", thread)
    assert (await flag(app, client, "alice", post.id, "rude")).status_code == 422
    assert (await flag(app, client, "alice", "abc")).status_code == 404
    assert (await flag(app, client, "alice", 999_999)).status_code == 404
    assert (await flag(app, client, "alice", post.id, "other", "x" * 1001)).status_code == 422


async def test_a_post_the_flagger_cannot_see_is_not_found(app, client, member):
    await make_member(app, "alice")
    await make_member(app, "bob")
    async with app.state.sessionmaker() as db:
        author = await accounts.member_by_username(db, "member")
        site = await accounts.instance_settings(db, SITE_NAME)
        _, message = await conversations.start(
            db, author, usernames=["alice"], title="Between us", body="Secret.", site=site
        )
    assert (await flag(app, client, "bob", message.id)).status_code == 404
    # a participant flags a private message
    assert (await flag(app, client, "alice", message.id, "harassment")).status_code == 201


async def test_flags_are_rate_limited(app, client, member, thread):
    await make_member(app, "alice")
    posts = [await reply(app, "member", thread, f"Reply {n}.") for n in range(11)]
    for post in posts[:10]:
        assert (await flag(app, client, "alice", post.id)).status_code == 201
    refused = await flag(app, client, "alice", posts[10].id)
    assert refused.status_code == 429
    assert "Try again" in refused.json()["detail"]


async def visible_numbers(app: Any, client: Any, username: str, thread: Thread) -> list[int]:
    response = await client.get(
        f"/api/v1/threads/{thread.id}/posts", headers=await api_token(app, username)
    )
    return [post["number"] for post in response.json()["posts"]]


async def test_the_threshold_hides_the_post_from_all_but_its_author(app, client, member, thread):
    post = await reply(app, "member", thread)
    for name in ("alice", "bob", "carol"):
        await make_member(app, name)
    for name in ("alice", "bob"):
        assert (await flag(app, client, name, post.id)).status_code == 201
    assert 2 in await visible_numbers(app, client, "carol", thread)
    assert (await flag(app, client, "carol", post.id)).status_code == 201
    assert 2 not in await visible_numbers(app, client, "carol", thread)
    assert 2 in await visible_numbers(app, client, "member", thread)
    async with app.state.sessionmaker() as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "post.hide"))
    assert entry is not None and entry.actor_id is None and entry.target_id == post.id


async def test_a_moderators_flag_weighs_more(app, client, member, thread):
    await make_member(app, "mod", "moderator")
    post = await reply(app, "member", thread)
    assert (await flag(app, client, "mod", post.id)).status_code == 201
    item = await the_item(app, post.id)
    assert item is not None and item.score == 3.0
    async with app.state.sessionmaker() as db:
        assert (await db.get(Post, post.id)).held_at is not None


def test_a_members_record_moves_the_weight_of_their_flags():
    person = SimpleNamespace(is_staff=False)
    assert flags.weight_for(person, 0, 0, 3.0) == 1.0
    assert flags.weight_for(person, 2, 2, 3.0) == 1.0  # too few judged to count yet
    assert flags.weight_for(person, 4, 4, 3.0) == 1.5
    assert flags.weight_for(person, 0, 4, 3.0) == 0.5
    assert flags.weight_for(SimpleNamespace(is_staff=True), 0, 9, 3.0) == 3.0


async def act(app: Any, client: Any, item: Item, action: str, **extra: Any) -> Any:
    return await client.post(
        f"/api/v1/moderation/queue/{item.id}/{action}",
        json={"version": item.version, **extra},
        headers=await api_token(app, "mod"),
    )


async def notifications(app: Any, client: Any, username: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/notifications", headers=await api_token(app, username))
    return response.json()["notifications"]


async def test_flaggers_hear_that_moderators_agreed(app, client, member, thread):
    await make_member(app, "mod", "moderator")
    await make_member(app, "alice")
    post = await reply(app, "member", thread)
    assert (await flag(app, client, "alice", post.id)).status_code == 201
    item = await the_item(app, post.id)
    assert (await act(app, client, item, "delete")).status_code == 200
    async with app.state.sessionmaker() as db:
        assert (await db.scalar(select(Flag))).outcome == "agreed"
    heard = await notifications(app, client, "alice")
    assert [n["kind"] for n in heard] == ["flag_agreed"]
    assert heard[0]["data"]["outcome"] == "agreed"


async def test_flaggers_hear_that_moderators_disagreed(app, client, member, thread):
    await make_member(app, "mod", "moderator")
    await make_member(app, "alice")
    post = await reply(app, "member", thread)
    assert (await flag(app, client, "alice", post.id)).status_code == 201
    item = await the_item(app, post.id)
    assert (await act(app, client, item, "ignore")).status_code == 200
    async with app.state.sessionmaker() as db:
        assert (await db.scalar(select(Flag))).outcome == "disagreed"
    assert [n["kind"] for n in await notifications(app, client, "alice")] == ["flag_disagreed"]


async def test_the_flag_page_works_without_javascript(app, client, member, thread):
    await make_member(app, "alice")
    post = await reply(app, "member", thread)
    await sign_in(client, "alice")
    page = await client.get(f"/p/moderation/flag/{post.id}")
    assert page.status_code == 200 and "What is wrong with it?" in page.text
    missing_note = await post_form(
        client, f"/p/moderation/flag/{post.id}", {"reason": "other", "note": ""}
    )
    assert missing_note.status_code == 422
    assert "Tell the moderators" in missing_note.text
    done = await post_form(client, f"/p/moderation/flag/{post.id}", {"reason": "spam"})
    assert done.status_code == 200 and "Thank you" in done.text
    assert (await the_item(app, post.id)) is not None


async def test_the_flag_form_needs_its_csrf_token(app, client, member, thread):
    await make_member(app, "alice")
    post = await reply(app, "member", thread)
    await sign_in(client, "alice")
    response = await client.post(f"/p/moderation/flag/{post.id}", data={"reason": "spam"})
    assert response.status_code == 403
    assert await the_item(app, post.id) is None


async def test_the_plugin_flags_on_its_own_rules(app, member, thread):
    async with app.state.sessionmaker() as db:
        post = await db.scalar(select(Post).where(Post.thread_id == thread.id))
        first = await flags.system_flag(db, post, thread, "Watched word: acme")
        again = await flags.system_flag(db, post, thread, "Watched word: acme")
        await db.commit()
        assert first.id == again.id and first.reason == "Watched word: acme"
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "post.flag"))
    assert entry is not None and entry.actor_id is None
