"""Load over loopback, side by side with the floor our stack allows.

Starts the servers itself (the forum on PostgreSQL + Redis with 1 and 2 processes, optionally
the embedded default on SQLite, and the floor: ``bench/floor.py``), loads each page with wrk
for ``--duration`` seconds at ``--connections`` connections, and prints requests per second,
p50 and p99 latency and errors, each beside its target, peak memory per server process, the
live fan-out and the memory run.

    make bench                                   # the defaults below, large demo data
    python bench/load.py --pages thread,long --processes 1 --memory 0 --embedded small

The database (``COMMUNITY_BENCH_DATABASE_URL``, default a PostgreSQL database
``community_bench`` on 127.0.0.1, created when missing) is filled once with ``community demo
--size <size> --seed 1`` (every first-party plugin enabled, the analytics rollup of the last 61
days made) and kept for later runs (drop the database to start over; ``--rollup`` makes the
rollup again); ``--embedded SIZE`` fills ``var/bench-SIZE.db`` the same way. Redis:
``COMMUNITY_BENCH_REDIS_URL`` (default db 9). Needs wrk (Debian: ``apt-get install wrk``).

Pages (``--pages``): ``thread``, page 1 of the longest thread (the megathread: 100,000 posts
in the large demo) as a signed-in member; ``long``, page 5,000 of it; ``home``; ``search``, the
API's, by 1,000 members in turn (one member may search 30 times a minute); ``post``, replies
through the API spread over 200 threads and 1,000 members so no one exceeds their own rate
limit; ``dashboard``, the analytics dashboard (an admin, 2 at a time); ``plugins``, the thread
page again with every plugin disabled (their cost); ``fanout``, ``--clients`` server-sent-event
clients on the thread and replies reaching them (``bench/fanout.py``). Then ``--memory``
requests (page 1 of 200 threads in turn) against one process, its resident memory read every
10,000.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import fanout  # bench/fanout.py, beside this script
import httpx
from sqlalchemy import delete, make_url, text

from community.db import create_engine
from community.testing import CSRF_RE, create_database

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PLUGINS = ("analytics", "beta", "crosspost", "moderation")
SECRET = "bench-secret-key-bench-secret-key-0123456789"
PASSWORD = "demo-password"  # every demo member's
POSTERS = 1_000
POST_THREADS = 200


@dataclass
class Result:
    page: str
    config: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int

    def line(self) -> str:
        return (
            f"  {self.config:<24} {self.page:<10} {self.rps:8.1f} req/s  "
            f"p50 {self.p50_ms:7.1f} ms  p99 {self.p99_ms:7.1f} ms  errors {self.errors}"
        )

    def row(self, target: str, verdict: str) -> str:
        figures = f"{self.rps:.1f} | {self.p50_ms:.1f} | {self.p99_ms:.1f} | {self.errors}"
        return f"| {self.page} | {self.config} | {figures} | {target} | {verdict} |"


# -- servers -----------------------------------------------------------------------------------


def environment(
    database_url: str, redis_url: str | None, var_dir: Path, port: int
) -> dict[str, str]:
    env = {
        **os.environ,
        "COMMUNITY_DATABASE_URL": database_url,
        "COMMUNITY_VAR_DIR": str(var_dir),
        "COMMUNITY_SECRET_KEY": SECRET,
        "COMMUNITY_BASE_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("COMMUNITY_REDIS_URL", None)
    if redis_url:
        env["COMMUNITY_REDIS_URL"] = redis_url
    return env


def community(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "community"), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(f"community {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def serving(
    command: list[str], env: dict[str, str], port: int
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server until the block ends; waits for it to answer on ``port``."""
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code < 500:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"{' '.join(command)} did not start")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def forum(env: dict[str, str], port: int, processes: int) -> list[str]:
    return [str(BIN / "community"), "serve", "--port", str(port), "--workers", str(processes)]


def floor(port: int, processes: int) -> list[str]:
    return [
        str(BIN / "uvicorn"),
        "--factory",
        "bench.floor:create_app",
        "--port",
        str(port),
        "--workers",
        str(processes),
        "--log-level",
        "warning",
    ]


