"""The forum in the browser: categories, threads, replies, edits, reactions, bookmarks, reading
marks, notifications, conversations, profiles, feeds; and who sees what."""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree

import pytest
from litestar import Litestar

from community.accounts import services as accounts
from community.errors import ServiceError
from community.forum import services as forum
from community.forum.models import Post, Thread
from community.testing import browser, csrf, make_member, post_form, sign_in


async def site(db: Any) -> dict[str, Any]:
    return await accounts.instance_settings(db, "Testers")


async def category(app: Litestar, name: str, **data: Any) -> int:
    async with app.state.sessionmaker() as db:
        return (await forum.save_category(db, None, {"name": name, **data})).id


async def thread(app: Litestar, username: str, category_id: int, title: str, body: str) -> Thread:
    async with app.state.sessionmaker() as db:
        member = await accounts.member_by_username(db, username)
        made, _ = await forum.create_thread(
            db, member, category_id=category_id, title=title, body=body, site=await site(db)
        )
        return made


async def reply(app: Litestar, username: str, thread_id: int, body: str) -> Post:
    async with app.state.sessionmaker() as db:
        member = await accounts.member_by_username(db, username)
        _, made = await forum.reply(db, member, thread_id, body, await site(db))
        return made


@pytest.fixture
async def world(app: Litestar) -> dict[str, Any]:
    """alice and bob in the Crew group, carol outside it, mod a moderator; a public General
    category and a Crew-only category."""
    await make_member(app, "alice")
    await make_member(app, "bob")
    await make_member(app, "carol")
    await make_member(app, "mod", "moderator")
    async with app.state.sessionmaker() as db:
        crew = await accounts.create_group(db, "Crew")
        for name in ("alice", "bob"):
            await accounts.add_to_group(db, crew, await accounts.member_by_username(db, name))
    general = await category(app, "General", description="Talk about anything")
    secret = await category(app, "Crew room", visible_to_groups=["Crew"])
    return {"general": general, "secret": secret}


async def test_start_a_thread_in_the_browser_and_read_it(app, client, world):
    await sign_in(client, "alice")
    page = await client.get("/new-thread")
    assert "General" in page.text and "Crew room" in page.text
    response = await post_form(
        client,
        "/new-thread",
        {"category_id": str(world["general"]), "title": "Hello there", "body": "**Bold** move"},
        page="/new-thread",
    )
    assert response.status_code == 200
    assert re.fullmatch(r"/t/hello-there/\d+", response.url.path)
    assert "<strong>Bold</strong> move" in response.text
    assert "Hello there" in (await client.get("/")).text
    assert "Hello there" in (await client.get("/c/general")).text


async def test_new_thread_form_errors_keep_the_input(app, client, world):
    await sign_in(client, "alice")
    token = await csrf(client, "/new-thread")
    cases = [
        ({"category_id": str(world["general"]), "title": "Hi", "body": "x"}, "Titles are 3"),
        ({"category_id": str(world["general"]), "title": "Fine title", "body": "  "}, "Write"),
        ({"category_id": "999999", "title": "Fine title", "body": "x"}, "No such category"),
        ({"category_id": "", "title": "Fine title", "body": "x"}, "Choose a category"),
        ({"category_id": "abc", "title": "Fine title", "body": "x"}, "No such category"),
    ]
    for data, message in cases:
        response = await client.post("/new-thread", data={**data, "_csrf_token": token})
        assert response.status_code == 422, data
        assert message in response.text
        assert "Fine title" in response.text or data["title"] == "Hi"


async def test_oversized_body_is_refused_with_the_limit(app, client, world):
    await sign_in(client, "alice")
    response = await post_form(
        client,
        "/new-thread",
        {"category_id": str(world["general"]), "title": "Long one", "body": "x" * 32_001},
        page="/new-thread",
    )
    assert response.status_code == 422
    assert "at most 32,000 characters" in response.text


async def test_read_only_category_takes_threads_from_staff_only(app, client, world):
    news = await category(app, "News", read_only=True)
    await sign_in(client, "alice")
    response = await post_form(
        client,
        "/new-thread",
        {"category_id": str(news), "title": "My news", "body": "hi"},
        page="/new-thread",
    )
    assert response.status_code == 403
    assert "Only moderators start threads in News" in response.text
    made = await thread(app, "mod", news, "Release notes", "v1")
    # members may still reply in announcements
    await reply(app, "alice", made.id, "Thanks!")


