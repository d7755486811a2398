"""Deliveries, against a fake network on loopback: a new thread shared by a rule, review
before sending, a thread made private after scheduling not sent, transient errors retried
after Retry-After, permanent ones stopping with the target marked and admins told, dead
deliveries retried by hand, and what each network receives (signed webhooks, Mastodon's
Idempotency-Key, Discord pinging nobody)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from community_crosspost.models import Delivery
from sqlalchemy import func, select, update
from standardwebhooks.webhooks import Webhook

from community.db import utcnow
from community.forum import services as forum
from community.forum.models import Notification, Thread
from community.testing import api_token, browser, make_member, make_thread, settle, sign_in


async def _deliveries(app: Any) -> list[Delivery]:
    async with app.state.sessionmaker() as db:
        return list(await db.scalars(select(Delivery).order_by(Delivery.id)))


async def _due_now(app: Any) -> None:
    """Skip every wait: deliveries and their jobs are due now."""
    from community.jobs import OutboxJob

    async with app.state.sessionmaker() as db:
        await db.execute(update(OutboxJob).values(run_after=utcnow() - timedelta(seconds=1)))
        await db.commit()


async def _rule_target(crosspost: Any, app: Any, fake: Any, **fields: Any) -> dict[str, Any]:
    general = await make_thread(app, "admin", title="Seed", category="General")
    await settle(app)  # the seed's ThreadCreated is handled before the rule exists
    return await crosspost.target(
        kind="discord",
        webhook_url=f"{fake.url}/api/webhooks/1/abc",
        categories=[general.category_id],
        **fields,
    )


async def test_a_new_thread_is_shared_by_the_rules(crosspost: Any, app: Any, fake: Any) -> None:
    target = await _rule_target(crosspost, app, fake)
    thread = await make_thread(
        app, "admin", title="Big news @everyone", body="We **shipped** it.", category="General"
    )
    await settle(app)
    assert await crosspost.run_jobs() == 1
    [delivery] = [d for d in await _deliveries(app) if d.thread_id == thread.id]
    assert (delivery.status, delivery.attempts, delivery.remote_id) == ("sent", 1, "1")
    sent = fake.seen[-1]
    assert sent.path == "/api/webhooks/1/abc" and sent.query == "wait=true"
    payload = sent.json()
    assert payload["allowed_mentions"] == {"parse": []}
    assert "We shipped it." in payload["content"] and "@everyone" not in payload["content"]
    assert thread.url in payload["content"]
    log = await crosspost.call("GET", f"/deliveries?thread_id={thread.id}")
    assert [(d["status"], d["target"]) for d in log.json()["deliveries"]] == [
        ("sent", target["name"])
    ]
    # A thread is shared once per target by the rules, however often it is told.
    async with app.state.sessionmaker() as db:
        from community_crosspost import shares

        from community import plugins
        from community.accounts.services import instance_settings

        site = await instance_settings(db, app.state.settings.name)
        with plugins.activated(app.state.plugins, site):
            assert await shares.by_rules(db, thread.id) == []


async def test_review_then_send(crosspost: Any, app: Any, fake: Any, moderator: Any) -> None:
    await _rule_target(crosspost, app, fake, approval=True)
    thread = await make_thread(app, "admin", title="Needs a look", category="General")
    await settle(app)
    [delivery] = [d for d in await _deliveries(app) if d.thread_id == thread.id]
    assert delivery.status == "draft"
    assert await crosspost.run_jobs() == 0 and fake.seen == []
    approved = await crosspost.call("POST", f"/deliveries/{delivery.id}/approve", moderator)
    assert approved.json()["status"] == "scheduled"
    again = await crosspost.call("POST", f"/deliveries/{delivery.id}/approve", moderator)
    assert again.status_code == 400 and again.json()["error"] == "not_draft"
    await crosspost.run_jobs()
    assert (await _deliveries(app))[-1].status == "sent"


async def test_a_thread_made_private_after_scheduling_is_not_sent(
    crosspost: Any, app: Any, fake: Any
) -> None:
    await _rule_target(crosspost, app, fake)
    thread = await make_thread(app, "admin", title="Oops", category="General")
    await settle(app)
    async with app.state.sessionmaker() as db:
        from community.accounts import services

        await services.create_group(db, "staffers")
        private = await forum.save_category(
            db, None, {"name": "Back room", "visible_to_groups": ["staffers"]}
        )
        await db.execute(
            update(Thread).where(Thread.id == thread.id).values(category_id=private.id)
        )
        await db.commit()
    await crosspost.run_jobs()
    [delivery] = [d for d in await _deliveries(app) if d.thread_id == thread.id]
    assert delivery.status == "cancelled"
    assert delivery.last_error == "Not sent: the thread is no longer open to every member."
    assert fake.seen == []


async def test_transient_errors_retry_after_the_wait_they_ask(
    crosspost: Any, app: Any, fake: Any
) -> None:
    fake.answers["/api/webhooks/1/abc"] = [
        (503, {"retry-after": "120"}, {"message": "busy"}),
        (429, {}, {"message": "slow down"}),
        (200, {}, {"id": "99"}),
    ]
    await _rule_target(crosspost, app, fake)
    thread = await make_thread(app, "admin", title="Flaky", category="General")
    await settle(app)
    await crosspost.run_jobs()
    [delivery] = [d for d in await _deliveries(app) if d.thread_id == thread.id]
    assert (delivery.status, delivery.attempts) == ("retrying", 1)
    assert delivery.last_error.startswith("503")
    assert delivery.due_at >= utcnow() + timedelta(seconds=110)
    assert await crosspost.run_jobs() == 0  # waiting
    await _due_now(app)
    await crosspost.run_jobs()
    await _due_now(app)
    await crosspost.run_jobs()
    [delivery] = [d for d in await _deliveries(app) if d.thread_id == thread.id]
    assert (delivery.status, delivery.attempts, delivery.remote_id) == ("sent", 3, "99")


async def test_a_permanent_error_stops_marks_the_target_and_tells_admins(
    crosspost: Any, app: Any, fake: Any, moderator: Any
) -> None:
    fake.answers["/api/webhooks/1/abc"] = [(401, {}, {"message": "401: Unauthorized"})]
    target = await _rule_target(crosspost, app, fake)
    thread = await make_thread(app, "admin", title="Denied", category="General")
    await settle(app)
    await crosspost.run_jobs()
    [delivery] = [d for d in await _deliveries(app) if d.thread_id == thread.id]
    assert (delivery.status, delivery.attempts) == ("dead", 1)
    shown = (await crosspost.call("GET", f"/targets/{target['id']}")).json()
    assert shown["status"] == "needs_attention" and shown["attention"].startswith("401")
    async with app.state.sessionmaker() as db:
        told = list(
            await db.scalars(select(Notification).where(Notification.thread_id == thread.id))
        )
    assert len(told) == 1 and told[0].actor_id is None
    assert told[0].data["label"].startswith("could not share to Somewhere (401 Unauthorized")
    async with browser(app) as page:
        await sign_in(page, "admin")
        shown = (await page.get("/notifications")).text
    assert "<strong>Cross-posting</strong>" in shown and "could not share to Somewhere" in shown
    fake.answers["/api/webhooks/1/abc"] = [(200, {}, {"id": "7"})]
    retried = await crosspost.call("POST", f"/deliveries/{delivery.id}/retry", moderator)
    assert retried.json()["status"] == "scheduled"
    await crosspost.run_jobs()
    assert (await _deliveries(app))[-1].status == "sent"


async def test_what_each_network_receives(crosspost: Any, app: Any, fake: Any) -> None:
    thread = await make_thread(app, "admin", title="Hello world", category="General")
    hook = await crosspost.target(kind="webhook", url=f"{fake.url}/events")
    toot = await crosspost.target(
        kind="mastodon", instance_url=fake.url, access_token="tok-" + "x" * 16
    )
    got = await crosspost.call(
        "POST", f"/threads/{thread.id}/share", json={"targets": [hook["id"], toot["id"]]}
    )
    assert got.status_code == 201, got.text
    await crosspost.run_jobs()
    signed = next(s for s in fake.seen if s.path == "/events")
    verified = Webhook(hook["signing_secret"]).verify(signed.body, signed.headers)
    assert verified["type"] == "thread.shared" and verified["data"]["title"] == "Hello world"
    status = next(s for s in fake.seen if s.path == "/api/v1/statuses")
    assert status.headers["authorization"] == "Bearer tok-" + "x" * 16
    [toot_delivery] = [d for d in await _deliveries(app) if d.target_id == toot["id"]]
    assert status.headers["idempotency-key"] == toot_delivery.key
    assert status.json()["status"].startswith("Hello world")


async def test_shares_by_hand_check_who_and_what(crosspost: Any, app: Any, fake: Any) -> None:
    target = await crosspost.target(kind="slack", webhook_url=f"{fake.url}/slack")
    await make_member(app, "ada")
    ada = await api_token(app, "ada")
    thread = await make_thread(app, "ada", title="Mine", category="General")
    member = await crosspost.call(
        "POST", f"/threads/{thread.id}/share", ada, json={"targets": [target["id"]]}
    )
    assert member.status_code == 403
    for body, code in [
        ({}, "invalid_targets"),
        ({"targets": [2**40]}, "unknown_target"),
        ({"targets": [target["id"]], "at": "tomorrow"}, "invalid_at"),
        ({"targets": [target["id"]], "at": "2026-12-01T09:00:00"}, "invalid_at"),
    ]:
        got = await crosspost.call("POST", f"/threads/{thread.id}/share", json=body)
        assert got.status_code == 400 and got.json()["error"] == code, (body, got.text)
    missing = await crosspost.call(
        "POST", f"/threads/{2**40}/share", json={"targets": [target["id"]]}
    )
    assert missing.status_code == 404
    async with app.state.sessionmaker() as db:
        await db.execute(update(Thread).where(Thread.id == thread.id).values(hidden_at=utcnow()))
        await db.commit()
    hidden = await crosspost.call(
        "POST", f"/threads/{thread.id}/share", json={"targets": [target["id"]]}
    )
    assert hidden.status_code == 400 and hidden.json()["error"] == "not_shareable"


def _jwt(scope: str, seconds: int) -> str:
    import base64
    import json
    import time

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    now = int(time.time())
    claims = {"scope": scope, "sub": "did:plc:brand", "iat": now, "exp": now + seconds}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


def bluesky_session(fake: Any, **extra: Any) -> None:
    """The fake answers a sign-in as Bluesky's account server does: a session of brand.test
    (``extra``: more of its fields, such as the DID document)."""
    session = {
        "accessJwt": _jwt("com.atproto.access", 7200),
        "refreshJwt": _jwt("com.atproto.refresh", 86400),
        "handle": "brand.test",
        "did": "did:plc:brand",
        **extra,
    }
    fake.answers["/xrpc/com.atproto.server.createSession"] = [(200, {}, session)]


async def test_bluesky_keeps_its_session_between_posts(crosspost: Any, app: Any, fake: Any) -> None:
    bluesky_session(fake)
    fake.answers["/xrpc/com.atproto.repo.createRecord"] = [
        (200, {}, {"uri": "at://did:plc:brand/app.bsky.feed.post/3kabc", "cid": "bafyrei"})
    ]
    sky = await crosspost.target(
        kind="bluesky", handle="brand.test", app_password="abcd-efgh-ijkl-mnop", service=fake.url
    )
    for title in ("Café ☕ news", "More news"):
        thread = await make_thread(app, "admin", title=title, category="General")
        got = await crosspost.call(
            "POST", f"/threads/{thread.id}/share", json={"targets": [sky["id"]]}
        )
        assert got.status_code == 201, got.text
        await crosspost.run_jobs()
    paths = [s.path for s in fake.seen]
    assert paths.count("/xrpc/com.atproto.server.createSession") == 1  # then the kept session
    assert paths.count("/xrpc/com.atproto.repo.createRecord") == 2
    first = next(s for s in fake.seen if s.path.endswith("createRecord")).json()
    record = first["record"]
    assert first["repo"] == "did:plc:brand" and record["text"].startswith("Café ☕ news")
    [facet] = record["facets"]
    start = facet["index"]["byteStart"]
    url = facet["features"][0]["uri"]
    assert record["text"].encode()[start : facet["index"]["byteEnd"]].decode() == url
    assert record["embed"]["external"]["uri"] == url and "createdAt" in record
    delivery = (await _deliveries(app))[0]
    assert delivery.remote_url == "https://bsky.app/profile/brand.test/post/3kabc"


async def test_edits_and_hiding_follow_where_the_network_allows(
    crosspost: Any, app: Any, fake: Any
) -> None:
    fake.answers["/api/v1/statuses"] = [(200, {}, {"id": "555", "url": f"{fake.url}/@b/555"})]
    toot = await crosspost.target(kind="mastodon", instance_url=fake.url, access_token="t" * 20)
    slack = await crosspost.target(kind="slack", webhook_url=f"{fake.url}/slack")
    thread = await make_thread(app, "admin", title="First title", category="General")
    await crosspost.call(
        "POST", f"/threads/{thread.id}/share", json={"targets": [toot["id"], slack["id"]]}
    )
    await crosspost.run_jobs()
    first_post = await _opening_post_id(app, thread.id)
    edited = await crosspost.client.patch(
        f"/api/v1/posts/{first_post}",
        json={"body": "The first post, better.", "title": "Second title"},
        headers=crosspost.admin_headers,
    )
    assert edited.status_code == 200, edited.text
    await settle(app)
    await crosspost.run_jobs()
    put = next(s for s in fake.seen if s.method == "PUT")
    assert put.path == "/api/v1/statuses/555" and put.json()["status"].startswith("Second title")
    by_target = {d.target_id: d for d in await _deliveries(app)}
    assert by_target[slack["id"]].last_error.startswith("The thread was edited; the shared post")
    hidden = await crosspost.client.patch(
        f"/api/v1/threads/{thread.id}", json={"hidden": True}, headers=crosspost.admin_headers
    )
    assert hidden.status_code == 200, hidden.text
    await settle(app)
    await crosspost.run_jobs()
    assert any(s.method == "DELETE" and s.path == "/api/v1/statuses/555" for s in fake.seen)
    by_target = {d.target_id: d for d in await _deliveries(app)}
    assert by_target[toot["id"]].status == "deleted"
    assert by_target[slack["id"]].last_error.startswith("The thread was hidden; the shared post")


async def _opening_post_id(app: Any, thread_id: int) -> int:
    from community.forum.models import Post

    async with app.state.sessionmaker() as db:
        return await db.scalar(select(Post.id).where(Post.thread_id == thread_id, Post.number == 1))


async def test_an_attempt_cut_short_goes_again_once(crosspost: Any, app: Any, fake: Any) -> None:
    """The attempt was taken ("sending"), then its process died before the answer was
    written: the runner runs the job again and it sends (with the same idempotency key);
    a second job for the same attempt, or a stale one, does nothing."""
    from community.jobs import OutboxJob, enqueue

    toot = await crosspost.target(kind="mastodon", instance_url=fake.url, access_token="t" * 20)
    thread = await make_thread(app, "admin", title="Interrupted", category="General")
    await crosspost.call("POST", f"/threads/{thread.id}/share", json={"targets": [toot["id"]]})
    [delivery] = await _deliveries(app)
    async with app.state.sessionmaker() as db:
        first_job = await db.scalar(select(func.min(OutboxJob.id)))
        await db.execute(update(Delivery).values(status="sending", attempts=1))
        await enqueue(db, "crosspost.deliver", delivery_id=delivery.id, attempt=0)  # a duplicate
        await db.commit()
    await crosspost.run_jobs()  # first runs of both jobs: neither takes a "sending" one
    assert fake.seen == []
    async with app.state.sessionmaker() as db:  # the runner runs the first job again
        await db.execute(
            update(OutboxJob).where(OutboxJob.id == first_job).values(state="pending", attempts=1)
        )
        await db.commit()
    await _due_now(app)
    await crosspost.run_jobs()
    [delivery] = await _deliveries(app)
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    keys = [s.headers["idempotency-key"] for s in fake.seen if s.path == "/api/v1/statuses"]
    assert keys == [delivery.key]


async def test_a_double_approve_or_a_cancel_while_sending_changes_nothing(
    crosspost: Any, app: Any, fake: Any, moderator: Any
) -> None:
    target = await crosspost.target(kind="slack", webhook_url=f"{fake.url}/s", approval=True)
    thread = await make_thread(app, "admin", title="Twice", category="General")
    await crosspost.call("POST", f"/threads/{thread.id}/share", json={"targets": [target["id"]]})
    [delivery] = await _deliveries(app)
    first, second = await asyncio.gather(
        crosspost.call("POST", f"/deliveries/{delivery.id}/approve", moderator),
        crosspost.call("POST", f"/deliveries/{delivery.id}/approve", moderator),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 400]
    async with app.state.sessionmaker() as db:
        await db.execute(update(Delivery).values(status="sending"))
        await db.commit()
    cancelled = await crosspost.call("POST", f"/deliveries/{delivery.id}/cancel", moderator)
    assert cancelled.status_code == 400 and cancelled.json()["error"] == "not_cancellable"
    await crosspost.run_jobs()
    assert fake.seen == []  # the job finds it taken already


async def test_best_time_without_analytics_is_the_setting(
    crosspost: Any, app: Any, fake: Any
) -> None:
    target = await crosspost.target(kind="slack", webhook_url=f"{fake.url}/slack")
    thread = await make_thread(app, "admin", title="Later", category="General")
    await crosspost.settings(best_time="23:59")
    got = await crosspost.call(
        "POST", f"/threads/{thread.id}/share", json={"targets": [target["id"]], "at": "best"}
    )
    assert got.status_code == 201, got.text
    due = got.json()["deliveries"][0]["due_at"]
    assert due.endswith("23:59:00+00:00")
    assert await crosspost.run_jobs() == 0  # not yet
    await crosspost.settings(best_time="9am")
    bad = await crosspost.call(
        "POST", f"/threads/{thread.id}/share", json={"targets": [target["id"]], "at": "best"}
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_best_time"


async def test_secrets_never_reach_the_log(
    crosspost: Any, app: Any, fake: Any, caplog: Any
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    hook = f"{fake.url}/api/webhooks/1/hooksecret0123456789"
    target = await crosspost.target(kind="discord", webhook_url=hook)
    fake.answers["/api/webhooks/1/hooksecret0123456789"] = [(401, {}, {"message": "nope"})]
    thread = await make_thread(app, "admin", title="Quiet", category="General")
    await crosspost.call("POST", f"/threads/{thread.id}/share", json={"targets": [target["id"]]})
    await crosspost.run_jobs()
    await crosspost.call("POST", f"/targets/{target['id']}/test")
    assert fake.seen  # the calls were made
    assert "hooksecret0123456789" not in caplog.text
    shown = (await crosspost.call("GET", f"/targets/{target['id']}")).json()
    assert "hooksecret0123456789" not in str(shown)
    log = (await crosspost.call("GET", f"/deliveries?thread_id={thread.id}")).json()
    assert "hooksecret0123456789" not in str(log)


async def test_a_mark_shares_to_the_targets_that_take_marks(
    crosspost: Any, app: Any, fake: Any, moderator: Any
) -> None:
    taking = await crosspost.target(kind="slack", webhook_url=f"{fake.url}/a", on_mark=True)
    await crosspost.target(kind="slack", webhook_url=f"{fake.url}/b", on_mark=False)
    thread = await make_thread(app, "admin", title="Worth sharing", category="General")
    got = await crosspost.call("POST", f"/threads/{thread.id}/mark", moderator)
    assert got.status_code == 201, got.text
    assert [(d["target_id"], d["reason"]) for d in got.json()["deliveries"]] == [
        (taking["id"], "mark")
    ]
    again = await crosspost.call("POST", f"/threads/{thread.id}/mark", moderator)
    assert again.status_code == 400 and again.json()["error"] == "no_target"
    await crosspost.run_jobs()
    assert [s.path for s in fake.seen] == ["/a"]


async def test_deliveries_to_one_target_are_spaced(crosspost: Any, app: Any, fake: Any) -> None:
    await crosspost.settings(min_interval="3600")
    target = await crosspost.target(kind="slack", webhook_url=f"{fake.url}/paced")
    for title in ("One", "Two"):
        thread = await make_thread(app, "admin", title=title, category="General")
        await crosspost.call(
            "POST", f"/threads/{thread.id}/share", json={"targets": [target["id"]]}
        )
    await crosspost.run_jobs()
    assert len(fake.seen) == 1  # the second waits its turn, an hour later
    statuses = sorted(d.status for d in await _deliveries(app))
    assert statuses == ["scheduled", "sent"]
    waiting = next(d for d in await _deliveries(app) if d.status == "scheduled")
    assert waiting.attempts == 0


async def test_bluesky_never_follows_its_service_to_a_private_address(
    crosspost: Any, app: Any, fake: Any
) -> None:
    did_doc = {
        "id": "did:plc:brand",
        "service": [
            {
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": "https://10.0.0.5",
            }
        ],
    }
    bluesky_session(fake, didDoc=did_doc)
    sky = await crosspost.target(
        kind="bluesky", handle="brand.test", app_password="abcd-efgh-ijkl-mnop", service=fake.url
    )
    thread = await make_thread(app, "admin", title="Elsewhere", category="General")
    await crosspost.call("POST", f"/threads/{thread.id}/share", json={"targets": [sky["id"]]})
    await crosspost.run_jobs()
    [delivery] = await _deliveries(app)
    assert delivery.status == "dead"
    assert delivery.last_error.startswith("The account's server:")
    assert [s.path for s in fake.seen] == ["/xrpc/com.atproto.server.createSession"]


async def test_a_short_secret_in_an_answer_is_not_repeated(
    crosspost: Any, app: Any, fake: Any
) -> None:
    """A network echoing the token in its error: the reason stored and shown hides it."""
    fake.answers["/api/v1/statuses"] = [(401, {}, {"error": "token tok-1234 is revoked"})]
    toot = await crosspost.target(kind="mastodon", instance_url=fake.url, access_token="tok-1234")
    thread = await make_thread(app, "admin", title="Echo", category="General")
    await crosspost.call("POST", f"/threads/{thread.id}/share", json={"targets": [toot["id"]]})
    await crosspost.run_jobs()
    [delivery] = await _deliveries(app)
    assert delivery.status == "dead" and "tok-1234" not in delivery.last_error
    assert "[secret]" in delivery.last_error
