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
from community.errors import ServiceError
from community.forum import services as forum
from community.jobs import run_worker
from community.plugins import Plugins, activated
from community.testing import (
    api_token,
    browser,
    csrf,
    make_member,
    plugin_health,
    post_form,
    settle,
    sign_in,
)
from tests.plugins import broken, clash, future, hello, ledger, overreach, typo


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


@pytest.mark.hook("register_routes", "register_nav_items", "render_slot")
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


@pytest.mark.hook("register_settings")
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


@pytest.mark.hook("track_event")
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


@pytest.mark.hook("visible_threads")
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


@pytest.mark.hook("visible_categories")
async def test_a_hidden_category_is_not_listed_shown_or_posted_in(app):
    await enable(app, "hello")
    await make_member(app, "alice")
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
        alice = await accounts.member_by_username(db, "alice")
        await forum.save_category(db, None, {"name": "General"})
        hidden = await forum.save_category(db, None, {"name": "Classified lab"})
        thread, _ = await forum.create_thread(
            db, alice, category_id=hidden.id, title="Lab notes", body="ocelot", site=site
        )
        await plugin_api.save_settings(
            db,
            app.state.plugins,
            "hello",
            {"greeting": "Hi", "times": "1", "hidden_word": "Classified"},
        )
    async with browser(app) as client:
        await sign_in(client, "alice")
        listed = await client.get("/categories")
        assert "General" in listed.text and "Classified" not in listed.text
        assert "Lab notes" not in (await client.get("/")).text
        assert (await client.get(thread.url)).status_code == 404
        assert (await client.get(f"/c/{hidden.slug}")).status_code == 404
        search = await client.get("/search?q=ocelot")
        assert "Lab notes" not in search.text
    async with app.state.sessionmaker() as db:
        alice = await accounts.member_by_username(db, "alice")
        site = await accounts.instance_settings(db, "Testers")
        with activated(app.state.plugins, site), pytest.raises(ServiceError):
            await forum.create_thread(
                db, alice, category_id=hidden.id, title="More", body="x", site=site
            )
    await enable(app, "hello", False)
    async with browser(app) as client:
        await sign_in(client, "alice")
        assert "Classified lab" in (await client.get("/categories")).text


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
    health = await plugin_health(app, "broken")
    hooks = {hook for _, hook, _ in health.recent}
    assert {"render_slot", "track_event"} <= hooks
    assert health.slow >= 1  # register_nav_items sleeps
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


@pytest.mark.hook("register_migrations")
def test_plugin_migrations_are_a_branch_of_their_own(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'plugins.db'}"
    with_ledger = Plugins(modules=[ledger], discover=False)
    without = Plugins(modules=[], discover=False)
    migrate.upgrade(url, plugins=with_ledger)
    assert migrate.is_current(url, plugins=with_ledger)
    migrate.check(url, plugins=with_ledger)
    assert "ledger: ledger_0001 (head)" in migrate.current(url, plugins=with_ledger)
    assert "ledger_entries" in table_names(url)
    # Uninstalled: the core neither sees nor minds the plugin's tables and history.
    assert migrate.is_current(url, plugins=without)
    migrate.check(url, plugins=without)
    migrate.downgrade(url, "base", plugin="ledger", plugins=with_ledger)
    assert "ledger_entries" not in table_names(url)
    assert not migrate.is_current(url, plugins=with_ledger)
    migrate.upgrade(url, plugins=with_ledger)
    assert "ledger_entries" in table_names(url)
    # Taking the core back to nothing takes the plugins' tables (which point at it) first.
    migrate.downgrade(url, "base", plugins=with_ledger)
    assert table_names(url) <= {"alembic_version", "alembic_version_ledger"}
    migrate.upgrade(url, plugins=with_ledger)
    assert "ledger_entries" in table_names(url) and migrate.is_current(url, plugins=with_ledger)


def table_names(url: str) -> set[str]:
    import sqlite3

    path = url.split("///", 1)[1]
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in rows}


@pytest.mark.hook("register_jobs", "register_schedules")
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


@pytest.mark.hook("register_api_routes", "register_templates", "register_static")
async def test_api_routes_templates_and_static_files_come_and_go_with_the_plugin(app):
    await make_member(app, "alice")
    headers = await api_token(app, "alice")
    async with browser(app) as client:
        await sign_in(client, "alice")
        for path in ("/p/hello/page", "/api/v1/hello/greeting", "/static/hello/hello.txt"):
            response = await client.get(path, headers=headers if "/api/" in path else None)
            assert response.status_code == 404, path
        await enable(app, "hello")
        page = await client.get("/p/hello/page")
        assert '<h1 class="hello-page">Hello, alice!</h1>' in page.text
        assert "<nav" in page.text and "Testers" in page.text  # the core's layout around it
        api = await client.get("/api/v1/hello/greeting", headers=headers)
        assert api.json() == {"greeting": "Hello", "may_review": False}
        static = await client.get("/static/hello/hello.txt")
        assert static.status_code == 200 and static.text == "hello, static\n"
        await enable(app, "hello", False)
        assert (await client.get("/static/hello/hello.txt")).status_code == 404


