"""``create_app(settings)``: the Litestar application, embedded or on PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from litestar import Litestar, Request, Response, Router, get
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.openapi import OpenAPIConfig
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore

from community import __version__, live
from community.accounts import api as accounts_api
from community.accounts import routes as accounts_routes
from community.accounts.auth import AuthMiddleware, provide_db, provide_member, require_member
from community.accounts.services import instance_settings
from community.admin import jobs as admin_jobs
from community.admin import plugins as admin_plugins
from community.admin import routes as admin_routes
from community.db import create_engine, create_redis, create_sessionmaker, ping
from community.errors import ServiceError
from community.events import DISPATCH, Event
from community.forum import api as forum_api
from community.forum import routes as forum_routes
from community.jobs import Job, JobContext, JobRegistry, start_runner
from community.live import Publisher
from community.mail import Mailer
from community.plugins import Active, Plugins, activated, keep_health
from community.plugins import active as active_plugins
from community.ratelimit import RateLimiter
from community.settings import Settings, load_settings
from community.web import (
    STATIC_DIR,
    add_security_headers,
    handle_http_error,
    handle_internal_error,
    handle_service_error,
    redact,
    template_config,
)
from community.web.sessions import SessionConfig

log = logging.getLogger("community")


def _listeners_ended(task: asyncio.Task[Any]) -> None:
    """The plugins' listeners stopped before shutdown (their channel failed): say so; their
    plugins fall back on their own slower checks until the process restarts."""
    if not task.cancelled() and task.exception() is not None:
        log.error("plugin listeners stopped: %r", task.exception())


class RedactTokens(logging.Filter):
    """Keeps invite and feed tokens out of the access log: they are as good as a password."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


@get("/favicon.ico", opt={"public": True}, include_in_schema=False)
async def favicon() -> Redirect:
    return Redirect("/static/favicon.svg", status_code=301)


@get("/healthz", opt={"public": True}, tags=["health"])
async def healthz(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    """200 when the database (and Redis, when configured) answer; 503 naming what failed."""
    state = request.app.state
    body = {"status": "ok", "database": "ok", "redis": "embedded"}
    try:
        await ping(state.engine)
    except Exception as exc:
        log.warning("health: database unreachable: %s", exc)
        body["status"], body["database"] = "error", "unreachable"
    if state.redis is not None:
        try:
            await state.redis.ping()
            body["redis"] = "ok"
        except Exception as exc:
            log.warning("health: redis unreachable: %s", exc)
            body["status"], body["redis"] = "error", "unreachable"
    return Response(body, status_code=200 if body["status"] == "ok" else 503)


def plugin_routers(plugins: Plugins) -> list[Router]:
    """Each loaded plugin's pages under ``/p/<name>/`` and API under ``/api/v1/<name>/``,
    answering 404 while the plugin is disabled."""
    routers = []
    for plugin in plugins.loaded:
        guard = enabled_guard(plugin.name)
        for hook, prefix in (("register_routes", "/p"), ("register_api_routes", "/api/v1")):
            handlers = plugins.first(plugin.name, hook)
            if handlers:
                routers.append(
                    Router(
                        path=f"{prefix}/{plugin.name}",
                        route_handlers=list(handlers),
                        guards=[guard],
                        tags=[plugin.name],
                    )
                )
        static = plugins.first(plugin.name, "register_static")
        if static:
            routers.append(
                create_static_files_router(
                    path=f"/static/{plugin.name}",
                    directories=[static],
                    opt={"public": True},
                    name=f"static-{plugin.name}",
                    guards=[static_guard(plugin.name)],
                )
            )
    return routers


def job_registry(plugins: Plugins) -> JobRegistry:
    """Every loaded plugin's jobs and schedules, named ``<plugin>.<name>``. A plugin's job
    runs only while the plugin is enabled, with its settings readable as in a request."""
    registry = JobRegistry()
    for plugin in plugins.loaded:
        prefix = f"{plugin.name}."
        for job in plugins.first(plugin.name, "register_jobs") or []:
            name = job.name if job.name.startswith(prefix) else prefix + job.name
            registry.add_job(
                replace(job, name=name, func=_while_enabled(plugins, plugin.name, job))
            )
        for schedule in plugins.first(plugin.name, "register_schedules") or []:
            registry.add_schedule(
                replace(
                    schedule,
                    name=schedule.name
                    if schedule.name.startswith(prefix)
                    else prefix + schedule.name,
                    job=schedule.job if schedule.job.startswith(prefix) else prefix + schedule.job,
                )
            )
    return registry


def _while_enabled(plugins: Plugins, name: str, job: Job) -> Any:
    async def run(ctx: JobContext, **payload: Any) -> None:
        site = await instance_settings(ctx.db, ctx.settings.name)
        if name not in Plugins.enabled_in(site):
            log.info("jobs: %s skipped: plugin %s is disabled", job.name, name)
            return
        with activated(plugins, site):
            await job.func(ctx, **payload)

    return run


def enabled_guard(name: str) -> Any:
    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: Any) -> None:
        site = connection.scope.get("state", {}).get("site") or {}
        if name not in Plugins.enabled_in(site):
            raise NotFoundException()

    return guard