async def test_replies_permalinks_and_pages(app, client, world):
    made = await thread(app, "alice", world["general"], "Long talk", "first")
    for n in range(2, 46):
        await reply(app, "bob", made.id, f"reply number {n}")
    await sign_in(client, "carol")
    page = await client.get(f"{made.url}?page=3")
    assert "reply number 45" in page.text and "reply number 40" not in page.text
    assert "Page 3 of 3" in page.text
    jump = await client.get(made.post_url(25), follow_redirects=False)
    assert jump.headers["location"] == f"{made.url}?page=2#p25"
    wrong_slug = await client.get(f"/t/whatever/{made.id}?page=2", follow_redirects=False)
    assert wrong_slug.headers["location"] == f"{made.url}?page=2"


async def test_returning_reader_lands_on_first_unread_post(app, client, world):
    made = await thread(app, "alice", world["general"], "Catch up", "first")
    await sign_in(client, "bob")
    await client.get(made.url)  # bob reads post 1
    for n in range(2, 26):
        await reply(app, "alice", made.id, f"news {n}")
    home = await client.get("/unread")
    assert "Catch up" in home.text and "24 new" in home.text
    landing = await client.get(made.url, follow_redirects=False)
    assert landing.headers["location"] == made.post_url(2)
    await client.get(f"{made.url}?page=2")
    assert "Nothing unread" in (await client.get("/unread")).text


async def test_new_tab_lists_threads_since_the_previous_visit(app, client, world):
    await sign_in(client, "bob")
    await thread(app, "alice", world["general"], "Fresh topic", "hello")
    page = await client.get("/new")
    assert "Fresh topic" in page.text
    made = await thread(app, "alice", world["general"], "Read topic", "hello")
    await client.get(made.url)
    assert "Read topic" not in (await client.get("/new")).text


async def test_reply_edit_delete_restore_and_history(app, client, world):
    made = await thread(app, "alice", world["general"], "Edits", "first")
    await sign_in(client, "bob")
    response = await post_form(client, f"/t/{made.id}/reply", {"body": "bob says hi"}, made.url)
    assert response.url.path == made.url and "bob says hi" in response.text
    async with app.state.sessionmaker() as db:
        post_id = (await forum.post_by_number(db, made, 2)).id
    edit_page = await client.get(f"/posts/{post_id}/edit")
    assert "bob says hi" in edit_page.text
    token = await csrf(client, f"/posts/{post_id}/edit")
    await client.post(f"/posts/{post_id}/edit", data={"body": "bob says bye", "_csrf_token": token})
    page = await client.get(f"{made.url}?page=1")
    assert "bob says bye" in page.text and "edited" in page.text
    history = await client.get(f"/posts/{post_id}/revisions")
    assert "bob says hi" in history.text and "bob says bye" in history.text
    # carol may read the thread but not the history, nor edit
    async with browser(app) as carol:
        await sign_in(carol, "carol")
        assert (await carol.get(f"/posts/{post_id}/revisions")).status_code == 403
        assert (await carol.get(f"/posts/{post_id}/edit")).status_code == 403
    await client.post(f"/posts/{post_id}/delete", data={"_csrf_token": token})
    async with browser(app) as carol:
        await sign_in(carol, "carol")
        page = await carol.get(f"{made.url}?page=1")
        assert "This post was deleted" in page.text and "bob says bye" not in page.text
    await client.post(f"/posts/{post_id}/restore", data={"_csrf_token": token})
    assert "bob says bye" in (await client.get(f"{made.url}?page=1")).text


async def test_edit_window_closes_for_authors_not_moderators(app, client, world):
    made = await thread(app, "alice", world["general"], "Window", "first")
    async with app.state.sessionmaker() as db:
        await accounts.update_instance_settings(db, {"edit_window_minutes": 0})
        member = await accounts.member_by_username(db, "alice")
        post_id = (await forum.post_by_number(db, made, 1)).id
        with pytest.raises(ServiceError, match="can be edited for 0 minutes"):
            await forum.edit_post(db, member, post_id, "changed", await site(db))
        moderator = await accounts.member_by_username(db, "mod")
        edited, _ = await forum.edit_post(db, moderator, post_id, "fixed", await site(db))
        assert edited.body == "fixed"


async def test_locked_thread_takes_no_replies(app, client, world):
    made = await thread(app, "alice", world["general"], "Closing", "first")
    async with app.state.sessionmaker() as db:
        moderator = await accounts.member_by_username(db, "mod")
        await forum.moderate_thread(db, moderator, made.id, {"locked": True})
    await sign_in(client, "bob")
    page = await client.get(made.url)
    assert "This thread is locked" in page.text
    response = await post_form(client, f"/t/{made.id}/reply", {"body": "late"}, made.url)
    assert response.status_code == 403 and "locked" in response.text


