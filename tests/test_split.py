"""Splitting chosen replies into a new thread and merging a thread into another: numbering,
replies, counts, reading marks, watches, notifications, search, events, and bad input."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import select

from community.accounts import services as accounts
from community.errors import ServiceError
from community.events import ThreadsMerged, ThreadSplit
from community.forum import conversations, notify, search
from community.forum import services as forum
from community.forum.models import (
    Bookmark,
    Notification,
    Post,
    Reaction,
    Thread,
    ThreadRead,
    ThreadWatch,
)
from community.live import messages
from community.testing import browser, make_member, sign_in


async def site(db: Any) -> dict[str, Any]:
    return await accounts.instance_settings(db, "Testers")


async def who(db: Any, username: str) -> Any:
    return await accounts.member_by_username(db, username)


async def start(app: Litestar, username: str, title: str, body: str = "Opening post.") -> int:
    async with app.state.sessionmaker() as db:
        category = await db.scalar(select(forum.Category).where(forum.Category.slug == "general"))
        if category is None:
            category = await forum.save_category(db, None, {"name": "General"})
        made, _ = await forum.create_thread(
            db,
            await who(db, username),
            category_id=category.id,
            title=title,
            body=body,
            site=await site(db),
        )
        return made.id


async def reply(
    app: Litestar, username: str, thread_id: int, body: str, reply_to: int | None = None
) -> Post:
    async with app.state.sessionmaker() as db:
        _, post = await forum.reply(
            db, await who(db, username), thread_id, body, await site(db), reply_to
        )
        return post


async def posts_of(app: Litestar, thread_id: int) -> list[tuple[int, int, int | None, str]]:
    """(number, id, reply_to_number, body) in number order."""
    async with app.state.sessionmaker() as db:
        rows = await db.execute(
            select(Post.number, Post.id, Post.reply_to_number, Post.body)
            .where(Post.thread_id == thread_id)
            .order_by(Post.number)
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def get_thread(app: Litestar, thread_id: int) -> Thread | None:
    async with app.state.sessionmaker() as db:
        return await db.get(Thread, thread_id)


async def split(app: Litestar, username: str, thread_id: Any, posts: Any, title: Any, **kw: Any):
    async with app.state.sessionmaker() as db:
        return await forum.split_thread(db, await who(db, username), thread_id, posts, title, **kw)


async def merge(app: Litestar, username: str, source: Any, target: Any, **kw: Any) -> Thread:
    async with app.state.sessionmaker() as db:
        return await forum.merge_threads(db, await who(db, username), source, target, **kw)


@pytest.fixture
async def people(app: Litestar) -> None:
    for name in ("alice", "bob", "carol", "dave"):
        await make_member(app, name)
    await make_member(app, "mod", "moderator")


@pytest.fixture
async def talk(app: Litestar, people: None) -> dict[str, Any]:
    """A thread of six posts: 2 and 4 are a side discussion (4 answers 2); 5 answers 4,
    6 answers 3, 3 answers 1."""
    thread_id = await start(app, "alice", "Garden plans", "What shall we plant?")
    posts = {1: None}
    posts[2] = await reply(app, "bob", thread_id, "Off topic: who has a ladder?")
    posts[3] = await reply(app, "carol", thread_id, "Tomatoes.", 1)
    posts[4] = await reply(app, "alice", thread_id, "I have a ladder.", 2)
    posts[5] = await reply(app, "carol", thread_id, "Can I borrow it?", 4)
    posts[6] = await reply(app, "bob", thread_id, "And beans.", 3)
    return {"thread_id": thread_id, "posts": posts}


async def test_split_moves_the_chosen_posts_into_a_new_thread(
    app: Litestar, talk: dict[str, Any]
) -> None:
    posts = talk["posts"]
    new = await split(
        app, "mod", talk["thread_id"], [posts[2].id, posts[4].id], "  Borrowing a   ladder "
    )
    assert new.title == "Borrowing a ladder" and new.slug == "borrowing-a-ladder"
    assert new.author_id == posts[2].author_id
    assert new.created_at == posts[2].created_at
    assert [(n, i, r) for n, i, r, _ in await posts_of(app, new.id)] == [
        (1, posts[2].id, None),
        (2, posts[4].id, 1),
    ]
    assert [(n, b, r) for n, _, r, b in await posts_of(app, talk["thread_id"])] == [
        (1, "What shall we plant?", None),
        (2, "Tomatoes.", 1),
        (3, "Can I borrow it?", None),  # it answered a post that left
        (4, "And beans.", 2),  # post 3 became 2
    ]
    source, moved = await get_thread(app, talk["thread_id"]), await get_thread(app, new.id)
    assert source and moved
    assert (source.post_count, source.reply_count) == (4, 3)
    assert (source.last_poster_id, source.last_posted_at) == (
        posts[6].author_id,
        posts[6].created_at,
    )
    assert (moved.post_count, moved.reply_count) == (2, 1)
    assert moved.category_id == source.category_id
    assert (moved.last_poster_id, moved.last_posted_at) == (
        posts[4].author_id,
        posts[4].created_at,
    )


async def test_split_by_number_into_another_category_and_the_pages_show_it(
    app: Litestar, talk: dict[str, Any]
) -> None:
    async with app.state.sessionmaker() as db:
        other = await forum.save_category(db, None, {"name": "Tools"})
    new = await split(
        app,
        "mod",
        talk["thread_id"],
        ["5", 6],
        "Later posts",
        category_id=other.id,
        by_number=True,
    )
    assert new.category_id == other.id
    assert [b for _, _, _, b in await posts_of(app, new.id)] == ["Can I borrow it?", "And beans."]
    async with browser(app) as client:
        await sign_in(client, "carol")
        page = await client.get(new.url)
        assert page.status_code == 200
        assert "Can I borrow it?" in page.text and "And beans." in page.text
        old = await client.get(f"/t/x/{talk['thread_id']}")
        assert "Tomatoes." in old.text and "And beans." not in old.text


async def test_reading_marks_watches_and_notifications_follow_the_posts(
    app: Litestar, talk: dict[str, Any]
) -> None:
    posts, thread_id = talk["posts"], talk["thread_id"]
    async with app.state.sessionmaker() as db:
        thread = await db.get(Thread, thread_id)
        assert thread
        for name, up_to in (("mod", 6), ("dave", 3)):
            await forum.record_view(db, await who(db, name), thread, up_to)
    new = await split(app, "mod", thread_id, [posts[2].id, posts[5].id], "Ladders")
    async with app.state.sessionmaker() as db:
        reads = {
            (r.member_id, r.thread_id): r.last_read_number
            for r in (await db.scalars(select(ThreadRead))).all()
        }
        mod, dave = await who(db, "mod"), await who(db, "dave")
        carol, bob = await who(db, "carol"), await who(db, "bob")
        assert reads[(mod.id, thread_id)] == 4 and reads[(mod.id, new.id)] == 2
        assert reads[(dave.id, thread_id)] == 2 and reads[(dave.id, new.id)] == 1
        assert reads[(carol.id, thread_id)] == 3 and reads[(carol.id, new.id)] == 2
        watchers = set(
            await db.scalars(select(ThreadWatch.member_id).where(ThreadWatch.thread_id == new.id))
        )
        assert watchers == {bob.id, carol.id}  # the moved posts' authors
        # alice was notified of post 5 (carol answered her post 4): it now lives in the new thread.
        note = await db.scalar(select(Notification).where(Notification.post_id == posts[5].id))
        assert note is not None and note.thread_id == new.id


async def test_split_refuses_bad_choices(app: Litestar, talk: dict[str, Any]) -> None:
    posts, thread_id = talk["posts"], talk["thread_id"]
    other = await start(app, "bob", "Another thread")
    stranger = await reply(app, "bob", other, "Elsewhere.")
    async with app.state.sessionmaker() as db:
        first = await db.scalar(
            select(Post.id).where(Post.thread_id == thread_id, Post.number == 1)
        )
    cases: list[tuple[Any, Any, dict[str, Any], str]] = [
        ([], "Fine title", {}, "at least one"),
        ("", "Fine title", {}, "at least one"),
        (None, "Fine title", {}, "at least one"),
        ([first], "Fine title", {}, "opening post"),
        ([posts[2].id, stranger.id], "Fine title", {}, f"ids {stranger.id}"),
        ([10**30], "Fine title", {}, "whole numbers"),
        (["two"], "Fine title", {}, "whole numbers"),
        ([True], "Fine title", {}, "whole numbers"),
        ([{"id": 1}], "Fine title", {}, "whole numbers"),
        ([9], "Fine title", {"by_number": True}, "numbers 9"),
        (list(range(1, 1002)), "Fine title", {}, "at most 1,000"),
        ([posts[2].id], "ab", {}, "Titles are"),
        ([posts[2].id], None, {}, "Titles are"),
        ([posts[2].id], "Fine title", {"category_id": 10**9}, "No such category"),
        ([posts[2].id], "Fine title", {"category_id": "x"}, "No such category"),
    ]
    for chosen, title, options, message in cases:
        with pytest.raises(ServiceError) as caught:
            await split(app, "mod", thread_id, chosen, title, **options)
        assert caught.value.status == 422, (chosen, caught.value.detail)
        assert message in caught.value.detail, (chosen, caught.value.detail)
    assert len(await posts_of(app, thread_id)) == 6  # nothing moved


async def test_split_and_merge_are_for_moderators(app: Litestar, talk: dict[str, Any]) -> None:
    posts, thread_id = talk["posts"], talk["thread_id"]
    other = await start(app, "bob", "Another thread")
    for attempt in (
        split(app, "alice", thread_id, [posts[2].id], "Mine now"),
        merge(app, "alice", other, thread_id),
    ):
        with pytest.raises(ServiceError) as caught:
            await attempt
        assert caught.value.status == 403
    for missing in (10**12, 0, "nope", 10**40):
        with pytest.raises(ServiceError) as caught:
            await split(app, "mod", missing, [posts[2].id], "Mine now")
        assert caught.value.status == 404
        with pytest.raises(ServiceError) as caught:
            await merge(app, "mod", missing, thread_id)
        assert caught.value.status == 404
    # A plugin that checked its own rule (a category's moderators) passes authorised=True.
    new = await split(app, "alice", thread_id, [posts[2].id], "Ladders", authorised=True)
    target = await merge(app, "alice", new.id, other, authorised=True)
    assert target.id == other


async def test_conversations_are_neither_split_nor_merged(
    app: Litestar, talk: dict[str, Any]
) -> None:
    async with app.state.sessionmaker() as db:
        chat, _ = await conversations.start(
            db,
            await who(db, "mod"),
            usernames=["bob"],
            title="Just us",
            body="Hello",
            site=await site(db),
        )
        chat_id = chat.id
    answer = await reply(app, "bob", chat_id, "Hi")
    with pytest.raises(ServiceError) as caught:
        await split(app, "mod", chat_id, [answer.id], "Out in the open")
    assert caught.value.status == 422 and "conversations" in caught.value.detail
    for source, target in ((chat_id, talk["thread_id"]), (talk["thread_id"], chat_id)):
        with pytest.raises(ServiceError) as caught:
            await merge(app, "mod", source, target)
        assert caught.value.status == 422 and "conversations" in caught.value.detail


async def test_merge_appends_the_source_posts_in_time_order(app: Litestar, people: None) -> None:
    source = await start(app, "alice", "Duplicate about bees", "Bees are back.")
    target = await start(app, "bob", "Bees this spring", "Seen any bees?")
    s2 = await reply(app, "carol", source, "In my garden too.")
    await reply(app, "alice", target, "Lots.")
    s3 = await reply(app, "bob", source, "Quoting carol.", 2)
    async with app.state.sessionmaker() as db:
        await notify.set_thread_watch(
            db, await who(db, "carol"), await db.get(Thread, source), "muted"
        )
        await notify.set_thread_watch(
            db, await who(db, "alice"), await db.get(Thread, target), "tracking"
        )
        await forum.toggle_reaction(db, await who(db, "bob"), s2.id, "👍", {"reactions": ["👍"]})
        await forum.toggle_bookmark(db, await who(db, "alice"), s3.id)
    merged = await merge(app, "mod", source, str(target))
    assert merged.id == target
    assert await get_thread(app, source) is None
    assert [(n, r, b) for n, _, r, b in await posts_of(app, target)] == [
        (1, None, "Seen any bees?"),
        (2, None, "Lots."),
        (3, None, "Bees are back."),
        (4, None, "In my garden too."),
        (5, 4, "Quoting carol."),
    ]
    thread = await get_thread(app, target)
    assert thread and (thread.post_count, thread.reply_count) == (5, 4)
    assert (thread.last_posted_at, thread.last_poster_id) == (s3.created_at, s3.author_id)
    async with app.state.sessionmaker() as db:
        levels = {
            (await db.get(accounts.Member, w.member_id)).username: w.level  # type: ignore[union-attr]
            for w in (await db.scalars(select(ThreadWatch).where(ThreadWatch.thread_id == target)))
        }
        assert levels == {"alice": "tracking", "bob": "watching", "carol": "muted"}
        assert await db.scalar(select(Reaction.post_id).where(Reaction.post_id == s2.id))
        assert await db.scalar(select(Bookmark.post_id).where(Bookmark.post_id == s3.id))
        notes = (await db.scalars(select(Notification.thread_id))).all()
        assert notes and set(notes) == {target}


async def test_merge_refuses_bad_targets(app: Litestar, talk: dict[str, Any]) -> None:
    thread_id = talk["thread_id"]
    for target, message in (
        (thread_id, "into itself"),
        (10**12, "No such thread"),
        (None, "No such thread"),
        ("12abc", "No such thread"),
        ([1], "No such thread"),
    ):
        with pytest.raises(ServiceError) as caught:
            await merge(app, "mod", thread_id, target)
        assert caught.value.status == 422 and message in caught.value.detail
    assert len(await posts_of(app, thread_id)) == 6


async def test_merge_needs_a_target_the_member_may_see(app: Litestar, talk: dict[str, Any]) -> None:
    async with app.state.sessionmaker() as db:
        crew = await accounts.create_group(db, "Crew")
        hidden = await forum.save_category(
            db, None, {"name": "Crew", "visible_to_groups": ["Crew"]}
        )
        made, _ = await forum.create_thread(
            db,
            await who(db, "mod"),
            category_id=hidden.id,
            title="Crew only",
            body="Psst",
            site=await site(db),
        )
    del crew
    with pytest.raises(ServiceError) as caught:
        await merge(app, "alice", talk["thread_id"], made.id, authorised=True)
    assert caught.value.status == 422
    assert await get_thread(app, talk["thread_id"]) is not None


async def test_search_follows_split_and_merged_threads(app: Litestar, talk: dict[str, Any]) -> None:
    posts = talk["posts"]
    new = await split(app, "mod", talk["thread_id"], [posts[2].id, posts[4].id], "Zeppelin talk")
    async with app.state.sessionmaker() as db:
        found = await search.search(db, await who(db, "carol"), "zeppelin")
        assert [(r.post_id, r.post_number, r.thread_id) for r in found.results] == [
            (posts[2].id, 1, new.id)
        ]
    await merge(app, "mod", new.id, talk["thread_id"])
    async with app.state.sessionmaker() as db:
        assert (await search.search(db, await who(db, "carol"), "zeppelin")).results == []
        ladder = await search.search(db, await who(db, "carol"), "ladder")
        assert {r.thread_id for r in ladder.results} == {talk["thread_id"]}


async def test_split_of_a_deleted_or_held_post_keeps_it_out_of_sight(
    app: Litestar, talk: dict[str, Any]
) -> None:
    posts = talk["posts"]
    async with app.state.sessionmaker() as db:
        await forum.delete_post(db, await who(db, "mod"), posts[3].id)
    new = await split(app, "mod", talk["thread_id"], [posts[3].id, posts[6].id], "Vegetables")
    assert new.hidden_at is not None
    async with app.state.sessionmaker() as db:
        with pytest.raises(ServiceError):
            await forum.thread_for(db, await who(db, "carol"), new.id)
        await forum.restore_post(db, await who(db, "mod"), posts[3].id)
        assert (await forum.thread_for(db, await who(db, "carol"), new.id)).hidden_at is None


async def test_split_and_merge_are_told(
    app: Litestar, talk: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    told: list[Any] = []
    monkeypatch.setattr(forum, "emit", lambda db, event: told.append(event))
    posts = talk["posts"]
    new = await split(app, "mod", talk["thread_id"], [posts[4].id, posts[2].id], "Ladders")
    await merge(app, "mod", new.id, talk["thread_id"])
    async with app.state.sessionmaker() as db:
        mod = await who(db, "mod")
    assert told == [
        ThreadSplit(talk["thread_id"], new.id, mod.id, (posts[2].id, posts[4].id)),
        ThreadsMerged(new.id, talk["thread_id"], mod.id),
    ]


def test_live_pages_hear_of_splits_and_merges() -> None:
    assert messages("ns", ThreadSplit(1, 2, 3, (4, 5))) == [
        ("ns:thread:1", {"event": "thread", "data": "split"})
    ]
    assert messages("ns", ThreadsMerged(1, 2, 3)) == [
        ("ns:thread:1", {"event": "thread", "data": "merged"}),
        ("ns:thread:2", {"event": "post", "data": "merged"}),
    ]
