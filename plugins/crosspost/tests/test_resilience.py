"""Networks misbehaving as real ones do, and each thread still appearing once per target: a
Mastodon answer that times out after the status was posted (the retry carries the same
Idempotency-Key, so Mastodon answers the same status), a burst of Discord 429s with its
rate-limit headers, and a revoked Mastodon token (401) that an admin replaces."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from community_crosspost import networks
from community_crosspost.models import Delivery
from sqlalchemy import select

from community.db import utcnow
from community.testing import make_thread
from plugins.crosspost.tests.conftest import answer, read, serving
from plugins.crosspost.tests.test_journey import _time_passes


@dataclass
class Mastodon:
    """Enough of a Mastodon instance to post to: a status per Idempotency-Key (the same key
    answers the status already made, as Mastodon does); the first ``slow`` posts are made at
    once but answered ``delay`` seconds late; with ``revoked`` every call answers 401."""

    url: str = ""
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)
    posts: int = 0
    slow: int = 0
    delay: float = 0.0
    revoked: bool = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers, body = await read(scope, receive)
        status, reply = 200, {}
        if self.revoked:
            status, reply = 401, {"error": "The access token was revoked"}
        elif scope["path"] == "/api/v1/statuses" and scope["method"] == "POST":
            self.posts += 1
            key = headers.get("idempotency-key") or f"none-{self.posts}"
            if key not in self.statuses:
                made = str(100 + len(self.statuses))
                text = json.loads(body)["status"]
                self.statuses[key] = {"id": made, "url": f"{self.url}/@b/{made}", "content": text}
            reply = self.statuses[key]
            if self.slow:
                self.slow -= 1
                await asyncio.sleep(self.delay)
        elif scope["path"] == "/api/v1/accounts/verify_credentials":
            reply = {"acct": "brand"}
        await answer(send, status, reply)


@pytest.fixture
async def mastodon() -> Any:
    instance = Mastodon()
    async with serving(instance) as url:
        instance.url = url
        yield instance


async def _delivery(app: Any, thread_id: int) -> Delivery:
    async with app.state.sessionmaker() as db:
        return await db.scalar(select(Delivery).where(Delivery.thread_id == thread_id))


async def _until_done(app: Any, crosspost: Any, thread_ids: list[int]) -> list[Delivery]:
    """Run the jobs, letting time pass to each retry, until no delivery is waiting."""
    for _ in range(40):
        await crosspost.run_jobs()
        found = [await _delivery(app, t) for t in thread_ids]
        waiting = [d for d in found if d.status in ("scheduled", "retrying")]
        if not waiting:
            return found
        soonest = min((d.due_at - utcnow()).total_seconds() for d in waiting)
        await _time_passes(app, max(soonest, 0) + 1)
    raise AssertionError("deliveries still waiting")


async def test_an_answer_lost_to_a_timeout_is_not_posted_twice(
    crosspost: Any, app: Any, mastodon: Mastodon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(networks, "TIMEOUT", 0.5)
    mastodon.slow, mastodon.delay = 1, 1.5
    toot = await crosspost.target(kind="mastodon", instance_url=mastodon.url, access_token="t" * 20)
    thread = await make_thread(app, "admin", title="Slow network", category="General")
    await crosspost.call("POST", f"/threads/{thread.id}/share", json={"targets": [toot["id"]]})
    await crosspost.run_jobs()
    first = await _delivery(app, thread.id)
    assert first.status == "retrying" and "Timeout" in first.last_error
    assert len(mastodon.statuses) == 1  # it was posted; the answer was lost
    [delivery] = await _until_done(app, crosspost, [thread.id])
    assert (delivery.status, delivery.attempts, mastodon.posts) == ("sent", 2, 2)
    [status] = mastodon.statuses.values()
    assert delivery.remote_id == status["id"] and status["content"].startswith("Slow network")


async def test_a_burst_of_429s_delays_but_never_doubles(
    crosspost: Any, app: Any, fake: Any
) -> None:
    limited = (
        429,
        {"retry-after": "30", "x-ratelimit-remaining": "0", "x-ratelimit-reset-after": "30"},
        {"message": "You are being rate limited.", "retry_after": 30.0, "global": False},
    )
    fake.answers["/api/webhooks/1/abc"] = [limited] * 4 + [(200, {}, {"id": "9"})]
    chat = await crosspost.target(kind="discord", webhook_url=f"{fake.url}/api/webhooks/1/abc")
    threads = [
        await make_thread(app, "admin", title=f"Burst number {n}", category="General")
        for n in range(5)
    ]
    for thread in threads:
        await crosspost.call("POST", f"/threads/{thread.id}/share", json={"targets": [chat["id"]]})
    await crosspost.run_jobs()
    for thread in threads[:4]:
        waiting = await _delivery(app, thread.id)
        assert waiting.status == "retrying" and waiting.last_error.startswith("429")
        assert (waiting.due_at - utcnow()).total_seconds() >= 25  # as the network asked
    done = await _until_done(app, crosspost, [t.id for t in threads])
    assert {d.status for d in done} == {"sent"}
    answered = fake.seen[4:]  # after the four 429s, every request was answered 200
    for thread in threads:
        assert sum(thread.title in s.body.decode() for s in answered) == 1


async def test_a_revoked_token_stops_until_an_admin_replaces_it(
    crosspost: Any, app: Any, mastodon: Mastodon
) -> None:
    toot = await crosspost.target(
        kind="mastodon", instance_url=mastodon.url, access_token="old-token-0123456789"
    )
    mastodon.revoked = True
    thread = await make_thread(app, "admin", title="After revoking", category="General")
    await crosspost.call("POST", f"/threads/{thread.id}/share", json={"targets": [toot["id"]]})
    await crosspost.run_jobs()
    dead = await _delivery(app, thread.id)
    assert (dead.status, dead.attempts) == ("dead", 1)
    shown = (await crosspost.call("GET", f"/targets/{toot['id']}")).json()
    assert shown["status"] == "needs_attention" and "revoked" in shown["attention"]
    assert "old-token" not in json.dumps(shown) and "old-token" not in dead.last_error
    mastodon.revoked = False
    changed = await crosspost.call(
        "PATCH", f"/targets/{toot['id']}", json={"access_token": "new-token-0123456789"}
    )
    assert changed.status_code == 200, changed.text
    tested = await crosspost.call("POST", f"/targets/{toot['id']}/test")
    assert tested.json()["ok"] is True
    assert (await crosspost.call("GET", f"/targets/{toot['id']}")).json()["status"] == "ok"
    retried = await crosspost.call("POST", f"/deliveries/{dead.id}/retry")
    assert retried.json()["status"] == "scheduled"
    [delivery] = await _until_done(app, crosspost, [thread.id])
    assert delivery.status == "sent" and len(mastodon.statuses) == 1
