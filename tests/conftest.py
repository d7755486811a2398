"""Test fixtures: a migrated database (SQLite by default, PostgreSQL when
``COMMUNITY_TEST_DATABASE_URL`` is set), Redis when ``COMMUNITY_TEST_REDIS_URL`` is set,
a fresh app per test and helpers that build real data through the services."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.channels import ChannelsPlugin
from sqlalchemy import text
from sqlalchemy.engine import make_url

from community import migrate
from community.accounts import services
from community.accounts.models import Member
from community.app import create_app
from community.db import Base, core_tables, create_engine
from community.models import load_models
from community.plugins import Plugins
from community.settings import Settings, load_settings

BASE_URL = "http://testserver.local"
PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="_csrf_token" value="([^"]+)"')


def test_env(var_dir: Path) -> dict[str, str]:
    env = {
        "COMMUNITY_VAR_DIR": str(var_dir),
        "COMMUNITY_SECRET_KEY": "test-secret-" + "x" * 40,
        "COMMUNITY_BASE_URL": BASE_URL,
        "COMMUNITY_NAME": "Testers",
    }
    if url := os.environ.get("COMMUNITY_TEST_DATABASE_URL"):
        env["COMMUNITY_DATABASE_URL"] = url
    if url := os.environ.get("COMMUNITY_TEST_REDIS_URL"):
        env["COMMUNITY_REDIS_URL"] = url
    return env


def reset_database(database_url: str) -> None:
    """Give the run a clean schema: drop everything, then migrate to head."""
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


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def env(var_dir: Path) -> dict[str, str]:
    return test_env(var_dir)


@pytest.fixture(scope="session")
def settings(env: dict[str, str]) -> Settings:
    settings = load_settings(env)
    reset_database(settings.database_url)
    load_models()
    return settings


@pytest.fixture
def namespace() -> str:
    return "test-" + secrets.token_hex(6)


@pytest.fixture
def plugin_modules() -> list[Any]:
    """Plugin modules the ``app`` fixture loads; a test module overrides this fixture.
    Installed plugins are not discovered in tests, so what is installed cannot change them."""
    return []


@pytest.fixture
async def app(
    settings: Settings, namespace: str, plugin_modules: list[Any]
) -> AsyncIterator[Litestar]:
    plugins = Plugins(modules=plugin_modules, discover=False)
    app = create_app(settings, namespace=namespace, plugins=plugins)
    async with app.state.sessionmaker() as db:
        # Subcategories restrict deleting their parent: unhook them first.
        await db.execute(text("UPDATE categories SET parent_id = NULL"))
        core = core_tables()  # plugin tables (test plugins) belong to their own tests
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in core:
                await db.execute(table.delete())
        await db.commit()
    # Channels and the startup and shutdown hooks (closing the engine and Redis), run here
    # rather than through app.lifespan(), whose task group cannot span a fixture's two halves.
    channels = app.plugins.get(ChannelsPlugin)
    for hook in app.on_startup:
        await _call(hook, app)
    await channels.__aenter__()
    yield app
    await channels.__aexit__(None, None, None)
    if app.state.redis is not None:
        keys = [key async for key in app.state.redis.scan_iter(f"{namespace}:*")]
        if keys:
            await app.state.redis.delete(*keys)
    for hook in reversed(app.on_shutdown):
        await _call(hook, app)


async def _call(hook: Any, app: Litestar) -> None:
    result = hook(app) if inspect.signature(hook).parameters else hook()
    if inspect.isawaitable(result):
        await result


def browser(app: Litestar) -> httpx.AsyncClient:
    """A client on the test's event loop (asyncpg connections belong to one loop)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL, follow_redirects=True
    )


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(app) as client:
        yield client


async def make_member(
    app: Litestar, username: str, role: str = "member", password: str = PASSWORD
) -> Member:
    async with app.state.sessionmaker() as db:
        return await services.create_member(db, username=username, password=password, role=role)


async def make_invite(app: Litestar, creator: Member | None = None, **options: Any) -> str:
    """A new invite's token."""
    async with app.state.sessionmaker() as db:
        site = await services.instance_settings(db, "Testers")
        new = await services.create_invite(db, creator, settings=site, **options)
        return new.token


async def api_token(app: Litestar, username: str) -> dict[str, str]:
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