def server_pids(process: subprocess.Popen[bytes]) -> list[int]:
    """The processes serving requests: uvicorn's workers, or the process itself alone."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    found = [int(p) for p in children.read_text().split()] if children.exists() else []
    workers = [pid for pid in found if "multiprocessing" not in _cmdline(pid)]
    return workers or [process.pid]


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def memory_mb(pid: int, field: str = "VmHWM") -> float:
    """Peak (``VmHWM``) or current (``VmRSS``) resident memory of ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- data --------------------------------------------------------------------------------------


async def count_members(database_url: str) -> int | None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as db:
            return int((await db.execute(text("SELECT count(*) FROM members"))).scalar_one())
    except Exception:
        return None
    finally:
        await engine.dispose()


def ensure_data(env: dict[str, str], size: str) -> None:
    """A migrated database with the demo of ``size`` and every plugin enabled (a PostgreSQL
    database is created when missing, through the server's ``postgres`` database)."""
    url = env["COMMUNITY_DATABASE_URL"]
    create_database(url, via=str(make_url(url).set(database="postgres")))
    if (asyncio.run(count_members(env["COMMUNITY_DATABASE_URL"])) or 0) > 1:
        return
    password = Path(env["COMMUNITY_VAR_DIR"]) / "admin-password"
    password.parent.mkdir(parents=True, exist_ok=True)
    password.write_text("bench-admin-password")
    print(f"filling the database: community demo --size {size} --seed 1 ...", flush=True)
    community(env, "init", "--admin-username", "benchadmin", "--admin-password-file", str(password))
    for name in PLUGINS:
        community(env, "plugins", "enable", name)
    community(env, "demo", "--size", size, "--seed", "1")
    print("rolling up the last 61 days of analytics (as the worker's daily job would) ...")
    asyncio.run(roll_up(env["COMMUNITY_DATABASE_URL"], 61))


async def roll_up(database_url: str, days: int) -> None:
    """The analytics rollup of the last ``days`` days, so the dashboard reads it as in
    production (where ``community worker`` runs it every day), then ANALYZE."""
    from community_analytics import rollup

    from community import plugins
    from community.accounts.services import instance_settings
    from community.db import create_sessionmaker
    from community.plugins import Plugins, activated

    engine = create_engine(database_url)
    found = Plugins()
    found.sessionmaker = create_sessionmaker(engine)
    try:
        async with found.sessionmaker() as db:
            site = await instance_settings(db, "Community")
            with activated(found, site):
                settings = plugins.settings("analytics")
                today = rollup.today(settings)
                for n in range(days, 0, -1):
                    await rollup.roll_up_day(db, today - timedelta(days=n), settings)
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


@dataclass
class Fixtures:
    thread_path: str
    thread_id: int
    long_path: str
    """Page 5,000 of the same thread (the megathread: 100,000 posts in the large demo), or its
    last page in a smaller demo."""
    floor_path: str
    read_paths: list[str]
    """Page 1 of 200 threads every member sees: the memory run reads them in turn."""
    search_term: str
    member: str
    readers: list[str]
    """Other members whose sessions the fan-out's clients share."""
    admin: str
    post_threads: list[int]
    tokens: list[str]


