"""Durable background jobs: an outbox table, two runners over it, schedules and dead letters.

A request that wants work done later calls ``enqueue(db, "name", **payload)``: that inserts a
row into ``job_outbox`` in the request's own transaction, so the job exists exactly when the
change that asked for it commits. The row is the source of truth for the job's life:
``pending`` (waiting for ``run_after``) -> ``running`` (claimed under a lease) -> ``done``, or
back to ``pending`` with a backoff after a failure, or ``dead`` after the last try.

Exactly once in effect. A runner claims a row in a short transaction of its own (state
``running``, ``locked_by`` this process, ``locked_until`` the end of its lease, ``attempts``
plus one), then runs the job inside ONE outer transaction that also marks the row ``done``,
fenced on ``locked_by``: the job's database work and the done mark commit together or not at
all. The job's session joins that transaction through SAVEPOINTs, so a job may call services
that ``commit()``: those commits only release a savepoint. A process killed mid-job commits
nothing; its lease runs out and another runner claims the row again (that counts as an attempt,
so a job that keeps killing its process ends up dead too). Effects outside the database (an
HTTP call) can happen more than once: make them idempotent or key them on ``ctx.job_id``.

Two runners over the same table:

* Embedded (no Redis): ``start_runner`` polls for due rows (and wakes at once when a commit
  enqueued one in this process), claims them (``SELECT ... FOR UPDATE SKIP LOCKED`` on
  PostgreSQL; a conditional ``UPDATE`` on SQLite, which has one writer at a time) and runs up
  to ``concurrency`` of them as asyncio tasks.
* With Redis, SAQ is the transport and the table stays the truth: ``start_runner`` in serve
  processes (and ``run_worker`` itself) relays due rows to a SAQ queue under the key
  ``"<row id>:<attempts>"`` (so each attempt of a row is enqueued once, even with several
  relays), and ``run_worker`` runs a SAQ worker whose one function claims that row with the
  same conditional update, runs it as above, and does nothing when the row is already done,
  claimed or gone. SAQ's own retries are off: failures, backoff and dead letters are decided
  here, in the row.

A runner only claims rows whose name it has registered, so a job whose plugin is uninstalled or
disabled stays ``pending`` (the admin page lists it) instead of failing. Schedules fire once per
due time across every process: the first process to insert ``(schedule, due time)`` into
``job_schedule_runs`` enqueues the job in the same transaction.

SQLite: a job holds the database's one write lock from its first write until it finishes, so a
job should do its slow work (network calls) before it writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import socket
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter  # type: ignore[import-untyped]
from redis.asyncio import Redis
from saq import Worker
from saq.queue.redis import RedisQueue
from sqlalchemy import (
    JSON,
    ColumnElement,
    Index,
    Integer,
    String,
    Text,
    and_,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from community.db import (
    Base,
    UTCDateTime,
    create_engine,
    create_redis,
    create_sessionmaker,
    utcnow,
)
from community.errors import ServiceError
from community.events import DISPATCH, Event
from community.settings import Settings

log = logging.getLogger("community.jobs")

PENDING, RUNNING, DONE, DEAD = "pending", "running", "done", "dead"
STATES = (PENDING, RUNNING, DONE, DEAD)
MAX_ERROR = 4000
"""Characters of a failure's traceback kept on the row (its end, where the exception is)."""
KEEP_FINISHED = timedelta(days=7)
"""Done rows and past schedule runs are pruned after this long; dead rows wait for an admin."""
SAQ_FUNCTION = "community.run_job"
ENQUEUED = "community.jobs_enqueued"
"""Session info flag: this transaction enqueued a job, wake the local runners when it commits."""


# ---------------------------------------------------------------------------------------------
# Tables


UNFINISHED = text("state IN ('pending', 'running')")