@pytest.mark.hook("register_event_types")
async def test_plugin_event_types_are_catalogued_and_reach_other_plugins(app):
    catalogue = {entry["name"]: entry for entry in plugin_api.event_catalogue(app.state.plugins)}
    assert catalogue["PostCreated"]["source"] == "core"
    assert catalogue["PostCreated"]["fields"]["post_id"] == "integer"
    assert catalogue["GreetingSent"] == {
        "name": "GreetingSent",
        "source": "hello",
        "description": "Someone opened the hello page and was greeted.",
        "fields": {"member_id": "integer", "greeting": "string"},
    }
    assert plugin_api.payload(hello.GreetingSent(member_id=3, greeting="Hi")) == {
        "type": "GreetingSent",
        "data": {"member_id": 3, "greeting": "Hi"},
    }
    refused = Plugins(modules=[clash], discover=False).installed["clash"].refused
    assert "event type PostCreated is already declared by core" in refused

    hello.seen.clear()
    await enable(app, "hello")
    await make_member(app, "alice")
    async with browser(app) as client:
        await sign_in(client, "alice")
        await client.get("/p/hello/page")
    await settle(app)
    assert "GreetingSent" in hello.seen
    async with admin_client(app) as admin:
        page = await admin.get("/admin/plugins")
        assert "GreetingSent" in page.text and "member_id: integer" in page.text
    listed = await client_json(app, "root", "/api/v1/plugins/events")
    assert {"name": "GreetingSent", "source": "hello"}.items() <= listed["event_types"][-1].items()
    refused = await client_json(app, "alice", "/api/v1/plugins/events", 403)
    assert refused["detail"] == "Only admins can do this."


async def client_json(app: Litestar, username: str, path: str, status: int = 200) -> Any:
    async with browser(app) as client:
        response = await client.get(path, headers=await api_token(app, username))
    assert response.status_code == status, response.text
    return response.json()


async def test_the_plugins_api_lists_manifests_state_and_health(app):
    await enable(app, "hello")
    await make_member(app, "root", "admin")
    listed = {p["name"]: p for p in (await client_json(app, "root", "/api/v1/plugins"))["plugins"]}
    assert listed["hello"]["enabled"] and listed["hello"]["health"]["status"] == "ok"
    assert "visibility" in listed["hello"]["capabilities"]
    assert listed["hello"]["permissions"][0]["name"] == "hello.review"
    assert not listed["broken"]["enabled"]


@pytest.mark.hook("register_permissions", "register_admin_pages")
async def test_permissions_by_role_and_by_group_and_the_plugins_admin_link(app):
    await enable(app, "hello")
    await make_member(app, "alice")
    await make_member(app, "mod", "moderator")
    async with app.state.sessionmaker() as db:
        crew = await accounts.create_group(db, "Crew")
        await accounts.add_to_group(db, crew, await accounts.member_by_username(db, "alice"))

    async def may_review(username: str) -> bool:
        async with browser(app) as client:
            response = await client.get(
                "/api/v1/hello/greeting", headers=await api_token(app, username)
            )
        return response.json()["may_review"]

    assert not await may_review("alice")
    assert await may_review("mod")  # by role
    async with admin_client(app) as admin:
        page = await admin.get("/admin/plugins")
        assert "hello.review" in page.text and "Review greetings" in page.text
        assert 'href="/p/hello/admin"' in page.text  # register_admin_pages
        assert (await admin.get("/p/hello/admin")).text == "hello admin"
        saved = await post_form(
            admin,
            "/admin/plugins/hello/permissions",
            {"permission": "hello.review", "groups": [str(crew.id)]},
            "/admin/plugins",
        )
        assert "Saved who may hello.review." in saved.text
        bad = await post_form(
            admin,
            "/admin/plugins/hello/permissions",
            {"permission": "hello.review", "groups": ["99999"]},
            "/admin/plugins",
        )
        assert bad.status_code == 422 and "no longer exist" in bad.text
        for odd in ("²", "9" * 20, "-1"):
            refused = await post_form(
                admin,
                "/admin/plugins/hello/permissions",
                {"permission": "hello.review", "groups": [odd]},
                "/admin/plugins",
            )
            assert refused.status_code == 422 and "not filled in as expected" in refused.text
        unknown = await post_form(
            admin,
            "/admin/plugins/hello/permissions",
            {"permission": "hello.nothing"},
            "/admin/plugins",
        )
        assert unknown.status_code == 404
    assert await may_review("alice")  # through Crew
    async with browser(app) as client:
        await sign_in(client, "alice")
        assert 'href="/p/hello/admin"' not in (await client.get("/")).text
        assert (await client.get("/p/hello/admin")).status_code == 403