async def test_moderators_pin_lock_hide_and_move_members_cannot(app, client, world):
    made = await thread(app, "alice", world["general"], "Tools", "first")
    other = await category(app, "Other")
    await sign_in(client, "mod")
    token = await csrf(client, made.url + "?page=1")
    for action in ("pin_globally", "lock", "hide"):
        await client.post(f"/t/{made.id}/moderate", data={"action": action, "_csrf_token": token})
    await client.post(
        f"/t/{made.id}/moderate",
        data={"action": "move", "category_id": str(other), "_csrf_token": token},
    )
    async with app.state.sessionmaker() as db:
        fresh = await db.get(Thread, made.id)
        assert fresh.pinned == "global" and fresh.locked_at and fresh.hidden_at
        assert fresh.category_id == other
    async with browser(app) as alice:
        await sign_in(alice, "alice")
        assert (await alice.get(made.url)).status_code == 404  # hidden
        token = await csrf(alice, "/")
        response = await alice.post(
            f"/t/{made.id}/moderate", data={"action": "unhide", "_csrf_token": token}
        )
        assert response.status_code == 404


async def test_reactions_toggle_and_show_who(app, client, world):
    made = await thread(app, "alice", world["general"], "React", "first")
    async with app.state.sessionmaker() as db:
        post_id = (await forum.post_by_number(db, made, 1)).id
    await sign_in(client, "bob")
    token = await csrf(client, made.url)
    await client.post(f"/posts/{post_id}/react", data={"emoji": "🎉", "_csrf_token": token})
    page = await client.get(made.url)
    assert 'aria-pressed="true"' in page.text and 'title="bob"' in page.text
    fragment = await client.post(
        f"/posts/{post_id}/react",
        data={"emoji": "🎉", "_csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert fragment.text.lstrip().startswith("<article") and 'title="bob"' not in fragment.text
    bad = await client.post(f"/posts/{post_id}/react", data={"emoji": "💩", "_csrf_token": token})
    assert bad.status_code == 422 and "Reactions are one of" in bad.text


async def test_bookmarks_page(app, client, world):
    made = await thread(app, "alice", world["general"], "Keep me", "worth keeping")
    async with app.state.sessionmaker() as db:
        post_id = (await forum.post_by_number(db, made, 1)).id
    await sign_in(client, "bob")
    assert "No bookmarks yet" in (await client.get("/bookmarks")).text
    token = await csrf(client, made.url)
    await client.post(f"/posts/{post_id}/bookmark", data={"_csrf_token": token})
    assert "worth keeping" in (await client.get("/bookmarks")).text
    await client.post(f"/posts/{post_id}/bookmark", data={"_csrf_token": token})
    assert "No bookmarks yet" in (await client.get("/bookmarks")).text


async def test_notifications_for_replies_mentions_quotes_and_reactions(app, client, world):
    made = await thread(app, "alice", world["general"], "Ping", "first")
    await reply(app, "bob", made.id, "hello @alice and @nobody")
    quote = f"> **@alice** [wrote]({made.post_url(1)}):\n> first\n\nindeed"
    await reply(app, "carol", made.id, quote)
    async with app.state.sessionmaker() as db:
        bob = await accounts.member_by_username(db, "bob")
        first = await forum.post_by_number(db, made, 1)
        await forum.toggle_reaction(db, bob, first.id, "❤️", await site(db))
    await sign_in(client, "alice")
    badge = await client.get("/notifications/badge")
    assert ">" in badge.text and " 3</span>" in badge.text
    page = await client.get("/notifications")
    assert "mentioned you in" in page.text
    assert "quoted you in" in page.text
    assert "reacted to your post in" in page.text
    mention = (await client.get(f"{made.url}?page=1")).text
    assert 'class="mention" href="/u/alice"' in mention and "@nobody" in mention
    token = await csrf(client, "/notifications")
    await client.post("/notifications/read", data={"_csrf_token": token})
    assert "empty" in (await client.get("/notifications/badge")).text


async def test_muting_a_thread_stops_reply_notifications(app, client, world):
    made = await thread(app, "alice", world["general"], "Noisy", "first")
    await sign_in(client, "alice")
    token = await csrf(client, made.url)
    await client.post(f"/t/{made.id}/watch", data={"level": "muted", "_csrf_token": token})
    await reply(app, "bob", made.id, "a reply alice muted")
    assert "empty" in (await client.get("/notifications/badge")).text
    await reply(app, "bob", made.id, "but @alice hears a mention")
    assert "empty" not in (await client.get("/notifications/badge")).text


async def test_watching_a_category_notifies_new_threads(app, client, world):
    await sign_in(client, "carol")
    token = await csrf(client, "/c/general")
    await client.post("/c/general/watch", data={"level": "watching", "_csrf_token": token})
    await thread(app, "alice", world["general"], "Announcing", "stuff")
    page = await client.get("/notifications")
    assert "started" in page.text and "Announcing" in page.text


async def test_private_conversation_is_seen_by_participants_only(app, client, world):
    await sign_in(client, "alice")
    response = await post_form(
        client,
        "/messages/new",
        {"usernames": "bob", "title": "Just us", "body": "a secret plan"},
    )
    assert response.status_code == 200 and "a secret plan" in response.text
    url = response.url.path
    async with browser(app) as bob:
        await sign_in(bob, "bob")
        assert "Just us" in (await bob.get("/messages")).text
        assert "sent you a message" in (await bob.get("/notifications")).text
        assert "a secret plan" in (await bob.get(url)).text
    for outsider in ("carol", "mod"):
        async with browser(app) as other:
            await sign_in(other, outsider)
            assert (await other.get(url)).status_code == 404
            assert "Just us" not in (await other.get("/messages")).text
            assert "Just us" not in (await other.get("/")).text
            assert "0 results" in (await other.get("/search?q=secret")).text
    bad = await post_form(
        client, "/messages/new", {"usernames": "ghost", "title": "Hello", "body": "x"}
    )
    assert bad.status_code == 422 and "No member is called ghost" in bad.text


async def test_outsider_finds_no_trace_of_a_private_category(app, client, world):
    made = await thread(app, "alice", world["secret"], "Crew plans", "the zeppelin launch")
    await reply(app, "bob", made.id, "count me in @carol")
    async with app.state.sessionmaker() as db:
        alice = await accounts.member_by_username(db, "alice")
        post_id = (await forum.post_by_number(db, made, 1)).id
        await forum.toggle_bookmark(db, alice, post_id)
    await sign_in(client, "carol")
    for path in ("/", "/categories", "/new", "/unread", "/notifications", "/u/alice", "/u/bob"):
        page = await client.get(path)
        assert "Crew plans" not in page.text and "Crew room" not in page.text, path
    assert "empty" in (await client.get("/notifications/badge")).text
    assert (await client.get(made.url)).status_code == 404
    assert (await client.get("/c/crew-room")).status_code == 404
    assert (
        await client.get(f"/posts/{post_id}", headers={"HX-Request": "true"})
    ).status_code == 404
    search = await client.get("/search?q=zeppelin")
    assert "0 results" in search.text and "Crew plans" not in search.text
    profile = await client.get("/u/alice")
    assert "<dt>Posts</dt><dd>0</dd>" in profile.text
    token = await csrf(client, "/")
    for path in (f"/t/{made.id}/reply", f"/posts/{post_id}/react", f"/posts/{post_id}/bookmark"):
        response = await client.post(path, data={"body": "x", "emoji": "👍", "_csrf_token": token})
        assert response.status_code == 404, path
    async with browser(app) as bob:
        await sign_in(bob, "bob")
        assert "Crew plans" in (await bob.get("/")).text
        assert "zeppelin" in (await bob.get("/search?q=zeppelin")).text


async def test_profile_shows_bio_inviter_and_visible_posts(app, client, world):
    await thread(app, "alice", world["general"], "Public post", "hello world")
    await sign_in(client, "alice")
    token = await csrf(client, "/settings")
    await client.post(
        "/settings/profile",
        data={"display_name": "Alice A.", "email": "", "bio": "I <3 forums", "_csrf_token": token},
    )
    page = await client.get("/u/alice")
    assert "Alice A." in page.text and "I &lt;3 forums" in page.text
    assert "Public post" in page.text and "<dt>Threads</dt><dd>1</dd>" in page.text
    assert (await client.get("/u/nobody-here")).status_code == 404


async def test_feed_token_from_settings_and_atom_feed(app, client, world):
    await thread(app, "alice", world["secret"], "Crew only feed item", "x")
    await thread(app, "alice", world["general"], "Everyone feed item", "y")
    await sign_in(client, "carol")
    token = await csrf(client, "/settings")
    page = await client.post("/settings/feed", data={"_csrf_token": token})
    url = re.search(r'id="feed-url">([^<]+)<', page.text).group(1)
    path = url.removeprefix("http://testserver.local")
    async with browser(app) as reader:  # no session: the token is the credential
        feed = await reader.get(path)
        assert feed.status_code == 200
        assert feed.headers["content-type"].startswith("application/atom+xml")
        root = ElementTree.fromstring(feed.text)
        titles = [e.text for e in root.iter("{http://www.w3.org/2005/Atom}title")]
        assert "Everyone feed item" in titles and "Crew only feed item" not in titles
        assert (await reader.get(path.replace("latest.atom", "c/general.atom"))).status_code == 200
        assert (
            await reader.get(path.replace("latest.atom", "c/crew-room.atom"))
        ).status_code == 404
    await client.post("/settings/feed/delete", data={"_csrf_token": token})
    async with browser(app) as reader:
        assert (await reader.get(path)).status_code == 404


async def test_preview_renders_sanitised_markdown(app, client, world):
    await sign_in(client, "alice")
    token = await csrf(client, "/new-thread")
    response = await client.post(
        "/preview",
        data={"body": "*hi* <script>alert(1)</script> [x](javascript:alert(1))"},
        headers={"x-csrftoken": token, "HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "<em>hi</em>" in response.text
    assert "<script" not in response.text and 'href="javascript' not in response.text


async def test_htmx_reply_returns_an_empty_composer_and_triggers_refresh(app, client, world):
    made = await thread(app, "alice", world["general"], "Inline", "first")
    await sign_in(client, "bob")
    token = await csrf(client, made.url)
    response = await client.post(
        f"/t/{made.id}/reply",
        data={"body": "inline reply"},
        headers={"x-csrftoken": token, "HX-Request": "true"},
    )
    assert response.status_code == 200 and response.headers["hx-trigger"] == "posted"
    assert 'id="composer"' in response.text and "inline reply" not in response.text
    fresh = await client.get(f"/t/{made.id}/posts?after=1", headers={"HX-Request": "true"})
    assert "inline reply" in fresh.text and 'id="live-after" name="after" value="2"' in fresh.text


async def test_anonymous_visitors_see_nothing(app, client, world):
    made = await thread(app, "alice", world["general"], "Members only", "x")
    for path in ("/", made.url, "/c/general", "/search?q=x", "/u/alice", "/categories.css"):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code in (302, 303), path
        assert response.headers["location"].startswith("/signin")


async def test_an_author_deleting_their_opening_post_keeps_the_replies(app, client, world):
    made = await thread(app, "alice", world["general"], "Keep the replies", "opening")
    await reply(app, "bob", made.id, "a useful answer")
    async with app.state.sessionmaker() as db:
        alice = await accounts.member_by_username(db, "alice")
        first = await forum.post_by_number(db, made, 1)
        await forum.delete_post(db, alice, first.id)
    await sign_in(client, "carol")
    page = await client.get(f"{made.url}?page=1")
    assert page.status_code == 200
    assert "a useful answer" in page.text and "This post was deleted" in page.text


async def test_quoting_a_post_you_cannot_see_notifies_nobody(app, client, world):
    hidden = await thread(app, "alice", world["secret"], "Crew only", "secret words")
    open_thread = await thread(app, "carol", world["general"], "Open", "first")
    await reply(app, "carol", open_thread.id, f"> [wrote]({hidden.post_url(1)}):\n> guess\n\nhi")
    await sign_in(client, "alice")
    assert "quoted you" not in (await client.get("/notifications")).text


async def test_htmx_reply_errors_come_back_as_422_in_the_composer(app, client, world):
    made = await thread(app, "alice", world["general"], "Errors inline", "first")
    await sign_in(client, "bob")
    token = await csrf(client, made.url)
    response = await client.post(
        f"/t/{made.id}/reply",
        data={"body": "   "},
        headers={"x-csrftoken": token, "HX-Request": "true"},
    )
    assert response.status_code == 422
    assert 'id="composer"' in response.text and "Write something first" in response.text


async def test_events_wait_for_the_outer_commit(app):
    from community.events import DISPATCH, ThreadViewed, emit

    heard: list[Any] = []
    async with app.state.sessionmaker() as db:
        db.sync_session.info[DISPATCH] = heard.extend
        emit(db, ThreadViewed(thread_id=1, member_id=1))
        async with db.begin_nested():
            pass
        assert heard == []  # a released SAVEPOINT is not the commit
        try:
            async with db.begin_nested():
                raise ValueError
        except ValueError:
            pass
        await db.commit()
    assert heard == [ThreadViewed(thread_id=1, member_id=1)]


def test_logs_never_hold_invite_or_feed_tokens():
    from community.web import redact

    line = 'GET /feeds/cft_secret123/latest.atom and /invite/abcdef?x=1 "200"'
    assert redact(line) == 'GET /feeds/[redacted]/latest.atom and /invite/[redacted]?x=1 "200"'
