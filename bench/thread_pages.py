"""What a thread page costs at page 1 and page 500 of a 10,000-post thread, and a home page
with 2,000 threads: statements per request and milliseconds (median of 30).

    python bench/thread_pages.py                      # SQLite in a temporary folder
    COMMUNITY_DATABASE_URL=postgresql+asyncpg://... python bench/thread_pages.py   # empty database
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from typing import Any

import httpx
from seed import prepare, seed, signed_in
from sqlalchemy import event

from community.app import create_app

POSTS = 10_000
THREADS = 2_000
RUNS = 30


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


async def main(settings: Any) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app = create_app(settings, namespace="bench")
    thread = await seed(app, POSTS, THREADS)
    client = await signed_in(app)
    try:
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
    finally:
        await client.aclose()
    await app.state.engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(prepare()))