async def test_health_is_shared_by_every_process(app):
    """Errors noted by another process (another Plugins manager) show here."""
    await enable(app, "broken")
    other = Plugins(modules=[hello, broken], discover=False)
    other.call("render_slot", ["broken"], slot=None, context={})
    async with app.state.sessionmaker() as db:
        assert await plugin_api.flush_health(db, other) == 1
    health = await plugin_health(app, "broken")
    assert (health.errors, health.status) == (1, "errors")
    async with admin_client(app) as admin:
        page = await admin.get("/admin/plugins")
        assert "1 errors, 0 slow calls in the last 24 hours" in page.text


@pytest.mark.hook("record_audit")
async def test_audit_entries_go_to_the_plugins_that_keep_them(app):
    """``plugins.audit`` hands an entry to the enabled plugins keeping an audit log; with
    none enabled it is nothing, and the change goes on."""
    alice = await make_member(app, "alice", role="admin")
    hello.audited.clear()
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
        with plugin_api.activated(app.state.plugins, site):
            plugin_api.audit(db, alice, "beta.flag", "flag", None, after={"rollout": 5})
        await enable(app, "hello")
        site = await accounts.instance_settings(db, "Testers")
        with plugin_api.activated(app.state.plugins, site):
            plugin_api.audit(
                db, alice, "beta.flag", "flag", 3, before={"rollout": 5}, after={"rollout": 9}
            )
            plugin_api.audit(db, None, "beta.tidy", "program", 4)
    assert hello.audited == [
        ("alice", "beta.flag", "flag", 3, {"rollout": 5}, {"rollout": 9}),
        (None, "beta.tidy", "program", 4, {}, {}),
    ]


@pytest.mark.hook("member_scores")
async def test_member_scores_come_from_the_plugin_that_rates_members(app):
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
        with plugin_api.activated(app.state.plugins, site):
            assert await plugin_api.member_scores(db, [1, 2]) is None  # nobody rates
            assert not plugin_api.enabled("hello")
        await enable(app, "hello")
        site = await accounts.instance_settings(db, "Testers")
        with plugin_api.activated(app.state.plugins, site):
            assert plugin_api.enabled("hello") and not plugin_api.enabled("nobody")
            assert await plugin_api.member_scores(db, [4, 3, 2]) == {4: 40.0, 3: 0.0, 2: 20.0}
            assert await plugin_api.member_scores(db, []) == {}


@pytest.mark.hook("feature_enabled")
async def test_feature_flags_answer_plugins_and_templates(app):
    """``plugins.feature_enabled`` and the templates' ``feature_enabled(key)`` ask the
    enabled plugins; a flag nobody knows, or with the plugin disabled, is off."""
    await make_member(app, "alice")
    await make_member(app, "bob")
    await enable(app, "hello")
    for name, shown in (("alice", True), ("bob", False)):
        async with browser(app) as client:
            await sign_in(client, name)
            page = await client.get("/p/hello/page")
            assert page.status_code == 200
            assert ('class="hello-look"' in page.text) is shown, name
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
        alice = await accounts.member_by_username(db, "alice")
        with plugin_api.activated(app.state.plugins, site):
            assert plugin_api.feature_enabled(alice, "hello-look") is True
            assert plugin_api.feature_enabled(alice, "unknown") is False
            assert plugin_api.feature_enabled(None, "hello-look") is False
    await enable(app, "hello", False)
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
        with plugin_api.activated(app.state.plugins, site):
            assert plugin_api.feature_enabled(alice, "hello-look") is False


@pytest.mark.hook("best_time")
async def test_the_best_time_to_post_comes_from_the_plugin_that_knows(app):
    from datetime import UTC, datetime

    now = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
        with plugin_api.activated(app.state.plugins, site):
            assert await plugin_api.best_time(db, now) is None
        await enable(app, "hello")
        site = await accounts.instance_settings(db, "Testers")
        with plugin_api.activated(app.state.plugins, site):
            assert await plugin_api.best_time(db, now) == datetime(2026, 12, 1, 10, tzinfo=UTC)


@pytest.mark.hook("review_items")
async def test_review_items_gather_what_plugins_have_waiting(app):
    from community.plugins import ReviewItem

    mod = await make_member(app, "mod", role="moderator")
    alice = await make_member(app, "alice")
    await enable(app, "hello")
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
        with plugin_api.activated(app.state.plugins, site):
            [item] = await plugin_api.review_items(db, mod)
            assert isinstance(item, ReviewItem) and item.url == "/p/hello/page"
            assert await plugin_api.review_items(db, alice) == []
