"""Every test here runs an app with the analytics plugin loaded and enabled; ``forum`` fills
it with a seeded random community (members, threads, posts, reactions and visits over about
four months) and knows the right answers, counted in Python from what it wrote. A module
marked ``pytest.mark.visibility(name, admins_see_all=False)`` also loads and enables a plugin
hiding the threads whose title says secret (see ``visibility_plugin``). Test modules import
the helpers here (``report``, ``last_days``, ``median``, ``new_post``, ``plugins_active``)
from ``plugins.analytics.tests.conftest``."""

from __future__ import annotations

import random
import types
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from community_analytics import plugin
from community_analytics.models import Visit
from sqlalchemy import select

from community import hookimpl
from community.accounts.models import Member
from community.accounts.services import instance_settings
from community.db import utcnow
from community.forum.models import Category, Post, Reaction, Thread
from community.plugins import Manifest, activated, save_settings
from community.testing import SITE_NAME

DAYS = 120


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "visibility(name, admins_see_all=False): load a plugin hiding threads titled secret",
    )


def visibility_plugin(name: str, admins_see_all: bool = False) -> types.ModuleType:
    """A plugin named ``name`` hiding threads whose title says secret: from everyone, or from
    all but admins (like a beta program's categories) when ``admins_see_all``."""
    module = types.ModuleType(name)
    module.MANIFEST = Manifest(  # type: ignore[attr-defined]
        name=name,
        version="1.0",
        description="Hides threads whose title says secret.",
        api=">=1.0,<2",
        capabilities={"visibility"},
    )

    @hookimpl
    def visible_threads(member: Any, thread: Any) -> Any:
        if admins_see_all and member.role == "admin":
            return None
        return ~thread.title.contains("secret")

    module.visible_threads = visible_threads  # type: ignore[attr-defined]
    return module


@pytest.fixture
def plugin_modules(request: pytest.FixtureRequest) -> list[Any]:
    marker = request.node.get_closest_marker("visibility")
    if marker is None:
        return [plugin]
    return [plugin, visibility_plugin(*marker.args, **marker.kwargs)]


@pytest.fixture
def enabled_plugins(plugin_modules: list[Any]) -> list[str]:
    return [module.MANIFEST.name for module in plugin_modules]


