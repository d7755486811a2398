"""Background jobs: the outbox, the embedded runner, SAQ on Redis, retries, dead letters,
schedules and the admin page. Run as a script, this module is the worker the kill test starts.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from community.admin import jobs as admin_jobs
from community.db import create_engine, create_sessionmaker, utcnow
from community.events import DISPATCH, MembersNotified, emit
from community.jobs import (
    DEAD,
    DONE,
    PENDING,
    RUNNING,
    Job,
    JobContext,
    JobRegistry,
    JobRunner,
    OutboxJob,
    Schedule,
    ScheduleRun,
    enqueue,
    prune,
    retry_delay,
    run_worker,
    start_runner,
)
from community.settings import Settings, load_settings
from community.testing import browser, eventually, make_member, post_form, sign_in

effects = Table(
    "test_job_effects",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("tag", String(100), nullable=False),
    Column("attempt", Integer, nullable=False),
)
"""What test jobs write: outside the models, made and dropped around each test."""


async def record(
    ctx: JobContext,
    tag: str,
    fail_until: int = 0,
    sleep: float = 0,
    commit: bool = False,
    marker_dir: str | None = None,
    follow_up: str | None = None,
) -> None:
    """Write an effect row (and maybe enqueue a follow-up job), then maybe commit (as services
    do), sleep, or fail."""
    await ctx.db.execute(effects.insert().values(tag=tag, attempt=ctx.attempt))
    emit(ctx.db, MembersNotified((ctx.attempt,)))
    if follow_up:
        await enqueue(ctx.db, "test.record", delay=3600, tag=follow_up)
    if commit:
        await ctx.db.commit()
    if marker_dir:
        (Path(marker_dir) / f"{ctx.job_id}-{ctx.attempt}").touch()
    if sleep:
        await asyncio.sleep(sleep)
    if ctx.attempt <= fail_until:
        raise RuntimeError(f"failing on purpose on attempt {ctx.attempt}")


def registry(*schedules: Schedule, backoff: float = 0.05) -> JobRegistry:
    jobs = JobRegistry()
    jobs.add_job(Job("test.record", record, retries=2, backoff=backoff, timeout=3))
    jobs.add_job(Job("test.quick_timeout", record, retries=1, backoff=0.05, timeout=0.2))
    jobs.add_job(Job("test.short", record, retries=1, backoff=0.05, timeout=0.5))
    for schedule in schedules:
        jobs.add_schedule(schedule)
    return jobs


@pytest.fixture(autouse=True)
async def own_runners_only(app: Litestar) -> None:
    """Stop the app's own runner: these tests drive runners of their own, and the app's would
    relay their rows to SAQ when Redis is configured."""
    await app.state.job_runner.stop()


@pytest.fixture
async def effect_table(app: Litestar) -> AsyncIterator[None]:
    async with app.state.engine.begin() as connection:
        await connection.run_sync(effects.metadata.drop_all)
        await connection.run_sync(effects.metadata.create_all)
    yield
    async with app.state.engine.begin() as connection:
        await connection.run_sync(effects.metadata.drop_all)


def runner(app: Litestar, jobs: JobRegistry, **options: Any) -> JobRunner:
    return JobRunner(app.state.sessionmaker, jobs, app.state.settings, lease_grace=0.3, **options)


@asynccontextmanager
async def started(
    app: Litestar,
    jobs: JobRegistry,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    grace: float = 5.0,
) -> AsyncIterator[JobRunner]:
    running = await start_runner(
        sessionmaker or app.state.sessionmaker,
        jobs,
        app.state.settings,
        poll_interval=0.05,
        lease_grace=0.3,
    )
    try:
        yield running
    finally:
        await running.stop(grace)


async def add_job(app: Litestar, name: str = "test.record", **payload: Any) -> int:
    async with app.state.sessionmaker() as db:
        await enqueue(db, name, **payload)
        await db.commit()
        return await db.scalar(select(func.max(OutboxJob.id)))


async def job_row(app: Litestar, job_id: int) -> OutboxJob:
    async with app.state.sessionmaker() as db:
        row = await db.get(OutboxJob, job_id)
        assert row is not None
        return row


async def outbox(app: Litestar) -> list[OutboxJob]:
    async with app.state.sessionmaker() as db:
        return list(await db.scalars(select(OutboxJob).order_by(OutboxJob.id)))


async def effect_rows(app: Litestar) -> list[tuple[str, int]]:
    async with app.state.sessionmaker() as db:
        rows = await db.execute(select(effects.c.tag, effects.c.attempt).order_by(effects.c.id))
        return [(tag, attempt) for tag, attempt in rows]


async def make_due(app: Litestar, job_id: int) -> None:
    """Skip the backoff: the row is due now."""
    async with app.state.sessionmaker() as db:
        await db.execute(update(OutboxJob).where(OutboxJob.id == job_id).values(run_after=utcnow()))
        await db.commit()


# ---------------------------------------------------------------------------------------------
# Registry and enqueue


def test_registry_refuses_duplicates_and_bad_schedules() -> None:
    jobs = registry()
    with pytest.raises(ValueError, match="already registered"):
        jobs.add_job(Job("test.record", record))
    with pytest.raises(ValueError, match="no job named"):
        jobs.add_schedule(Schedule("nightly", job="test.missing", every=60))
    with pytest.raises(ValueError, match="exactly one"):
        Schedule("both", job="test.record", every=60, cron="* * * * *")
    with pytest.raises(ValueError, match="five-field"):
        Schedule("bad", job="test.record", cron="every tuesday")
    jobs.add_schedule(Schedule("nightly", job="test.record", cron="30 3 * * *"))
    with pytest.raises(ValueError, match="already registered"):
        jobs.add_schedule(Schedule("nightly", job="test.record", every=60))
    assert "test.record" in jobs and "test.missing" not in jobs


def test_schedule_due_times() -> None:
    now = datetime(2026, 11, 30, 10, 47, 12, tzinfo=UTC)
    assert Schedule("a", job="j", every=900).due_at(now) == datetime(
        2026, 11, 30, 10, 45, tzinfo=UTC
    )
    assert Schedule("b", job="j", cron="30 3 * * *").due_at(now) == datetime(
        2026, 11, 30, 3, 30, tzinfo=UTC
    )


def test_retry_delay_doubles_with_jitter() -> None:
    for attempt in (1, 2, 3, 4):
        for _ in range(50):
            delay = retry_delay(10, attempt)
            assert 5 * 2 ** (attempt - 1) <= delay <= 15 * 2 ** (attempt - 1)


async def test_enqueue_in_a_rolled_back_transaction_leaves_nothing(app: Litestar) -> None:
    async with app.state.sessionmaker() as db:
        await enqueue(db, "test.record", tag="lost")
        await db.rollback()
    assert await outbox(app) == []

    async with app.state.sessionmaker() as db:
        await enqueue(db, "test.record", delay=60, tag="kept")
        await db.commit()
    (row,) = await outbox(app)
    assert (row.name, row.payload, row.state, row.attempts) == (
        "test.record",
        {"tag": "kept"},
        PENDING,
        0,
    )
    assert row.run_after > utcnow() + timedelta(seconds=50)


async def test_a_dedupe_key_is_unique_while_the_job_waits(
    app: Litestar, effect_table: None
) -> None:
    for _ in range(2):
        async with app.state.sessionmaker() as db:
            await enqueue(db, "test.record", key="thread-42", tag="first")
            await enqueue(db, "test.record", key="thread-42", tag="second")
            await db.commit()
    assert [row.payload["tag"] for row in await outbox(app)] == ["first"]
    assert await runner(app, registry()).run_next()
    async with app.state.sessionmaker() as db:  # done: the key is free again
        await enqueue(db, "test.record", key="thread-42", tag="third")
        await db.commit()
    assert [row.payload["tag"] for row in await outbox(app)] == ["first", "third"]


# ---------------------------------------------------------------------------------------------
# Running


async def test_a_committed_job_runs_once_right_after_the_commit(
    app: Litestar, effect_table: None
) -> None:
    async with started(app, registry()) as running:
        running.poll_interval = 60  # only the after-commit wake-up can start it in time
        await asyncio.sleep(0.1)
        job_id = await add_job(app, tag="hello")
        row = await eventually(lambda: _in_state(app, job_id, DONE), within=5)
        await asyncio.sleep(0.2)
    assert await effect_rows(app) == [("hello", 1)]
    assert (row.attempts, row.locked_by, row.last_error) == (1, None, None)
    assert row.finished_at is not None


async def _in_state(app: Litestar, job_id: int, state: str) -> OutboxJob | None:
    row = await job_row(app, job_id)
    return row if row.state == state else None


async def test_work_and_done_mark_commit_together(app: Litestar, effect_table: None) -> None:
    """The job writes a row, commits as a service would, then raises: nothing is kept."""
    heard: list[Any] = []
    sessionmaker = create_sessionmaker(app.state.engine, {DISPATCH: heard.extend})
    # A long backoff: the retry waits for make_due, however slow the machine.
    jobs = JobRunner(sessionmaker, registry(backoff=60), app.state.settings)
    job_id = await add_job(app, tag="once", fail_until=1, commit=True, follow_up="next")

    assert await jobs.run_next()
    row = await job_row(app, job_id)
    assert (row.state, row.attempts) == (PENDING, 1)
    assert "RuntimeError: failing on purpose on attempt 1" in (row.last_error or "")
    assert row.error_summary == "RuntimeError: failing on purpose on attempt 1"
    assert row.run_after > row.failed_at  # type: ignore[operator]
    assert await effect_rows(app) == []
    assert len(await outbox(app)) == 1  # nor the job it enqueued
    assert heard == []  # events of work that did not commit are never told

    assert not await jobs.run_next()  # backing off
    await make_due(app, job_id)
    assert await jobs.run_next()
    row = await job_row(app, job_id)
    assert (row.state, row.attempts) == (DONE, 2)
    assert await effect_rows(app) == [("once", 2)]
    assert heard == [MembersNotified((2,))]
    assert [row.payload.get("tag") for row in await outbox(app)] == ["once", "next"]


async def test_a_job_that_is_not_atomic_holds_no_transaction_while_it_waits(
    app: Litestar, effect_table: None
) -> None:
    """Its work commits as it goes: while it waits (on the network, say) others read what it
    wrote and write themselves (on SQLite no write lock is held); the done mark follows."""
    waiting, go_on = asyncio.Event(), asyncio.Event()

    async def patient(ctx: JobContext) -> None:
        await ctx.db.execute(effects.insert().values(tag="before", attempt=ctx.attempt))
        await ctx.db.commit()
        waiting.set()
        await go_on.wait()
        await ctx.db.execute(effects.insert().values(tag="after", attempt=ctx.attempt))

    jobs = JobRegistry()
    jobs.add_job(Job("test.patient", patient, atomic=False, timeout=10))
    job_id = await add_job(app, "test.patient")
    running = asyncio.create_task(runner(app, jobs).run_next())
    await asyncio.wait_for(waiting.wait(), 10)
    assert await effect_rows(app) == [("before", 1)]
    async with app.state.sessionmaker() as db:  # a writer meanwhile is not locked out
        await db.execute(effects.insert().values(tag="meanwhile", attempt=0))
        await db.commit()
    assert (await job_row(app, job_id)).state == RUNNING
    go_on.set()
    assert await asyncio.wait_for(running, 10)
    assert [tag for tag, _ in await effect_rows(app)] == ["before", "meanwhile", "after"]
    assert (await job_row(app, job_id)).state == DONE


async def test_failures_back_off_then_the_job_is_dead(app: Litestar, effect_table: None) -> None:
    jobs = runner(app, registry())
    job_id = await add_job(app, tag="doomed", fail_until=99)
    for attempt in (1, 2):
        assert await jobs.run_next()
        row = await job_row(app, job_id)
        assert (row.state, row.attempts) == (PENDING, attempt)
        assert row.failed_at is not None
        wait = (row.run_after - row.failed_at).total_seconds()
        assert 0.025 * 2 ** (attempt - 1) <= wait <= 0.075 * 2 ** (attempt - 1) + 0.01
        await make_due(app, job_id)
    assert await jobs.run_next()
    row = await job_row(app, job_id)
    assert (row.state, row.attempts) == (DEAD, 3)  # the first try and retries=2
    assert row.finished_at is not None and "attempt 3" in (row.last_error or "")
    assert not await jobs.run_next()
    assert await effect_rows(app) == []


async def test_a_timed_out_job_is_a_failure(app: Litestar, effect_table: None) -> None:
    job_id = await add_job(app, "test.quick_timeout", tag="slow", sleep=5)
    assert await runner(app, registry()).run_next()
    row = await job_row(app, job_id)
    assert (row.state, row.attempts) == (PENDING, 1)
    assert row.error_summary == "TimeoutError: the job ran longer than 0.2 s"
    assert await effect_rows(app) == []


async def test_an_unknown_job_waits_and_does_not_stop_the_runner(
    app: Litestar, effect_table: None
) -> None:
    unknown = await add_job(app, "uninstalled.plugin_job", tag="orphan")
    async with started(app, registry()) as running:
        known = await add_job(app, tag="known")
        await eventually(lambda: _in_state(app, known, DONE))
        await running.run_row(unknown, 0)  # as SAQ would hand it over
        assert running._loop_task is not None and not running._loop_task.done()
    row = await job_row(app, unknown)
    assert (row.state, row.attempts, row.last_error) == (PENDING, 0, None)
    assert await effect_rows(app) == [("known", 1)]


async def test_a_stopping_runner_lets_a_running_job_finish(
    app: Litestar, effect_table: None
) -> None:
    job_id = await add_job(app, tag="finishing", sleep=0.5)
    async with started(app, registry()) as running:
        await eventually(lambda: _in_state(app, job_id, RUNNING))
        stopping = asyncio.create_task(running.stop())
        await asyncio.sleep(0.1)
        later = await add_job(app, tag="not started")
        running.wake()
        await stopping
    assert running._loop_task is None and not running._running
    assert (await job_row(app, job_id)).state == DONE
    assert (await job_row(app, later)).state == PENDING  # nothing is claimed once stopping
    assert await effect_rows(app) == [("finishing", 1)]


async def test_a_stopping_runner_gives_back_the_jobs_still_running_after_the_grace(
    app: Litestar, effect_table: None
) -> None:
    job_id = await add_job(app, tag="interrupted", sleep=10)
    async with started(app, registry(), grace=0.2):
        await eventually(lambda: _in_state(app, job_id, RUNNING))
        await asyncio.sleep(0.1)
    row = await job_row(app, job_id)
    assert (row.state, row.attempts, row.locked_by) == (PENDING, 0, None)
    assert await effect_rows(app) == []


async def test_a_job_whose_process_died_is_claimed_again(app: Litestar, effect_table: None) -> None:
    """In-process: a claim whose runner vanished; its lease (timeout 0.5 s + 0.3 s) runs out."""
    job_id = await add_job(app, "test.short", tag="orphaned")
    assert await runner(app, registry(), worker_id="vanished").claim() is not None
    survivor = runner(app, registry())
    assert not await survivor.run_next()  # the lease still holds
    await asyncio.sleep(1.2)
    assert await survivor.run_next()
    row = await job_row(app, job_id)
    assert (row.state, row.attempts) == (DONE, 2)
    assert await effect_rows(app) == [("orphaned", 2)]


async def test_a_job_that_keeps_killing_its_process_ends_up_dead(
    app: Litestar, effect_table: None
) -> None:
    job_id = await add_job(app, "test.short", tag="poison")
    for attempt in (1, 2):  # the first try and its one retry both vanish mid-run
        assert await runner(app, registry(), worker_id=f"vanished-{attempt}").claim()
        await asyncio.sleep(1.2)
    assert await runner(app, registry()).run_next()
    row = await job_row(app, job_id)
    assert (row.state, row.attempts) == (DEAD, 3)
    assert row.error_summary == "RuntimeError: attempt 2 was interrupted; no tries left"
    assert await effect_rows(app) == []


# ---------------------------------------------------------------------------------------------
# Schedules and pruning


async def test_a_schedule_fires_once_across_runners(app: Litestar, effect_table: None) -> None:
    hourly = Schedule("test.hourly", job="test.record", every=3600, payload={"tag": "tick"})
    await clear_of_the_hour()
    other_engine = create_engine(app.state.settings.database_url)
    try:
        async with (
            started(app, registry(hourly)),
            started(app, registry(hourly), create_sessionmaker(other_engine)),
        ):
            await eventually(lambda: _all_done(app))
            await asyncio.sleep(0.3)
    finally:
        await other_engine.dispose()
    assert await effect_rows(app) == [("tick", 1)]
    assert len(await outbox(app)) == 1
    async with app.state.sessionmaker() as db:
        runs = list(await db.scalars(select(ScheduleRun)))
    assert [(run.schedule, run.due_at) for run in runs] == [
        ("test.hourly", hourly.due_at(utcnow()))
    ]


async def clear_of_the_hour(margin: float = 60) -> None:
    """Wait past the top of the hour if it is less than ``margin`` seconds away: an hourly
    schedule has a new due time then, and fires again (as it should)."""
    now = utcnow()
    left = 3600 - (now.minute * 60 + now.second + now.microsecond / 1e6)
    if left < margin:
        await asyncio.sleep(left + 1)


async def _all_done(app: Litestar) -> bool:
    rows = await outbox(app)
    return bool(rows) and all(row.state == DONE for row in rows)


async def test_prune_keeps_dead_jobs_and_each_schedules_latest_run(app: Litestar) -> None:
    now = utcnow()
    old = now - timedelta(days=30)
    async with app.state.sessionmaker() as db:
        for state in (DONE, DEAD, PENDING):
            db.add(
                OutboxJob(
                    name="test.record", payload={}, state=state, run_after=old, finished_at=old
                )
            )
        for days in (40, 30):
            db.add(ScheduleRun(schedule="monthly", due_at=now - timedelta(days=days)))
        await db.commit()
        await prune(db, now - timedelta(days=7))
        states = set(await db.scalars(select(OutboxJob.state)))
        runs = list(await db.scalars(select(ScheduleRun.due_at)))
    assert states == {DEAD, PENDING}
    assert runs == [now - timedelta(days=30)]


# ---------------------------------------------------------------------------------------------
# Admin


async def test_admins_retry_and_discard_dead_jobs(app: Litestar, effect_table: None) -> None:
    if "/admin/jobs" not in {route.path for route in app.routes}:
        app.register(admin_jobs.router)
    ids = [await add_job(app, tag=tag, fail_until=99) for tag in ("again", "drop", "keyed")]
    async with app.state.sessionmaker() as db:
        await db.execute(
            update(OutboxJob)
            .where(OutboxJob.id.in_(ids))
            .values(
                state=DEAD,
                attempts=3,
                last_error="Traceback (most recent call last):\nRuntimeError: it broke",
                failed_at=utcnow(),
                finished_at=utcnow(),
            )
        )
        await db.execute(update(OutboxJob).where(OutboxJob.id == ids[2]).values(key="k"))
        await enqueue(db, "test.record", key="k", tag="waiting")
        await enqueue(db, "uninstalled.plugin_job")
        await db.commit()
    app.state.jobs = registry()
    await make_member(app, "root", "admin")
    await make_member(app, "someone")

    async with browser(app) as client:
        await sign_in(client, "someone")
        assert (await client.get("/admin/jobs")).status_code == 403

    async with browser(app) as client:
        await sign_in(client, "root")
        page = await client.get("/admin/jobs")
        assert page.status_code == 200
        assert page.text.count("RuntimeError: it broke") >= 3
        assert f'action="/admin/jobs/{ids[0]}/retry"' in page.text
        waiting = page.text[page.text.index('id="waiting-jobs"') :]
        assert "uninstalled.plugin_job</code> <span" in waiting and "no handler" in waiting
        assert "test.record</code></td>" in waiting  # known: no warning

        retried = await post_form(client, f"/admin/jobs/{ids[0]}/retry", {}, "/admin/jobs")
        assert retried.status_code == 200 and "will run again" in retried.text
        discarded = await post_form(client, f"/admin/jobs/{ids[1]}/discard", {}, "/admin/jobs")
        assert discarded.status_code == 200
        clash = await post_form(client, f"/admin/jobs/{ids[2]}/retry", {}, "/admin/jobs")
        assert clash.status_code == 409 and "same key" in clash.text
        missing = await post_form(client, f"/admin/jobs/{ids[0]}/discard", {}, "/admin/jobs")
        assert missing.status_code == 404  # no longer dead

    row = await job_row(app, ids[0])
    assert (row.state, row.attempts, row.finished_at) == (PENDING, 0, None)
    assert ids[1] not in {row.id for row in await outbox(app)}
    assert (await job_row(app, ids[2])).state == DEAD
    jobs = runner(app, registry())
    while await jobs.run_next():  # the keyed job, then the retried one's fresh first try
        pass
    assert (await job_row(app, ids[0])).attempts == 1


class EagerQueue:
    """A stand-in for SAQ whose worker runs each attempt the moment it is enqueued: the
    quickest a real worker can be."""

    def __init__(self, worker: JobRunner) -> None:
        self.worker = worker
        self.keys: list[str] = []

    async def enqueue(self, function: str, *, key: str, **kwargs: Any) -> None:
        self.keys.append(key)
        await self.worker.run_row(kwargs["row_id"], kwargs["attempts_before"])


async def test_a_retry_is_relayed_even_when_the_first_try_fails_at_once(
    app: Litestar, effect_table: None
) -> None:
    queue = EagerQueue(runner(app, registry()))
    relay = runner(app, registry(), queue=queue)
    job_id = await add_job(app, tag="quick", fail_until=1)
    assert await relay.relay() == 1
    assert (await job_row(app, job_id)).state == PENDING  # failed inside enqueue
    await make_due(app, job_id)
    assert await relay.relay() == 1  # not held back as "already relayed"
    assert queue.keys == [f"{job_id}:0", f"{job_id}:1"]
    assert (await job_row(app, job_id)).state == DONE
    assert await relay.relay() == 0


# ---------------------------------------------------------------------------------------------
# Redis: SAQ carries the jobs, the table decides


redis_only = pytest.mark.skipif(
    not os.environ.get("COMMUNITY_TEST_REDIS_URL"), reason="needs COMMUNITY_TEST_REDIS_URL"
)


@pytest.fixture
async def saq_keys(app: Litestar, namespace: str) -> AsyncIterator[None]:
    yield
    if app.state.redis is not None:
        keys = [key async for key in app.state.redis.scan_iter(f"saq:*{namespace}:jobs*")]
        if keys:
            await app.state.redis.delete(*keys)


@redis_only
async def test_a_worker_runs_jobs_that_serve_relays(
    app: Litestar, effect_table: None, namespace: str, saq_keys: None
) -> None:
    settings: Settings = app.state.settings
    worker = asyncio.create_task(
        run_worker(settings, registry(), namespace=namespace, poll_interval=0.05, lease_grace=0.3)
    )
    relay = await start_runner(
        app.state.sessionmaker,
        registry(),
        settings,
        redis=app.state.redis,
        namespace=namespace,
        poll_interval=0.05,
    )
    try:
        job_id = await add_job(app, tag="relayed", fail_until=1)
        row = await eventually(lambda: _in_state(app, job_id, DONE))
    finally:
        await relay.stop()
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker
    assert row.attempts == 2
    assert await effect_rows(app) == [("relayed", 2)]


# ---------------------------------------------------------------------------------------------
# A real worker, killed mid-job


async def spawn_worker(env: dict[str, str], namespace: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.test_jobs",
        namespace,
        cwd=Path(__file__).parents[1],
        env={**os.environ, **env},
    )


async def test_a_killed_worker_job_completes_exactly_once(
    app: Litestar,
    effect_table: None,
    env: dict[str, str],
    namespace: str,
    saq_keys: None,
    tmp_path: Path,
) -> None:
    job_id = await add_job(app, tag="survivor", sleep=1.5, marker_dir=str(tmp_path))
    first = await spawn_worker(env, namespace)
    try:
        await eventually(lambda: _exists(tmp_path / f"{job_id}-1"), within=60)
    finally:
        first.kill()
        await first.wait()
    row = await job_row(app, job_id)
    assert (row.state, row.attempts) == (RUNNING, 1)  # killed with its lease held
    assert await effect_rows(app) == []  # its write died with it

    second = await spawn_worker(env, namespace)
    try:
        row = await eventually(lambda: _in_state(app, job_id, DONE), within=60)
    finally:
        second.terminate()
        await second.wait()
    assert row.attempts == 2
    assert await effect_rows(app) == [("survivor", 2)]
    if app.state.redis is not None:  # SAQ carried the second attempt under its own key
        assert await app.state.redis.exists(f"saq:job:{namespace}:jobs:{job_id}:1")


async def _exists(path: Path) -> bool:
    return await asyncio.to_thread(path.exists)


async def worker_main(namespace: str) -> None:
    """The worker the kill test starts: SAQ with Redis, else the embedded runner."""
    settings = load_settings()
    jobs = registry()
    if settings.redis_url:
        await run_worker(settings, jobs, namespace=namespace, poll_interval=0.05, lease_grace=0.3)
        return
    engine = create_engine(settings.database_url)
    await start_runner(
        create_sessionmaker(engine), jobs, settings, poll_interval=0.05, lease_grace=0.3
    )
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(worker_main(sys.argv[1]))
