"""Two ``community serve`` processes and one ``community worker`` on one PostgreSQL and one
Redis, started as a deployment starts them: whichever process a request reaches, the site
behaves as one. A session made on one server is valid on the other, a post made through one
reaches a live page served by the other within a second, a scheduled job runs once, and rate
limits count across both.

The processes use the fixed Redis namespace ``community`` on the suite's Redis, where other
tests' servers (``tests/test_live.py``) may run at the same time: every id in this test's
database starts at a random number, so that their keys, SAQ queue entries (``<row id>:<try>``)
and live channels (``community:thread:<id>``) never meet ours.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from community.app import job_registry
from community.db import create_engine, create_sessionmaker
from community.jobs import DONE, OutboxJob, ScheduleRun, enqueue
from community.plugins import Plugins
from community.ratelimit import LIMITS
from community.settings import load_settings
from community.testing import CSRF_RE, PASSWORD, create_database, reset_database, test_env

DATABASE_URL = os.environ.get("COMMUNITY_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("COMMUNITY_TEST_REDIS_URL", "")
COMMUNITY = str(Path(sys.executable).parent / "community")
START_SECONDS = 60
"""How long a process may take to start (migrations ran before, so it is mostly imports)."""

pytestmark = pytest.mark.skipif(
    not (DATABASE_URL and make_url(DATABASE_URL).get_backend_name() == "postgresql" and REDIS_URL),
    reason="several processes share one site only on PostgreSQL and Redis: set "
    "COMMUNITY_TEST_DATABASE_URL (postgresql://...) and COMMUNITY_TEST_REDIS_URL",
)


async def test_two_servers_and_a_worker_act_as_one_site(tmp_path: Path) -> None:
    env = test_env(tmp_path / "var")
    env["COMMUNITY_REDIS_URL"] = REDIS_URL
    database_url = _own_database(load_settings(env).database_url)
    env["COMMUNITY_DATABASE_URL"] = database_url
    await asyncio.to_thread(create_database, database_url, DATABASE_URL)
    await asyncio.to_thread(reset_database, database_url)
    engine = create_engine(database_url)
    try:
        await _start_ids_at_random(engine)
        username = "admin" + secrets.token_hex(4)  # the sign-in limits count per username
        first, second = _free_port(), _free_port()
        a, b = f"http://127.0.0.1:{first}", f"http://127.0.0.1:{second}"
        commands = {
            "serve-a": ["serve", "--host", "127.0.0.1", "--port", str(first)],
            "serve-b": ["serve", "--host", "127.0.0.1", "--port", str(second)],
            "worker": ["worker"],
        }
        with _running(commands, env, tmp_path):
            # The database is migrated: the admin is made while the processes start.
            await asyncio.gather(
                asyncio.to_thread(_make_admin, env, tmp_path, username),
                _healthy(a, tmp_path),
                _healthy(b, tmp_path),
            )
            auth = {"Authorization": f"Bearer {await _api_token(a, username)}"}
            async with (
                httpx.AsyncClient(base_url=a, timeout=10) as browser_a,
                httpx.AsyncClient(base_url=b, timeout=10) as browser_b,
                httpx.AsyncClient(base_url=a, timeout=10, headers=auth) as api_a,
                httpx.AsyncClient(base_url=b, timeout=10, headers=auth) as api_b,
            ):
                await _check_sessions(browser_a, browser_b, username)
                await _check_live(api_a, browser_b)
                await _check_jobs_run_once(engine, tmp_path)
                await _check_rate_limits(api_a, api_b)
                await _check_sign_out(browser_a, browser_b)
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------------------------
# The checks


async def _check_sessions(a: httpx.AsyncClient, b: httpx.AsyncClient, username: str) -> None:
    """Signed in through the form, with the form served by B and posted to A (no sticky
    sessions), then a members-only page of B knows the member."""
    anonymous = await b.get("/settings")
    assert anonymous.status_code in (302, 303), "the page must be members-only for this check"
    assert anonymous.headers["location"].startswith("/signin")

    form = await b.get("/signin")
    match = CSRF_RE.search(form.text)
    assert match, "no CSRF field on /signin"
    a.cookies = b.cookies
    signed = await a.post(
        "/signin",
        data={"username": username, "password": PASSWORD, "_csrf_token": match.group(1)},
    )
    assert signed.status_code in (302, 303), f"A refused B's sign-in form: {signed.status_code}"
    assert not signed.headers["location"].startswith("/signin")

    b.cookies = a.cookies
    page = await b.get("/settings")
    assert page.status_code == 200, (
        f"B does not know A's session: {page.status_code} {page.headers.get('location')}"
    )
    assert f"Username: <strong>{username}</strong>" in page.text


async def _check_live(api_a: httpx.AsyncClient, browser_b: httpx.AsyncClient) -> None:
    """A reply posted through A reaches a live stream held open on B within a second."""
    category = await api_a.post("/api/v1/categories", json={"name": "General"})
    assert category.status_code == 201, category.text
    thread = await api_a.post(
        "/api/v1/threads",
        json={"category_id": category.json()["id"], "title": "Across", "body": "The first."},
    )
    assert thread.status_code == 201, thread.text
    thread_id = thread.json()["id"]

    async with browser_b.stream("GET", "/live", params={"thread": thread_id}) as stream:
        assert stream.status_code == 200
        events = _sse(stream.aiter_lines())
        # "ready" comes once B has subscribed: a post before it could not be heard.
        assert await asyncio.wait_for(anext(events), 10) == ("ready", "")
        reply = await api_a.post(f"/api/v1/threads/{thread_id}/posts", json={"body": "Hello B"})
        answered = time.monotonic()
        assert reply.status_code == 201, reply.text
        expected = ("post", str(reply.json()["number"]))
        try:
            async with asyncio.timeout(5):
                async for event in events:
                    if event == expected:
                        break
        except TimeoutError:
            raise AssertionError(f"B's stream never heard {expected} posted on A") from None
        delay = time.monotonic() - answered
    assert delay < 1.0, f"the post reached B {delay:.2f} s after A answered"


async def _check_jobs_run_once(engine: AsyncEngine, tmp_path: Path) -> None:
    """Every schedule fired once per due time although three processes fire schedules, and
    every job ran once although three processes relay due jobs to the queue: done, on its
    first attempt. Jobs enqueued here become due together, while all three relays poll."""
    registry = job_registry(Plugins())
    assert registry.schedules, "no schedules: install the first-party plugins (make install)"
    schedule = min(registry.schedules.values(), key=lambda s: s.name)
    async with create_sessionmaker(engine)() as db:
        for _ in range(5):
            await enqueue(db, schedule.job, delay=1, **schedule.payload)
        await db.commit()

    deadline = time.monotonic() + 30
    while True:
        async with engine.connect() as connection:
            # One snapshot: a schedule's run and its job are inserted in one transaction.
            await connection.execution_options(isolation_level="REPEATABLE READ")
            async with connection.begin():
                rows = (await connection.execute(select(OutboxJob))).all()
                runs = (await connection.execute(select(ScheduleRun))).all()
        if rows and all(row.state == DONE for row in rows):
            break
        if time.monotonic() > deadline:
            states = Counter((row.name, row.state, row.attempts) for row in rows)
            raise AssertionError(f"jobs not all done after 30 s: {states}\n{_tail(tmp_path)}")
        await asyncio.sleep(0.2)

    assert [(row.id, row.attempts) for row in rows if row.attempts != 1] == []
    fired = Counter(run.schedule for run in runs)
    assert set(fired) == set(registry.schedules), "a schedule never fired"
    expected = Counter[str]()
    for name, count in fired.items():
        expected[registry.schedules[name].job] += count
    expected[schedule.job] += 5
    assert Counter(row.name for row in rows) == expected


async def _check_rate_limits(api_a: httpx.AsyncClient, api_b: httpx.AsyncClient) -> None:
    """Searches alternate between A and B: the one past the limit is refused, whichever
    process gets it."""
    limit = LIMITS["search"]
    left = limit.seconds - time.time() % limit.seconds
    if left < 10:  # a fixed window: a new one starting halfway would reset the count
        await asyncio.sleep(left + 0.2)
    statuses = []
    for attempt in range(limit.count + 1):
        api = api_a if attempt % 2 == 0 else api_b
        response = await api.get("/api/v1/search", params={"q": "hello"})
        statuses.append(response.status_code)
    assert statuses == [200] * limit.count + [429], statuses
    assert response.json()["error"] == "rate_limited"


async def _check_sign_out(a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    """Signing out on B ends the session everywhere: A, still sent the old session cookie (its
    own copy), no longer knows it."""
    page = await b.get("/settings")
    match = CSRF_RE.search(page.text)
    assert match, "no CSRF field on /settings"
    out = await b.post("/signout", data={"_csrf_token": match.group(1)})
    assert out.status_code in (302, 303), out.status_code
    after = await a.get("/settings")
    assert after.status_code in (302, 303), "the session still works on A after signing out on B"


# ---------------------------------------------------------------------------------------------
# Helpers


def _own_database(database_url: str) -> str:
    """This test's own database, next to the suite's: ``test`` becomes ``test_procs``."""
    url = make_url(database_url)
    name = make_url(DATABASE_URL).database
    return url.set(database=f"{name}_procs").render_as_string(hide_password=False)


async def _start_ids_at_random(engine: AsyncEngine) -> None:
    """Every table's ids start at one random number (see the module's docstring)."""
    start = 1_000_000 + secrets.randbelow(1_000_000_000)
    async with engine.begin() as connection:
        names = await connection.scalars(
            text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
        )
        for name in list(names):
            await connection.execute(
                text("SELECT setval(:name, :start)"), {"name": name, "start": start}
            )


def _make_admin(env: dict[str, str], tmp_path: Path, username: str) -> None:
    """The admin, made by ``community init`` as an operator makes it."""
    password_file = tmp_path / "admin-password"
    password_file.write_text(PASSWORD)
    _command(env, "init", "--admin-username", username, "--admin-password-file", str(password_file))


async def _api_token(url: str, username: str) -> str:
    """A new API token of ``username``, from the server at ``url``."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await client.post(
            "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
        )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def _command(env: dict[str, str], *args: str) -> str:
    """Run ``community <args>`` to the end; its output."""
    done = subprocess.run(
        [COMMUNITY, *args], env=_process_env(env), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"community {' '.join(args)}: {done.stderr}"
    return done.stdout


def _process_env(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without its ``COMMUNITY_*`` variables, then ``env``."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("COMMUNITY_")}
    return {**inherited, **env}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _running(commands: dict[str, list[str]], env: dict[str, str], logs: Path) -> Iterator[None]:
    """Each ``community <args>`` of ``commands`` running, its output in ``<logs>/<name>.log``;
    all stopped (each one's whole process group, killed if it lingers) when the block ends,
    however it ends."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, args in commands.items():
            with open(logs / f"{name}.log", "wb") as log:
                processes.append(
                    subprocess.Popen(
                        [COMMUNITY, *args],
                        env=_process_env(env),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # a process group: nothing it starts outlives it
                    )
                )
        yield
    finally:
        for process in processes:
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes:
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pid, sig)


async def _healthy(url: str, logs: Path) -> None:
    """Wait until the server at ``url`` answers ``/healthz`` with Redis reachable."""
    deadline = time.monotonic() + START_SECONDS
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                response = await client.get(f"{url}/healthz")
                if response.status_code == 200 and response.json()["redis"] == "ok":
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} not healthy after {START_SECONDS} s:\n{_tail(logs)}")


def _tail(logs: Path) -> str:
    """The end of each process's log, for a failure's message."""
    return "\n".join(
        f"--- {path.name}:\n{path.read_text()[-2000:]}" for path in sorted(logs.glob("*.log"))
    )


async def _sse(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """The named (event, data) messages of a server-sent event stream (comments skipped)."""
    event, data = "", ""
    async for line in lines:
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data = line.removeprefix("data:").strip()
        elif not line:
            if event:
                yield event, data
            event, data = "", ""