async def report(client: Any, headers: dict[str, str], name: str, **params: Any) -> Any:
    """Report ``name`` from the API, which must answer 200."""
    response = await client.get(f"/api/v1/analytics/reports/{name}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@asynccontextmanager
async def plugins_active(app: Any) -> AsyncIterator[None]:
    """The app's plugins active here with the site's settings, as in an event handler."""
    async with app.state.sessionmaker() as db:
        site = await instance_settings(db, SITE_NAME)
    with activated(app.state.plugins, site):
        yield


def last_days(last: date, count: int) -> list[date]:
    """The ``count`` days up to ``last``, oldest first."""
    return [last - timedelta(days=n) for n in range(count - 1, -1, -1)]


def median(values: list[float]) -> float | None:
    """The middle value (the mean of the two middle ones), or None for no values."""
    values = sorted(values)
    if not values:
        return None
    half = len(values) // 2
    return values[half] if len(values) % 2 else (values[half - 1] + values[half]) / 2


@pytest.fixture(autouse=True)
async def no_scheduled_runs(app: Any) -> None:
    """Stop the app's own job runner in every test here: its schedule runs the rollup and the
    digest as the app starts, beside the test writing its forum (a day rolled up before the
    test's rows are in would stay wrong). Tests run jobs themselves (``run_job``)."""
    await app.state.job_runner.stop()


async def configure(app: Any, **values: Any) -> None:
    """Save the plugin's settings as an admin does (the rest keep their defaults)."""
    form = {"time_zone": "UTC", "exclude_staff": True, "moderators_may_view": False, **values}
    async with app.state.sessionmaker() as db:
        await save_settings(db, app.state.plugins, "analytics", form)


@pytest.fixture
def settings_of() -> Callable[..., Awaitable[None]]:
    return configure


@dataclass
class Forum:
    """What the generator wrote, as plain rows, and the counts reports must give."""

    now: datetime
    members: list[Member] = field(default_factory=list)
    categories: list[Category] = field(default_factory=list)
    threads: list[Thread] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    visits: list[tuple[int, date]] = field(default_factory=list)
    hidden_word: str = "secret"

    def excluded(self, member_id: int | None, exclude: bool = True) -> bool:
        if member_id is None or not exclude:
            return False
        member = next(m for m in self.members if m.id == member_id)
        suspended = member.suspended_until is not None and member.suspended_until > self.now
        return member.role in ("moderator", "admin") or suspended

    def thread_counts(self, thread: Thread, hide_secret: bool = False) -> bool:
        if thread.category_id is None or thread.hidden_at or thread.held_at:
            return False
        return not (hide_secret and self.hidden_word in thread.title)

    def post_counts(self, post: Post, hide_secret: bool = False) -> bool:
        thread = self.thread(post.thread_id)
        live = post.deleted_at is None and post.held_at is None
        return live and self.thread_counts(thread, hide_secret)

    # -- the right answers, counted in Python ----------------------------------------------

    def daily(self, metric: str, days: list[date], tz: ZoneInfo, **how: bool) -> list[int]:
        """Per day of ``days``: posts, threads, reactions or new members that count."""
        exclude, hide = how.get("exclude", True), how.get("hide", False)
        found: Counter[date] = Counter()
        for at, member_id in self._rows(metric, hide):
            if not self.excluded(member_id, exclude):
                found[at.astimezone(tz).date()] += 1
        return [found[day] for day in days]

    def _rows(self, metric: str, hide: bool) -> list[tuple[datetime, int | None]]:
        if metric == "posts":
            return [(p.created_at, p.author_id) for p in self.posts if self.post_counts(p, hide)]
        if metric == "threads":
            return [
                (t.created_at, t.author_id) for t in self.threads if self.thread_counts(t, hide)
            ]
        if metric == "reactions":
            return [
                (r.created_at, r.member_id)
                for r in self.reactions
                if self.post_counts(self.post(r.post_id), hide)
            ]
        return [(m.created_at, m.id) for m in self.members if m.approved_at is not None]

    def active(self, day: date, width: int, exclude: bool = True) -> set[int]:
        """Members with a visit in the ``width`` days up to ``day``."""
        return {
            m
            for m, seen in self.visits
            if day - timedelta(days=width) < seen <= day and not self.excluded(m, exclude)
        }

    def started(self, first: date, last: date, tz: ZoneInfo, hide: bool = False) -> list[Any]:
        """(thread, hours to first response or None) of threads started from first to last."""
        found = []
        for thread in self.threads:
            day = thread.created_at.astimezone(tz).date()
            if not (first <= day <= last) or not self.thread_counts(thread, hide):
                continue
            if self.excluded(thread.author_id):
                continue
            answered = self.first_response(thread)
            hours = (answered - thread.created_at).total_seconds() / 3600 if answered else None
            found.append((thread, hours))
        return found

    def post(self, post_id: int) -> Post:
        return next(p for p in self.posts if p.id == post_id)

    def thread(self, thread_id: int) -> Thread:
        return next(t for t in self.threads if t.id == thread_id)

    def first_response(self, thread: Thread) -> datetime | None:
        replies = [
            p.created_at
            for p in self.posts
            if p.thread_id == thread.id
            and p.number > 1
            and p.deleted_at is None
            and p.held_at is None
            and p.author_id != thread.author_id
        ]
        return min(replies) if replies else None


async def build(app: Any, seed: int = 7) -> Forum:
    rng = random.Random(seed)
    now = utcnow()
    forum = Forum(now=now)

    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    async with app.state.sessionmaker() as db:
        forum.categories = [Category(name=n, slug=n.lower()) for n in ("General", "Ideas", "Help")]
        db.add_all(forum.categories)
        await db.flush()
        roles = ["member"] * 14 + ["moderator", "admin"]
        for n, role in enumerate(roles):
            member = Member(
                username=f"user{n}",
                username_key=f"user{n}",
                display_name=f"User {n}",
                password_hash="x",
                role=role,
                created_at=ago(rng.uniform(0, DAYS)),
            )
            member.approved_at = None if n == 3 else member.created_at  # one waits
            if n in (4, 5):
                member.suspended_until = now + timedelta(days=30)  # suspended now
            if n == 6:
                member.suspended_until = now - timedelta(days=1)  # no longer
            db.add(member)
            forum.members.append(member)
        await db.flush()
        ids = [m.id for m in forum.members]
        category_ids = [c.id for c in forum.categories]
        for n in range(70):
            created = ago(rng.uniform(0, DAYS))
            if timedelta(hours=23) < now - created < timedelta(hours=25):
                created -= timedelta(hours=3)  # no thread on the edge of the response rate
            kind = rng.random()
            thread = Thread(
                category_id=None if kind < 0.05 else rng.choice(category_ids),
                title=f"{'secret ' if kind > 0.85 else ''}thread {n}",
                slug=f"thread-{n}",
                author_id=rng.choice(ids),
                created_at=created,
                last_posted_at=created,
                hidden_at=created if 0.05 <= kind < 0.1 else None,
                held_at=created if 0.1 <= kind < 0.13 else None,
            )
            db.add(thread)
            await db.flush()
            forum.threads.append(thread)
            number, at = 1, created
            db.add(opening := new_post(thread.id, 1, thread.author_id, created))
            forum.posts.append(opening)
            for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
                at = min(now, at + timedelta(hours=rng.expovariate(1 / 20)))
                number += 1
                reply = new_post(thread.id, number, rng.choice(ids), at)
                reply.deleted_at = at if rng.random() < 0.1 else None
                reply.held_at = at if rng.random() < 0.08 else None
                db.add(reply)
                forum.posts.append(reply)
            thread.post_count = number
        await db.flush()
        for post in forum.posts:
            for member_id in rng.sample(ids, rng.choice([0, 0, 1, 2])):
                at = min(now, post.created_at + timedelta(hours=rng.uniform(0, 60)))
                reaction = Reaction(post_id=post.id, member_id=member_id, emoji="👍", created_at=at)
                db.add(reaction)
                forum.reactions.append(reaction)
        await db.commit()
        forum.members = list(await db.scalars(select(Member)))  # the fixtures' too
    return forum


def new_post(thread_id: int, number: int, author_id: int, at: datetime) -> Post:
    """A post of ``thread_id`` written at ``at``, not yet added to a session."""
    return Post(
        thread_id=thread_id,
        number=number,
        author_id=author_id,
        body="b",
        html="<p>b</p>",
        created_at=at,
    )


async def add_visits(app: Any, forum: Forum, tz: ZoneInfo, seed: int = 11) -> None:
    """Visits on random days, as tracking would have written them in ``tz``."""
    rng = random.Random(seed)
    today = forum.now.astimezone(tz).date()
    pairs = {
        (m.id, today - timedelta(days=rng.randrange(DAYS)))
        for m in forum.members
        for _ in range(rng.randrange(5, 60))
    }
    async with app.state.sessionmaker() as db:
        for member_id, day in sorted(pairs):
            db.add(Visit(member_id=member_id, day=day, first_seen=forum.now, hits=1))
        await db.commit()
    forum.visits = sorted(pairs)


@pytest.fixture
def forum() -> Callable[..., Awaitable[Forum]]:
    async def make(app: Any, tz: str = "UTC", seed: int = 7) -> Forum:
        made = await build(app, seed)
        await add_visits(app, made, ZoneInfo(tz), seed + 4)
        return made

    return make
