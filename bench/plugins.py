"""What hook dispatch costs on the thread page (issue 4): requests per second for a signed-in
member with no plugin enabled, with every installed plugin enabled, with one synthetic plugin
that implements every hook on a request's path, and with ten copies of it. The spec asks the
realistic configurations for at least 85% of the requests per second of "none".

    python bench/plugins.py                      # SQLite in a temporary folder
    COMMUNITY_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/bench_plugins \\
        python bench/plugins.py                  # an empty PostgreSQL database

Configurations take turns within each round (the order rotates), so that a burst of other work
on the machine lands on all of them rather than on one; ``--rounds`` and ``--requests`` trade
run time for steadier figures.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import httpx
from markupsafe import escape
from seed import prepare, seed, signed_in

from community import hookimpl
from community import plugins as plugin_api
from community.app import create_app
from community.plugins import Manifest, NavItem, Plugins
from community.settings import Settings
from community.web.slots import Slot

POSTS = 400
THREADS = 200
PER_PAGE = 20
COPIES = 10
TARGET = 0.85


# ---------------------------------------------------------------------------------------------
# The synthetic plugin: every hook on a request's path, each doing a little real work


@dataclass
class BusyLog:
    """What a busy plugin's hooks saw, to show they ran."""

    slots: Counter[str] = field(default_factory=Counter)
    visibility: int = 0
    events: list[str] = field(default_factory=list)


def busy_plugin(name: str) -> ModuleType:
    """A plugin module called ``name`` implementing, cheaply, every hook a thread page (or a
    write) calls: slots for every slot, a visibility condition true for all bench threads,
    a nav link, settings read on every slot, an async ``track_event`` and two gates."""
    module = ModuleType(f"bench_{name}")
    seen = BusyLog()

    @dataclass
    class BusySettings:
        label: str = name
        shown: bool = True

    @hookimpl
    def register_settings() -> type:
        return BusySettings

    @hookimpl
    def register_nav_items() -> list[NavItem]:
        return [NavItem(name.capitalize(), f"/p/{name}/")]

    @hookimpl
    def render_slot(slot: Slot, context: dict[str, Any]) -> str | None:
        settings = plugin_api.settings(name)
        seen.slots[slot.name] += 1
        if not settings.shown:
            return None
        return f'<span class="bench">{escape(settings.label)}:{slot.name}</span>'

    @hookimpl
    def visible_threads(member: Any, thread: Any) -> Any:
        seen.visibility += 1
        return thread.id > 0

    @hookimpl
    async def track_event(event: Any) -> None:
        seen.events.append(event.name)

    @hookimpl
    def check_post(member: Any, thread: Any, body: str, editing: bool) -> None:
        return None

    @hookimpl
    def check_thread(member: Any, category: Any, title: str, body: str) -> None:
        return None

    hooks = [
        register_settings,
        register_nav_items,
        render_slot,
        visible_threads,
        track_event,
        check_post,
        check_thread,
    ]
    for hook in hooks:
        setattr(module, hook.__name__, hook)
    module.MANIFEST = Manifest(  # type: ignore[attr-defined]
        name=name,
        version="1.0",
        description="Bench: implements every request-path hook, cheaply.",
        api=">=1.0,<2",
        capabilities={"settings", "nav", "slots", "visibility", "events", "gates"},
    )
    module.seen = seen  # type: ignore[attr-defined]
    return module


# ---------------------------------------------------------------------------------------------
# Data and configurations


@dataclass
class Configuration:
    label: str
    app: Any
    names: list[str]
    """The plugins this configuration enables (all of its manager's loaded plugins)."""
    judged: bool
    """Whether the 85% target applies (the realistic configurations)."""
    client: httpx.AsyncClient | None = None
    wall: list[float] = field(default_factory=list)
    """Seconds each measured request took."""
    cpu: list[float] = field(default_factory=list)
    """CPU seconds this process spent on each (all its threads: aiosqlite's too)."""
    rounds: list[float] = field(default_factory=list)
    """Requests per second in each round."""
    served: int = 0
    """Requests served, warm-up ones included."""

    @property
    def per_second(self) -> float:
        return len(self.wall) / sum(self.wall)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.wall) * 1000

    @property
    def cpu_ms(self) -> float:
        return statistics.fmean(self.cpu) * 1000


async def set_enabled(config: Configuration, enabled: bool) -> None:
    """Enable or disable the configuration's plugins as an admin would (instance settings,
    read again by every request)."""
    async with config.app.state.sessionmaker() as db:
        for name in config.names:
            await plugin_api.set_enabled(db, config.app.state.plugins, name, enabled)


async def fetch(client: httpx.AsyncClient, path: str) -> tuple[float, float, str]:
    """Wall and CPU seconds for one page, and the page."""
    started, cpu = time.perf_counter(), time.process_time()
    response = await client.get(path)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert response.status_code == 200, (path, response.status_code)
    return wall, cpu, response.text


# ---------------------------------------------------------------------------------------------
# The run