class OutboxJob(Base):
    """One job to run: written with the change that asked for it, then worked off by a runner."""

    __tablename__ = "job_outbox"
    __table_args__ = (
        Index("ix_job_outbox_due", "state", "run_after"),
        # A dedupe key names work that must not be queued twice while it waits or runs.
        Index(
            "uq_job_outbox_key",
            "key",
            unique=True,
            sqlite_where=UNFINISHED,
            postgresql_where=UNFINISHED,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    key: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts started so far (a claim counts, even when its process died)."""
    run_after: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When a relay last handed the row to SAQ (unused by the embedded runner)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def error_summary(self) -> str:
        """The last line of the stored traceback: the exception and its message."""
        lines = (self.last_error or "").strip().splitlines()
        return lines[-1] if lines else ""


class ScheduleRun(Base):
    """One due time of one schedule; its primary key makes the first process to insert it win."""

    __tablename__ = "job_schedule_runs"

    schedule: Mapped[str] = mapped_column(String(200), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# ---------------------------------------------------------------------------------------------
# Registry


@dataclass
class JobContext:
    """What a running job gets: its own session inside the transaction that will mark it done."""

    db: AsyncSession
    job_id: int
    name: str
    attempt: int
    """1 for the first try."""
    settings: Settings
    redis: Redis | None = None


JobFunction = Callable[..., Awaitable[None]]
"""``async def job(ctx: JobContext, **payload) -> None``."""


@dataclass(frozen=True)
class Job:
    """A kind of job. Plugins name theirs ``<plugin>.<job>``."""

    name: str
    func: JobFunction
    retries: int = 5
    """Attempts after the first before the job is dead-lettered."""
    backoff: float = 10.0
    """Seconds before the first retry; each further retry waits about twice as long."""
    timeout: float = 300.0
    """Seconds an attempt may run; a timed-out attempt is a failure."""
    atomic: bool = True
    """True: the work and the done mark commit together (the usual). False: ``ctx.db`` is an
    ordinary session the job commits as it goes, for work that waits on the network (no
    transaction, and on SQLite no write lock, is held meanwhile); the done mark follows in
    a transaction of its own, so after a crash the job may run again: make it idempotent."""


@dataclass(frozen=True)
class Schedule:
    """Enqueue ``job`` every ``every`` seconds, or at the times of a five-field ``cron`` (UTC)."""

    name: str
    job: str
    every: float | None = None
    cron: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise ValueError(f"schedule {self.name!r}: give exactly one of every= or cron=")
        if self.every is not None and self.every <= 0:
            raise ValueError(f"schedule {self.name!r}: every= must be positive")
        if self.cron is not None and (
            len(self.cron.split()) != 5 or not croniter.is_valid(self.cron)
        ):
            raise ValueError(f"schedule {self.name!r}: not a five-field cron line: {self.cron!r}")

    def due_at(self, now: datetime) -> datetime:
        """The latest time at or before ``now`` when the schedule was due."""
        if self.every is not None:
            seconds = now.timestamp()
            return datetime.fromtimestamp(seconds - seconds % self.every, UTC)
        assert self.cron is not None
        return croniter(self.cron, now).get_prev(datetime).astimezone(UTC)


class JobRegistry:
    """The jobs and schedules this process knows, by unique name."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.schedules: dict[str, Schedule] = {}

    def add_job(self, job: Job) -> Job:
        if job.name in self.jobs:
            raise ValueError(f"a job named {job.name!r} is already registered")
        self.jobs[job.name] = job
        return job

    def add_schedule(self, schedule: Schedule) -> Schedule:
        if schedule.name in self.schedules:
            raise ValueError(f"a schedule named {schedule.name!r} is already registered")
        if schedule.job not in self.jobs:
            raise ValueError(f"schedule {schedule.name!r}: no job named {schedule.job!r}")
        self.schedules[schedule.name] = schedule
        return schedule

    def get(self, name: str) -> Job | None:
        return self.jobs.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.jobs


# ---------------------------------------------------------------------------------------------
# Enqueue


def _dialect(db: AsyncSession) -> str:
    return db.get_bind().dialect.name


async def enqueue(
    db: AsyncSession, name: str, *, delay: float = 0, key: str | None = None, **payload: Any
) -> None:
    """Add a job to the caller's transaction: it exists if and only if that transaction commits.

    With ``key``, nothing is added while a job with that key is pending or running.
    """
    now = utcnow()
    values = {
        "name": name,
        "payload": payload,
        "key": key,
        "state": PENDING,
        "attempts": 0,
        "run_after": now + timedelta(seconds=delay),
        "created_at": now,
        "updated_at": now,
    }
    dialect = postgresql if _dialect(db) == "postgresql" else sqlite
    statement = dialect.insert(OutboxJob).values(values)
    if key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["key"], index_where=UNFINISHED)
    await db.execute(statement)
    db.sync_session.info[ENQUEUED] = True


_wakers: set[Callable[[], None]] = set()


@sa_event.listens_for(Session, "after_commit")
def _wake_runners(session: Session) -> None:
    """Runners in this process look for work at once instead of at their next poll."""
    if session.info.pop(ENQUEUED, False):
        for wake in list(_wakers):
            wake()


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_enqueued(session: Session, previous_transaction: Any) -> None:
    if not previous_transaction.nested:
        session.info.pop(ENQUEUED, None)


# ---------------------------------------------------------------------------------------------
# The runner


def retry_delay(backoff: float, attempt: int) -> float:
    """Seconds to wait after failed attempt ``attempt``: doubling, with jitter so that jobs that
    failed together do not retry together."""
    return backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)


