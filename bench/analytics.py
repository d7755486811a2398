"""What the analytics reports cost on a large community (issue 6): 10,000 members, 100,000
threads, 1,000,000 posts and a year of visits on PostgreSQL.

    python bench/analytics.py [DATABASE_URL]      # default: BENCH_DATABASE_URL, else
                                                  # postgresql+asyncpg://postgres@127.0.0.1/bench_analytics

The database is made with ``community demo --size large`` when it has no threads (about 8
minutes), and kept for the next run; a database with threads but no visits gets only the
analytics plugin's demo rows. Then it prints, each beside its target:

- the rollup of the whole year, day by day (what the hourly job catches up on);
- every report of ``community_analytics.catalogue.REPORTS`` over the last 90 days (< 1 s),
  the first run and the median of three more;
- the dashboard: every report over its default 30 days, as the page asks (< 2 s);
- the nightly rollup of one day, yesterday (< 10 s).

``--skip-rollup`` leaves the year's rollup as it is (a second run of the bench).
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from community import demo, migrate
from community.accounts.models import Member
from community.accounts.services import instance_settings
from community.db import create_engine, create_sessionmaker
from community.forum.models import Post, Thread
from community.plugins import Plugins, activated, set_enabled
from community.settings import load_settings

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1/bench_analytics"
REPORT_TARGET = 1.0
DASHBOARD_TARGET = 2.0
DAY_TARGET = 10.0
REPEATS = 3


async def timed(work: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


def verdict(seconds: float, target: float) -> str:
    return "ok" if seconds < target else "SLOW"


async def prepare(db: AsyncSession, plugins: Plugins) -> dict[str, Any]:
    """The analytics plugin enabled, and the large demo written if it is not there yet."""
    site = await instance_settings(db, "Bench")
    if "analytics" not in Plugins.enabled_in(site):
        await set_enabled(db, plugins, "analytics", True)
        site = await instance_settings(db, "Bench")
    from community_analytics.models import Visit

    if not await db.scalar(select(func.count()).select_from(Thread)):
        print("writing the large demo (community demo --size large)...", flush=True)
        started = time.perf_counter()
        summary = await demo.populate(db, demo.SIZES["large"], seed=1, site_name="Bench")
        core = time.perf_counter() - started
        await fill(db, plugins, site, summary)
        print(
            f"  core {core:.0f} s, plugins {time.perf_counter() - started - core:.0f} s: "
            f"{summary.posts:,} posts, {summary.reactions:,} reactions",
            flush=True,
        )
    elif not await db.scalar(select(func.count()).select_from(Visit)):
        print("writing the analytics plugin's demo rows...", flush=True)
        last = await db.scalar(select(func.max(Post.created_at)))
        now = last.replace(microsecond=0) + timedelta(minutes=2)
        summary = demo.Summary(since=now - timedelta(days=demo.DAYS), now=now)
        took = await timed(lambda: fill(db, plugins, site, summary))
        print(f"  {took:.0f} s", flush=True)
    return site


async def fill(db: AsyncSession, plugins: Plugins, site: dict[str, Any], summary: Any) -> None:
    """The enabled plugins' demo rows (the analytics plugin's among them), as ``community
    demo`` writes them."""
    await demo.populate_plugins(db, plugins, site, summary, seed=1)


async def main(url: str, skip_rollup: bool) -> None:
    from community_analytics import catalogue, rollup

    logging.basicConfig(level=logging.WARNING)
    folder = tempfile.mkdtemp(prefix="bench-")
    settings = load_settings(
        {
            "COMMUNITY_VAR_DIR": folder,
            "COMMUNITY_SECRET_KEY": "b" * 48,
            "COMMUNITY_DATABASE_URL": url,
        }
    )
    plugins = Plugins()
    await asyncio.to_thread(migrate.upgrade, settings.database_url, plugins=plugins)
    engine = create_engine(settings.database_url)
    plugins.sessionmaker = create_sessionmaker(engine)  # as create_app sets it: session()
    try:
        async with create_sessionmaker(engine)() as db:
            site = await prepare(db, plugins)
            counts = [
                await db.scalar(select(func.count()).select_from(model))
                for model in (Member, Thread, Post)
            ]
            admin = await db.scalar(
                select(Member).where(Member.role == "admin").order_by(Member.id).limit(1)
            )
            assert admin is not None, "the demo makes an admin"
        print(
            f"database: {engine.dialect.name}, {counts[0]:,} members, {counts[1]:,} threads, "
            f"{counts[2]:,} posts; {len(catalogue.REPORTS)} reports"
        )
        with activated(plugins, site):
            await measure(engine, admin, skip_rollup, catalogue, rollup)
    finally:
        await engine.dispose()


async def measure(
    engine: Any, admin: Member, skip_rollup: bool, catalogue: Any, rollup: Any
) -> None:
    from community_analytics import digest
    from community_analytics.reports import Period

    from community import plugins as api

    sessions = create_sessionmaker(engine)
    settings = api.settings("analytics")
    today = rollup.today(settings)
    yesterday = today - timedelta(days=1)

    if not skip_rollup:
        async with sessions() as db:
            first = await rollup.first_day(db, settings)
            assert first is not None
            days = [first + timedelta(days=n) for n in range((yesterday - first).days + 1)]
            started = time.perf_counter()
            for day in days:
                await rollup.roll_up_day(db, day, settings)
            took = time.perf_counter() - started
        each = took / len(days)
        print(f"\nrollup of the year: {len(days)} days in {took:.1f} s ({each:.2f} s a day)")
    if engine.dialect.name == "postgresql":
        # What autovacuum does after so many new rows, done now rather than whenever it wakes:
        # without statistics, the planner takes the rollup's tables for empty.
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.commit()

    start, end = (today - timedelta(days=89)).isoformat(), today.isoformat()
    print(
        f"\n{'report, 90 days':<28} {'first s':>8} {'median s':>9}  target < {REPORT_TARGET:.0f} s"
    )
    slow = []
    for name in catalogue.REPORTS:
        times = []
        for _ in range(1 + REPEATS):
            async with sessions() as db:
                times.append(
                    await timed(lambda db=db, name=name: catalogue.run(db, admin, name, start, end))
                )
        median = statistics.median(times[1:])
        if median >= REPORT_TARGET:
            slow.append(name)
        print(f"{name:<28} {times[0]:>8.3f} {median:>9.3f}  {verdict(median, REPORT_TARGET)}")

    async def dashboard() -> None:
        # As the page asks: every report over the last 30 days (digest.reports).
        async with sessions() as db:
            await digest.reports(db, admin, Period(today - timedelta(days=29), today))

    runs = [await timed(dashboard) for _ in range(1 + REPEATS)]
    median = statistics.median(runs[1:])
    print(
        f"\ndashboard (every report, 30 days): first {runs[0]:.3f} s, median {median:.3f} s"
        f"  target < {DASHBOARD_TARGET:.0f} s  {verdict(median, DASHBOARD_TARGET)}"
    )

    async with sessions() as db:
        took = await timed(lambda: rollup.roll_up_day(db, yesterday, settings))
    print(
        f"rollup of one day ({yesterday}): {took:.2f} s  target < {DAY_TARGET:.0f} s  "
        f"{verdict(took, DAY_TARGET)}"
    )
    if slow:
        print(f"\nover target: {', '.join(slow)}")


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
    url = arguments[0] if arguments else os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    asyncio.run(main(url, "--skip-rollup" in sys.argv))
