"""A worker process killed in the middle of a delivery, for real: the first worker posts to
Mastodon and is killed while the answer is on its way; a second worker takes the job once its
lease runs out and sends again with the same Idempotency-Key, so Mastodon answers the status it
already made. The thread appears once, and the delivery ends sent with that status."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from community_crosspost.models import Delivery
from sqlalchemy import select

from community.testing import eventually, make_thread
from plugins.crosspost.tests.test_resilience import Mastodon, serving

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 3.0
"""The deliver job's timeout in these workers: its lease runs out 0.3 s after."""


async def _spawn(env: dict[str, str], namespace: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "plugins.crosspost.tests.test_killed",
        namespace,
        cwd=ROOT,
        env={**os.environ, **env},
    )


async def _delivery(app: Any, thread_id: int) -> Delivery:
    async with app.state.sessionmaker() as db:
        return await db.scalar(select(Delivery).where(Delivery.thread_id == thread_id))


async def test_a_worker_killed_mid_delivery_posts_once(
    crosspost: Any, app: Any, env: dict[str, str], namespace: str
) -> None:
    mastodon = Mastodon(slow=1, delay=8.0)  # posted at once, answered only after the kill
    async with serving(mastodon) as url:
        mastodon.url = url
        toot = await crosspost.target(kind="mastodon", instance_url=url, access_token="t" * 20)
        thread = await make_thread(app, "admin", title="Killed midway", category="General")
        shared = await crosspost.call(
            "POST", f"/threads/{thread.id}/share", json={"targets": [toot["id"]]}
        )
        assert shared.status_code == 201, shared.text
        first = await _spawn(env, namespace)
        try:
            await eventually(lambda: _posted(mastodon), within=60)
        finally:
            first.kill()
            await first.wait()
        taken = await _delivery(app, thread.id)
        assert (taken.status, taken.attempts) == ("sending", 1)  # the kill left it taken

        second = await _spawn(env, namespace)
        try:
            done = await eventually(lambda: _sent(app, thread.id), within=60)
        finally:
            second.terminate()
            await second.wait()
    assert (mastodon.posts, len(mastodon.statuses)) == (2, 1)  # asked twice, posted once
    [status] = mastodon.statuses.values()
    assert done.remote_id == status["id"] and done.attempts == 1
    assert status["content"].startswith("Killed midway")


async def _posted(mastodon: Mastodon) -> bool:
    return bool(mastodon.statuses)


async def _sent(app: Any, thread_id: int) -> Delivery | None:
    found = await _delivery(app, thread_id)
    return found if found.status == "sent" else None


async def worker_main(namespace: str) -> None:
    """The worker the test starts: the app's jobs (the plugins'), the deliver job's timeout
    cut to ``TIMEOUT``; SAQ with Redis, else the embedded runner."""
    from litestar.channels import ChannelsPlugin

    from community.app import create_app
    from community.jobs import run_worker, start_runner
    from community.settings import load_settings

    app = create_app(load_settings(), namespace=namespace)
    jobs = app.state.jobs
    jobs.jobs["crosspost.deliver"] = dataclasses.replace(
        jobs.jobs["crosspost.deliver"], timeout=TIMEOUT
    )
    options = {"poll_interval": 0.05, "lease_grace": 0.3}
    async with app.plugins.get(ChannelsPlugin):
        if app.state.settings.redis_url:
            await run_worker(
                app.state.settings,
                jobs,
                namespace=namespace,
                sessionmaker=app.state.sessionmaker,
                **options,
            )
            return
        await start_runner(app.state.sessionmaker, jobs, app.state.settings, **options)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(worker_main(sys.argv[1]))
