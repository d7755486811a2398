"""What the moderation plugin's gates cost a new post: replies per second through the API by an
established member, with no plugin enabled and with the moderation plugin enabled (its gates:
silence check, watched words, spam heuristics, pre-approval, slow mode; and its event handler
after the commit), its watched-word lists filled with ``--words`` entries.

    python bench/posting.py                      # SQLite in a temporary folder
    COMMUNITY_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/bench_posting \\
        python bench/posting.py                  # an empty PostgreSQL database

The two configurations take turns within each round. Rate limits are lifted (the core's "post"
limit and the plugin's posts_per_minute), since the bench posts far faster than one person may;
the limits' own cost (one counter increment each) stays in the measured path. A round ends when
the plugin's event handlers for its posts have run, so their work counts too.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import statistics
import time
from datetime import timedelta
from typing import Any

import httpx
from seed import prepare, seed
from sqlalchemy import insert, update

from community import plugins as plugin_api
from community import ratelimit
from community.accounts import services as accounts
from community.accounts.models import Member
from community.app import create_app
from community.db import utcnow
from community.plugins import Plugins
from community.settings import Settings
from community.testing import settle

PLUGIN = "moderation"
ACTIONS = ("block", "approve", "censor", "flag", "replace", "notify")


async def fill_words(app: Any, count: int) -> None:
    """``count`` watched words, the actions in turn, a fifth of them with a wildcard."""
    from community_moderation.models import Word  # the bench's subject, installed by make install

    rows = [
        {
            "pattern": f"zq{n}word*" if n % 5 == 0 else f"zq{n}word",
            "action": ACTIONS[n % len(ACTIONS)],
            "replacement": "***" if ACTIONS[n % len(ACTIONS)] == "replace" else "",
            "created_at": utcnow(),
        }
        for n in range(count)
    ]
    async with app.state.sessionmaker() as db:
        if rows:
            await db.execute(insert(Word), rows)
        await db.commit()


async def prepare_alice(app: Any) -> dict[str, str]:
    """Make alice an established member (joined a year ago) and return her API headers."""
    async with app.state.sessionmaker() as db:
        await db.execute(
            update(Member)
            .where(Member.username == "alice")
            .values(created_at=utcnow() - timedelta(days=365))
        )
        await db.commit()
        alice = await accounts.member_by_username(db, "alice")
        _, token = await accounts.create_api_token(db, alice, "bench")
        await db.commit()
    return {"authorization": f"Bearer {token}"}


async def lift_limit(app: Any, installed: Plugins) -> None:
    """The plugin's defaults, but for posts_per_minute: a million."""
    kind = installed.installed[PLUGIN].settings_type
    form = {f.name: getattr(kind(), f.name) for f in dataclasses.fields(kind)}
    form = {name: ("on" if value is True else value) for name, value in form.items()}
    form["posts_per_minute"] = 1_000_000
    async with app.state.sessionmaker() as db:
        await plugin_api.save_settings(db, installed, PLUGIN, form)


async def set_enabled(app: Any, enabled: bool) -> None:
    async with app.state.sessionmaker() as db:
        await plugin_api.set_enabled(db, app.state.plugins, PLUGIN, enabled)


async def post_round(
    app: Any, client: httpx.AsyncClient, path: str, headers: dict[str, str], first: int, n: int
) -> tuple[float, float, list[float]]:
    """Post ``n`` replies; wall and CPU seconds for the round (event handlers included) and
    each request's wall seconds."""
    started, cpu = time.perf_counter(), time.process_time()
    each = []
    for k in range(first, first + n):
        body = f"Reply {k}: thanks, this works for me on version {k % 7}.{k % 13} as well."
        began = time.perf_counter()
        response = await client.post(path, json={"body": body}, headers=headers)
        each.append(time.perf_counter() - began)
        assert response.status_code == 201, (response.status_code, response.text)
    await settle(app)
    return time.perf_counter() - started, time.process_time() - cpu, each


async def main(
    settings: Settings, installed: Plugins, rounds: int, per_round: int, words: int
) -> None:
    for name in ("httpx", "community", "community.jobs"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ratelimit.LIMITS["post"] = ratelimit.Limit(10**9, 60)
    app = create_app(settings, namespace="bench-posting", plugins=installed)
    async with app.lifespan():
        thread = await seed(app, 20, 10)
        headers = await prepare_alice(app)
        await fill_words(app, words)
        await lift_limit(app, installed)
        path = f"/api/v1/threads/{thread.id}/posts"
        print(f"database: {settings.database_url.split(':')[0]}; {words} watched words")
        print(f"{rounds} rounds x {per_round} replies per configuration, by an established member")
        results: dict[str, dict[str, list[float]]] = {
            label: {"rate": [], "cpu": [], "each": []} for label in ("none", PLUGIN)
        }
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            await post_round(app, client, path, headers, 0, 5)  # warm up, none
            await set_enabled(app, True)
            await post_round(app, client, path, headers, 5, 5)  # warm up, the plugin
            await set_enabled(app, False)
            count = 10
            started = time.perf_counter()
            for round_ in range(rounds):
                order = ("none", PLUGIN) if round_ % 2 == 0 else (PLUGIN, "none")
                for label in order:
                    await set_enabled(app, label == PLUGIN)
                    wall, cpu, each = await post_round(app, client, path, headers, count, per_round)
                    count += per_round
                    results[label]["rate"].append(per_round / wall)
                    results[label]["cpu"].append(cpu / per_round)
                    results[label]["each"].extend(each)
            seconds = time.perf_counter() - started
        none = results["none"]
        print()
        print(
            f"{'configuration':<12} {'posts/s':>8} {'median ms':>9} {'p99 ms':>7} "
            f"{'CPU ms':>7} {'paired % of none (IQR)':>24}"
        )
        for label, figures in results.items():
            paired = [r / n for r, n in zip(figures["rate"], none["rate"], strict=True)]
            low, median, high = statistics.quantiles(paired, n=4)
            each = sorted(figures["each"])
            print(
                f"{label:<12} {statistics.median(figures['rate']):>8.1f} "
                f"{statistics.median(each) * 1000:>9.1f} "
                f"{each[int(len(each) * 0.99) - 1] * 1000:>7.1f} "
                f"{statistics.fmean(figures['cpu']) * 1000:>7.1f} "
                f"{f'{median:.0%} ({low:.0%}-{high:.0%})':>24}"
            )
        load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
        print(f"measured for {seconds:.0f} s on {os.cpu_count()} cores; load average now {load}")
    await app.state.engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--replies", type=int, default=20, help="per configuration and round")
    parser.add_argument("--words", type=int, default=300, help="watched words in the lists")
    arguments = parser.parse_args()
    if arguments.rounds < 2 or arguments.replies < 1 or arguments.words < 0:
        parser.error("--rounds is at least 2, --replies at least 1, --words at least 0")
    installed = Plugins()
    if PLUGIN not in {p.name for p in installed.loaded}:
        raise SystemExit("the moderation plugin is not installed: run make install")
    settings = prepare(installed)  # migrates: outside the event loop
    asyncio.run(main(settings, installed, arguments.rounds, arguments.replies, arguments.words))