async def fixtures(database_url: str) -> Fixtures:
    """What the pages need: a thread of 20 posts or more every member sees, a member and an
    admin of the demo, a search term, threads to reply to and posters' API tokens."""
    from community.accounts import services as accounts
    from community.db import create_sessionmaker

    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine, {})
    async with engine.connect() as db:
        open_to_all = (
            "SELECT t.id, t.slug, t.post_count FROM threads t "
            "JOIN categories c ON c.id = t.category_id "
            "WHERE c.parent_id IS NULL AND NOT EXISTS (SELECT 1 FROM category_permissions p "
            "WHERE p.category_id = c.id AND p.ability = 'see') "
            "AND t.hidden_at IS NULL AND t.held_at IS NULL AND t.locked_at IS NULL "
            "AND t.post_count >= {n} "
            "ORDER BY {order} LIMIT {limit}"
        )
        # The longest thread (the demo's megathread) that every member sees.
        thread_id, slug, length = (
            await db.execute(text(open_to_all.format(n=20, order="t.post_count DESC", limit=1)))
        ).one()
        replied = (
            await db.execute(text(open_to_all.format(n=1, order="t.id", limit=POST_THREADS)))
        ).all()
        member, *readers = (
            await db.scalars(
                text(
                    "SELECT username FROM members WHERE role = 'member' AND suspended_until "
                    "IS NULL AND username <> 'benchadmin' ORDER BY id LIMIT 9"
                )
            )
        ).all()
        # The demo's staff are moderators; the first of them is the bench's admin.
        admin = (
            await db.execute(
                text(
                    "SELECT username FROM members WHERE role IN ('admin', 'moderator') "
                    "AND username <> 'benchadmin' ORDER BY id LIMIT 1"
                )
            )
        ).scalar_one()
        await db.execute(
            text("UPDATE members SET role = 'admin' WHERE username = :u"), {"u": admin}
        )
        await db.commit()
        posters = [
            r[0]
            for r in await db.execute(
                text(
                    "SELECT id FROM members WHERE role = 'member' AND suspended_until IS NULL "
                    f"ORDER BY id LIMIT {POSTERS}"
                )
            )
        ]
    tokens = []
    async with sessionmaker() as session:
        from community.accounts.models import ApiToken, Member

        # The last run's tokens are of no use (only their hashes are kept): made afresh.
        await session.execute(delete(ApiToken).where(ApiToken.name == "bench"))
        for member_id in posters:
            found = await session.get(Member, member_id)
            _, token = await accounts.create_api_token(session, found, "bench")
            tokens.append(token)
    await engine.dispose()
    long_page = min(5000, -(-length // 20))
    return Fixtures(
        thread_path=f"/t/{slug}/{thread_id}?page=1",  # without a page: to where they read
        thread_id=thread_id,
        long_path=f"/t/{slug}/{thread_id}?page={long_page}",
        floor_path=f"/t/{thread_id}",
        read_paths=[f"/t/{r.slug}/{r.id}?page=1" for r in replied],
        search_term="release",
        member=member,
        readers=list(readers),
        admin=admin,
        post_threads=[r.id for r in replied],
        tokens=tokens,
    )


def sign_in(port: int, username: str) -> str:
    """A Cookie header for ``username`` signed in on the server at ``port``."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=True) as client:
        page = client.get("/signin").text
        token = CSRF_RE.search(page)
        client.post(
            "/signin",
            data={
                "username": username,
                "password": PASSWORD,
                "_csrf_token": token.group(1) if token else "",
            },
        )
        if client.get("/").url.path == "/signin":
            sys.exit(f"could not sign in as {username}")
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


# -- load --------------------------------------------------------------------------------------

POST_SCRIPT = """
local tokens = {%(tokens)s}
local threads = {%(threads)s}
local n = 0
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  n = n + 1
  local token = tokens[math.random(#tokens)]
  local thread = threads[math.random(#threads)]
  local body = '{"body": "Bench reply ' .. n .. ' ' .. math.random(1000000000)
    .. ' on the bench."}'
  return wrk.format("POST", "/api/v1/threads/" .. thread .. "/posts",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
"""


READ_SCRIPT = """
local paths = {%(paths)s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
"""


SEARCH_SCRIPT = """
local tokens = {%(tokens)s}
math.randomseed(os.time())
request = function()
  local token = tokens[math.random(#tokens)]
  return wrk.format("GET", "/api/v1/search?q=%(term)s", {["Authorization"] = "Bearer " .. token})
end
"""


def wrk(
    url: str,
    duration: float,
    connections: int,
    headers: dict[str, str] | None = None,
    script: str | None = None,
    warm_up: bool = False,
) -> tuple[float, float, float, int, int]:
    """Requests per second, p50 and p99 in ms, errors (non-2xx/3xx and socket errors) and
    requests made, from one wrk run (a warm-up may finish no request: slow pages)."""
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(int(duration), 1)}s"]
    command += ["--latency"]
    command += ["--timeout", "60s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script or "")
    if script:
        command += ["-s", lua.name]
    done = subprocess.run([*command, url], capture_output=True, text=True, check=False)
    os.unlink(lua.name)
    out = done.stdout
    if not warm_up and ("Requests/sec" not in out or " 0 requests in" in out):
        print(f"    wrk answered nothing usable:\n{out}{done.stderr}", file=sys.stderr)
    rps = float(_find(r"Requests/sec:\s+([\d.]+)", out) or 0)
    p50 = _ms(_find(r"\n\s+50%\s+([\d.]+\w+)", out))
    p99 = _ms(_find(r"\n\s+99%\s+([\d.]+\w+)", out))
    errors = int(_find(r"Non-2xx or 3xx responses: (\d+)", out) or 0)
    socket = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors += sum(int(n) for n in socket.groups()) if socket else 0
    requests = int(_find(r"(\d+) requests in", out) or 0)
    return rps, p50, p99, errors, requests


def _find(pattern: str, text_: str) -> str | None:
    found = re.search(pattern, text_)
    return found.group(1) if found else None


def _ms(value: str | None) -> float:
    if not value:
        return float("nan")
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


# -- the run -----------------------------------------------------------------------------------


def measure_forum(
    config: str,
    env: dict[str, str],
    port: int,
    processes: int,
    found: Fixtures,
    args: argparse.Namespace,
) -> tuple[list[Result], list[float], list[fanout.Fanout]]:
    results = []
    fanouts = []
    with serving(forum(env, port, processes), env, port) as server:
        base = f"http://127.0.0.1:{port}"
        member = {"Cookie": sign_in(port, found.member)}
        admin = {"Cookie": sign_in(port, found.admin)}
        post_script = POST_SCRIPT % {
            "tokens": ", ".join(json.dumps(t) for t in found.tokens),
            "threads": ", ".join(str(t) for t in found.post_threads),
        }
        search_script = SEARCH_SCRIPT % {
            "tokens": ", ".join(json.dumps(t) for t in found.tokens),
            "term": found.search_term,
        }
        pages: list[tuple[str, str, dict[str, str], str | None, int]] = [
            ("thread", f"{base}{found.thread_path}", member, None, args.connections),
            ("long", f"{base}{found.long_path}", member, None, args.connections),
            ("home", f"{base}/", member, None, args.connections),
            ("search", base, {}, search_script, args.connections),
            ("search 1", base, {}, search_script, 1),  # its latency without a queue
            ("post", base, {}, post_script, args.connections),
            # Last, and 2 at a time: 16 reports a request, an admin's page, not a crowd's.
            ("dashboard", f"{base}/p/analytics/", admin, None, 2),
        ]
        for page, url, headers, script, connections in pages:
            if page.split()[0] in args.pages:
                results.append(load(page, config, url, args, headers, script, connections))
        if "plugins" in args.pages:
            # The same thread page with no plugin enabled (read on every request: no restart).
            for name in PLUGINS:
                community(env, "plugins", "disable", name)
            try:
                url = f"{base}{found.thread_path}"
                results.append(load("no plugins", config, url, args, member))
            finally:
                for name in PLUGINS:
                    community(env, "plugins", "enable", name)
        if "fanout" in args.pages:
            cookies = [member["Cookie"]] + [sign_in(port, name) for name in found.readers]
            try:
                outcome = asyncio.run(
                    fanout.run(port, cookies, found.thread_id, found.tokens, clients=args.clients)
                )
            except RuntimeError as failed:  # the other figures are still worth printing
                print(f"  fan-out failed: {failed}", flush=True)
            else:
                print(outcome.line(), flush=True)
                fanouts.append(outcome)
        peaks = [memory_mb(pid) for pid in server_pids(server)]
    return results, peaks, fanouts


def measure_memory(
    env: dict[str, str], port: int, processes: int, found: Fixtures, requests: int
) -> list[tuple[int, list[float]]]:
    """Resident memory of each server process after every ~10,000 of ``requests`` requests
    (page 1 of 200 threads in turn, as several members), in 30-second rounds of wrk."""
    script = READ_SCRIPT % {"paths": ", ".join(json.dumps(p) for p in found.read_paths)}
    marks: list[tuple[int, list[float]]] = []
    with serving(forum(env, port, processes), env, port) as server:
        cookie = {"Cookie": sign_in(port, found.member)}
        pids = server_pids(server)
        done, next_mark = 0, 0
        marks.append((0, [memory_mb(pid, "VmRSS") for pid in pids]))
        while done < requests:
            *_, made = wrk(f"http://127.0.0.1:{port}", 30, 32, cookie, script)
            if made == 0:
                sys.exit("memory run: the server answered nothing")
            done += made
            if done >= next_mark:
                marks.append((done, [memory_mb(pid, "VmRSS") for pid in pids]))
                rss = ", ".join(f"{m:.0f} MB" for m in marks[-1][1])
                print(f"  after {done:,} requests: {rss}", flush=True)
                next_mark = done + 10_000
    return marks


def measure_floor(
    env: dict[str, str],
    port: int,
    processes: int,
    found: Fixtures,
    args: argparse.Namespace,
    beside: str,
) -> Result:
    """The floor on the same database, as many processes as the forum ``beside`` it."""
    config = f"floor ({beside})"
    with serving(floor(port, processes), env, port):
        return load("thread", config, f"http://127.0.0.1:{port}{found.floor_path}", args)


def load(
    page: str,
    config: str,
    url: str,
    args: argparse.Namespace,
    headers: dict[str, str] | None = None,
    script: str | None = None,
    connections: int | None = None,
) -> Result:
    """One page under load, after a two-second warm-up; printed as it comes."""
    connections = connections or args.connections
    wrk(url, 2, min(connections, 8), headers, script, warm_up=True)
    result = Result(page, config, *wrk(url, args.duration, connections, headers, script))
    print(result.line(), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--duration", type=float, default=20, help="seconds per page")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--processes", default="1,2", help="forum processes to try, e.g. 1,2")
    parser.add_argument("--pages", default=",".join(PAGES), help=f"of {','.join(PAGES)}")
    parser.add_argument("--clients", type=int, default=1000, help="fan-out's SSE clients")
    parser.add_argument(
        "--memory", type=int, default=100_000, help="requests of the memory run (0: none)"
    )
    parser.add_argument(
        "--embedded",
        choices=("small", "medium", "large"),
        help="also the embedded default (SQLite, no Redis, 1 process) on a demo of this size",
    )
    parser.add_argument("--port", type=int, default=8310)
    parser.add_argument("--rollup", action="store_true", help="roll up analytics again")
    args = parser.parse_args()
    args.pages = set(args.pages.split(","))
    if unknown := args.pages - set(PAGES):
        parser.error(f"no such page: {', '.join(sorted(unknown))}")
    if shutil.which("wrk") is None:
        sys.exit("bench/load.py needs wrk: apt-get install wrk")
    database_url = os.environ.get(
        "COMMUNITY_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1/community_bench"
    )
    redis_url = os.environ.get("COMMUNITY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
    var_dir = Path(tempfile.mkdtemp(prefix="community-bench-"))
    configs = [
        (f"PostgreSQL, {n} process{'es' if n > 1 else ''}", database_url, redis_url, args.size, n)
        for n in [int(p) for p in args.processes.split(",")]
    ]
    if args.embedded:
        sqlite = f"sqlite+aiosqlite:///{ROOT / 'var' / f'bench-{args.embedded}.db'}"
        configs.append(("SQLite, 1 process", sqlite, None, args.embedded, 1))
    print(f"machine: {os.cpu_count()} cores; wrk -t2 -c{args.connections} -d{args.duration:g}s")
    results: list[Result] = []
    peaks: dict[str, list[float]] = {}
    fanouts: dict[str, list[fanout.Fanout]] = {}
    memory: list[tuple[int, list[float]]] = []
    for config, url, redis, size, processes in configs:
        env = environment(url, redis, var_dir, args.port)
        ensure_data(env, size)
        if args.rollup:
            asyncio.run(roll_up(url, 61))
        found = asyncio.run(fixtures(url))
        print(f"{config}: thread {found.thread_path}, long {found.long_path}")
        results.append(measure_floor(env, args.port + 1, processes, found, args, config))
        measured, peaks[config], fanouts[config] = measure_forum(
            config, env, args.port, processes, found, args
        )
        results += measured
        if args.memory and not memory and redis:
            print(f"memory: {args.memory:,} requests, {config}")
            memory = measure_memory(env, args.port, processes, found, args.memory)
    report(results, peaks, fanouts, memory)


PAGES = ("thread", "long", "home", "search", "post", "dashboard", "plugins", "fanout")
TARGETS = {
    "thread": ">= 40% of the floor, p99 < 150 ms, 0 errors",
    "long": "within 10% of page 1",
    "search": "p50 < 50 ms",
    "search 1": "p50 < 50 ms (one client at a time)",
    "post": ">= 200/s",
    "no plugins": "all plugins cost <= 15%",
}


def verdict(r: Result, by_page: dict[str, Result], floor: Result | None) -> str:
    """The result beside its target: the figure the target is about, and met or missed."""
    thread = by_page.get("thread")
    if r.page == "thread" and floor is not None:
        ratio = r.rps / floor.rps
        met = ratio >= 0.4 and r.p99_ms < 150 and r.errors == 0
        return f"{ratio:.0%} of the floor: {'met' if met else '**missed**'}"
    if r.page == "long" and thread is not None:
        ratio = r.rps / thread.rps
        return f"{ratio:.0%} of page 1: {'met' if ratio >= 0.9 else '**missed**'}"
    if r.errors and r.page.startswith(("search", "post")):
        return f"**missed** ({r.errors} errors: a member's rate limit, with few members?)"
    if r.page.startswith("search"):
        return "met" if r.p50_ms < 50 else "**missed**"
    if r.page == "post":
        return "met" if r.rps >= 200 else "**missed**"
    if r.page == "no plugins" and thread is not None:
        cost = 1 - thread.rps / r.rps
        return f"plugins cost {cost:.0%}: {'met' if cost <= 0.15 else '**missed**'}"
    return ""


def report(
    results: list[Result],
    peaks: dict[str, list[float]],
    fanouts: dict[str, list[fanout.Fanout]],
    memory: list[tuple[int, list[float]]],
) -> None:
    print()
    print("| page | configuration | req/s | p50 ms | p99 ms | errors | target | |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |")
    for config in dict.fromkeys(r.config for r in results if not r.config.startswith("floor")):
        mine = [r for r in results if r.config == config]
        floor = next((r for r in results if r.config == f"floor ({config})"), None)
        by_page = {r.page: r for r in mine}
        if floor is not None:
            print(floor.row("", ""))
        for r in mine:
            print(r.row(TARGETS.get(r.page, ""), verdict(r, by_page, floor)))
    print()
    for config, values in peaks.items():
        print(f"peak memory per process ({config}): " + ", ".join(f"{v:.0f} MB" for v in values))
    for config, outcomes in fanouts.items():
        for outcome in outcomes:
            print(f"{config}:{outcome.line()}")
    if memory:
        half = min(memory, key=lambda mark: abs(mark[0] - memory[-1][0] / 2))
        end = memory[-1]
        growth = max(b - a for a, b in zip(half[1], end[1], strict=True))
        worst = max(end[1])
        met = worst < 200 and growth <= 5
        print(
            f"memory after {end[0]:,} requests: {', '.join(f'{m:.0f} MB' for m in end[1])} "
            f"(after {half[0]:,}: {', '.join(f'{m:.0f} MB' for m in half[1])}); target < 200 MB, "
            f"no growth in the second half: {'met' if met else '**missed**'}"
        )


if __name__ == "__main__":
    main()
