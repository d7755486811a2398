"""Thread views, counted in batches: the core's ``ThreadViewed`` (a member's view of a thread,
at most once an hour) adds one to a count kept in this process per thread and day (in the
community's time zone), and the counts are added to ``analytics_thread_views`` together, once
``BATCH`` views are waiting or the oldest has waited ``SECONDS`` (a timer started with it).

Each process keeps and writes its own counts: the write adds to what is stored (an upsert
whose conflict adds), so processes never overwrite one another, and it takes its rows in one
order (thread, day) so two processes writing at once cannot deadlock. When the write fails
(the database is away), the counts are logged and kept for the next write, up to
``MAX_PENDING`` threads-and-days; past that they are dropped, with a warning, rather than
grow without end. Views of a thread deleted meanwhile are dropped. What is waiting when the
process stops is lost unless ``flush`` is called: at most ``BATCH`` views or ``SECONDS``
worth per process.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import select

from community import plugins
from community.db import utcnow
from community.events import Event
from community.forum.models import Thread
from community_analytics.models import ThreadView, insert

BATCH = 200
"""Views waiting that make a write."""
SECONDS = 60.0
"""The longest a view waits before it is written."""
MAX_PENDING = 50_000
"""Threads-and-days kept while the database cannot be written; past this, counts are
dropped."""

log = logging.getLogger(__name__)

pending: Counter[tuple[int, date]] = Counter()
"""Views not written yet, per (thread id, day)."""
_since = 0.0
"""When (the event loop's clock) the oldest view waiting came."""
_timer: asyncio.Task[None] | None = None
_lock: asyncio.Lock | None = None


async def record(event: Event) -> None:
    """Count the view in ``event`` (a ``ThreadViewed``) on today, and write the counts when
    enough are waiting or they have waited long enough."""
    global _since, _timer
    thread_id = getattr(event, "thread_id", None)
    if thread_id is None:
        return
    day = utcnow().astimezone(plugins.settings("analytics").tz).date()
    now = asyncio.get_running_loop().time()
    if not pending:
        _since = now
    pending[(thread_id, day)] += 1
    if pending.total() >= BATCH or now - _since >= SECONDS:
        await flush()
    elif _timer is None or _timer.done():
        # Made here, the task carries this context (the running app), which flush needs.
        _timer = asyncio.get_running_loop().create_task(_flush_later())


async def _flush_later() -> None:
    await asyncio.sleep(SECONDS)
    await flush(cancel_timer=False)


async def flush(cancel_timer: bool = True) -> int:
    """Add every count waiting to the table now; returns the views written (0 when the write
    failed: they wait for the next one)."""
    global _lock
    if cancel_timer and _timer is not None and not _timer.done():
        _timer.cancel()
    _lock = _lock or asyncio.Lock()
    async with _lock:
        batch = Counter(pending)
        pending.clear()
        if not batch:
            return 0
        try:
            return await _write(batch)
        except Exception:
            log.exception("could not write %d thread views; keeping them", batch.total())
            pending.update(batch)
            if len(pending) > MAX_PENDING:
                log.warning("dropping %d thread views not written", pending.total())
                pending.clear()
            return 0


async def _write(batch: Counter[tuple[int, date]]) -> int:
    async with plugins.session() as db:
        wanted = sorted({thread_id for thread_id, _ in batch})
        found = set(await db.scalars(select(Thread.id).where(Thread.id.in_(wanted))))
        rows: list[dict[str, Any]] = [
            {"thread_id": thread_id, "day": day, "views": views}
            for (thread_id, day), views in sorted(batch.items())
            if thread_id in found
        ]
        if rows:
            statement = insert(db, ThreadView).values(rows)
            statement = statement.on_conflict_do_update(
                index_elements=["thread_id", "day"],
                set_={"views": ThreadView.views + statement.excluded.views},
            )
            await db.execute(statement)
            await db.commit()
        return sum(row["views"] for row in rows)
