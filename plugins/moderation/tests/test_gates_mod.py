"""The moderation gates through the real HTTP API: watched words block, hold, censor and
replace in threads, replies, edits and private messages; category lists stay in their
category; silenced members are refused."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from community_moderation import penalties
from community_moderation.models import Penalty
from community_moderation.settings import Settings
from sqlalchemy import select

from community.accounts.models import Member
from community.db import utcnow
from community.forum import services as forum
from community.forum.models import Post, Thread
from community.plugins import save_settings
from community.testing import api_token, make_member


async def configure(app: Any, **changes: Any) -> None:
    async with app.state.sessionmaker() as db:
        await save_settings(db, app.state.plugins, "moderation", {**asdict(Settings()), **changes})


@pytest.fixture
async def site(app: Any) -> SimpleNamespace:
    """A moderator, two members, two categories; only watched words hold or refuse (no
    pre-approval, no first-post delay)."""
    await make_member(app, "mod", "moderator")
    await make_member(app, "alice")
    await make_member(app, "bob")
    async with app.state.sessionmaker() as db:
        news = (await forum.save_category(db, None, {"name": "News"})).id
        chat = (await forum.save_category(db, None, {"name": "Chat"})).id
    await configure(app, approve_first_posts=0, first_post_seconds=0)
    return SimpleNamespace(
        news=news,
        chat=chat,
        mod=await api_token(app, "mod"),
        alice=await api_token(app, "alice"),
        bob=await api_token(app, "bob"),
    )


async def watch(client: Any, site: SimpleNamespace, pattern: str, action: str, **more: Any) -> Any:
    response = await client.post(
        "/api/v1/moderation/watched-words",
        json={"pattern": pattern, "action": action, **more},
        headers=site.mod,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def start(client: Any, headers: dict[str, str], category: int, title: str, body: str) -> Any:
    return await client.post(
        "/api/v1/threads",
        json={"category_id": category, "title": title, "body": body},
        headers=headers,
    )


async def reply(client: Any, headers: dict[str, str], thread_id: int, body: str) -> Any:
    return await client.post(
        f"/api/v1/threads/{thread_id}/posts", json={"body": body}, headers=headers
    )


async def stored(app: Any, post_id: int) -> Post:
    async with app.state.sessionmaker() as db:
        post = await db.get(Post, post_id)
    assert post is not None
    return post


async def thread_title(app: Any, thread_id: int) -> str:
    async with app.state.sessionmaker() as db:
        return (await db.scalar(select(Thread.title).where(Thread.id == thread_id))) or ""


def rejected(response: Any, *words: str) -> bool:
    body = response.json()
    return (
        response.status_code == 422
        and body["error"] == "rejected"
        and all(word in body["detail"] for word in words)
    )


# ---------------------------------------------------------------------------------------------
# Block and approve


async def test_a_blocked_word_refuses_threads_and_replies_naming_the_word(app, client, site):
    await watch(client, site, "casino*", "block")
    refused = await start(client, site.alice, site.news, "Hello", "Visit my CASINOS today")
    assert rejected(refused, "casino*", "not allowed")
    refused_title = await start(client, site.alice, site.news, "Best casino", "Nothing here")
    assert rejected(refused_title, "casino*")

    made = await start(client, site.alice, site.news, "Hello", "A fine first post")
    assert made.status_code == 201 and made.json()["first_post"]["held"] is False
    assert rejected(await reply(client, site.bob, made.json()["id"], "casino night!"), "casino*")
    async with app.state.sessionmaker() as db:
        assert await db.scalar(select(Post.id).where(Post.body.contains("asino"))) is None


@pytest.mark.parametrize(
    "body",
    [
        "sp\u200bam",  # a zero-width space inside the word
        "s p a m",
        "s.p.a.m",
        "ｓｐａｍ",  # fullwidth
        "SpAm",
        "\u200bS\u200cP\u200dA\u2060M\ufeff",
    ],
)
async def test_evasions_of_a_blocked_word_are_refused(client, site, body):
    await watch(client, site, "spam", "block")
    made = await start(client, site.alice, site.news, "Hello", "A fine first post")
    assert rejected(await reply(client, site.bob, made.json()["id"], f"cheap {body} here"), "spam")


async def test_a_word_inside_another_word_passes(client, site):
    await watch(client, site, "spam", "block")
    made = await start(client, site.alice, site.news, "Antispam tips", "Our antispam filter")
    assert made.status_code == 201 and made.json()["first_post"]["held"] is False


async def test_an_approve_word_holds_the_post(app, client, site):
    await watch(client, site, "refund", "approve")
    made = await start(client, site.alice, site.news, "Hello", "A fine first post")
    held = await reply(client, site.bob, made.json()["id"], "I want a REFUND")
    assert held.status_code == 201 and held.json()["held"] is True
    assert "refund" in ((await stored(app, held.json()["id"])).held_reason or "")
    held_thread = await start(client, site.bob, site.news, "Refund please", "Now")
    assert held_thread.status_code == 201 and held_thread.json()["first_post"]["held"] is True


async def test_the_strictest_verdict_wins(client, site):
    await watch(client, site, "refund", "approve")
    await watch(client, site, "scam", "block")
    made = await start(client, site.alice, site.news, "Hello", "A fine first post")
    assert rejected(await reply(client, site.bob, made.json()["id"], "refund this scam"), "scam")


async def test_a_new_word_applies_to_the_very_next_post_and_a_removed_one_stops(client, site):
    made = await start(client, site.alice, site.news, "Hello", "A fine first post")
    assert (await reply(client, site.bob, made.json()["id"], "crypto one")).status_code == 201
    word = await watch(client, site, "crypto", "block")
    assert rejected(await reply(client, site.bob, made.json()["id"], "crypto two"))
    await client.delete(f"/api/v1/moderation/watched-words/{word['id']}", headers=site.mod)
    assert (await reply(client, site.bob, made.json()["id"], "crypto three")).status_code == 201


# ---------------------------------------------------------------------------------------------
# Category lists


async def test_a_category_list_applies_only_in_its_category(app, client, site):
    await watch(client, site, "spoiler", "block", category_id=site.news)
    await watch(client, site, "darn", "censor", category_id=site.news)
    in_news = await start(client, site.alice, site.news, "Hello", "A spoiler!")
    assert rejected(in_news, "spoiler")
    in_chat = await start(client, site.alice, site.chat, "Hello", "A spoiler, darn it")
    assert in_chat.status_code == 201
    assert (await stored(app, in_chat.json()["first_post"]["id"])).body == "A spoiler, darn it"

    news_thread = await start(client, site.alice, site.news, "Darn news", "Oh darn")
    assert news_thread.status_code == 201
    assert (await stored(app, news_thread.json()["first_post"]["id"])).body == "Oh ■■■■"
    assert await thread_title(app, news_thread.json()["id"]) == "■■■■ news"
    answered = await reply(client, site.bob, news_thread.json()["id"], "darn right")
    assert (await stored(app, answered.json()["id"])).body == "■■■■ right"
    chat_reply = await reply(client, site.bob, in_chat.json()["id"], "darn right")
    assert (await stored(app, chat_reply.json()["id"])).body == "darn right"


# ---------------------------------------------------------------------------------------------
# Censor and replace


async def test_censor_and_replace_rewrite_titles_and_bodies(app, client, site):
    await watch(client, site, "darn", "censor")
    await watch(client, site, "acme*", "replace", replacement="the shop")
    made = await start(client, site.alice, site.news, "Darn ACME prices", "d a r n, acmeco is dear")
    assert made.status_code == 201 and made.json()["first_post"]["held"] is False
    assert await thread_title(app, made.json()["id"]) == "■■■■ the shop prices"
    assert (await stored(app, made.json()["first_post"]["id"])).body == "■■■■, the shop is dear"


async def test_flag_and_notify_words_let_the_post_through_untouched(app, client, site):
    await watch(client, site, "acme", "notify")
    await watch(client, site, "refund", "flag")
    made = await start(client, site.alice, site.news, "Acme", "acme refund")
    assert made.status_code == 201 and made.json()["first_post"]["held"] is False
    assert (await stored(app, made.json()["first_post"]["id"])).body == "acme refund"


# ---------------------------------------------------------------------------------------------
# Edits


async def test_edits_are_checked_and_rewritten(app, client, site):
    await watch(client, site, "scam", "block")
    await watch(client, site, "refund", "approve")
    await watch(client, site, "darn", "censor", category_id=site.news)
    made = await start(client, site.alice, site.news, "Hello", "A fine first post")
    post_id = made.json()["first_post"]["id"]
    url = f"/api/v1/posts/{post_id}"

    assert rejected(await client.patch(url, json={"body": "a sc\u200bam"}, headers=site.alice))
    assert (await stored(app, post_id)).body == "A fine first post"

    censored = await client.patch(
        url, json={"body": "darn it", "title": "Darn title"}, headers=site.alice
    )
    assert censored.status_code == 200, censored.text
    assert (await stored(app, post_id)).body == "■■■■ it"
    assert await thread_title(app, made.json()["id"]) == "■■■■ title"

    held = await client.patch(url, json={"body": "refund me"}, headers=site.alice)
    assert held.status_code == 200 and (await stored(app, post_id)).held_at is not None


# ---------------------------------------------------------------------------------------------
# Private messages


async def test_private_messages_get_site_wide_words_only(app, client, site):
    await watch(client, site, "scam", "block")
    await watch(client, site, "darn", "censor")
    await watch(client, site, "heck", "censor", category_id=site.news)

    def message(title: str, body: str) -> Any:
        return client.post(
            "/api/v1/conversations",
            json={"usernames": ["bob"], "title": title, "body": body},
            headers=site.alice,
        )

    assert rejected(await message("Hi bob", "is this a scam?"), "scam")
    assert rejected(await message("A scam?", "hello"), "scam")
    sent = await message("Darn", "darn heck")
    assert sent.status_code == 201, sent.text
    assert (await stored(app, sent.json()["first_post"]["id"])).body == "■■■■ heck"
    assert await thread_title(app, sent.json()["id"]) == "■■■■"
    answer = await reply(client, site.bob, sent.json()["id"], "not a scam")
    assert rejected(answer, "scam")
    # a watched word in the conversation's title does not refuse every reply
    assert (await reply(client, site.bob, sent.json()["id"], "fine")).status_code == 201


# ---------------------------------------------------------------------------------------------
# Silenced members


async def test_a_silenced_member_is_refused_except_when_writing_to_moderators(
    app, client, site, monkeypatch
):
    made = await start(client, site.alice, site.news, "Hello", "A fine first post")
    author = made.json()["first_post"]["author"]
    penalty = SimpleNamespace(ends_at=None, message="Cool off.")

    async def silenced(db: Any, member_id: int) -> Any:
        async with app.state.sessionmaker() as own:
            member = await own.get(Member, member_id)
        return penalty if member is not None and member.username == author else None

    monkeypatch.setattr(penalties, "silenced", silenced, raising=False)
    refused = await reply(client, site.alice, made.json()["id"], "me again")
    assert rejected(refused, "silenced", "Cool off.")
    assert rejected(await start(client, site.alice, site.chat, "Again", "me"), "silenced")
    assert (await reply(client, site.bob, made.json()["id"], "bob is fine")).status_code == 201

    def message(to: str) -> Any:
        return client.post(
            "/api/v1/conversations",
            json={"usernames": [to], "title": "About my silence", "body": "Why?"},
            headers=site.alice,
        )

    assert rejected(await message("bob"), "silenced")
    to_mod = await message("mod")
    assert to_mod.status_code == 201, to_mod.text
    assert (await reply(client, site.alice, to_mod.json()["id"], "Please?")).status_code == 201


async def test_a_silence_in_the_database_refuses_posts_until_it_ends(app, client, site):
    made = await start(client, site.alice, site.news, "Hello", "A fine first post")
    async with app.state.sessionmaker() as db:
        alice = await db.scalar(select(Member).where(Member.username_key == "alice"))
        assert alice is not None
        silence = Penalty(
            member_id=alice.id,
            kind="silence",
            reason="Rude",
            message="Take a week off.",
            ends_at=utcnow() + timedelta(days=7),
        )
        db.add(silence)
        await db.commit()
        silence_id = silence.id
    refused = await reply(client, site.alice, made.json()["id"], "me again")
    assert rejected(refused, "silenced until", "Take a week off.")
    async with app.state.sessionmaker() as db:
        ended = await db.get(Penalty, silence_id)
        assert ended is not None
        ended.ends_at = utcnow() - timedelta(seconds=1)
        await db.commit()
    assert (await reply(client, site.alice, made.json()["id"], "me again")).status_code == 201
