"""A pytest plugin for testing community and its plugins: load it with ``-p community.testing``.

Fixtures:

- ``app``: a fresh application per test on a migrated database (SQLite in a temporary folder,
  or PostgreSQL when ``COMMUNITY_TEST_DATABASE_URL`` is set; Redis when
  ``COMMUNITY_TEST_REDIS_URL`` is set), with the plugins of ``plugin_modules`` loaded and those
  named in ``enabled_plugins`` enabled. Override those two fixtures in your ``conftest.py``.
- ``client``: an ``httpx.AsyncClient`` talking to ``app``; ``sign_in(client, "member")``.
- ``member``, ``admin``: accounts named ``member`` and ``admin`` (password ``PASSWORD``).
- ``thread``: a thread by ``member`` in a category named "General".

The database is migrated once per session, the core and every installed plugin; before each
test the rows of every table are deleted. Helpers (``make_member``, ``post_form``...) build
data through the same services the server uses. Passwords are hashed with cheap argon2
parameters (the production ones take about half a second a hash).

Under pytest-xdist (``-n 2``) each worker on PostgreSQL uses a database of its own, named
after ``COMMUNITY_TEST_DATABASE_URL``'s and the worker (``test_gw0``...) and created when
missing; on SQLite each worker's temporary folder is already its own.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from argon2 import PasswordHasher
from litestar import Litestar
from litestar.channels import ChannelsPlugin
from sqlalchemy import exists, func, literal, select, text, union_all
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import make_url

from community import migrate
from community.accounts import security, services
from community.accounts.models import Member
from community.app import create_app
from community.db import Base, create_engine
from community.forum import services as forum
from community.forum.models import Category, Thread
from community.jobs import DEAD, DONE, JobRunner, OutboxJob, enqueue
from community.mail import Mailer
from community.models import load_models
from community.plugins import Health, Plugins, flush_health, read_health, set_enabled
from community.settings import Settings, load_settings

BASE_URL = "http://testserver.local"
PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="_csrf_token" value="([^"]+)"')
SITE_NAME = "Testers"
T = TypeVar("T")

SHUTDOWN_SECONDS = 60


def test_env(var_dir: Path) -> dict[str, str]:
    """The environment of a test server: ``COMMUNITY_*`` settings."""
    env = {
        "COMMUNITY_VAR_DIR": str(var_dir),
        "COMMUNITY_SECRET_KEY": "test-secret-" + "x" * 40,
        "COMMUNITY_BASE_URL": BASE_URL,
        "COMMUNITY_NAME": SITE_NAME,
    }
    if url := os.environ.get("COMMUNITY_TEST_DATABASE_URL"):
        env["COMMUNITY_DATABASE_URL"] = worker_database_url(url)
    if url := os.environ.get("COMMUNITY_TEST_REDIS_URL"):
        env["COMMUNITY_REDIS_URL"] = url
    return env


test_env.__test__ = False  # type: ignore[attr-defined]  # not a test, whatever its name


def worker_database_url(database_url: str) -> str:
    """The database of this pytest-xdist worker: ``database_url``'s, named after the worker
    (``test`` becomes ``test_gw0``), so that workers never drop each other's schema. Outside
    xdist, and for SQLite (whose file is in the worker's own folder), ``database_url`` itself."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = make_url(database_url)
    if not worker or url.get_backend_name() == "sqlite" or not url.database:
        return database_url
    return url.set(database=f"{url.database}_{worker}").render_as_string(hide_password=False)


def create_database(database_url: str, via: str) -> None:
    """Create the PostgreSQL database of ``database_url`` when missing, connected to the one of
    ``via`` (which must exist)."""
    url, existing = make_url(database_url), make_url(via).database
    if url.get_backend_name() != "postgresql" or url.database == existing:
        return

    async def create() -> None:
        engine = create_engine(url.set(database=existing).render_as_string(hide_password=False))
        try:
            async with engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                found = await connection.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"),
                    {"name": url.database},
                )
                if not found:
                    quoted = connection.dialect.identifier_preparer.quote(url.database)
                    await connection.execute(text(f"CREATE DATABASE {quoted}"))
        finally:
            await engine.dispose()

    asyncio.run(create())


