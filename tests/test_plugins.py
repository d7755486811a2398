"""The plugin system: loading and refusing, enabling without a restart, routes, settings, slots,
nav, events, visibility, and isolation of a broken plugin."""

from __future__ import annotations

import ast
import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar

from community import migrate
from community import plugins as plugin_api
from community.accounts import services as accounts
from community.forum import services as forum
from community.jobs import run_worker
from community.plugins import Plugins
from tests.conftest import browser, csrf, make_member, sign_in
from tests.plugins import broken, future, hello, overreach, typo


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [hello, broken]


async def enable(app: Litestar, name: str, enabled: bool = True) -> None:
    async with app.state.sessionmaker() as db:
        await plugin_api.set_enabled(db, app.state.plugins, name, enabled)


@asynccontextmanager
async def admin_client(app: Litestar) -> AsyncIterator[Any]:
    await make_member(app, "root", "admin")
    async with browser(app) as client:
        await sign_in(client, "root")
        yield client


def test_manifests_capabilities_api_versions_and_hook_names_are_checked():
    manager = Plugins(modules=[hello, overreach, future, typo], discover=False)
    assert manager.installed["hello"].loaded
    assert "capabilities it does not declare: slots" in manager.installed["overreach"].refused
    assert "supports plugin API >=2.0" in manager.installed["future"].refused
    refused = manager.installed["typo"].refused
    assert "typo" in refused and "track_evnt" in refused
    # refused plugins have no hooks in play
    answering = {name for name, _ in manager.call("render_slot", None, slot=None, context={})}
    assert answering == {"hello"}


async def test_a_disabled_plugin_is_invisible_and_enabling_needs_no_restart(app, client):
    await make_member(app, "alice")
    await sign_in(client, "alice")
    assert (await client.get("/p/hello/")).status_code == 404
    home = await client.get("/")
    assert "hello-banner" not in home.text and 'href="/p/hello/"' not in home.text
    await enable(app, "hello")
    assert (await client.get("/p/hello/")).text == "Hello"
    home = await client.get("/")
    assert "Hello, alice!" in home.text and 'href="/p/hello/"' in home.text
    await enable(app, "hello", False)
    assert (await client.get("/p/hello/")).status_code == 404
    assert "hello-banner" not in (await client.get("/")).text


async def test_admin_page_shows_capabilities_and_toggles(app):
    async with admin_client(app) as admin:
        page = await admin.get("/admin/plugins")
        assert "hello" in page.text and "visibility" in page.text and "Enable" in page.text
        token = await csrf(admin, "/admin/plugins")
        response = await admin.post("/admin/plugins/hello/enable", data={"_csrf_token": token})
        assert "Enabled hello." in response.text
        assert (await admin.get("/p/hello/")).status_code == 200
        response = await admin.post("/admin/plugins/nope/enable", data={"_csrf_token": token})
        assert response.status_code == 404
    async with browser(app) as member:
        await make_member(app, "alice")
        await sign_in(member, "alice")
        assert (await member.get("/admin/plugins")).status_code == 403


async def test_settings_form_validates_and_the_plugin_reads_them(app):
    await enable(app, "hello")
    async with admin_client(app) as admin:
        token = await csrf(admin, "/admin/plugins")
        bad = await admin.post(
            "/admin/plugins/hello/settings",
            data={"greeting": "Hi", "times": "many", "_csrf_token": token},
        )
        assert bad.status_code == 422 and "times must be a whole number" in bad.text
        assert 'value="many"' in bad.text  # the input is kept
        good = await admin.post(
            "/admin/plugins/hello/settings",
            data={"greeting": "Hi", "times": "2", "shout": "on", "_csrf_token": token},
        )
        assert "Saved the settings of hello." in good.text
        assert (await admin.get("/p/hello/")).text == "HI HI"


async def test_events_reach_enabled_plugins_after_commit(app):
    hello.seen.clear()
    await enable(app, "hello")
    await make_member(app, "alice")
    async with browser(app) as client:
        await sign_in(client, "alice")
        async with app.state.sessionmaker() as db:
            general = await forum.save_category(db, None, {"name": "General"})
        token = await csrf(client, "/new-thread")
        await client.post(
            "/new-thread",
            data={
                "category_id": str(general.id),
                "title": "Events",
                "body": "x",
                "_csrf_token": token,
            },
        )
        await asyncio.sleep(0.05)  # track_event runs as a task after the response
    assert {"ThreadCreated", "PostCreated"} <= set(hello.seen)


