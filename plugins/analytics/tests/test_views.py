"""Thread views: counted in this process per thread and day (the community's), and added to
``analytics_thread_views`` in batches, by size or by time; a failed write keeps its counts for
the next, two writers add up rather than overwrite, and a deleted thread's views are dropped."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from community_analytics import views
from community_analytics.models import ThreadView
from sqlalchemy import select

from community.events import ThreadViewed
from community.testing import (
    api_token,
    make_member,
    make_thread,
    settle,
    sign_in,
)
from plugins.analytics.tests.conftest import plugins_active


@pytest.fixture(autouse=True)
def nothing_pending() -> Iterator[None]:
    """No count or timer left over from another test's app."""
    for moment in ("before", "after"):
        if views._timer is not None:
            views._timer.cancel()
        views.pending.clear()
        if moment == "before":
            yield


async def stored(app: Any) -> dict[tuple[int, date], int]:
    async with app.state.sessionmaker() as db:
        rows = await db.scalars(select(ThreadView))
        return {(r.thread_id, r.day): r.views for r in rows}


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The views each write added."""
    made: list[int] = []
    write = views._write

    async def counting(batch: Counter[tuple[int, date]]) -> int:
        made.append(await write(batch))
        return made[-1]

    monkeypatch.setattr(views, "_write", counting)
    return made


async def test_a_thread_page_seen_is_a_view(app: Any, client: Any, member: Any) -> None:
    thread = await make_thread(app, "member")
    await make_member(app, "reader")  # the author has read it already
    await sign_in(client, "reader")
    assert (await client.get(thread.url)).status_code == 200
    await settle(app)
    assert views.pending == Counter({(thread.id, datetime.now(UTC).date()): 1})
    assert await stored(app) == {}  # waiting for more
    async with plugins_active(app):
        assert await views.flush() == 1
    assert await stored(app) == {(thread.id, datetime.now(UTC).date()): 1}
    async with plugins_active(app):
        assert await views.flush() == 0  # nothing left


async def test_views_are_written_in_batches(
    app: Any, member: Any, writes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "BATCH", 5)
    first = await make_thread(app, "member", title="First")
    second = await make_thread(app, "member", title="Second")
    today = datetime.now(UTC).date()
    async with plugins_active(app):
        for n in range(12):
            await views.record(ThreadViewed(thread_id=(first, second)[n % 3 == 0].id, member_id=1))
        assert writes == [5, 5]  # two views still waiting
        assert await stored(app) == {(first.id, today): 6, (second.id, today): 4}
        assert await views.flush() == 2
    assert writes == [5, 5, 2]
    assert await stored(app) == {(first.id, today): 8, (second.id, today): 4}


async def test_views_wait_no_longer_than_the_timer(
    app: Any, member: Any, writes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "SECONDS", 0.2)
    thread = await make_thread(app, "member")
    async with plugins_active(app):
        await views.record(ThreadViewed(thread_id=thread.id, member_id=1))
        await views.record(ThreadViewed(thread_id=thread.id, member_id=2))
    assert writes == []
    await asyncio.sleep(0.5)
    assert writes == [2]
    assert list((await stored(app)).values()) == [2]


async def test_the_day_is_the_communitys(
    app: Any, member: Any, settings_of: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await settings_of(app, time_zone="Pacific/Kiritimati")  # UTC+14
    thread = await make_thread(app, "member")
    at = datetime(2026, 3, 1, 9, 59, tzinfo=UTC)
    async with plugins_active(app):
        for moment in (at, at + timedelta(minutes=2), at + timedelta(hours=1)):
            monkeypatch.setattr(views, "utcnow", lambda moment=moment: moment)
            await views.record(ThreadViewed(thread_id=thread.id, member_id=1))
        await views.flush()
    assert await stored(app) == {(thread.id, date(2026, 3, 1)): 1, (thread.id, date(2026, 3, 2)): 2}


async def test_a_failed_write_keeps_its_views_for_the_next(
    app: Any, member: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    thread = await make_thread(app, "member")
    write = views._write

    async def failing(batch: Counter[tuple[int, date]]) -> int:
        raise ConnectionError("the database is away")

    async with plugins_active(app):
        await views.record(ThreadViewed(thread_id=thread.id, member_id=1))
        monkeypatch.setattr(views, "_write", failing)
        assert await views.flush() == 0
        assert "could not write 1 thread views" in caplog.text
        await views.record(ThreadViewed(thread_id=thread.id, member_id=2))
        monkeypatch.setattr(views, "_write", write)
        assert await views.flush() == 2
    assert list((await stored(app)).values()) == [2]


async def test_too_many_unwritten_views_are_dropped(
    app: Any, member: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(views, "MAX_PENDING", 2)

    async def failing(batch: Counter[tuple[int, date]]) -> int:
        raise ConnectionError("the database is away")

    monkeypatch.setattr(views, "_write", failing)
    async with plugins_active(app):
        for thread_id in (1, 2, 3):
            await views.record(ThreadViewed(thread_id=thread_id, member_id=1))
        await views.flush()
    assert "dropping 3 thread views" in caplog.text
    assert not views.pending


async def test_writers_add_up_and_deleted_threads_are_dropped(app: Any, member: Any) -> None:
    thread = await make_thread(app, "member")
    today = datetime.now(UTC).date()
    async with plugins_active(app):
        # Two processes writing their own counts of the same thread and day at once.
        written = await asyncio.gather(
            views._write(Counter({(thread.id, today): 3, (thread.id + 1000, today): 4})),
            views._write(Counter({(thread.id, today): 5})),
        )
    assert written == [3, 5]
    assert await stored(app) == {(thread.id, today): 8}


async def test_views_rank_top_threads(app: Any, client: Any, admin: Any, member: Any) -> None:
    seen = await make_thread(app, "member", title="Seen")
    await make_thread(app, "member", title="Unseen")
    await make_member(app, "reader")
    await sign_in(client, "reader")
    await client.get(seen.url)
    await settle(app)
    async with plugins_active(app):
        await views.flush()
    got = await client.get(
        "/api/v1/analytics/reports/top_threads", headers=await api_token(app, "admin")
    )
    assert got.json()["labels"] == ["Seen", "Unseen"]  # same engagement: more views first
    assert got.json()["series"][3]["data"] == [1, 0]