def reset_database(database_url: str) -> None:
    """Give the run a clean schema: drop everything, then migrate the core and every installed
    plugin to head."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":

        async def drop() -> None:
            engine = create_engine(database_url)
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
            await engine.dispose()

        asyncio.run(drop())
    elif url.database and Path(url.database).exists():
        Path(url.database).unlink()
    migrate.upgrade(database_url)


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def env(var_dir: Path) -> dict[str, str]:
    return test_env(var_dir)


@pytest.fixture(scope="session")
def settings(env: dict[str, str]) -> Settings:
    settings = load_settings(env)
    if given := os.environ.get("COMMUNITY_TEST_DATABASE_URL"):
        create_database(settings.database_url, via=given)
    reset_database(settings.database_url)
    load_models()
    return settings


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    """Hash passwords with argon2id's cheapest parameters: the production ones cost about half
    a second a hash or a check, which most tests pay several times (a member, a sign-in)."""
    saved = security._hasher, security._DUMMY_HASH
    security._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    security._DUMMY_HASH = security._hasher.hash(secrets.token_urlsafe(16))
    yield
    security._hasher, security._DUMMY_HASH = saved


@pytest.fixture
def namespace() -> str:
    """The test's own prefix for Redis keys and channels."""
    return "test-" + secrets.token_hex(6)


@pytest.fixture
def plugin_modules() -> list[Any]:
    """Plugin modules the ``app`` fixture loads: override it to test yours. Installed plugins
    are not discovered in tests, so what else is installed cannot change them."""
    return []


@pytest.fixture
def enabled_plugins() -> list[str]:
    """Names of the loaded plugins the ``app`` fixture enables: override it with yours."""
    return []


_tables: dict[str, set[str]] = {}
"""Per database URL: the tables that exist there (the schema is made once per session)."""


@pytest.fixture
async def app(
    settings: Settings, namespace: str, plugin_modules: list[Any], enabled_plugins: list[str]
) -> AsyncIterator[Litestar]:
    plugins = Plugins(modules=plugin_modules, discover=False)
    await _migrate(settings.database_url, plugins)
    app = create_app(settings, namespace=namespace, plugins=plugins)
    async with app.state.sessionmaker() as db:
        if settings.database_url not in _tables:
            connection = await db.connection()
            _tables[settings.database_url] = set(
                await connection.run_sync(lambda sync: sa_inspect(sync).get_table_names())
            )
        existing = _tables[settings.database_url]
        tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name in existing]
        # One query names the tables with rows: most tests fill few of them.
        filled = set(
            await db.scalars(
                union_all(
                    *(
                        select(literal(t.name)).where(exists(select(literal(1)).select_from(t)))
                        for t in tables
                    )
                )
            )
        )
        if "categories" in filled:
            # Subcategories restrict deleting their parent: unhook them first.
            await db.execute(text("UPDATE categories SET parent_id = NULL"))
        for table in tables:
            if table.name in filled:
                await db.execute(table.delete())
        await db.commit()
        for name in enabled_plugins:
            await set_enabled(db, plugins, name, True)
    # Channels and the startup and shutdown hooks (closing the engine and Redis), run here
    # rather than through app.lifespan(), whose task group cannot span a fixture's two halves.
    channels = app.plugins.get(ChannelsPlugin)
    for hook in app.on_startup:
        await _call(hook, app)
    await channels.__aenter__()
    yield app
    # Bounded: a shutdown that hangs fails this test instead of stalling the whole run.
    async with asyncio.timeout(SHUTDOWN_SECONDS):
        await channels.__aexit__(None, None, None)
    if app.state.redis is not None:
        # The app's keys, and the SAQ queue's (``saq:<namespace>:jobs...``, ``saq:job:...``).
        keys = [
            key
            for pattern in (f"{namespace}:*", f"saq:*{namespace}:*")
            async for key in app.state.redis.scan_iter(pattern)
        ]
        if keys:
            await app.state.redis.delete(*keys)
    for hook in reversed(app.on_shutdown):
        async with asyncio.timeout(SHUTDOWN_SECONDS):
            await _call(hook, app)


async def _migrate(database_url: str, plugins: Plugins) -> None:
    """Migrate the plugins under test that the session's migration did not (they are loaded
    from modules, not installed), once per database."""
    missing = [
        plugin.name
        for plugin in plugins.loaded
        if (database_url, plugin.name) not in _migrated
        and plugins.first(plugin.name, "register_migrations")
    ]
    if missing:
        await asyncio.to_thread(migrate.upgrade, database_url, plugins=plugins)
        _migrated.update((database_url, name) for name in missing)
        _tables.pop(database_url, None)


_migrated: set[tuple[str, str]] = set()


async def _call(hook: Any, app: Litestar) -> None:
    result = hook(app) if inspect.signature(hook).parameters else hook()
    if inspect.isawaitable(result):
        await result


