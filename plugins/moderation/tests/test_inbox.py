"""The moderator inbox: who sees it, the queue with its context and filters, every action,
optimistic locking and claims."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from community_moderation import inbox
from community_moderation.models import Appeal, AuditEntry, Canned, Flag, Item, Penalty
from sqlalchemy import select, update

from community.accounts import services as accounts
from community.accounts.models import Member
from community.db import utcnow
from community.forum import conversations
from community.forum import services as forum
from community.forum.models import Post, Thread
from community.testing import (
    SITE_NAME,
    api_token,
    make_member,
    make_thread,
    post_form,
    settle,
    sign_in,
)

QUEUE = "/api/v1/moderation/queue"


async def reply(app: Any, username: str, thread: Thread, body: str = "A reply.") -> Post:
    async with app.state.sessionmaker() as db:
        author = await accounts.member_by_username(db, username)
        site = await accounts.instance_settings(db, SITE_NAME)
        _, made = await forum.reply(db, author, thread.id, body, site)
        return made


async def held_item(app: Any, post: Post, kind: str = "held", **options: Any) -> Item:
    """An item for ``post``, held for review as a gate would."""
    async with app.state.sessionmaker() as db:
        post = await db.get(Post, post.id)
        thread = await db.get(Thread, post.thread_id)
        if kind == "held":
            await forum.hold_post(db, post, thread, "A gate held it.")
        item = await inbox.open_item(db, kind, post=post, thread=thread, **options)
        await db.commit()
        return item


async def flag(app: Any, client: Any, username: str, post: Post, reason: str, note: str = ""):
    response = await client.post(
        "/api/v1/moderation/flags",
        json={"post_id": post.id, "reason": reason, "note": note},
        headers=await api_token(app, username),
    )
    assert response.status_code == 201, response.text


async def queue(app: Any, client: Any, username: str = "mod", **params: Any) -> Any:
    return await client.get(QUEUE, params=params, headers=await api_token(app, username))


async def act(app: Any, client: Any, item: Any, action: str, username: str = "mod", **extra):
    item_id, version = (item["id"], item["version"]) if isinstance(item, dict) else item
    return await client.post(
        f"{QUEUE}/{item_id}/{action}",
        json={"version": version, **extra},
        headers=await api_token(app, username),
    )


async def fresh(app: Any, item_id: int) -> Item:
    async with app.state.sessionmaker() as db:
        found = await db.get(Item, item_id)
        assert found is not None
        return found


def ref(item: Item) -> tuple[int, int]:
    return item.id, item.version


# ---------------------------------------------------------------------------------------------
# Who


async def test_only_moderators_reach_the_inbox(app, client, member, mod):
    assert (await queue(app, client, "member")).status_code == 403
    assert (await queue(app, client, "mod")).status_code == 200
    await sign_in(client, "member")
    assert (await client.get("/p/moderation/")).status_code == 403
    assert (await client.get("/p/moderation/queue")).status_code == 403


async def test_members_cannot_act_on_items(app, client, member, mod, thread):
    item = await held_item(app, await reply(app, "member", thread))
    await make_member(app, "alice")
    assert (await act(app, client, ref(item), "approve", "alice")).status_code == 403


async def test_open_count_is_for_moderators(app, member, mod, thread):
    await held_item(app, await reply(app, "member", thread))
    async with app.state.sessionmaker() as db:
        assert await inbox.open_count(db, mod) == 1
        assert await inbox.open_count(db, member) == 0


# ---------------------------------------------------------------------------------------------
# The queue


async def test_the_queue_lists_items_with_their_flags(app, client, member, mod, thread):
    await make_member(app, "alice")
    post = await reply(app, "member", thread, "Buy cheap watches.")
    await flag(app, client, "alice", post, "other", "An advert.")
    response = await queue(app, client)
    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["kind"] == "flag" and item["state"] == "open" and item["version"] == 1
    assert item["post_id"] == post.id and item["thread_id"] == thread.id
    assert item["member"] == "member" and item["score"] == 1.0 and item["claimed_by"] is None
    assert item["flags"] == [
        {"flagger": "alice", "reason": "other", "note": "An advert.", "weight": 1.0}
    ]


async def test_filters_by_kind_category_and_age(app, client, member, mod, thread):
    other = await make_thread(app, "member", title="Elsewhere", category="Off topic")
    flagged = await held_item(app, await reply(app, "member", thread), "flag")
    held = await held_item(app, await reply(app, "member", other))
    async with app.state.sessionmaker() as db:
        await db.execute(
            update(Item).where(Item.id == held.id).values(created_at=utcnow() - timedelta(hours=30))
        )
        await db.commit()

    async def ids(**params: Any) -> list[int]:
        response = await queue(app, client, **params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [flagged.id, held.id]
    assert await ids(order="oldest") == [held.id, flagged.id]
    assert await ids(kind="held") == [held.id]
    assert await ids(category_id=other.category_id) == [held.id]
    assert await ids(older_than_hours=24) == [held.id]
    for bad in ({"kind": "nope"}, {"older_than_hours": "soon"}, {"category_id": "-1"}):
        assert (await queue(app, client, **bad)).status_code == 422


async def test_the_page_shows_the_authors_history(app, client, member, mod, thread):
    inviter = await make_member(app, "inviter")
    await make_member(app, "alice")
    async with app.state.sessionmaker() as db:
        await db.execute(
            update(Member).where(Member.id == member.id).values(invited_by_id=inviter.id)
        )
        db.add(Penalty(member_id=member.id, kind="warn", reason="Earlier.", points=1))
        await db.commit()
    post = await reply(app, "member", thread, "Something nasty.")
    await flag(app, client, "alice", post, "harassment", "Aimed at me.")
    await sign_in(client, "mod")
    page = await client.get("/p/moderation/")
    assert page.status_code == 200
    assert "@inviter" in page.text and "1 earlier penalty" in page.text
    assert "Aimed at me." in page.text and "A thread to test with" in page.text
    assert '<details class="blurred">' in page.text  # harassment is blurred until a click
    assert 'hx-trigger="sse:moderation-inbox, every 120s"' in page.text
    assert 'hx-get="/p/moderation/queue' in page.text
    fragment = await client.get("/p/moderation/queue?kind=flag")
    assert fragment.status_code == 200 and "Something nasty." in fragment.text
    assert "<html" not in fragment.text


async def test_bad_filters_on_the_page_are_a_message(app, client, mod):
    await sign_in(client, "mod")
    page = await client.get("/p/moderation/?kind=nope")
    assert page.status_code == 422 and "kind is one of" in page.text


# ---------------------------------------------------------------------------------------------
# Actions


async def test_approve_releases_a_held_post(app, client, member, mod, thread):
    await make_member(app, "alice")
    post = await reply(app, "member", thread)
    item = await held_item(app, post)
    response = await act(app, client, ref(item), "approve")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "handled" and body["resolution"] == "approve"
    assert body["version"] == item.version + 1
    async with app.state.sessionmaker() as db:
        assert (await db.get(Post, post.id)).held_at is None
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "item.approve"))
    assert entry is not None and entry.actor_id == mod.id
    assert (await queue(app, client)).json()["items"] == []


async def test_hide_and_delete(app, client, member, mod, thread):
    hidden = await reply(app, "member", thread)
    deleted = await reply(app, "member", thread)
    first = await held_item(app, hidden, "flag")
    second = await held_item(app, deleted, "flag")
    assert (await act(app, client, ref(first), "hide", reason="Rude.")).status_code == 200
    assert (await act(app, client, ref(second), "delete")).status_code == 200
    async with app.state.sessionmaker() as db:
        assert (await db.get(Post, hidden.id)).held_at is not None
        assert (await db.get(Post, deleted.id)).deleted_at is not None


async def test_ignore_leaves_the_post(app, client, member, mod, thread):
    post = await reply(app, "member", thread)
    item = await held_item(app, post, "flag")
    response = await act(app, client, ref(item), "ignore")
    assert response.status_code == 200 and response.json()["resolution"] == "ignore"
    async with app.state.sessionmaker() as db:
        found = await db.get(Post, post.id)
    assert found.deleted_at is None and found.held_at is None


async def test_reject_deletes_sends_the_canned_reply_and_adds_points(
    app, client, member, mod, thread
):
    async with app.state.sessionmaker() as db:
        reply_text = Canned(
            title="Spam",
            body="Hi {member}, {moderator} removed your post in {thread_title} ({thread_url}).",
            uses=0,
        )
        db.add(reply_text)
        await db.commit()
        canned_id = reply_text.id
    post = await reply(app, "member", thread, "Buy now.")
    item = await held_item(app, post)
    response = await act(
        app, client, ref(item), "reject", canned_id=canned_id, reason="Advertising."
    )
    assert response.status_code == 200, response.text
    async with app.state.sessionmaker() as db:
        assert (await db.get(Post, post.id)).deleted_at is not None
        assert (await db.get(Canned, canned_id)).uses == 1
        points = await db.scalar(select(Penalty).where(Penalty.member_id == member.id))
    assert points is not None and points.points == 1
    messages = await client.get("/api/v1/conversations", headers=await api_token(app, "member"))
    [conversation] = messages.json()["conversations"]
    posts = await client.get(
        f"/api/v1/threads/{conversation['id']}/posts", headers=await api_token(app, "member")
    )
    html = posts.json()["posts"][0]["html"]
    assert "Hi member, mod removed your post in A thread to test with" in html
    assert thread.url in html


async def test_reject_with_an_unknown_canned_reply_changes_nothing(
    app, client, member, mod, thread
):
    post = await reply(app, "member", thread)
    item = await held_item(app, post)
    response = await act(app, client, ref(item), "reject", canned_id=999)
    assert response.status_code == 422 and response.json()["field"] == "canned_id"
    assert (await fresh(app, item.id)).state == "open"
    async with app.state.sessionmaker() as db:
        assert (await db.get(Post, post.id)).deleted_at is None


async def test_silence_and_suspend_the_author(app, client, member, mod, thread):
    first = await held_item(app, await reply(app, "member", thread), "flag")
    second = await held_item(app, await reply(app, "member", thread), "flag")
    missing = await act(app, client, ref(first), "silence")
    assert missing.status_code == 422 and "Say why" in missing.json()["detail"]
    assert (await act(app, client, ref(first), "silence", reason="Cool off.")).status_code == 200
    until = (utcnow() + timedelta(days=3)).isoformat()
    suspended = await act(app, client, ref(second), "suspend", reason="Abuse.", until=until)
    assert suspended.status_code == 200, suspended.text
    async with app.state.sessionmaker() as db:
        kinds = set((await db.scalars(select(Penalty.kind))).all())
        assert {"silence", "suspend"} <= kinds
        assert (await db.get(Member, member.id)).is_suspended()


async def test_unknown_items_and_actions_are_clear_errors(app, client, member, mod, thread):
    item = await held_item(app, await reply(app, "member", thread))
    assert (await act(app, client, (999_999, 1), "approve")).status_code == 404
    assert (await act(app, client, ref(item), "explode")).status_code == 422
    no_version = await client.post(
        f"{QUEUE}/{item.id}/approve", json={}, headers=await api_token(app, "mod")
    )
    assert no_version.status_code == 422 and no_version.json()["field"] == "version"
    bad_until = await act(app, client, ref(item), "suspend", reason="x", until="tomorrow")
    assert bad_until.status_code == 422
    past = await act(app, client, ref(item), "suspend", reason="x", until="2001-01-01T00:00:00Z")
    assert past.status_code == 422
    assert (await fresh(app, item.id)).state == "open"


# ---------------------------------------------------------------------------------------------
# Locking and claims


async def test_acting_on_a_handled_or_changed_item_is_a_conflict(app, client, member, mod, thread):
    await make_member(app, "mod2", "moderator")
    item = await held_item(app, await reply(app, "member", thread))
    assert (await act(app, client, ref(item), "approve")).status_code == 200
    late = await act(app, client, ref(item), "delete", "mod2")
    assert late.status_code == 409
    assert late.json()["detail"] == "Someone else handled this item."
    other = await held_item(app, await reply(app, "member", thread))
    stale = await act(app, client, (other.id, other.version + 5), "approve")
    assert stale.status_code == 409


async def test_a_claim_keeps_others_off_until_claimed_over(app, client, member, mod, thread):
    await make_member(app, "mod2", "moderator")
    item = await held_item(app, await reply(app, "member", thread))
    claimed = await act(app, client, ref(item), "claim")
    assert claimed.status_code == 200
    assert claimed.json()["state"] == "claimed" and claimed.json()["claimed_by"] == "mod"
    [listed] = (await queue(app, client, "mod2")).json()["items"]
    assert listed["claimed_by"] == "mod"
    refused = await act(app, client, listed, "approve", "mod2")
    assert refused.status_code == 409 and "claim it over" in refused.json()["detail"]
    assert (await act(app, client, listed, "unclaim", "mod2")).status_code == 409
    over = await act(app, client, listed, "claim", "mod2")
    assert over.status_code == 200 and over.json()["claimed_by"] == "mod2"
    # the first moderator's view is now stale
    assert (await act(app, client, listed, "approve", "mod")).status_code == 409
    back = await act(app, client, over.json(), "unclaim", "mod2")
    assert back.status_code == 200 and back.json()["state"] == "open"
    async with app.state.sessionmaker() as db:
        actions = (await db.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert actions == ["item.claim", "item.claim", "item.unclaim"]


async def test_the_claimer_acts_on_their_claim(app, client, member, mod, thread):
    item = await held_item(app, await reply(app, "member", thread))
    claimed = (await act(app, client, ref(item), "claim")).json()
    assert (await act(app, client, claimed, "approve")).status_code == 200


# ---------------------------------------------------------------------------------------------
# The forms


async def test_actions_from_the_page(app, client, member, mod, thread):
    post = await reply(app, "member", thread)
    item = await held_item(app, post)
    await sign_in(client, "mod")
    path = f"/p/moderation/items/{item.id}/approve"
    done = await post_form(client, path, {"version": item.version}, page="/p/moderation/")
    assert done.status_code == 200 and str(done.url).endswith("/p/moderation/")
    assert "Nothing waits for a moderator" in done.text
    again = await post_form(client, path, {"version": item.version}, page="/p/moderation/")
    assert again.status_code == 409 and "Someone else handled this item" in again.text


async def test_action_forms_need_their_csrf_token(app, client, member, mod, thread):
    item = await held_item(app, await reply(app, "member", thread))
    await sign_in(client, "mod")
    response = await client.post(
        f"/p/moderation/items/{item.id}/approve", data={"version": str(item.version)}
    )
    assert response.status_code == 403
    assert (await fresh(app, item.id)).state == "open"


async def test_claims_show_on_the_page(app, client, member, mod, thread):
    item = await held_item(app, await reply(app, "member", thread))
    await act(app, client, ref(item), "claim")
    await make_member(app, "mod2", "moderator")
    await sign_in(client, "mod2")
    page = await client.get("/p/moderation/")
    assert "Claimed by mod" in page.text and "Claim over" in page.text


async def test_flags_are_settled_with_the_item(app, client, member, mod, thread):
    await make_member(app, "alice")
    post = await reply(app, "member", thread)
    await flag(app, client, "alice", post, "spam")
    [listed] = (await queue(app, client)).json()["items"]
    assert (await act(app, client, listed, "hide")).status_code == 200
    async with app.state.sessionmaker() as db:
        assert (await db.scalar(select(Flag.outcome))) == "agreed"


async def test_a_flagged_private_message_is_taken_down(app, client, member, mod):
    await make_member(app, "alice")
    async with app.state.sessionmaker() as db:
        author = await accounts.member_by_username(db, "member")
        site = await accounts.instance_settings(db, SITE_NAME)
        _, message = await conversations.start(
            db, author, usernames=["alice"], title="Hello there", body="Rude words.", site=site
        )
    await flag(app, client, "alice", message, "harassment")
    [listed] = (await queue(app, client)).json()["items"]
    assert (await act(app, client, listed, "delete")).status_code == 200
    async with app.state.sessionmaker() as db:
        assert (await db.get(Post, message.id)).held_at is not None


async def test_approving_an_appeal_lifts_the_penalty(app, client, member, mod):
    async with app.state.sessionmaker() as db:
        penalty = Penalty(member_id=member.id, kind="silence", reason="Too loud.", points=0)
        db.add(penalty)
        await db.flush()
        db.add(Appeal(penalty_id=penalty.id, member_id=member.id, text="I was quoting."))
        item = await inbox.open_item(db, "appeal", member_id=member.id, reason="I was quoting.")
        await db.commit()
    response = await act(app, client, ref(item), "approve")
    assert response.status_code == 200, response.text
    async with app.state.sessionmaker() as db:
        assert (await db.get(Penalty, penalty.id)).lifted_at is not None
        assert (await db.scalar(select(Appeal.outcome))) == "lifted"


async def test_a_held_private_message_is_approved(app, client, member, mod):
    await make_member(app, "alice")
    async with app.state.sessionmaker() as db:
        author = await accounts.member_by_username(db, "member")
        site = await accounts.instance_settings(db, SITE_NAME)
        _, message = await conversations.start(
            db, author, usernames=["alice"], title="Hello there", body="Hi.", site=site
        )
    item = await held_item(app, message)
    assert (await act(app, client, ref(item), "approve")).status_code == 200
    async with app.state.sessionmaker() as db:
        assert (await db.get(Post, message.id)).held_at is None
        assert (await db.get(Thread, message.thread_id)).held_at is None


# ---------------------------------------------------------------------------------------------
# Editing the post


async def edit(app: Any, client: Any, item: Any, username: str = "mod", **data: Any) -> Any:
    item_id, version = (item["id"], item["version"]) if isinstance(item, dict) else item
    return await client.post(
        f"{QUEUE}/{item_id}/edit",
        json={"version": version, **data},
        headers=await api_token(app, username),
    )


async def test_an_edit_changes_the_post_keeps_the_item_open_and_is_audited(
    app, client, member, mod, thread
):
    async with app.state.sessionmaker() as db:
        first = await forum.post_by_number(db, thread, 1)
    item = await held_item(app, first, "flag")
    response = await edit(app, client, ref(item), body="Kinder words.", title="A calmer title")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "open" and response.json()["version"] == item.version + 1
    async with app.state.sessionmaker() as db:
        post = await db.get(Post, first.id)
        assert post.body == "Kinder words." and post.revision_count == 1
        assert (await db.get(Thread, thread.id)).title == "A calmer title"
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "post.edit"))
    assert entry.actor_id == mod.id and entry.target_id == first.id
    assert entry.before == {"body": "The first post.", "title": "A thread to test with"}
    assert entry.after == {"body": "Kinder words.", "title": "A calmer title", "item_id": item.id}
    # Whoever saw the text before the edit must look again before approving it.
    assert (await act(app, client, ref(item), "approve")).status_code == 409
    assert (await act(app, client, (item.id, item.version + 1), "approve")).status_code == 200


async def test_an_edit_needs_a_changed_valid_text_and_the_current_version(
    app, client, member, mod, thread
):
    post = await reply(app, "member", thread, "Original.")
    item = await held_item(app, post, "flag")
    cases = [
        ({"body": ""}, 422, "Write something first."),
        ({"body": "Original."}, 422, "The post is unchanged."),
        ({"body": "New.", "title": "A title"}, 422, "Only a thread's first post has a title."),
        ({"body": "New.", "version": "x"}, 422, "Send the item's version as you saw it."),
        ({"body": "New.", "version": item.version + 1}, 409, "Someone else handled this item."),
    ]
    for data, status, detail in cases:
        response = await edit(app, client, ref(item), **data)
        assert (response.status_code, response.json()["detail"]) == (status, detail), data
    assert (await edit(app, client, (10**6, 1), body="New.")).status_code == 404
    assert (await edit(app, client, ref(item), "member", body="New.")).status_code == 403
    async with app.state.sessionmaker() as db:
        assert (await db.get(Post, post.id)).body == "Original."
        assert await db.scalar(select(AuditEntry).where(AuditEntry.action == "post.edit")) is None
    assert (await fresh(app, item.id)).version == item.version


async def test_items_without_an_editable_post_cannot_be_edited(app, client, member, mod):
    await make_member(app, "alice")
    async with app.state.sessionmaker() as db:
        author = await accounts.member_by_username(db, "member")
        site = await accounts.instance_settings(db, SITE_NAME)
        _, message = await conversations.start(
            db, author, usernames=["alice"], title="Hello there", body="Hi.", site=site
        )
        appeal = await inbox.open_item(db, "appeal", member_id=member.id, reason="Unfair.")
        await db.commit()
    private = await held_item(app, message, "flag")
    response = await edit(app, client, ref(private), body="Changed.")
    assert response.status_code == 422 and "private messages" in response.json()["detail"]
    response = await edit(app, client, ref(appeal), body="Changed.")
    assert response.status_code == 422 and response.json()["error"] == "no_post"


async def test_a_claimed_item_is_edited_by_its_claimer(app, client, member, mod, thread):
    item = await held_item(app, await reply(app, "member", thread), "flag")
    await act(app, client, ref(item), "claim")
    await make_member(app, "mod2", "moderator")
    response = await edit(app, client, (item.id, item.version + 1), "mod2", body="Mine.")
    assert response.status_code == 409 and response.json()["error"] == "claimed"
    response = await edit(app, client, (item.id, item.version + 1), body="Mine.")
    assert response.status_code == 200 and response.json()["state"] == "claimed"


async def test_editing_a_held_post_from_the_page_files_no_second_item(
    app, client, member, mod, thread
):
    post = await reply(app, "member", thread, "Original.")
    async with app.state.sessionmaker() as db:  # hidden after flags, as flags.flag_post does
        hidden = await db.get(Post, post.id)
        await forum.hold_post(db, hidden, await db.get(Thread, thread.id), "Flagged.")
        item = await inbox.open_item(db, "flag", post=hidden, thread=thread)
        await db.commit()
    await sign_in(client, "mod")
    page = await client.get("/p/moderation/")
    assert f'id="edit-{item.id}-{item.version}" hx-preserve' in page.text
    assert 'name="title"' not in page.text  # a reply has no title
    path = f"/p/moderation/items/{item.id}/edit"
    data = {"version": item.version, "body": "Edited by a moderator.", "back": "?kind=flag"}
    done = await post_form(client, path, data, page="/p/moderation/")
    assert done.status_code == 200 and "Edited by a moderator." in done.text
    assert str(done.url).endswith(f"/p/moderation/?kind=flag#item-{item.id}")
    await settle(app)
    [listed] = (await queue(app, client)).json()["items"]
    assert (listed["id"], listed["state"]) == (item.id, "open")
    stale = await post_form(client, path, {**data, "body": "Again."}, page="/p/moderation/")
    assert stale.status_code == 409 and "Someone else handled this item" in stale.text