def static_guard(name: str) -> Any:
    """``enabled_guard`` for static files, which skip the middleware that reads the settings."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: Any) -> None:
        state = connection.app.state
        async with state.sessionmaker() as db:
            site = await instance_settings(db, state.settings.name)
        if name not in Plugins.enabled_in(site):
            raise NotFoundException()

    return guard


def create_app(
    settings: Settings | None = None,
    *,
    namespace: str | None = None,
    plugins: Plugins | None = None,
) -> Litestar:
    """The application. ``namespace`` prefixes every Redis key and channel (default the
    ``COMMUNITY_REDIS_NAMESPACE`` setting; tests use their own); ``plugins`` defaults to every
    plugin installed (entry points ``community.plugins``)."""
    settings = settings or load_settings()
    namespace = namespace or settings.redis_namespace
    plugins = plugins if plugins is not None else Plugins()
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access_log.filters):
        access_log.addFilter(RedactTokens())
    # httpx logs every request's URL at INFO, and plugins' outbound URLs (a webhook's) carry
    # secrets: only its warnings reach the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    engine = create_engine(settings.database_url)
    # Plugins' own sessions (plugins.session()) come from a pool of their own: a gate or a slot
    # opens one while the request's session holds a connection, and with one pool a burst of
    # requests could hold every connection, each waiting for a second (on SQLite as on
    # PostgreSQL: 32 replies at once answered nothing for 30 s).
    side = create_engine(settings.database_url, 5, 10)
    redis = create_redis(settings.redis_url) if settings.redis_url else None
    if redis is not None:
        stores = {
            "sessions": RedisStore(redis, namespace=f"{namespace}:sessions"),
            "cache": RedisStore(redis, namespace=f"{namespace}:cache"),
        }
        channels_backend: Any = RedisChannelsPubSubBackend(redis=redis)
    else:
        # File-backed sessions survive a restart of the embedded server.
        stores = {
            "sessions": FileStore(settings.var_dir / "sessions", create_directories=True),
            "cache": MemoryStore(),
        }
        channels_backend = MemoryChannelsBackend()

    jobs = job_registry(plugins)
    channels = ChannelsPlugin(backend=channels_backend, arbitrary_channels_allowed=True)
    publisher = Publisher(channels, namespace)
    tracking: set[asyncio.Task[Any]] = set()

    def dispatch(events: Sequence[Event]) -> None:
        """After commit: tell open pages, then (in a task, in order) the enabled plugins'
        ``track_event``."""
        publisher(events)
        current = active_plugins()
        if not plugins.loaded or (current is not None and not current.enabled):
            return  # nobody would hear them: no task, no query
        task = asyncio.get_running_loop().create_task(track(events, current))
        tracking.add(task)
        task.add_done_callback(tracking.discard)

    async def track(events: Sequence[Event], current: Active | None) -> None:
        if current is None:  # a write outside a request or a plugin's job: a script, a test
            async with sessionmaker() as db:
                site = await instance_settings(db, settings.name)
            current = Active(plugins, Plugins.enabled_in(site), site)
        if not current.enabled:
            return
        with activated(current.plugins, current.site):
            for event in events:
                await current.plugins.acall("track_event", current.enabled, event=event)

    sessionmaker = create_sessionmaker(engine, {DISPATCH: dispatch})
    plugins.sessionmaker = create_sessionmaker(side, {DISPATCH: dispatch})  # plugins.session()
    limiter = RateLimiter(redis, namespace)
    plugins.limiter = limiter  # and count with plugins.rate_limit()
    plugins.channels, plugins.namespace = channels, namespace  # and plugins.publish()
    if settings.smtp_url:  # and community.mail.send()
        plugins.mailer = Mailer.from_url(settings.smtp_url, settings.mail_from)

    async def clean_sessions() -> None:
        sessions = stores["sessions"]
        if isinstance(sessions, FileStore) and await sessions.path.exists():
            await sessions.delete_expired()

    async def start_jobs(app: Litestar) -> None:
        app.state.job_runner = await start_runner(
            app.state.sessionmaker, jobs, settings, redis=redis, namespace=namespace
        )
        app.state.health_stop = asyncio.Event()
        app.state.health_task = asyncio.create_task(
            keep_health(sessionmaker, plugins, app.state.health_stop)
        )

    async def start_listeners(app: Litestar) -> None:
        """The plugins' listeners (hook ``register_listeners``), in one task."""
        found = plugins.listeners()
        app.state.listeners = [asyncio.create_task(live.listen(channels, found))] if found else []
        for task in app.state.listeners:
            task.add_done_callback(_listeners_ended)

    async def stop_listeners(app: Litestar) -> None:
        for task in app.state.listeners:
            task.cancel()
        await asyncio.gather(*app.state.listeners, return_exceptions=True)

    async def stop_jobs(app: Litestar) -> None:
        runner = getattr(app.state, "job_runner", None)
        if runner is not None:
            await runner.stop()
        task = getattr(app.state, "health_task", None)
        if task is not None:
            app.state.health_stop.set()  # it writes what is left, then returns
            await task

    async def close() -> None:
        await engine.dispose()
        await side.dispose()
        if redis is not None:
            await redis.aclose()

    return Litestar(
        route_handlers=[
            healthz,
            favicon,
            *accounts_routes.routes,
            *forum_routes.routes,
            accounts_api.router,
            forum_api.router,
            admin_routes.router,
            admin_plugins.router,
            admin_plugins.api_router,
            admin_jobs.router,
            *plugin_routers(plugins),
            create_static_files_router(
                path="/static", directories=[STATIC_DIR], opt={"public": True}, name="static"
            ),
        ],
        state=State(
            {
                "settings": settings,
                "engine": engine,
                "plugin_engine": side,
                "sessionmaker": sessionmaker,
                "plugins": plugins,
                "jobs": jobs,
                "namespace": namespace,
                "redis": redis,
                "limiter": limiter,
                "tracking": tracking,
            }
        ),
        stores=stores,
        dependencies={
            "db": Provide(provide_db, sync_to_thread=False),
            "member": Provide(provide_member, sync_to_thread=False),
        },
        guards=[require_member],
        middleware=[
            SessionConfig(
                store="sessions",
                secure=settings.secure_cookies,
                samesite="lax",
                httponly=True,
                max_age=60 * 60 * 24 * 30,
                renew_on_access=True,
                exclude=["^/static/", "^/api/", "^/healthz$"],
            ).middleware,
            AuthMiddleware(),
        ],
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_secure=settings.secure_cookies,
            cookie_httponly=True,
            exclude=["^/api/"],
        ),
        plugins=[channels],
        template_config=template_config(plugins),
        exception_handlers={
            ServiceError: handle_service_error,
            HTTPException: handle_http_error,
            Exception: handle_internal_error,
        },
        before_send=[add_security_headers],
        on_startup=[clean_sessions, start_jobs, start_listeners],
        on_shutdown=[stop_listeners, stop_jobs, close],
        openapi_config=OpenAPIConfig(title="community", version=__version__, path="/schema"),
        debug=False,
    )