def _due(now: datetime) -> ColumnElement[bool]:
    """Rows that may be claimed: pending and due, or running under a lease that ran out."""
    return or_(
        and_(OutboxJob.state == PENDING, OutboxJob.run_after <= now),
        and_(OutboxJob.state == RUNNING, OutboxJob.locked_until < now),
    )


def _error_text() -> str:
    return traceback.format_exc()[-MAX_ERROR:]


class JobRunner:
    """One process's share of the work.

    Without a SAQ ``queue`` it claims and runs due rows itself (the embedded runner); with one it
    relays due rows to the queue and ``run_row`` runs what a SAQ worker hands it. Either way it
    fires the registry's schedules and prunes old rows.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: JobRegistry,
        settings: Settings,
        *,
        redis: Redis | None = None,
        queue: RedisQueue | None = None,
        concurrency: int = 4,
        poll_interval: float = 0.5,
        lease_grace: float = 30.0,
        relay_again_after: float = 60.0,
        worker_id: str | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.engine: AsyncEngine = sessionmaker.kw["bind"]
        self.registry = registry
        self.settings = settings
        self.redis = redis
        self.queue = queue
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.lease_grace = lease_grace
        """Seconds a lease outlasts the job's timeout before another process may take the row."""
        self.relay_again_after = timedelta(seconds=relay_again_after)
        """A relayed row still due this long after is relayed again (Redis lost it, or no worker
        knows its name)."""
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._fired: dict[str, datetime] = {}
        self._pruned_at: datetime | None = None

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        _wakers.add(self.wake)
        self._loop_task = asyncio.create_task(self._main_loop(), name="community-jobs")

    def wake(self) -> None:
        """Look for work now rather than at the next poll (safe to call from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop polling and let running jobs finish for ``grace`` seconds; those still running
        then are cancelled: they roll back and go back to pending, uncounted. (A job cancelled
        in the middle of a statement can leave SQLite's write lock held until its connection
        is collected, so finishing is much better than cancelling.)"""
        _wakers.discard(self.wake)
        self._stopping = True
        self._wake.set()
        deadline = asyncio.get_running_loop().time() + grace
        if self._loop_task is not None:  # it ends after its round: no job is claimed after it
            await asyncio.wait([self._loop_task], timeout=grace)
        left = deadline - asyncio.get_running_loop().time()
        if self._running and left > 0:
            await asyncio.wait(self._running, timeout=left)
        tasks = [task for task in (self._loop_task, *self._running) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None

    async def _main_loop(self) -> None:
        while not self._stopping:
            try:
                await self.tick()
            except Exception:
                log.exception("job runner: tick failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()

    async def tick(self) -> None:
        """One round: fire due schedules, then start due jobs (or relay them to SAQ)."""
        await self.fire_schedules()
        await self._prune_now_and_then()
        if self.queue is not None:
            await self.relay()
            return
        while not self._stopping and len(self._running) < self.concurrency:
            row = await self.claim()
            if row is None:
                return
            task = asyncio.create_task(self._execute(row), name=f"job-{row.id}")
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()  # a slot is free
        if not task.cancelled() and task.exception() is not None:
            # Not even the failure could be written down: the row's lease will run out.
            log.error("job task %s failed", task.get_name(), exc_info=task.exception())

    # -- claiming and running -----------------------------------------------------------------

    async def claim(self, *only: ColumnElement[bool]) -> OutboxJob | None:
        """Lease one due row with a registered name (and ``only``) to this process, committed at
        once so that no other process takes it until the lease runs out."""
        if not self.registry.jobs:
            return None
        now = utcnow()
        claimable = and_(OutboxJob.name.in_(self.registry.jobs), _due(now), *only)
        async with self.sessionmaker() as db:
            pick = (
                select(OutboxJob.id, OutboxJob.name)
                .where(claimable)
                .order_by(OutboxJob.run_after, OutboxJob.id)
                .limit(1)
            )
            if self.engine.dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            found = (await db.execute(pick)).first()
            if found is None:
                return None
            lease = self.registry.jobs[found.name].timeout + self.lease_grace
            # The WHERE is checked again by the UPDATE: on SQLite another process may have
            # claimed the row between the two statements.
            row = await db.scalar(
                update(OutboxJob)
                .where(OutboxJob.id == found.id, claimable)
                .values(
                    state=RUNNING,
                    attempts=OutboxJob.attempts + 1,
                    locked_by=self.worker_id,
                    locked_until=now + timedelta(seconds=lease),
                    relayed_at=None,
                    updated_at=now,
                )
                .returning(OutboxJob)
            )
            await db.commit()
            return row

    async def run_next(self) -> bool:
        """Claim and run one due job in the caller's task; False when none is due."""
        row = await self.claim()
        if row is None:
            return False
        await self._execute(row)
        return True

    async def run_row(self, row_id: int, attempts_before: int) -> None:
        """Run the row SAQ handed us, if it is still due at the attempt the relay saw."""
        row = await self.claim(OutboxJob.id == row_id, OutboxJob.attempts == attempts_before)
        if row is None:
            log.debug("job %s: already done, taken, or not registered here", row_id)
            return
        await self._execute(row)

    async def _execute(self, row: OutboxJob) -> None:
        """Run a claimed row; record a failure, or give the row back if this runner stops."""
        job = self.registry.jobs[row.name]
        try:
            if row.attempts > job.retries + 1:
                # Only an interrupted attempt (its process died) leaves a row this far along.
                raise RuntimeError(f"attempt {row.attempts - 1} was interrupted; no tries left")
            await self._run_and_mark_done(row, job)
        except asyncio.CancelledError:
            await self._release(row)
            raise
        except Exception:
            log.warning("job %s (%s) attempt %s failed", row.id, row.name, row.attempts)
            await self._record_failure(row, job, _error_text())

    async def _run_and_mark_done(self, row: OutboxJob, job: Job) -> None:
        """The job's work and the done mark, in one transaction (an atomic job; the others
        go to ``_run_then_mark_done``); events are told after it."""
        if not job.atomic:
            await self._run_then_mark_done(row, job)
            return
        heard: list[Event] = []
        async with self.engine.connect() as connection:
            await connection.begin()
            if connection.dialect.name == "sqlite":
                # pysqlite would let the first SAVEPOINT open (and its release commit) the
                # transaction: open it ourselves so that savepoints nest inside it. IMMEDIATE
                # takes the write lock now, waiting its turn: a job that read first and wrote
                # later would fail with "database is locked" when another wrote in between.
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
            async with self.sessionmaker(
                bind=connection,
                join_transaction_mode="create_savepoint",
                info={DISPATCH: heard.extend},
            ) as db:
                await self._work(row, job, db)
            marked = await connection.execute(self._done(row))
            if marked.rowcount != 1:
                await connection.rollback()
                log.warning("job %s (%s): lease lost; its work is rolled back", row.id, row.name)
                return
            await connection.commit()
        dispatch = self.sessionmaker.kw.get("info", {}).get(DISPATCH)
        if heard and dispatch is not None:
            dispatch(heard)

    async def _work(self, row: OutboxJob, job: Job, db: AsyncSession) -> None:
        """The job's function on ``db``, within its timeout, then ``db``'s commit."""
        ctx = JobContext(
            db=db,
            job_id=row.id,
            name=row.name,
            attempt=row.attempts,
            settings=self.settings,
            redis=self.redis,
        )
        try:
            async with asyncio.timeout(job.timeout) as limit:
                await job.func(ctx, **row.payload)
        except TimeoutError:
            if limit.expired():
                raise TimeoutError(f"the job ran longer than {job.timeout:g} s") from None
            raise
        await db.commit()

    def _done(self, row: OutboxJob) -> Any:
        """The UPDATE marking ``row`` done, while this process still holds its lease."""
        now = utcnow()
        return self._own(row).values(
            state=DONE, finished_at=now, updated_at=now, locked_by=None, locked_until=None
        )

    async def _run_then_mark_done(self, row: OutboxJob, job: Job) -> None:
        """A job that is not atomic: its work commits as it goes (events told as any
        session's), then the done mark in a short transaction of its own."""
        async with self.sessionmaker() as db:
            await self._work(row, job, db)
        async with self.sessionmaker() as db:
            marked = await db.execute(self._done(row))
            await db.commit()
        if marked.rowcount != 1:
            log.warning("job %s (%s): lease lost after its work committed", row.id, row.name)

    async def _record_failure(self, row: OutboxJob, job: Job, error: str) -> None:
        """Back to pending after a backoff, or dead when the retries are spent."""
        now = utcnow()
        values: dict[str, Any] = {
            "last_error": error,
            "failed_at": now,
            "updated_at": now,
            "locked_by": None,
            "locked_until": None,
            "relayed_at": None,
        }
        if row.attempts > job.retries:
            values.update(state=DEAD, finished_at=now)
        else:
            delay = retry_delay(job.backoff, row.attempts)
            values.update(state=PENDING, run_after=now + timedelta(seconds=delay))
        async with self.sessionmaker() as db:
            await db.execute(self._own(row).values(values))
            await db.commit()

    async def _release(self, row: OutboxJob) -> None:
        """Give a row back untried (this runner is stopping): pending now, attempt not counted."""
        try:
            async with self.sessionmaker() as db:
                await db.execute(
                    self._own(row).values(
                        state=PENDING,
                        attempts=OutboxJob.attempts - 1,
                        locked_by=None,
                        locked_until=None,
                        updated_at=utcnow(),
                    )
                )
                await db.commit()
        except Exception:
            log.exception("job %s: could not release it; its lease will run out", row.id)

    def _own(self, row: OutboxJob) -> Any:
        """An UPDATE of ``row`` that does nothing unless this process still holds its lease."""
        return update(OutboxJob).where(
            OutboxJob.id == row.id,
            OutboxJob.state == RUNNING,
            OutboxJob.locked_by == self.worker_id,
        )

    # -- relay (Redis) ------------------------------------------------------------------------

    async def relay(self, batch: int = 200) -> int:
        """Hand due rows to SAQ, each attempt under its own key so that it is enqueued once.

        Rows are marked relayed (and committed) before they are enqueued: a worker may run and
        fail an attempt at once, and its failure clears the mark so that the retry is relayed
        on time. A row whose enqueue is lost is relayed again after ``relay_again_after``."""
        assert self.queue is not None
        now = utcnow()
        due = (
            select(OutboxJob.id)
            .where(
                _due(now),
                or_(
                    OutboxJob.relayed_at.is_(None),
                    OutboxJob.relayed_at < now - self.relay_again_after,
                ),
            )
            .order_by(OutboxJob.run_after, OutboxJob.id)
            .limit(batch)
            .scalar_subquery()
        )
        async with self.sessionmaker() as db:
            rows = (
                await db.execute(
                    update(OutboxJob)
                    .where(
                        OutboxJob.id.in_(due),
                        # Checked again here: another relay may have marked the row meanwhile.
                        or_(
                            OutboxJob.relayed_at.is_(None),
                            OutboxJob.relayed_at < now - self.relay_again_after,
                        ),
                    )
                    .values(relayed_at=now)
                    .returning(OutboxJob.id, OutboxJob.name, OutboxJob.attempts)
                )
            ).all()
            await db.commit()
        for row in sorted(rows):
            job = self.registry.get(row.name)
            timeout = job.timeout if job else Job.timeout
            await self.queue.enqueue(
                SAQ_FUNCTION,
                key=f"{row.id}:{row.attempts}",
                # SAQ's timeout only sweeps entries of killed workers: ours runs first.
                timeout=math.ceil(timeout + self.lease_grace) + 1,
                retries=1,
                row_id=row.id,
                attempts_before=row.attempts,
            )
        return len(rows)

    # -- schedules and pruning ----------------------------------------------------------------

    async def fire_schedules(self) -> None:
        """Enqueue each schedule's job once per due time, whichever process gets there first."""
        now = utcnow()
        for schedule in self.registry.schedules.values():
            due_at = schedule.due_at(now)
            if self._fired.get(schedule.name) == due_at:
                continue
            async with self.sessionmaker() as db:
                dialect = postgresql if _dialect(db) == "postgresql" else sqlite
                inserted = await db.execute(
                    dialect.insert(ScheduleRun)
                    .values(schedule=schedule.name, due_at=due_at, created_at=now)
                    .on_conflict_do_nothing()
                )
                if inserted.rowcount == 1:  # type: ignore[attr-defined]
                    await enqueue(db, schedule.job, **schedule.payload)
                    log.info("schedule %s fired for %s", schedule.name, due_at.isoformat())
                await db.commit()
            self._fired[schedule.name] = due_at

    async def _prune_now_and_then(self) -> None:
        now = utcnow()
        if self._pruned_at is None or now - self._pruned_at > timedelta(hours=1):
            self._pruned_at = now
            async with self.sessionmaker() as db:
                await prune(db, now - KEEP_FINISHED)


async def prune(db: AsyncSession, before: datetime) -> None:
    """Delete done rows finished before ``before``, and schedule runs due before it except each
    schedule's latest (which stops a restart from firing that due time again)."""
    await db.execute(
        delete(OutboxJob).where(OutboxJob.state == DONE, OutboxJob.finished_at < before)
    )
    later = aliased(ScheduleRun)
    await db.execute(
        delete(ScheduleRun).where(
            ScheduleRun.due_at < before,
            select(later.schedule)
            .where(later.schedule == ScheduleRun.schedule, later.due_at > ScheduleRun.due_at)
            .exists(),
        )
    )
    await db.commit()


# ---------------------------------------------------------------------------------------------
# Entry points


def saq_queue(redis: Redis, namespace: str = "community") -> RedisQueue:
    """The SAQ queue that relays fill and workers drain (keys ``saq:<namespace>:jobs:*``)."""
    return RedisQueue(redis, name=f"{namespace}:jobs")


async def start_runner(
    sessionmaker: async_sessionmaker[AsyncSession],
    registry: JobRegistry,
    settings: Settings,
    *,
    redis: Redis | None = None,
    namespace: str = "community",
    concurrency: int = 4,
    poll_interval: float = 0.5,
    lease_grace: float = 30.0,
) -> JobRunner:
    """Start this serve process's runner: jobs run here without Redis; with Redis, due rows are
    relayed to SAQ for ``community worker`` processes. Stop it with ``await runner.stop()``."""
    runner = JobRunner(
        sessionmaker,
        registry,
        settings,
        redis=redis,
        queue=saq_queue(redis, namespace) if redis is not None else None,
        concurrency=concurrency,
        poll_interval=poll_interval,
        lease_grace=lease_grace,
    )
    runner.start()
    return runner


async def _run_saq_job(ctx: Any, *, row_id: int, attempts_before: int) -> None:
    runner: JobRunner = ctx["community_runner"]
    await runner.run_row(row_id, attempts_before)


async def run_worker(
    settings: Settings,
    registry: JobRegistry,
    *,
    namespace: str = "community",
    concurrency: int = 10,
    poll_interval: float = 0.5,
    lease_grace: float = 30.0,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
) -> None:
    """A ``community worker`` process: a SAQ worker that runs jobs, plus the relay and schedules.
    Returns on SIGINT or SIGTERM; pass ``sessionmaker`` to have jobs' events dispatched."""
    if settings.redis_url is None:
        raise RuntimeError("a worker needs COMMUNITY_REDIS_URL; without it, serve runs the jobs")
    engine = create_engine(settings.database_url) if sessionmaker is None else None
    if engine is not None:
        sessionmaker = create_sessionmaker(engine)
    assert sessionmaker is not None
    # Each idle SAQ slot holds a connection while it waits for a job.
    redis: Redis = create_redis(settings.redis_url, max_connections=concurrency + 30)
    queue = saq_queue(redis, namespace)
    runner = JobRunner(
        sessionmaker,
        registry,
        settings,
        redis=redis,
        queue=queue,
        poll_interval=poll_interval,
        lease_grace=lease_grace,
    )
    worker = Worker(queue, [(SAQ_FUNCTION, _run_saq_job)], concurrency=concurrency)
    worker.context["community_runner"] = runner  # type: ignore[typeddict-unknown-key]
    await queue.connect()
    runner.start()
    try:
        await worker.start()  # returns on a signal, and also when cancelled
    finally:
        await runner.stop()
        await queue.disconnect()
        if engine is not None:
            await engine.dispose()
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


# ---------------------------------------------------------------------------------------------
# For the admin pages


async def state_counts(db: AsyncSession) -> dict[str, int]:
    """How many rows are in each state (every state present, zero when empty)."""
    rows = await db.execute(select(OutboxJob.state, func.count()).group_by(OutboxJob.state))
    return {state: 0 for state in STATES} | {state: count for state, count in rows}


async def dead_jobs(db: AsyncSession, limit: int = 100) -> list[OutboxJob]:
    query = (
        select(OutboxJob)
        .where(OutboxJob.state == DEAD)
        .order_by(OutboxJob.finished_at.desc(), OutboxJob.id.desc())
        .limit(limit)
    )
    return list(await db.scalars(query))


async def recent_failures(db: AsyncSession, limit: int = 20) -> list[OutboxJob]:
    """Rows whose latest failure is most recent, whatever became of them since."""
    query = (
        select(OutboxJob)
        .where(OutboxJob.failed_at.is_not(None))
        .order_by(OutboxJob.failed_at.desc())
        .limit(limit)
    )
    return list(await db.scalars(query))


async def waiting_by_name(db: AsyncSession) -> list[tuple[str, int, datetime]]:
    """Pending jobs per name with the oldest's creation time: a name no runner knows piles up."""
    query = (
        select(OutboxJob.name, func.count(), func.min(OutboxJob.created_at))
        .where(OutboxJob.state == PENDING)
        .group_by(OutboxJob.name)
        .order_by(func.min(OutboxJob.created_at))
    )
    return [(name, count, oldest) for name, count, oldest in await db.execute(query)]


async def retry_dead(db: AsyncSession, job_id: int) -> OutboxJob:
    """Give a dead job a fresh set of attempts, starting now."""
    row = await _dead(db, job_id)
    now = utcnow()
    try:
        async with db.begin_nested():  # a failed SAVEPOINT leaves the page's other rows loaded
            row.state, row.attempts, row.run_after = PENDING, 0, now
            row.finished_at, row.updated_at = None, now
    except IntegrityError:  # the only constraint a dead row can break: its dedupe key
        raise ServiceError(
            "duplicate_job", "A job with the same key is already waiting or running.", 409
        ) from None
    db.sync_session.info[ENQUEUED] = True
    await db.commit()
    return row


async def discard_dead(db: AsyncSession, job_id: int) -> None:
    """Delete a dead job for good."""
    await db.delete(await _dead(db, job_id))
    await db.commit()


async def _dead(db: AsyncSession, job_id: int) -> OutboxJob:
    row = await db.get(OutboxJob, job_id)
    if row is None or row.state != DEAD:
        raise ServiceError("not_found", "There is no dead job with this number.", 404)
    return row