@pytest.fixture
def outbox(app: Litestar) -> Iterator[list[EmailMessage]]:
    """Email is configured for ``app``, to a real SMTP server on loopback (aiosmtpd); the
    list receives each message it accepts."""
    from aiosmtpd.controller import Controller

    received: list[EmailMessage] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            message = message_from_bytes(envelope.content, policy=email_policy.default)
            message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            received.append(message)  # type: ignore[arg-type]
            return "250 OK"

    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    plugins = app.state.plugins
    plugins.mailer = Mailer("127.0.0.1", port, "community@example.test")
    try:
        yield received
    finally:
        plugins.mailer = None
        controller.stop()


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client (cookies, redirects followed); not signed in."""
    async with browser(app) as client:
        yield client


@pytest.fixture
async def member(app: Litestar) -> Member:
    return await make_member(app, "member")


@pytest.fixture
async def admin(app: Litestar) -> Member:
    return await make_member(app, "admin", "admin")


@pytest.fixture
async def thread(app: Litestar, member: Member) -> Thread:
    return await make_thread(app, member.username)


# ---------------------------------------------------------------------------------------------
# Helpers


def browser(app: Litestar) -> httpx.AsyncClient:
    """A client on the test's event loop (asyncpg connections belong to one loop)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL, follow_redirects=True
    )


async def make_member(
    app: Litestar, username: str, role: str = "member", password: str = PASSWORD
) -> Member:
    async with app.state.sessionmaker() as db:
        return await services.create_member(db, username=username, password=password, role=role)


async def make_thread(
    app: Litestar,
    username: str,
    title: str = "A thread to test with",
    body: str = "The first post.",
    category: str = "General",
) -> Thread:
    """A thread by ``username`` in ``category`` (made when missing, open to every member)."""
    async with app.state.sessionmaker() as db:
        author = await services.member_by_username(db, username)
        site = await services.instance_settings(db, SITE_NAME)
        found = await db.scalar(select(Category).where(Category.name == category))
        target = found or await forum.save_category(db, None, {"name": category})
        made, _ = await forum.create_thread(
            db, author, category_id=target.id, title=title, body=body, site=site
        )
        return made


async def make_invite(app: Litestar, creator: Member | None = None, **options: Any) -> str:
    """A new invite's token."""
    async with app.state.sessionmaker() as db:
        site = await services.instance_settings(db, SITE_NAME)
        new = await services.create_invite(db, creator, settings=site, **options)
        return new.token


async def eventually(check: Callable[[], Awaitable[T | None]], within: float = 30) -> T:
    """The first true answer of ``check``, asked every 50 ms; AssertionError after
    ``within`` seconds (for what another process or task does in its own time)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still {value!r} after {within} s")
        await asyncio.sleep(0.05)


async def settle(app: Litestar) -> None:
    """Wait until the plugins' event handlers (``track_event``) have run for what was
    committed so far: they run in tasks after the commit."""
    while app.state.tracking:
        await asyncio.gather(*app.state.tracking, return_exceptions=True)


async def run_job(app: Litestar, name: str, within: float = 30, **payload: Any) -> OutboxJob:
    """Enqueue job ``name`` (a plugin's is named ``<plugin>.<job>``) and return its row once it
    is done or dead: run here, or by the app's own runner if that got there first."""
    async with app.state.sessionmaker() as db:
        await enqueue(db, name, **payload)
        await db.commit()
        job_id = await db.scalar(select(func.max(OutboxJob.id)).where(OutboxJob.name == name))
    runner = JobRunner(app.state.sessionmaker, app.state.jobs, app.state.settings)
    deadline = asyncio.get_running_loop().time() + within
    while True:
        await runner.run_next()
        async with app.state.sessionmaker() as db:
            row = await db.get(OutboxJob, job_id)
        assert row is not None
        if row.state in (DONE, DEAD):
            return row
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"job {name} still {row.state} after {within} s")
        await asyncio.sleep(0.05)


async def plugin_health(app: Litestar, name: str) -> Health:
    """Plugin ``name``'s health as the admin page shows it (this process's records written
    first)."""
    async with app.state.sessionmaker() as db:
        await flush_health(db, app.state.plugins)
        return (await read_health(db)).get(name, Health())


async def enable_plugin(app: Litestar, name: str, enabled: bool = True) -> None:
    """Enable (or disable) a loaded plugin, as an admin does."""
    async with app.state.sessionmaker() as db:
        await set_enabled(db, app.state.plugins, name, enabled)


async def api_token(app: Litestar, username: str) -> dict[str, str]:
    """Headers carrying a new API token of ``username``."""
    async with app.state.sessionmaker() as db:
        member = await services.member_by_username(db, username)
        _, token = await services.create_api_token(db, member, "test")
    return {"Authorization": f"Bearer {token}"}


async def csrf(client: httpx.AsyncClient, path: str = "/signin") -> str:
    page = await client.get(path)
    match = CSRF_RE.search(page.text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, Any], page: str | None = None
) -> Any:
    """Post a form as a browser does: with the CSRF token from the page that holds the form."""
    token = await csrf(client, page or path)
    return await client.post(path, data={**data, "_csrf_token": token})


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> Any:
    response = await post_form(client, "/signin", {"username": username, "password": password})
    assert response.status_code in (200, 302, 303), response.text
    return response
