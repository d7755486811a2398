"""What a thread page costs at page 1 and page 500 of a 10,000-post thread, and a home page
with 2,000 threads: statements per request and milliseconds (median of 30).

    python bench/thread_pages.py                      # SQLite in a temporary folder
    COMMUNITY_DATABASE_URL=postgresql+asyncpg://... python bench/thread_pages.py   # empty database
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, insert, update

from community import migrate
from community.accounts import services as accounts
from community.app import create_app
from community.db import utcnow
from community.forum import services as forum
from community.forum.models import Post, Thread
from community.settings import load_settings

POSTS = 10_000
THREADS = 2_000
RUNS = 30


async def seed(app: Any) -> Thread:
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Bench")
        alice = await accounts.create_member(db, username="alice", password="benchmark-password")
        general = await forum.save_category(db, None, {"name": "General"})
        thread, _ = await forum.create_thread(
            db, alice, category_id=general.id, title="The long one", body="first", site=site
        )
        now = utcnow()
        rows = [
            {
                "thread_id": thread.id,
                "number": n,
                "author_id": alice.id,
                "body": f"post {n}",
                "html": f"<p>post {n}</p>",
                "created_at": now,
                "revision_count": 0,
                "reaction_counts": {},
            }
            for n in range(2, POSTS + 1)
        ]
        for start in range(0, len(rows), 1000):
            await db.execute(insert(Post), rows[start : start + 1000])
        await db.execute(update(Thread).where(Thread.id == thread.id).values(post_count=POSTS))
        threads = [
            {
                "category_id": general.id,
                "title": f"Thread {n}",
                "slug": f"thread-{n}",
                "author_id": alice.id,
                "created_at": now,
                "last_posted_at": now,
                "last_poster_id": alice.id,
                "post_count": 1,
                "reply_count": 0,
                "view_count": 0,
            }
            for n in range(THREADS)
        ]
        await db.execute(insert(Thread), threads)
        await db.commit()
        return thread


async def measure(app: Any, client: httpx.AsyncClient, path: str) -> tuple[int, float]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    await client.get(path)
    timings = []
    for _ in range(RUNS):
        statements.clear()
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
        started = time.perf_counter()
        response = await client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        event.remove(app.state.engine.sync_engine, "before_cursor_execute", count)
        assert response.status_code == 200, response.status_code
    return len(statements), statistics.median(timings)


def prepare() -> Any:
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    env = {"COMMUNITY_VAR_DIR": str(folder), "COMMUNITY_SECRET_KEY": "b" * 48}
    if url := os.environ.get("COMMUNITY_DATABASE_URL"):
        env["COMMUNITY_DATABASE_URL"] = url
    settings = load_settings(env)
    migrate.upgrade(settings.database_url)
    return settings


async def main(settings: Any) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app = create_app(settings, namespace="bench")
    thread = await seed(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        page = await client.get("/signin")
        token = page.text.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]
        await client.post(
            "/signin",
            data={"username": "alice", "password": "benchmark-password", "_csrf_token": token},
        )
        print(f"database: {settings.database_url.split(':')[0]}, {POSTS} posts, {THREADS} threads")
        print(f"{'page':<28} {'statements':>10} {'median ms':>10}")
        for label, path in [
            ("thread page 1", f"{thread.url}?page=1"),
            ("thread page 250", f"{thread.url}?page=250"),
            ("thread page 500", f"{thread.url}?page=500"),
            ("home (latest)", "/"),
            ("category", "/c/general"),
        ]:
            statements, ms = await measure(app, client, path)
            print(f"{label:<28} {statements:>10} {ms:>10.1f}")
    await app.state.engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(prepare()))
