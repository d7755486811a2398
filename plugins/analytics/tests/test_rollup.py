"""The rollup: only days not done yet (and yesterday) are computed; running it again changes
nothing; a change of time zone computes the days again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from community_analytics.models import Daily, RolledDay
from community_analytics.rollup import BATCH, days_to_roll, roll_up_day
from community_analytics.settings import METRICS_VERSION, Settings
from sqlalchemy import select

from community.jobs import DONE
from community.testing import run_job


async def rolled(app: Any) -> dict[Any, Any]:
    async with app.state.sessionmaker() as db:
        return {r.day: (r.signature, r.rolled_at) for r in await db.scalars(select(RolledDay))}


async def stored(app: Any) -> list[tuple[Any, ...]]:
    async with app.state.sessionmaker() as db:
        rows = await db.scalars(select(Daily).order_by(Daily.day, Daily.metric, Daily.category_id))
        return [(r.day, r.metric, r.category_id, r.value) for r in rows]


async def roll(app: Any, settings: Settings) -> list[Any]:
    """One run of the job, with ``settings``: the days it computed."""
    async with app.state.sessionmaker() as db:
        days = await days_to_roll(db, settings)
        for day in days:
            await roll_up_day(db, day, settings)
    return days


async def test_only_new_days_and_yesterday_are_computed(app: Any, admin: Any, forum: Any) -> None:
    data = await forum(app)
    settings = Settings()
    yesterday = data.now.date() - timedelta(days=1)
    oldest = min(m.created_at for m in data.members).date()
    first = await roll(app, settings)
    assert len(first) == BATCH and first[0] == oldest and first[-1] == yesterday
    second = await roll(app, settings)
    assert second[0] == first[-2] + timedelta(days=1) and second[-1] == yesterday
    while len(second) > 1:
        second = await roll(app, settings)
    assert second == [yesterday]  # all caught up: yesterday again, for what came in late
    done = await rolled(app)
    assert sorted(done) == [
        oldest + timedelta(days=n) for n in range((yesterday - oldest).days + 1)
    ]


async def test_running_it_again_changes_nothing(app: Any, admin: Any, forum: Any) -> None:
    await forum(app)
    while len(await roll(app, Settings())) > 1:
        pass
    before = await stored(app)
    assert any(metric == "posts" and value for _, metric, _, value in before)
    async with app.state.sessionmaker() as db:
        for day in sorted(await rolled(app))[-10:]:
            await roll_up_day(db, day, Settings())
    assert await stored(app) == before


async def test_new_settings_compute_the_days_again(app: Any, admin: Any, forum: Any) -> None:
    data = await forum(app)
    await roll(app, Settings())
    oldest = min(m.created_at for m in data.members).astimezone(ZoneInfo("Asia/Tokyo")).date()
    tokyo = await roll(app, Settings(time_zone="Asia/Tokyo"))
    assert tokyo[0] == oldest and len(tokyo) == BATCH  # from the start again
    done = await rolled(app)
    assert {done[day][0] for day in tokyo} == {f"Asia/Tokyo|x|m{METRICS_VERSION}"}
    again = await roll(app, Settings(time_zone="Asia/Tokyo", exclude_staff=False))
    assert again[0] == oldest


async def test_the_job_runs_while_enabled(app: Any, admin: Any, forum: Any) -> None:
    data = await forum(app)
    assert (await run_job(app, "analytics.rollup")).state == DONE
    assert data.now.date() - timedelta(days=1) in await rolled(app)


async def test_nothing_to_do_on_a_new_community(app: Any, admin: Any) -> None:
    assert (await run_job(app, "analytics.rollup")).state == DONE
    assert await rolled(app) == {}