async def main(
    settings: Settings, installed: Plugins, rounds: int, requests: int, warmup: int
) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    found = [p.name for p in installed.loaded]
    refused = {p.name: p.refused for p in installed.installed.values() if not p.loaded}

    one = busy_plugin("busy1")
    copies = [one] + [busy_plugin(f"busy{n}") for n in range(2, COPIES + 1)]
    production = create_app(settings, namespace="bench-installed", plugins=installed)
    configs = [Configuration("(a) none", production, [], judged=False)]
    if found:
        configs.append(Configuration("(b) installed, all on", production, found, judged=True))
    single = create_app(
        settings, namespace="bench-busy", plugins=Plugins(modules=[one], discover=False)
    )
    configs.append(Configuration("(c) busy x1", single, ["busy1"], judged=True))
    many = create_app(
        settings, namespace="bench-busy10", plugins=Plugins(modules=copies, discover=False)
    )
    names = [m.MANIFEST.name for m in copies]
    configs.append(Configuration(f"(d) busy x{COPIES}", many, names, judged=False))
    for app in (single, many):
        refusals = [p.refused for p in app.state.plugins.installed.values() if not p.loaded]
        assert not refusals, refusals

    thread = await seed(production, POSTS, THREADS)
    async with many.state.sessionmaker() as db:
        for name in names:
            await plugin_api.save_settings(
                db, many.state.plugins, name, {"label": name.upper(), "shown": "on"}
            )
    middle_page = POSTS // PER_PAGE // 2
    paths = [f"{thread.url}?page=1", f"{thread.url}?page={middle_page}"]

    print(f"database: {settings.database_url.split(':')[0]}, {POSTS} posts, {THREADS} threads")
    print(f"installed plugins (entry points {plugin_api.ENTRY_POINT_GROUP!r}): ", end="")
    print(", ".join(found) if found else "none")
    for name, reason in refused.items():
        print(f"  refused {name}: {reason}")
    if not found:
        print("(b) skipped: no plugin is installed (make install installs plugins/<name>/)")
    print(
        f"pages: {paths[0]} and {paths[1]}; {rounds} rounds x {requests} requests "
        f"per configuration, {warmup} warm-up requests each round"
    )

    for config in configs:
        config.client = await signed_in(config.app)
    started = time.perf_counter()
    for round_ in range(rounds):
        shift = round_ % len(configs)
        for config in configs[shift:] + configs[:shift]:
            assert config.client is not None
            await set_enabled(config, True)
            for n in range(warmup):
                *_, html = await fetch(config.client, paths[n % 2])
            config.served += warmup + requests
            for name in config.names:
                if name.startswith("busy"):
                    assert f"{name.upper()}:post_footer" in html, name
            spent = 0.0
            for n in range(requests):
                wall, cpu, _ = await fetch(config.client, paths[n % 2])
                config.wall.append(wall)
                config.cpu.append(cpu)
                spent += wall
            config.rounds.append(requests / spent)
            await set_enabled(config, False)
    seconds = time.perf_counter() - started

    none = configs[0]
    print()
    print(
        f"{'configuration':<22} {'plugins':>7} {'req/s':>6} {'median ms':>9} {'% of none':>9} "
        f"{'paired % (IQR)':>16} {'CPU ms':>6} {'CPU %':>6}  verdict"
    )
    for config in configs:
        paired = [r / n for r, n in zip(config.rounds, none.rounds, strict=True)]
        low, median, high = statistics.quantiles(paired, n=4) if len(paired) > 1 else paired * 3
        verdict = ("PASS" if median >= TARGET else "FAIL") if config.judged else "-"
        print(
            f"{config.label:<22} {len(config.names):>7} {config.per_second:>6.1f} "
            f"{config.median_ms:>9.1f} {config.per_second / none.per_second:>9.1%} "
            f"{f'{median:.0%} ({low:.0%}-{high:.0%})':>16} {config.cpu_ms:>6.1f} "
            f"{none.cpu_ms / config.cpu_ms:>6.1%}  {verdict}"
        )
    print(
        "% of none: all measured requests; paired %: each round's requests/s over the same "
        "round's none,\nmedian and quartiles; CPU %: none's CPU ms per request over this one's; "
        f"verdict: paired median against {TARGET:.0%}"
    )
    served = sum(c.served for c in configs if "busy1" in c.names)
    slots = ", ".join(f"{slot} {count / served:g}" for slot, count in one.seen.slots.items())
    print(
        f"\nbusy1 hook calls per request: {slots}; visible_threads "
        f"{one.seen.visibility / served:g}; track_event {len(one.seen.events)} in all"
    )
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"measured for {seconds:.0f} s on {os.cpu_count()} cores; load average now {load}")
    for config in configs:
        assert config.client is not None
        await config.client.aclose()
    for app in {id(c.app): c.app for c in configs}.values():
        await app.state.engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=48)
    parser.add_argument("--requests", type=int, default=10, help="per configuration and round")
    parser.add_argument("--warmup", type=int, default=2, help="per configuration and round")
    arguments = parser.parse_args()
    if arguments.warmup < 1:
        parser.error("--warmup must be at least 1: warm-up answers are checked")
    installed = Plugins()
    settings = prepare(installed)
    asyncio.run(main(settings, installed, arguments.rounds, arguments.requests, arguments.warmup))
