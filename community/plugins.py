"""The plugin manager: discovery, manifests and capabilities, enabling, isolation and health.

Plugins are distributions with an entry point in the group ``community.plugins`` pointing at
their ``plugin`` module, which holds ``MANIFEST`` and the ``@hookimpl`` functions. Every
installed plugin is loaded at startup (so its routes and migrations exist), but its hooks run
only while it is enabled: the enabled set lives in the database (instance setting
``plugins``), which every request already reads, so enabling or disabling takes effect on the
next request in every process, without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import logging
import re
import time
import types
import typing
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any, Literal

import pluggy
from markupsafe import Markup
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from sqlalchemy import Float, Index, String, Text, delete, false, func, select
from sqlalchemy.orm import Mapped, mapped_column

from community import hookspecs, live
from community.db import Base, UTCDateTime, utcnow
from community.errors import ServiceError
from community.events import Event

log = logging.getLogger("community.plugins")

ENTRY_POINT_GROUP = "community.plugins"
SETTING_KEY = "plugins"
"""Instance setting holding ``{"enabled": [names]}``."""
GRANTS_KEY = "permissions"
"""Instance setting holding ``{"<plugin>.<permission>": [group ids]}``."""
SLOW_SECONDS = 0.25
"""A hook call slower than this is reported in the plugin's health."""
HEALTH_WINDOW = timedelta(days=1)
PRUNE_EVERY = timedelta(hours=1)
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789")
MAX_NAME = 27
"""So that ``<name>_0001`` fits Alembic's 32-character revision column."""
CHANNEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
"""A plugin's live channel name."""
LIVE_EVENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""A plugin's live event name (the stream calls it ``<plugin>-<event>``)."""


class PluginError(Exception):
    """A plugin that cannot be loaded; the message names it and says why."""


# ---------------------------------------------------------------------------------------------
# What plugins declare and return


@dataclass(frozen=True)
class Manifest:
    """What a plugin is and what it needs, shown to admins before they enable it."""

    name: str
    version: str
    description: str
    api: str
    """The plugin API versions it supports, as a specifier: ``">=1.0,<2"``."""
    capabilities: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "capabilities", frozenset(self.capabilities))


@dataclass(frozen=True)
class Gate:
    """A gate's answer about a write: allow, hold for review, or reject with a reason."""

    verdict: Literal["allow", "hold", "reject"]
    reason: str = ""

    @classmethod
    def allow(cls) -> Gate:
        return cls("allow")

    @classmethod
    def hold(cls, reason: str) -> Gate:
        return cls("hold", reason)

    @classmethod
    def reject(cls, reason: str) -> Gate:
        return cls("reject", reason)

    @property
    def strictness(self) -> int:
        return {"allow": 0, "hold": 1, "reject": 2}[self.verdict]


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str


@dataclass(frozen=True)
class ReviewItem:
    """Something of a plugin's waiting for a moderator's decision (a cross-post draft): shown
    in the moderation inbox with a link to where it is decided."""

    kind: str
    """What it is, in a few words ("Cross-post draft")."""
    title: str
    url: str
    created_at: datetime
    detail: str = ""


@dataclass(frozen=True)
class Permission:
    """Something a plugin lets only some members do. Members whose role is in ``roles`` have
    it; admins grant it to groups on the Plugins page. Check it with ``allowed(member, name)``;
    the name is prefixed with the plugin's (``<plugin>.<name>``)."""

    name: str
    description: str
    roles: tuple[str, ...] = ("admin",)


# ---------------------------------------------------------------------------------------------
# Health


