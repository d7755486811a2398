"""Atom feeds: per-member feed tokens (hashed, one per member, revocable), which threads a feed
lists for whom, and an Atom document that member text cannot break or inject into."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from community.accounts import services as accounts
from community.accounts.security import hash_token
from community.forum import conversations, feeds
from community.forum import services as forum
from community.forum.models import FeedToken, Post, Thread
from community.testing import BASE_URL, PASSWORD

A = "{http://www.w3.org/2005/Atom}"


async def member(db: Any, username: str, role: str = "member") -> Any:
    return await accounts.create_member(db, username=username, password=PASSWORD, role=role)


# ---------------------------------------------------------------------------------------------
# Tokens


async def test_token_created_looked_up_and_stored_hashed(app):
    async with app.state.sessionmaker() as db:
        bob = await member(db, "bob")
        assert not await feeds.has_feed_token(db, bob)
        token = await feeds.create_feed_token(db, bob)
        assert token.startswith(feeds.FEED_TOKEN_PREFIX)
        assert feeds.FEED_TOKEN_RE.fullmatch(token)
        assert await feeds.has_feed_token(db, bob)
    async with app.state.sessionmaker() as db:
        found = await feeds.member_for_feed_token(db, token)
        assert found is not None and found.id == bob.id
        rows = (await db.scalars(select(FeedToken))).all()
        assert len(rows) == 1
        assert rows[0].member_id == bob.id
        assert rows[0].token_hash == hash_token(token)
        assert token not in rows[0].token_hash and token[4:] not in rows[0].token_hash


async def test_regenerating_invalidates_the_old_token(app):
    async with app.state.sessionmaker() as db:
        bob = await member(db, "bob")
        carol = await member(db, "carol")
        first = await feeds.create_feed_token(db, bob)
        second = await feeds.create_feed_token(db, bob)
        carols = await feeds.create_feed_token(db, carol)
        assert first != second
    async with app.state.sessionmaker() as db:
        assert await feeds.member_for_feed_token(db, first) is None
        assert (await feeds.member_for_feed_token(db, second)).id == bob.id
        assert (await feeds.member_for_feed_token(db, carols)).id == carol.id
        rows = (await db.scalars(select(FeedToken).where(FeedToken.member_id == bob.id))).all()
        assert len(rows) == 1


async def test_revoke(app):
    async with app.state.sessionmaker() as db:
        bob = await member(db, "bob")
        await feeds.revoke_feed_token(db, bob)  # none yet: nothing happens
        token = await feeds.create_feed_token(db, bob)
        await feeds.revoke_feed_token(db, bob)
        assert not await feeds.has_feed_token(db, bob)
    async with app.state.sessionmaker() as db:
        assert await feeds.member_for_feed_token(db, token) is None
        assert (await db.scalars(select(FeedToken))).all() == []
        # A new one works again after a revoke.
        again = await feeds.create_feed_token(db, bob)
        assert (await feeds.member_for_feed_token(db, again)).id == bob.id


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "cft_",
        "cft_short",
        "cft_" + "a" * 65,
        "cft_" + "a" * 10_000,
        "cmt_" + "a" * 32,
        "a" * 36,
        "cft_" + "a" * 31 + "/",
        "cft_" + "a" * 31 + "=",
        "cft_" + "a" * 32 + "\n",
        " cft_" + "a" * 32,
        "cft_" + "a" * 30 + "é!",
        "cft_" + "a" * 31 + "\x00",
        None,
        12345,
    ],
)
async def test_malformed_tokens_are_refused(app, bad):
    async with app.state.sessionmaker() as db:
        assert await feeds.member_for_feed_token(db, bad) is None


async def test_malformed_variants_of_a_real_token_and_unknown_tokens(app):
    async with app.state.sessionmaker() as db:
        bob = await member(db, "bob")
        token = await feeds.create_feed_token(db, bob)
        _, api = await accounts.create_api_token(db, bob, "reader")
        for wrong in (
            token + "\n",
            token.upper() if token.upper() != token else token.lower(),
            token[:-1],
            "cft_" + "A" * 32,
            api,  # an API token is not a feed token
            api.replace("cmt_", "cft_", 1),
        ):
            assert await feeds.member_for_feed_token(db, wrong) is None, wrong


async def test_suspended_member_token_stops_working(app):
    async with app.state.sessionmaker() as db:
        bob = await member(db, "bob")
        token = await feeds.create_feed_token(db, bob)
        await accounts.suspend(db, bob, reason="spam")
    async with app.state.sessionmaker() as db:
        assert await feeds.member_for_feed_token(db, token) is None
        bob = await accounts.member_by_username(db, "bob")
        await accounts.unsuspend(db, bob)
    async with app.state.sessionmaker() as db:
        assert (await feeds.member_for_feed_token(db, token)).id == bob.id


async def test_member_deleted_token_row_goes_too(app):
    async with app.state.sessionmaker() as db:
        bob = await member(db, "bob")
        token = await feeds.create_feed_token(db, bob)
        await db.delete(bob)
        await db.commit()
    async with app.state.sessionmaker() as db:
        assert await feeds.member_for_feed_token(db, token) is None
        assert (await db.scalars(select(FeedToken))).all() == []


# ---------------------------------------------------------------------------------------------
# Entries


async def world(db: Any) -> SimpleNamespace:
    """Staff, an insider, an outsider; a public category with a subcategory, a private one
    (insiders only) with a subcategory; a thread in each."""
    site = await accounts.instance_settings(db, "Testers")
    w = SimpleNamespace(site=site)
    w.admin = await member(db, "admin", "admin")
    w.mod = await member(db, "mod", "moderator")
    w.alice = await member(db, "alice")
    w.bob = await member(db, "bob")
    group = await accounts.create_group(db, "Insiders")
    await accounts.add_to_group(db, group, w.alice)
    w.general = await forum.save_category(db, None, {"name": "General"})
    w.general_sub = await forum.save_category(
        db, None, {"name": "General Sub", "parent_id": w.general.id}
    )
    w.other = await forum.save_category(db, None, {"name": "Other"})
    w.secret = await forum.save_category(
        db, None, {"name": "Secret", "visible_to_groups": ["Insiders"]}
    )
    w.secret_sub = await forum.save_category(
        db, None, {"name": "Secret Sub", "parent_id": w.secret.id}
    )

    async def start(author: Any, category: Any, title: str, body: str = "Hello there") -> Any:
        thread, _ = await forum.create_thread(
            db, author, category_id=category.id, title=title, body=body, site=site
        )
        return thread

    w.start = start
    w.t_general = await start(w.bob, w.general, "Public thread")
    w.t_general_sub = await start(w.bob, w.general_sub, "Public sub thread")
    w.t_other = await start(w.bob, w.other, "Other thread")
    w.t_secret = await start(w.alice, w.secret, "Secret thread")
    w.t_secret_sub = await start(w.alice, w.secret_sub, "Secret sub thread")
    return w


def titles(entries: list[feeds.FeedEntry]) -> list[str]:
    return [entry.thread.title for entry in entries]


async def test_latest_entries_respect_category_visibility(app):
    async with app.state.sessionmaker() as db:
        w = await world(db)
        public = ["Other thread", "Public sub thread", "Public thread"]
        everything = ["Secret sub thread", "Secret thread", *public]
        assert titles(await feeds.latest_entries(db, w.bob)) == public
        assert titles(await feeds.latest_entries(db, w.alice)) == everything
        assert titles(await feeds.latest_entries(db, w.mod)) == everything
        assert titles(await feeds.latest_entries(db, w.admin)) == everything
        # Asking for a category one cannot see gives nothing from it either.
        assert await feeds.latest_entries(db, w.bob, category=w.secret) == []
        assert await feeds.latest_entries(db, w.bob, category=w.secret_sub) == []


async def test_latest_entries_carry_first_post_author_and_category(app):
    async with app.state.sessionmaker() as db:
        w = await world(db)
        await accounts.update_profile(db, w.bob, "Bob the Builder", None)
        await forum.reply(db, w.alice, w.t_general.id, "A reply, not the first post", w.site)
        entries = await feeds.latest_entries(db, w.alice, category=w.general)
        entry = next(e for e in entries if e.thread.id == w.t_general.id)
        assert entry.post.number == 1 and entry.post.thread_id == w.t_general.id
        assert "Hello there" in entry.post.html
        assert entry.author_username == "bob" and entry.author_name == "Bob the Builder"
        assert entry.category_name == "General"
        sub = next(e for e in entries if e.thread.id == w.t_general_sub.id)
        assert sub.category_name == "General Sub"


async def test_latest_entries_exclude_conversations(app):
    async with app.state.sessionmaker() as db:
        w = await world(db)
        convo, _ = await conversations.start(
            db, w.alice, usernames=["bob"], title="Just us two", body="Psst", site=w.site
        )
        assert convo.category_id is None
        for who in (w.alice, w.bob, w.admin):
            assert "Just us two" not in titles(await feeds.latest_entries(db, who))


async def test_hidden_threads_and_deleted_first_posts(app):
    async with app.state.sessionmaker() as db:
        w = await world(db)
        await forum.moderate_thread(db, w.admin, w.t_general.id, {"hidden": True})
        assert "Public thread" not in titles(await feeds.latest_entries(db, w.bob))
        assert "Public thread" not in titles(await feeds.latest_entries(db, w.alice))
        # Feeds travel to aggregators: moderated threads stay out, even of staff feeds.
        assert "Public thread" not in titles(await feeds.latest_entries(db, w.mod))
        # A thread whose first post is deleted is in nobody's feed.
        first = await db.scalar(
            select(Post).where(Post.thread_id == w.t_other.id, Post.number == 1)
        )
        await forum.delete_post(db, w.bob, first.id)
        for who in (w.bob, w.alice, w.mod, w.admin):
            assert "Other thread" not in titles(await feeds.latest_entries(db, who))


async def test_category_filter_includes_subcategories(app):
    async with app.state.sessionmaker() as db:
        w = await world(db)
        general = titles(await feeds.latest_entries(db, w.bob, category=w.general))
        assert general == ["Public sub thread", "Public thread"]
        sub = titles(await feeds.latest_entries(db, w.bob, category=w.general_sub))
        assert sub == ["Public sub thread"]
        secret = titles(await feeds.latest_entries(db, w.alice, category=w.secret))
        assert secret == ["Secret sub thread", "Secret thread"]
        moved = await forum.moderate_thread(
            db, w.admin, w.t_other.id, {"category_id": w.general_sub.id}
        )
        assert moved.category_id == w.general_sub.id
        general = titles(await feeds.latest_entries(db, w.bob, category=w.general))
        assert general == ["Other thread", "Public sub thread", "Public thread"]


async def test_newest_first_and_limit(app):
    async with app.state.sessionmaker() as db:
        w = await world(db)
        # Activity does not reorder a feed: it lists threads by when they were started.
        await forum.reply(db, w.bob, w.t_general.id, "bump", w.site)
        newest = await w.start(w.bob, w.general, "Newest thread")
        entries = await feeds.latest_entries(db, w.bob, limit=2)
        assert titles(entries) == ["Newest thread", "Other thread"]
        assert entries[0].thread.id == newest.id
        assert len(await feeds.latest_entries(db, w.bob, limit=0)) == 1
        assert len(await feeds.latest_entries(db, w.bob, limit=10_000)) == 4


# ---------------------------------------------------------------------------------------------
# Atom


def parse(document: str) -> ET.Element:
    assert document.startswith("<?xml")
    root = ET.fromstring(document.encode())
    assert root.tag == f"{A}feed"
    return root


def links(element: ET.Element) -> dict[str, str]:
    return {link.get("rel", "alternate"): link.get("href") for link in element.findall(f"{A}link")}


async def test_atom_document_lists_entries_with_links(app):
    async with app.state.sessionmaker() as db:
        w = await world(db)
        entries = await feeds.latest_entries(db, w.bob)
        token = await feeds.create_feed_token(db, w.bob)
    feed_url = f"{BASE_URL}/feeds/latest.atom?token={token}"
    updated = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    document = feeds.atom(
        title="Testers: latest",
        feed_url=feed_url,
        site_url=BASE_URL + "/",
        entries=entries,
        updated=updated,
    )
    root = parse(document)
    assert root.findtext(f"{A}title") == "Testers: latest"
    assert root.findtext(f"{A}updated") == "2030-01-02T03:04:05Z"
    assert links(root) == {"self": feed_url, "alternate": BASE_URL + "/"}
    assert token not in root.findtext(f"{A}id")  # the secret stays out of the permanent id
    items = root.findall(f"{A}entry")
    assert len(items) == len(entries) == 3
    ids = set()
    for item, entry in zip(items, entries, strict=True):
        assert item.findtext(f"{A}title") == entry.thread.title
        assert links(item) == {"alternate": BASE_URL + entry.thread.url}
        assert item.findtext(f"{A}author/{A}name") == entry.author_name
        assert item.find(f"{A}category").get("term") == entry.category_name
        content = item.find(f"{A}content")
        assert content.get("type") == "html" and content.text == entry.post.html
        published = datetime.fromisoformat(item.findtext(f"{A}published"))
        assert published == entry.post.created_at.replace(microsecond=0)
        assert item.findtext(f"{A}updated") == item.findtext(f"{A}published")
        ids.add(item.findtext(f"{A}id"))
        assert item.findtext(f"{A}id").startswith("tag:testserver.local,")
    assert len(ids) == 3


async def test_atom_edited_post_updates_entry(app):
    async with app.state.sessionmaker() as db:
        w = await world(db)
        first = await db.scalar(
            select(Post).where(Post.thread_id == w.t_general.id, Post.number == 1)
        )
        await forum.edit_post(db, w.bob, first.id, "Edited body", w.site)
        entries = [
            e for e in await feeds.latest_entries(db, w.bob) if e.thread.id == w.t_general.id
        ]
    root = parse(
        feeds.atom(
            title="t", feed_url="x", site_url=BASE_URL, entries=entries, updated=datetime.now(UTC)
        )
    )
    item = root.find(f"{A}entry")
    assert "Edited body" in item.findtext(f"{A}content")
    assert item.findtext(f"{A}updated") == f"{entries[0].post.edited_at:%Y-%m-%dT%H:%M:%SZ}"


EVIL = "<script>alert(1)</script> ]]> & \x01 </title><entry><title>injected</title>"


def assert_no_injection(document: str) -> ET.Element:
    root = parse(document)
    assert "<script" not in document and "\x01" not in document
    tags = {element.tag for element in root.iter()}
    assert not any(tag.endswith("script") for tag in tags)
    assert len(root.findall(f"{A}entry")) == 1
    return root


async def test_atom_member_text_cannot_inject_through_real_services(app):
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
        admin = await member(db, "admin", "admin")
        await accounts.update_profile(db, admin, "Mallory " + EVIL[:50], None)
        category = await forum.save_category(db, None, {"name": "Cat & <b>Dogs</b> \x02"})
        thread, post = await forum.create_thread(
            db, admin, category_id=category.id, title="Evil " + EVIL, body=EVIL, site=site
        )
        assert "\x01" in post.html  # the post keeps it (titles drop control characters)
        entries = await feeds.latest_entries(db, admin)
    document = feeds.atom(
        title="Feed " + EVIL,
        feed_url=BASE_URL + "/feeds/latest.atom?token=cft_x&a=1",
        site_url=BASE_URL,
        entries=entries,
        updated=datetime.now(UTC),
    )
    root = assert_no_injection(document)
    assert root.findtext(f"{A}title") == "Feed " + EVIL.replace("\x01", "")
    item = root.find(f"{A}entry")
    assert item.findtext(f"{A}title") == "Evil " + " ".join(EVIL.replace("\x01", "").split())
    assert item.findtext(f"{A}content") == post.html.replace("\x01", "")
    assert item.findtext(f"{A}author/{A}name") == ("Mallory " + EVIL[:50]).replace("\x01", "")
    assert item.find(f"{A}category").get("term") == "Cat & <b>Dogs</b> "
    assert links(root)["self"] == BASE_URL + "/feeds/latest.atom?token=cft_x&a=1"


async def test_atom_escapes_raw_html_and_illegal_characters():
    """Whatever a post's stored HTML holds (even unsanitised), it stays text inside content."""
    created = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    thread = Thread(id=7, title=EVIL + "\ud800\x0b\x1f", slug="evil", created_at=created)
    post = Post(
        id=1,
        thread_id=7,
        number=1,
        html="<p>hi</p><script>alert(1)</script>]]><![CDATA[x]]>&amp;&\x01\x7f\ufffe",
        created_at=created,
        edited_at=None,
    )
    entry = feeds.FeedEntry(
        thread=thread,
        post=post,
        author_username=None,
        author_name=None,
        category_name="<category/>",
    )
    document = feeds.atom(
        title="\x00\x08T",
        feed_url="https://x/f",
        site_url="https://x",
        entries=[entry],
        updated=datetime(2024, 5, 6, 7, 8, 9),
    )
    root = assert_no_injection(document)
    document.encode("utf-8")  # no lone surrogates left
    assert root.findtext(f"{A}title") == "T"
    item = root.find(f"{A}entry")
    assert item.findtext(f"{A}content") == (
        "<p>hi</p><script>alert(1)</script>]]><![CDATA[x]]>&amp;&\x7f"
    )
    assert item.findtext(f"{A}title") == EVIL.replace("\x01", "")
    assert item.findtext(f"{A}author/{A}name") == "Former member"
    assert item.find(f"{A}author/{A}uri") is None
    assert item.findtext(f"{A}id") == "tag:x,2024-05-06:thread:7"
    assert links(item) == {"alternate": "https://x/t/evil/7"}
    assert item.findtext(f"{A}published") == "2024-05-06T07:08:09Z"


def test_atom_empty_feed():
    root = parse(
        feeds.atom(
            title="Nothing yet",
            feed_url="https://forum.example/feeds/cft_" + "a" * 32 + "/latest.atom",
            site_url="https://forum.example",
            entries=[],
            updated=datetime(2024, 1, 1, tzinfo=UTC),
        )
    )
    assert root.findall(f"{A}entry") == []
    assert root.findtext(f"{A}id") == "https://forum.example/feeds/latest.atom"
