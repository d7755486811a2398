"""The issue's whole journey, against local servers that answer as the networks do: an admin
connects Mastodon, Bluesky and Discord; a long new thread in Announcements is previewed,
shared for a later time, approved, and sent at that time to all three within each network's
length and with its tagged link back; an edit reaches Mastodon; a thread in a private category
is never sent; a network down for an hour gets the post once when it comes back."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import regex
from community_crosspost.models import Delivery
from sqlalchemy import select

from community.accounts import services as accounts
from community.db import utcnow
from community.forum import services as forum
from community.jobs import OutboxJob
from community.testing import make_thread, settle, sign_in
from plugins.crosspost.tests.test_delivery import _opening_post_id, bluesky_session

DISCORD = "/api/webhooks/42/brand-hook"
BODY = (
    "Today we open the doors of our new home. "
    * 30
    + "Read the full notes at https://docs.example.com/releases/2026/spring-launch-notes "
    "and tell us what you think."
)
STATUSES = {"max_characters": 500, "characters_reserved_per_url": 23}
URL = re.compile(r"https?://\S+")


async def _deliveries(app: Any, thread_id: int) -> dict[int, Delivery]:
    async with app.state.sessionmaker() as db:
        found = await db.scalars(select(Delivery).where(Delivery.thread_id == thread_id))
        return {d.target_id: d for d in found}


async def _time_passes(app: Any, seconds: float) -> None:
    """Everything waiting is ``seconds`` nearer: jobs and deliveries due that much sooner."""
    earlier = timedelta(seconds=seconds)
    async with app.state.sessionmaker() as db:
        for job in await db.scalars(select(OutboxJob).where(OutboxJob.state == "pending")):
            job.run_after -= earlier
        for delivery in await db.scalars(select(Delivery)):
            delivery.due_at -= earlier
        await db.commit()


def _mastodon_length(text: str) -> int:
    """Characters as Mastodon counts them: each link 23."""
    return len(URL.sub("x" * 23, text))


async def test_the_whole_journey(
    crosspost: Any, app: Any, client: Any, fake: Any, moderator: Any
) -> None:
    fake.answers["/api/v2/instance"] = [
        (
            200,
            {},
            {
                "configuration": {
                    "statuses": {"max_characters": 500, "characters_reserved_per_url": 23}
                }
            },
        )
    ]
    fake.answers["/api/v1/accounts/verify_credentials"] = [(200, {}, {"acct": "brand"})]
    fake.answers["/api/v1/statuses"] = [(200, {}, {"id": "9001", "url": f"{fake.url}/@brand/9001"})]
    bluesky_session(fake)
    fake.answers["/xrpc/com.atproto.repo.createRecord"] = [
        (200, {}, {"uri": "at://did:plc:brand/app.bsky.feed.post/3kxyz", "cid": "bafyrei"})
    ]
    fake.answers[DISCORD] = [(200, {}, {"id": "1234", "channel_id": "7"})]

    # An admin connects the three accounts; each send test answers.
    toot = await crosspost.target(
        name="Brand on Mastodon",
        kind="mastodon",
        instance_url=fake.url,
        access_token="mastodon-token-0123456789",
        approval=True,
    )
    sky = await crosspost.target(
        name="Brand on Bluesky",
        kind="bluesky",
        handle="brand.test",
        app_password="abcd-efgh-ijkl-mnop",
        service=fake.url,
        approval=True,
    )
    chat = await crosspost.target(
        name="Brand Discord", kind="discord", webhook_url=f"{fake.url}{DISCORD}", approval=True
    )
    ids = [toot["id"], sky["id"], chat["id"]]
    for target_id in ids:
        tested = await crosspost.call("POST", f"/targets/{target_id}/test")
        assert tested.status_code == 200, tested.text
    fake.seen.clear()

    # A thread in a private category is never offered, by hand or by a rule.
    async with app.state.sessionmaker() as db:
        await accounts.create_group(db, "staffers")
        await forum.save_category(db, None, {"name": "Staff", "visible_to_groups": ["staffers"]})
    private = await make_thread(app, "admin", title="Salaries 2027", category="Staff")
    refused = await crosspost.call("POST", f"/threads/{private.id}/share", json={"targets": ids})
    assert refused.status_code == 400 and refused.json()["error"] == "not_shareable"

    # A new thread in Announcements, previewed on its share page.
    thread = await make_thread(
        app, "admin", title="Spring launch: our new home", body=BODY, category="Announcements"
    )
    await settle(app)
    await sign_in(client, "mod")
    page = await client.get(f"/p/crosspost/threads/{thread.id}/share")
    assert page.status_code == 200
    for target in (toot, sky, chat):
        assert f'id="share-target-{target["id"]}"' in page.text

    # Shared for two hours from now; each share waits for approval, then for its time.
    at = (utcnow() + timedelta(hours=2)).replace(second=0, microsecond=0)
    shared = await crosspost.call(
        "POST",
        f"/threads/{thread.id}/share",
        moderator,
        json={"targets": ids, "at": at.isoformat().replace("+00:00", "Z")},
    )
    assert shared.status_code == 201, shared.text
    drafts = await _deliveries(app, thread.id)
    assert {(d.status, d.due_at) for d in drafts.values()} == {("draft", at)}
    for delivery in drafts.values():
        approved = await crosspost.call("POST", f"/deliveries/{delivery.id}/approve", moderator)
        assert approved.json()["status"] == "scheduled"
    assert await crosspost.run_jobs() == 0 and fake.seen == []  # not yet
    await _time_passes(app, 2 * 3600)
    await crosspost.run_jobs()
    sent = await _deliveries(app, thread.id)
    assert {d.status for d in sent.values()} == {"sent"}, [d.last_error for d in sent.values()]

    link = f"{app.state.settings.base_url}{thread.url}"
    status = next(s for s in fake.seen if s.path == "/api/v1/statuses").json()["status"]
    assert _mastodon_length(status) <= 500 and status.endswith(
        f"{link}?utm_source=mastodon&utm_medium=social"
    )
    assert "…" in status  # the long body was cut, on a word
    record = next(s for s in fake.seen if s.path.endswith("createRecord")).json()["record"]
    assert len(regex.findall(r"\X", record["text"])) <= 300
    [facet] = record["facets"]
    tagged = f"{link}?utm_source=bluesky&utm_medium=social"
    assert facet["features"][0]["uri"] == tagged == record["embed"]["external"]["uri"]
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    assert record["text"].encode()[start:end].decode() == tagged
    posted = next(s for s in fake.seen if s.path == DISCORD).json()
    assert len(posted["content"]) <= 2000 and posted["allowed_mentions"] == {"parse": []}
    assert posted["embeds"][0]["url"] == f"{link}?utm_source=discord&utm_medium=social"
    assert sent[toot["id"]].remote_url == f"{fake.url}/@brand/9001"
    assert sent[sky["id"]].remote_url == "https://bsky.app/profile/brand.test/post/3kxyz"

    # An edit reaches Mastodon (Bluesky posts cannot be edited: recorded on the delivery).
    edited = await crosspost.client.patch(
        f"/api/v1/posts/{await _opening_post_id(app, thread.id)}",
        json={"body": "The doors are open.", "title": "Spring launch: we moved"},
        headers=crosspost.admin_headers,
    )
    assert edited.status_code == 200, edited.text
    await settle(app)
    await crosspost.run_jobs()
    put = next(s for s in fake.seen if s.method == "PUT")
    assert put.path == "/api/v1/statuses/9001"
    assert put.json()["status"].startswith("Spring launch: we moved")

    # Discord is down for an hour: the next share reaches it once, when it is back.
    fake.answers[DISCORD] = [(503, {}, {"message": "Service unavailable"})]
    later = await make_thread(app, "admin", title="Opening hours", category="Announcements")
    await crosspost.call("POST", f"/threads/{later.id}/share", json={"targets": [chat["id"]]})
    [draft] = (await _deliveries(app, later.id)).values()
    await crosspost.call("POST", f"/deliveries/{draft.id}/approve", moderator)
    down_for, back_from = 0.0, None
    for _ in range(30):
        await crosspost.run_jobs()
        [delivery] = (await _deliveries(app, later.id)).values()
        if delivery.status == "sent":
            break
        assert delivery.status == "retrying", delivery.last_error
        wait = max((delivery.due_at - utcnow()).total_seconds(), 0)
        down_for += wait
        if down_for >= 3600 and back_from is None:
            fake.answers[DISCORD] = [(200, {}, {"id": "5678", "channel_id": "7"})]
            back_from = len(fake.seen)
        await _time_passes(app, wait + 1)
    assert delivery.status == "sent" and delivery.remote_id == "5678"
    assert down_for >= 3600
    assert sum("Opening hours" in s.body.decode() for s in fake.seen[back_from:]) == 1
    assert sum(1 for s in fake.seen if "Salaries" in s.body.decode()) == 0