class HealthRecord(Base):
    """A plugin's error or slow hook call, from any process; kept for a day."""

    __tablename__ = "plugin_health"
    __table_args__ = (Index("ix_plugin_health_plugin_at", "plugin", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plugin: Mapped[str] = mapped_column(String(64))
    hook: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    """``error`` or ``slow``."""
    detail: Mapped[str] = mapped_column(Text, default="")
    seconds: Mapped[float | None] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass
class Health:
    """A plugin's errors and slow hook calls over the last day, in every process: each process
    notes them here and ``flush_health`` writes them to ``plugin_health``; ``read_health``
    reads them back for the admin page and ``community plugins list``."""

    errors: int = 0
    slow: int = 0
    recent: list[tuple[datetime, str, str]] = field(default_factory=list)
    """The latest errors: when, hook, message."""

    @property
    def status(self) -> str:
        return "errors" if self.errors else "slow" if self.slow else "ok"


async def flush_health(db: Any, plugins: Plugins) -> int:
    """Write the health records ``plugins`` noted in this process, and (hourly) forget those
    older than a day. With nothing to do it runs no statement."""
    records = []
    while plugins.unsaved_health:
        records.append(plugins.unsaved_health.popleft())
    now = utcnow()
    prune = plugins.health_pruned_at is None or now - plugins.health_pruned_at > PRUNE_EVERY
    if not records and not prune:
        return 0
    db.add_all(records)
    if prune:
        await db.execute(delete(HealthRecord).where(HealthRecord.at < now - HEALTH_WINDOW))
        plugins.health_pruned_at = now
    await db.commit()
    return len(records)


async def keep_health(
    sessionmaker: Any, plugins: Plugins, stop: asyncio.Event, every: float = 5.0
) -> None:
    """Flush the health records of ``plugins`` every ``every`` seconds, and once more when
    ``stop`` is set. Never cancel it: a query cancelled half-way can leave the connection
    pool waiting."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        try:
            async with sessionmaker() as db:
                await flush_health(db, plugins)
        except Exception:
            log.exception("plugins: could not write health records; trying again")


async def read_health(db: Any) -> dict[str, Health]:
    """Each plugin's health over the last day, from every process's records."""
    since = utcnow() - HEALTH_WINDOW
    found: dict[str, Health] = {}
    counts = await db.execute(
        select(HealthRecord.plugin, HealthRecord.kind, func.count())
        .where(HealthRecord.at >= since)
        .group_by(HealthRecord.plugin, HealthRecord.kind)
    )
    for plugin, kind, count in counts:
        health = found.setdefault(plugin, Health())
        if kind == "error":
            health.errors = count
        else:
            health.slow = count
    for plugin, health in found.items():
        if health.errors:
            recent = await db.execute(
                select(HealthRecord.at, HealthRecord.hook, HealthRecord.detail)
                .where(
                    HealthRecord.plugin == plugin,
                    HealthRecord.at >= since,
                    HealthRecord.kind == "error",
                )
                .order_by(HealthRecord.id.desc())
                .limit(10)
            )
            health.recent = [tuple(row) for row in recent]  # type: ignore[misc]
    return found


# ---------------------------------------------------------------------------------------------
# Installed plugins


@dataclass
class Plugin:
    name: str
    module: ModuleType | None
    manifest: Manifest | None
    refused: str | None = None
    """Why the plugin was not loaded, or None."""
    hooks: list[str] = field(default_factory=list)
    settings_type: type | None = None
    event_types: list[type[Event]] = field(default_factory=list)
    permissions: list[Permission] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        return self.refused is None


def check_manifest(name: str, module: ModuleType) -> Manifest:
    """The module's MANIFEST, or PluginError saying what is wrong with it."""
    manifest = getattr(module, "MANIFEST", None)
    if not isinstance(manifest, Manifest):
        raise PluginError(f"plugin {name!r}: its module has no MANIFEST = Manifest(...)")
    if manifest.name != name:
        raise PluginError(
            f"plugin {name!r}: the manifest calls it {manifest.name!r}; "
            "the entry point name and the manifest name must match"
        )
    if not set(name) <= NAME_CHARS or not name[:1].isalpha() or len(name) > MAX_NAME:
        raise PluginError(
            f"plugin {name!r}: names are lower-case letters and digits, at most {MAX_NAME}"
        )
    try:
        supported = SpecifierSet(manifest.api)
    except InvalidSpecifier:
        raise PluginError(
            f"plugin {name!r}: api {manifest.api!r} is not a version range like '>=1.0,<2'"
        ) from None
    if Version(hookspecs.API_VERSION) not in supported:
        raise PluginError(
            f"plugin {name!r} supports plugin API {manifest.api}, "
            f"but this server has {hookspecs.API_VERSION}"
        )
    known = set(hookspecs.CAPABILITIES.values()) | set(hookspecs.DECLARED_ONLY)
    unknown = manifest.capabilities - known
    if unknown:
        raise PluginError(
            f"plugin {name!r} declares unknown capabilities: {', '.join(sorted(unknown))}"
        )
    return manifest


def implemented_hooks(module: ModuleType) -> list[str]:
    return sorted(
        hook
        for hook in hookspecs.CAPABILITIES
        if callable(getattr(module, hook, None))
        and getattr(getattr(module, hook), "community_impl", None) is not None
    )


def _arguments(impl: Any, given: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments a hook implementation names (it may leave some out)."""
    return {key: given[key] for key in impl.argnames if key in given}


class Plugins:
    """Every installed plugin, and the one way the core calls their hooks."""

    def __init__(self, modules: Iterable[ModuleType] = (), discover: bool = True) -> None:
        self.pm = pluggy.PluginManager("community")
        self.pm.add_hookspecs(hookspecs)
        self.installed: dict[str, Plugin] = {}
        self.unsaved_health: deque[HealthRecord] = deque(maxlen=1000)
        """Health records not written yet (a storm of errors keeps only the latest)."""
        self.health_pruned_at: datetime | None = utcnow()  # the first prune an hour in
        self.sessionmaker: Any = None
        """The app's sessionmaker, set by ``create_app``: ``session()`` opens one."""
        self.limiter: Any = None
        """The app's rate limiter, set by ``create_app``: ``rate_limit()`` counts with it."""
        self.channels: Any = None
        """The app's ChannelsPlugin, set by ``create_app``: ``publish()`` sends through it."""
        self.namespace = "community"
        """The app's prefix of Redis keys and channels, set by ``create_app``."""
        self.mailer: Any = None
        """The app's ``community.mail.Mailer`` when email is configured, set by
        ``create_app``: ``community.mail.send()`` sends with it."""
        self._registered: dict[tuple[str, str], Any] = {}
        found: list[tuple[str, Any]] = []
        if discover:
            for entry in entry_points(group=ENTRY_POINT_GROUP):
                found.append((entry.name, entry))
        for module in modules:
            found.append(
                (getattr(getattr(module, "MANIFEST", None), "name", module.__name__), module)
            )
        for name, source in found:
            self._load(name, source)

    def _load(self, name: str, source: Any) -> None:
        try:
            module = source if isinstance(source, ModuleType) else source.load()
        except Exception as exc:
            self._refuse(name, f"plugin {name!r} failed to import: {exc!r}")
            return
        try:
            manifest = check_manifest(name, module)
            hooks = implemented_hooks(module)
            missing = sorted({hookspecs.CAPABILITIES[h] for h in hooks} - manifest.capabilities)
            if missing:
                raise PluginError(
                    f"plugin {name!r} implements hooks needing capabilities it does not "
                    f"declare: {', '.join(missing)}"
                )
            if name in self.installed and self.installed[name].loaded:
                raise PluginError(f"plugin {name!r} is installed twice")
            self.pm.register(module, name=name)
            try:
                self.pm.check_pending()
            except pluggy.PluginValidationError as exc:
                self.pm.unregister(module)
                raise PluginError(f"plugin {name!r}: {exc}") from None
        except PluginError as exc:
            self._refuse(name, str(exc), module)
            return
        plugin = Plugin(name=name, module=module, manifest=manifest, hooks=hooks)
        self.installed[name] = plugin
        try:
            plugin.settings_type = self._settings_type(name)
            plugin.event_types = self._event_types(name)
            plugin.permissions = self._permissions(name)
        except PluginError as exc:
            self.pm.unregister(module)
            self._refuse(name, str(exc), module)

    def _settings_type(self, name: str) -> type | None:
        settings_type = self.first(name, "register_settings")
        if settings_type is not None and not dataclasses.is_dataclass(settings_type):
            raise PluginError(f"plugin {name!r}: register_settings must return a dataclass")
        return settings_type

    def _event_types(self, name: str) -> list[type[Event]]:
        declared = list(self.first(name, "register_event_types") or [])
        taken = {kind.__name__: source for source, kind in self.event_types()}
        for kind in declared:
            if not (
                isinstance(kind, type)
                and issubclass(kind, Event)
                and dataclasses.is_dataclass(kind)
            ):
                raise PluginError(
                    f"plugin {name!r}: register_event_types must return Event dataclasses, "
                    f"not {kind!r}"
                )
            try:
                typing.get_type_hints(kind)
            except Exception as exc:
                raise PluginError(
                    f"plugin {name!r}: the fields of event type {kind.__name__} cannot be "
                    f"resolved ({exc})"
                ) from None
            if kind.__name__ in taken:
                raise PluginError(
                    f"plugin {name!r}: event type {kind.__name__} is already declared by "
                    f"{taken[kind.__name__]}"
                )
            taken[kind.__name__] = name
        return declared

    def _permissions(self, name: str) -> list[Permission]:
        found = []
        for permission in self.first(name, "register_permissions") or []:
            if not isinstance(permission, Permission):
                raise PluginError(
                    f"plugin {name!r}: register_permissions must return Permission objects"
                )
            if not permission.name.startswith(f"{name}."):
                permission = dataclasses.replace(permission, name=f"{name}.{permission.name}")
            found.append(permission)
        return found

    def _refuse(self, name: str, reason: str, module: ModuleType | None = None) -> None:
        log.error("plugins: %s", reason)
        self.installed[name] = Plugin(name=name, module=module, manifest=None, refused=reason)

    # -- which are enabled ---------------------------------------------------------------

    @property
    def loaded(self) -> list[Plugin]:
        return [p for p in self.installed.values() if p.loaded]

    def event_types(self) -> list[tuple[str, type[Event]]]:
        """Every event type, with who declares it ("core" or a plugin's name)."""
        core = [
            ("core", kind) for kind in _subclasses(Event) if kind.__module__ == Event.__module__
        ]
        declared = [(p.name, kind) for p in self.loaded for kind in p.event_types]
        return core + declared

    def permission(self, name: str) -> Permission | None:
        for plugin in self.loaded:
            for permission in plugin.permissions:
                if permission.name == name:
                    return permission
        return None

    @staticmethod
    def enabled_in(site: dict[str, Any]) -> frozenset[str]:
        value = site.get(SETTING_KEY) or {}
        return frozenset(value.get("enabled", [])) if isinstance(value, dict) else frozenset()

    # -- calling hooks -------------------------------------------------------------------

    def _impls(self, hook: str, enabled: Iterable[str] | None) -> Iterator[tuple[str, Any]]:
        allowed = (
            enabled if enabled is None or isinstance(enabled, set | frozenset) else set(enabled)
        )
        for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls()):
            if allowed is None or impl.plugin_name in allowed:
                yield impl.plugin_name, impl

    def call(
        self, hook: str, enabled: Iterable[str] | None, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """Call ``hook`` on the enabled plugins (all loaded ones when ``enabled`` is None), each
        isolated: an exception is logged with the plugin's name, counted, and skipped."""
        results = []
        for name, impl in self._impls(hook, enabled):
            args = _arguments(impl, kwargs)
            started = time.perf_counter()
            try:
                result = impl.function(**args)
            except Exception as exc:
                self._failed(name, hook, exc)
                continue
            finally:
                self._timed(name, hook, started)
            results.append((name, result))
        return results

    async def acall(
        self, hook: str, enabled: Iterable[str] | None, *, raise_errors: bool = False, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """``call``, awaiting results that are awaitable (hooks may be ``async def``)."""
        results = []
        for name, impl in self._impls(hook, enabled):
            args = _arguments(impl, kwargs)
            started = time.perf_counter()
            try:
                result = impl.function(**args)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                self._failed(name, hook, exc)
                if raise_errors:
                    raise
                continue
            finally:
                self._timed(name, hook, started)
            results.append((name, result))
        return results

    def first(self, name: str, hook: str) -> Any:
        """One plugin's answer to a register hook (None when it does not implement it),
        asked once: register hooks run at startup, never on a request's path."""
        key = (name, hook)
        if key not in self._registered:
            results = self.call(hook, [name])
            self._registered[key] = results[0][1] if results else None
        return self._registered[key]

    def _failed(self, name: str, hook: str, exc: Exception) -> None:
        log.exception("plugin %s failed in %s", name, hook, exc_info=exc)
        self._note(name, hook, "error", f"{type(exc).__name__}: {exc}")

    def _timed(self, name: str, hook: str, started: float) -> None:
        seconds = time.perf_counter() - started
        if seconds > SLOW_SECONDS:
            log.warning("plugin %s was slow in %s: %.2f s", name, hook, seconds)
            self._note(name, hook, "slow", seconds=seconds)

    def _note(
        self, plugin: str, hook: str, kind: str, detail: str = "", seconds: float | None = None
    ) -> None:
        self.unsaved_health.append(
            HealthRecord(
                plugin=plugin,
                hook=hook,
                kind=kind,
                detail=detail[:500],
                seconds=seconds,
                at=utcnow(),
            )
        )

    # -- the kinds of hooks, as the core uses them ----------------------------------------

    async def gate(self, hook: str, enabled: Iterable[str], **kwargs: Any) -> Gate:
        """The strictest answer of the enabled gates; a gate that raises holds (fails closed)."""
        verdict = Gate.allow()
        for name, impl in self._impls(hook, enabled):
            args = _arguments(impl, kwargs)
            try:
                answer = impl.function(**args)
                if inspect.isawaitable(answer):
                    answer = await answer
            except Exception as exc:
                self._failed(name, hook, exc)
                answer = Gate.hold(f"A check by {name} failed; it waits for review.")
            if answer is not None and not isinstance(answer, Gate):
                self._failed(name, hook, TypeError(f"{hook} returned {answer!r}, not a Gate"))
                answer = Gate.hold(f"A check by {name} failed; it waits for review.")
            if answer is not None and answer.strictness > verdict.strictness:
                verdict = answer
        return verdict

    def slot(self, slot: Any, enabled: Iterable[str], context: dict[str, Any]) -> Markup:
        """The HTML the enabled plugins add to ``slot``; a failing plugin adds nothing."""
        parts = [
            str(html)
            for _, html in self.call("render_slot", enabled, slot=slot, context=context)
            if html
        ]
        return Markup("\n".join(parts))

    async def live_channels(self, member: Any, enabled: Iterable[str]) -> list[str]:
        """The channels the enabled plugins want ``member``'s live stream to hear, each under
        its plugin's prefix; a malformed answer counts as the plugin's error."""
        names = []
        for name, answer in await self.acall("live_channels", enabled, member=member):
            if answer is None:
                continue
            if not isinstance(answer, list | tuple) or not all(
                isinstance(channel, str) and CHANNEL_RE.fullmatch(channel) for channel in answer
            ):
                self._failed(name, "live_channels", ValueError(f"bad channel names: {answer!r}"))
                continue
            names.extend(live.plugin_channel(self.namespace, name, channel) for channel in answer)
        return names

    def listeners(self) -> list[tuple[str, Any]]:
        """(full channel name, handler) of every loaded plugin's ``register_listeners``; a
        malformed answer counts as the plugin's error."""
        found = []
        for plugin in self.loaded:
            answer = self.first(plugin.name, "register_listeners")
            if answer is None:
                continue
            if not isinstance(answer, dict) or not all(
                isinstance(channel, str) and CHANNEL_RE.fullmatch(channel) and callable(handler)
                for channel, handler in answer.items()
            ):
                self._failed(
                    plugin.name, "register_listeners", ValueError(f"bad listeners: {answer!r}")
                )
                continue
            found.extend(
                (live.plugin_channel(self.namespace, plugin.name, channel), handler)
                for channel, handler in answer.items()
            )
        return found

    def settings(self, name: str, site: dict[str, Any]) -> Any:
        """The plugin's settings (its dataclass) from the instance settings in ``site``."""
        plugin = self.installed.get(name)
        if plugin is None or plugin.settings_type is None:
            raise ServiceError("not_found", f"Plugin {name!r} has no settings.", 404)
        stored = site.get(f"plugin:{name}") or {}
        fields = {f.name for f in dataclasses.fields(plugin.settings_type)}
        return plugin.settings_type(**{k: v for k, v in stored.items() if k in fields})


# ---------------------------------------------------------------------------------------------
# The plugins of the current request (or job): visibility and slots read them from here.


@dataclass(frozen=True)
class Active:
    plugins: Plugins
    enabled: frozenset[str]
    site: dict[str, Any] = field(default_factory=dict)
    """The instance settings read for this request, plugins' settings among them."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Plugins' settings objects made so far in this request (made once each)."""


_active: ContextVar[Active | None] = ContextVar("community_active_plugins", default=None)


def active() -> Active | None:
    return _active.get()


def activate(plugins: Plugins, site: dict[str, Any]) -> Any:
    """Make the plugins enabled in ``site`` (the instance settings) the active ones in this
    context (a request, a job); returns a reset token."""
    return _active.set(Active(plugins, Plugins.enabled_in(site), site))


def settings(name: str) -> Any:
    """The settings of plugin ``name`` (its dataclass), as stored now: the one call a plugin
    makes to read them, in a request, an event handler or a job."""
    current = _active.get()
    if current is None:
        raise RuntimeError("no active plugins here: call settings() inside a request or job")
    if name not in current.settings:
        current.settings[name] = current.plugins.settings(name, current.site)
    return current.settings[name]


def session() -> Any:
    """A new database session of the running app, for event handlers and slots that need
    one: ``async with plugins.session() as db: ...``. Commit it yourself; events it emits are
    dispatched after that commit as any other's."""
    current = _active.get()
    if current is None or current.plugins.sessionmaker is None:
        raise RuntimeError("no running app here: session() works inside a request or job")
    return current.plugins.sessionmaker()


@contextmanager
def activated(plugins: Plugins, site: dict[str, Any]) -> Iterator[None]:
    token = activate(plugins, site)
    try:
        yield
    finally:
        _active.reset(token)


async def gate(hook: str, **kwargs: Any) -> Gate:
    """The enabled plugins' strictest answer to gate ``hook`` here (allow when none)."""
    current = _active.get()
    if current is None or not current.enabled:
        return Gate.allow()
    return await current.plugins.gate(hook, current.enabled, **kwargs)


async def rewrite(kind: str, member: Any, text: str, category: Any = None) -> str:
    """``text`` as the enabled plugins' ``rewrite_text`` hooks leave it."""
    current = _active.get()
    if current is None or not current.enabled:
        return text
    for name, impl in current.plugins._impls("rewrite_text", current.enabled):
        try:
            result = impl.function(
                **_arguments(
                    impl, {"member": member, "text": text, "kind": kind, "category": category}
                )
            )
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            current.plugins._failed(name, "rewrite_text", exc)
            continue
        if isinstance(result, str) and result.strip():
            text = result
    return text


async def rate_limit(name: str, key: str, count: int, seconds: int) -> None:
    """Allow ``count`` calls per ``seconds`` for ``key`` under the plugin's limit ``name``
    (e.g. "moderation.flag"), shared by every process through Redis when it is configured;
    past it, ServiceError 429 says how long to wait."""
    from community.ratelimit import Limit

    current = _active.get()
    limiter = current.plugins.limiter if current is not None else None
    if limiter is None:
        raise RuntimeError("no running app here: rate_limit works inside a request or job")
    await limiter.hit(name, key, Limit(count, seconds))


async def live_channels(member: Any) -> list[str]:
    """The enabled plugins' channels for ``member``'s live stream (see the ``live_channels``
    hook), full names as ``publish`` sends to them."""
    current = _active.get()
    if current is None or not current.enabled or member is None:
        return []
    return await current.plugins.live_channels(member, current.enabled)


def publish(plugin: str, channel: str, event: str, data: str = "", *, db: Any = None) -> None:
    """Tell the live streams listening to plugin ``plugin``'s ``channel``: their pages receive
    SSE event ``<plugin>-<event>`` with ``data`` (htmx: ``hx-trigger="sse:<plugin>-<event>"``).
    With ``db``, the message waits until that session's transaction commits and is dropped if
    it rolls back; without, it goes at once. Through Redis when configured, so every process's
    streams hear it. Never fails the caller's write: a dead channel is only logged."""
    if not CHANNEL_RE.fullmatch(channel):
        raise ValueError(f"bad live channel name {channel!r}")
    if not LIVE_EVENT_RE.fullmatch(event):
        raise ValueError(f"bad live event name {event!r}")
    current = _active.get()
    if current is None or current.plugins.channels is None:
        log.debug("live: no running app; %s-%s not published", plugin, event)
        return
    name = live.plugin_channel(current.plugins.namespace, plugin, channel)
    message = {"event": f"{plugin}-{event}", "data": data}
    if db is None:
        live.publish(current.plugins.channels, name, message)
    else:
        live.publish_after_commit(db, current.plugins.channels, name, message)


def enabled(name: str) -> bool:
    """Whether plugin ``name`` is enabled here (in this request or job)."""
    current = _active.get()
    return current is not None and name in current.enabled


def audit(
    db: Any,
    actor: Any,
    action: str,
    target_type: str,
    target_id: int | None = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> None:
    """Hand an audit entry to the enabled plugins that keep an audit log (hook
    ``record_audit``; the moderation plugin's), in ``db``'s transaction: nothing when none is
    enabled. A plugin failing to record is logged and counted, never fails the change."""
    current = _active.get()
    if current is None or not current.enabled:
        return
    current.plugins.call(
        "record_audit",
        current.enabled,
        db=db,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before or {},
        after=after or {},
        reason=reason,
    )


async def member_scores(db: Any, member_ids: list[int]) -> dict[int, float] | None:
    """The engagement scores of ``member_ids`` from the first enabled plugin that rates
    members (hook ``member_scores``; the analytics plugin's), members it leaves out at 0; or
    None when no enabled plugin does."""
    current = _active.get()
    if current is None or not current.enabled:
        return None
    for _, answer in await current.plugins.acall(
        "member_scores", current.enabled, db=db, member_ids=list(member_ids)
    ):
        if isinstance(answer, dict):
            return {member_id: float(answer.get(member_id, 0)) for member_id in member_ids}
    return None


async def best_time(db: Any, now: datetime) -> datetime | None:
    """The next best time to post after ``now``, from the first enabled plugin that can
    tell (hook ``best_time``; the analytics plugin's), or None."""
    current = _active.get()
    if current is None or not current.enabled:
        return None
    for _, answer in await current.plugins.acall("best_time", current.enabled, db=db, now=now):
        if isinstance(answer, datetime) and answer.tzinfo is not None and answer > now:
            return answer
    return None


async def review_items(db: Any, member: Any) -> list[ReviewItem]:
    """What the enabled plugins have waiting for ``member``'s decision as a moderator (hook
    ``review_items``), oldest first; a malformed answer counts as the plugin's error."""
    current = _active.get()
    if current is None or not current.enabled or member is None:
        return []
    found: list[ReviewItem] = []
    for name, answer in await current.plugins.acall(
        "review_items", current.enabled, db=db, member=member
    ):
        if answer is None:
            continue
        if not isinstance(answer, list) or not all(isinstance(i, ReviewItem) for i in answer):
            current.plugins._failed(name, "review_items", TypeError(f"not ReviewItems: {answer!r}"))
            continue
        found.extend(answer)
    return sorted(found, key=lambda item: item.created_at)


def feature_enabled(member: Any, key: str) -> bool:
    """Whether feature flag ``key`` is on for ``member``: the first enabled plugin that knows
    the flag says (hook ``feature_enabled``; the beta plugin's), else off. Templates ask it
    as ``feature_enabled("key")``, for the member viewing the page."""
    current = _active.get()
    if current is None or not current.enabled:
        return False
    for _, answer in current.plugins.call(
        "feature_enabled", current.enabled, member=member, key=key
    ):
        if isinstance(answer, bool):
            return answer
    return False


def visibility_conditions(member: Any, thread: Any) -> list[Any]:
    """The enabled plugins' extra conditions on ``thread`` for ``member``. A plugin whose hook
    fails hides everything rather than nothing: visibility fails closed."""
    return _conditions("visible_threads", {"member": member, "thread": thread})


def category_conditions(member: Any, category: Any) -> list[Any]:
    """The enabled plugins' extra conditions on ``category`` for ``member`` (failing closed,
    as ``visibility_conditions``)."""
    return _conditions("visible_categories", {"member": member, "category": category})


def _conditions(hook: str, given: dict[str, Any]) -> list[Any]:
    current = _active.get()
    if current is None or not current.enabled:
        return []
    conditions = []
    for name, impl in current.plugins._impls(hook, current.enabled):
        try:
            condition = impl.function(**_arguments(impl, given))
        except Exception as exc:
            current.plugins._failed(name, hook, exc)
            condition = false()
        if condition is not None:
            conditions.append(condition)
    return conditions


def ordinary_member() -> Any:
    """A member with no role, group or program of any kind (id 0, never stored): what it may
    see, ``visibility_conditions(ordinary_member(), Thread)``, is what every member sees. For
    plugins that must leave out content private to some members (a beta program's), whoever
    is asking."""
    from community.accounts.models import Member

    return Member(id=0, username="", username_key="", display_name="", role="member", groups=[])


def allowed(member: Any, permission: str) -> bool:
    """Whether ``member`` has a plugin's permission (``<plugin>.<name>``): by role, or through
    a group an admin granted it to. False for a permission no enabled plugin declares."""
    current = _active.get()
    if member is None or current is None:
        return False
    found = current.plugins.permission(permission)
    if found is None or permission.split(".", 1)[0] not in current.enabled:
        return False
    if member.role in found.roles:
        return True
    granted = set((current.site.get(GRANTS_KEY) or {}).get(permission, []))
    return any(group.id in granted for group in member.groups)


def _subclasses(kind: type) -> list[type]:
    found = []
    for sub in kind.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def event_catalogue(plugins: Plugins) -> list[dict[str, Any]]:
    """Every event type the core and the loaded plugins emit, with its payload schema: what
    webhooks and cross-posting can subscribe to. ``payload(event)`` is an event's body."""
    catalogue = []
    for source, kind in plugins.event_types():
        hints = typing.get_type_hints(kind)
        catalogue.append(
            {
                "name": kind.__name__,
                "source": source,
                "description": inspect.cleandoc(kind.__doc__ or "")
                if kind.__doc__ and not kind.__doc__.startswith(f"{kind.__name__}(")
                else "",
                "fields": {f.name: _json_type(hints[f.name]) for f in dataclasses.fields(kind)},
            }
        )
    return sorted(catalogue, key=lambda entry: (entry["source"] != "core", entry["name"]))


def _json_type(hint: Any) -> str:
    """A field's type as the JSON its payload holds: integer, number, string, boolean,
    array, object, or a union like "integer|null"."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return "|".join(_json_type(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple):
        return "array"
    if origin is dict or hint is dict:
        return "object"
    return {int: "integer", float: "number", str: "string", bool: "boolean"}.get(hint, "any")


def payload(event: Event) -> dict[str, Any]:
    """The JSON body of ``event`` for webhooks: ``{"type": name, "data": {field: value}}``."""
    return {
        "type": event.name,
        "data": json.loads(json.dumps(dataclasses.asdict(event), default=str)),
    }


# ---------------------------------------------------------------------------------------------
# Management: enabling, disabling and settings, stored as instance settings


async def set_enabled(db: Any, plugins: Plugins, name: str, enabled: bool) -> None:
    """Enable or disable an installed plugin for every process; commits."""
    from community.accounts.models import InstanceSetting

    plugin = plugins.installed.get(name)
    if plugin is None:
        raise ServiceError("unknown_plugin", f"No plugin called {name!r} is installed.", 404)
    if enabled and not plugin.loaded:
        raise ServiceError("plugin_refused", plugin.refused or "This plugin cannot load.", 409)
    row = await db.get(InstanceSetting, SETTING_KEY)
    value = dict(row.value) if row is not None and isinstance(row.value, dict) else {}
    names = set(value.get("enabled", [])) - {name}
    if enabled:
        names.add(name)
    await db.merge(InstanceSetting(key=SETTING_KEY, value={**value, "enabled": sorted(names)}))
    await db.commit()


async def save_grants(db: Any, plugins: Plugins, permission: str, group_ids: list[int]) -> None:
    """Grant ``permission`` to exactly these groups (beyond the roles that always have it)."""
    from community.accounts.models import Group, InstanceSetting

    if plugins.permission(permission) is None:
        raise ServiceError("unknown_permission", f"No plugin declares {permission!r}.", 404)
    known = set(await db.scalars(select(Group.id).where(Group.id.in_(group_ids))))
    unknown = set(group_ids) - known
    if unknown:
        raise ServiceError("unknown_group", "Some of those groups no longer exist.", 422)
    row = await db.get(InstanceSetting, GRANTS_KEY)
    grants = dict(row.value) if row is not None and isinstance(row.value, dict) else {}
    grants[permission] = sorted(known)
    await db.merge(InstanceSetting(key=GRANTS_KEY, value=grants))
    await db.commit()


def settings_fields(plugin: Plugin, site: dict[str, Any]) -> list[dict[str, Any]]:
    """The plugin's settings as form fields: name, label, kind, value, help."""
    if plugin.settings_type is None:
        return []
    current = {}
    stored = site.get(f"plugin:{plugin.name}") or {}
    fields = []
    for f in dataclasses.fields(plugin.settings_type):
        default = f.default if f.default is not dataclasses.MISSING else ""
        current[f.name] = stored.get(f.name, default)
        fields.append(
            {
                "name": f.name,
                "label": f.metadata.get("label", f.name.replace("_", " ").capitalize()),
                "kind": _kind(f),
                "value": current[f.name],
                "help": f.metadata.get("help", ""),
            }
        )
    return fields


def _kind(f: dataclasses.Field[Any]) -> str:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "str")
    return kind if kind in ("str", "int", "float", "bool") else "str"


async def save_settings(
    db: Any, plugins: Plugins, name: str, form: dict[str, Any]
) -> dict[str, Any]:
    """Validate ``form`` against the plugin's settings dataclass and store it; commits.
    Raises ServiceError 422 with ``errors`` {field: message} when a value does not fit."""
    from community.accounts.models import InstanceSetting

    plugin = plugins.installed.get(name)
    if plugin is None or plugin.settings_type is None:
        raise ServiceError("not_found", f"Plugin {name!r} has no settings.", 404)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in dataclasses.fields(plugin.settings_type):
        raw = form.get(f.name)
        raw = raw[0] if isinstance(raw, list) and raw else raw
        kind = _kind(f)
        if kind == "bool":
            values[f.name] = raw in (True, "on", "true", "1", 1)
            continue
        text = "" if raw is None else str(raw).strip()
        try:
            values[f.name] = (
                int(text) if kind == "int" else float(text) if kind == "float" else text
            )
        except ValueError:
            errors[f.name] = f"{f.name} must be a {'whole ' if kind == 'int' else ''}number."
            continue
        if kind == "str" and len(text) > 5000:
            errors[f.name] = f"{f.name} is at most 5,000 characters."
    if errors:
        raise ServiceError("invalid_settings", "Some settings need fixing.", 422, errors=errors)
    try:
        plugin.settings_type(**values)  # the dataclass may check values in __post_init__
    except (TypeError, ValueError) as exc:
        raise ServiceError("invalid_settings", str(exc), 422, errors={}) from None
    await db.merge(InstanceSetting(key=f"plugin:{name}", value=values))
    await db.commit()
    return values