async def test_visibility_hook_narrows_lists_pages_search_and_api(app):
    await enable(app, "hello")
    await make_member(app, "alice")
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
        alice = await accounts.member_by_username(db, "alice")
        general = await forum.save_category(db, None, {"name": "General"})
        secret, _ = await forum.create_thread(
            db, alice, category_id=general.id, title="Classified memo", body="ocelot", site=site
        )
        await forum.create_thread(
            db, alice, category_id=general.id, title="Open memo", body="ocelot", site=site
        )
        await plugin_api.save_settings(
            db,
            app.state.plugins,
            "hello",
            {"greeting": "Hi", "times": "1", "hidden_word": "Classified"},
        )
    async with browser(app) as client:
        await sign_in(client, "alice")
        home = await client.get("/")
        assert "Open memo" in home.text and "Classified memo" not in home.text
        assert (await client.get(secret.url)).status_code == 404
        search = await client.get("/search?q=ocelot")
        assert "1 result" in search.text and "Classified" not in search.text
    await enable(app, "hello", False)
    async with browser(app) as client:
        await sign_in(client, "alice")
        assert "Classified memo" in (await client.get("/")).text


async def test_a_broken_plugin_never_breaks_a_page_and_shows_in_its_health(app):
    await enable(app, "broken")
    await make_member(app, "alice")
    async with browser(app) as client:
        await sign_in(client, "alice")
        assert (await client.get("/")).status_code == 200
        async with app.state.sessionmaker() as db:
            general = await forum.save_category(db, None, {"name": "General"})
        token = await csrf(client, "/new-thread")
        response = await client.post(
            "/new-thread",
            data={
                "category_id": str(general.id),
                "title": "Still works",
                "body": "x",
                "_csrf_token": token,
            },
        )
        assert response.status_code == 200 and "Still works" in response.text
        await asyncio.sleep(0.05)
    health = app.state.plugins.installed["broken"].health
    hooks = {hook for _, hook, _ in health.errors_today()}
    assert {"render_slot", "track_event"} <= hooks
    assert any(hook == "register_nav_items" for _, hook, _ in health.slow_today())
    assert health.status == "errors"
    async with admin_client(app) as admin:
        page = await admin.get("/admin/plugins")
        assert "render_slot always fails" in page.text


def test_the_core_never_imports_a_plugin():
    """Plugins are found through entry points; nothing in community/ imports one."""
    core = Path(__file__).parent.parent / "community"
    for path in core.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("community_", "plugins", "tests")), (path, name)


def test_every_hook_has_a_capability():
    specs = [
        name
        for name in dir(plugin_api.hookspecs)
        if hasattr(getattr(plugin_api.hookspecs, name), "community_spec")
    ]
    assert sorted(specs) == sorted(plugin_api.hookspecs.CAPABILITIES)


def test_plugin_migrations_are_a_branch_of_their_own(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'plugins.db'}"
    with_hello = Plugins(modules=[hello], discover=False)
    without = Plugins(modules=[], discover=False)
    migrate.upgrade(url, plugins=with_hello)
    assert migrate.is_current(url, plugins=with_hello)
    migrate.check(url, plugins=with_hello)
    assert "hello: hello_0001 (head)" in migrate.current(url, plugins=with_hello)
    assert "hello_greetings" in table_names(url)
    # Uninstalled: the core neither sees nor minds the plugin's tables and history.
    assert migrate.is_current(url, plugins=without)
    migrate.check(url, plugins=without)
    migrate.downgrade(url, "base", plugin="hello", plugins=with_hello)
    assert "hello_greetings" not in table_names(url)
    assert not migrate.is_current(url, plugins=with_hello)
    migrate.upgrade(url, plugins=with_hello)
    assert "hello_greetings" in table_names(url)


def table_names(url: str) -> set[str]:
    import sqlite3

    path = url.split("///", 1)[1]
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in rows}


async def test_a_plugin_schedule_runs_its_job_only_while_enabled(app):
    hello.greeted.clear()
    assert "hello.greet" in app.state.jobs.jobs and "hello.tick" in app.state.jobs.schedules
    await asyncio.sleep(1.2)
    assert hello.greeted == []  # disabled: the schedule fires but the job does nothing
    await enable(app, "hello")
    worker = None
    if app.state.redis is not None:  # with Redis, jobs run in workers: start one here
        worker = asyncio.create_task(
            run_worker(
                app.state.settings,
                app.state.jobs,
                namespace=app.state.namespace,
                sessionmaker=app.state.sessionmaker,
            )
        )
    try:
        for _ in range(60):
            if hello.greeted:
                break
            await asyncio.sleep(0.1)
    finally:
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
    assert hello.greeted and hello.greeted[0] == "Hello, everyone"
