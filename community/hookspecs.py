"""The plugin API: every hook a plugin may implement, in one place.

Plugins write ``from community import hookimpl`` and implement any of these functions in their
``plugin`` module; arguments may be left out from the right (pluggy passes only those named).
Seven kinds, as in ``docs/plugins.md``:

- **register** hooks run once at startup and return lists (or one object);
- **event** hooks run after a transaction commits (``track_event``);
- **gate** hooks run before a write commits and may hold it for review or reject it;
- **visibility** hooks return SQL conditions that narrow what a member may see;
- **slot** hooks add HTML to named places of the core's pages;
- the **live** hook names the plugin's channels a member's live stream listens to;
- the **demo** hook fills the plugin's tables when ``community demo`` writes demo data;
- **service** hooks answer other plugins through the core: ``record_audit`` keeps an audit
  entry, ``member_scores`` rates members' engagement (and ``best_time`` names the best time
  to post), ``feature_enabled`` answers feature flags, ``review_items`` brings a plugin's
  pending decisions to the moderation inbox.

Any hook may be a plain function or ``async def``, except visibility and slot hooks, which
must answer at once (they run inside query building and template rendering).
Each hook needs a capability in the plugin's ``MANIFEST`` (see ``CAPABILITIES``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import random
    from datetime import datetime

    from sqlalchemy import ColumnElement
    from sqlalchemy.ext.asyncio import AsyncSession

    from community.accounts.models import Member
    from community.events import Event
    from community.forum.models import Category, Thread
    from community.plugins import Gate, NavItem, Permission, ReviewItem
    from community.web.slots import Slot

hookspec = pluggy.HookspecMarker("community")
hookimpl = pluggy.HookimplMarker("community")

API_VERSION = "1.0"
"""The plugin API's version; a plugin's manifest names the range it supports."""

CAPABILITIES: dict[str, str] = {
    "register_routes": "routes",
    "register_api_routes": "routes",
    "register_templates": "templates",
    "register_static": "static",
    "register_migrations": "migrations",
    "register_jobs": "jobs",
    "register_schedules": "jobs",
    "register_settings": "settings",
    "register_permissions": "permissions",
    "register_admin_pages": "admin",
    "register_nav_items": "nav",
    "register_commands": "commands",
    "register_event_types": "events",
    "track_event": "events",
    "check_post": "gates",
    "check_thread": "gates",
    "check_member": "gates",
    "rewrite_text": "gates",
    "visible_threads": "visibility",
    "visible_categories": "visibility",
    "render_slot": "slots",
    "live_channels": "live",
    "register_listeners": "live",
    "populate_demo": "migrations",
    "record_audit": "audit",
    "member_scores": "scores",
    "feature_enabled": "flags",
    "best_time": "scores",
    "review_items": "reviews",
}
"""The capability each hook needs. Capabilities without hooks (``outbound-network``,
``read-private-content``) are declared for admins to see before they enable a plugin."""

DECLARED_ONLY = ("outbound-network", "read-private-content")

# ---------------------------------------------------------------------------------------------
# Register: called once at startup; the plugin's name prefixes what it registers.


@hookspec
def register_routes() -> list[Any]:
    """Route handlers or controllers for pages, mounted under ``/p/<plugin>/``.

    They answer 404 while the plugin is disabled. Guards and ``member``/``db`` dependencies
    work as in the core; pages render with ``community.web.render``.
    """


@hookspec
def register_api_routes() -> list[Any]:
    """Route handlers for JSON, mounted under ``/api/v1/<plugin>/`` (bearer tokens)."""


@hookspec
def register_templates() -> str:
    """A folder holding ``<plugin>/*.html`` templates; they may extend ``base.html``."""


@hookspec
def register_static() -> str:
    """A folder whose files are served under ``/static/<plugin>/`` (404 while disabled)."""


@hookspec
def register_migrations() -> str:
    """The folder of the plugin's Alembic revisions (its own branch, labelled with its name)."""


@hookspec
def register_jobs() -> list[Any]:
    """``community.jobs.Job`` objects; names are prefixed with ``<plugin>.``."""


@hookspec
def register_schedules() -> list[Any]:
    """``community.jobs.Schedule`` objects: jobs run once per due time across all processes."""


@hookspec
def register_settings() -> type:
    """A dataclass whose fields (str, int, float, bool, with defaults) are the plugin's
    settings; admins edit them in a generated form; ``plugins.settings(name)`` reads them."""


@hookspec
def register_permissions() -> list[Permission]:
    """Permissions the plugin checks with ``plugins.allowed(member, "<plugin>.<name>")``:
    members whose role is in ``Permission.roles`` have them, and admins grant them to groups
    on the Plugins page."""


@hookspec
def register_admin_pages() -> list[NavItem]:
    """Links added to the admin navigation (the pages are the plugin's routes)."""


@hookspec
def register_nav_items() -> list[NavItem]:
    """Links added to the main navigation for signed-in members."""


@hookspec
def register_commands() -> list[Any]:
    """``click`` commands added under ``community <plugin> ...``; they run only while the
    plugin is enabled, with its settings readable."""


@hookspec
def register_event_types() -> list[type[Event]]:
    """Event dataclasses the plugin emits (with ``community.events.emit``); their fields are
    the payload schema that webhooks and cross-posting subscribe to (``event_catalogue``).
    Names are unique across the core and the installed plugins."""


# ---------------------------------------------------------------------------------------------
# Events: after commit.


@hookspec
def track_event(event: Event) -> None:
    """Called for every event after its transaction commits, in the process that made it.

    Do fast work here and enqueue jobs for slow work (network calls); write through
    ``plugins.session()``. An exception is logged with the plugin's name and counted in its
    health; the member's request still succeeds.
    """


# ---------------------------------------------------------------------------------------------
# Gates: before commit. Return None (allow) or a ``Gate``: ``Gate.hold(reason)`` keeps the
# content invisible to others until a moderator approves it, ``Gate.reject(reason)`` refuses it
# with the reason shown to the author. The strictest answer wins; a gate that raises holds.


@hookspec
def check_post(member: Member, thread: Thread, body: str, editing: bool) -> Gate | None:
    """A new reply (``editing`` False) or an edited post's new body (True)."""


@hookspec
def check_thread(member: Member, category: Category, title: str, body: str) -> Gate | None:
    """A new thread in ``category``, before it is written."""


@hookspec
def check_member(username: str, email: str | None) -> Gate | None:
    """Someone redeeming an invite. Hold means the account waits for an admin."""


@hookspec
def rewrite_text(member: Member, text: str, kind: str, category: Category | None) -> str | None:
    """The text to store instead of ``text`` (``kind`` "title" or "body") of a new or edited
    thread, post or private message (in ``category``; None for a private message), or None to
    keep it: censoring or replacing words. Called
    after the gates allowed or held the write; each enabled plugin's rewrite gets the previous
    one's result. A rewrite that raises is skipped."""


# ---------------------------------------------------------------------------------------------
# Visibility: inside the SQL of every content query.


@hookspec
def visible_threads(member: Member, thread: Any) -> ColumnElement[bool] | None:
    """A condition on ``thread`` (the Thread entity or an alias) that must also hold for
    ``member`` to see it, or None. Synchronous: it is called while queries are built."""


@hookspec
def visible_categories(member: Member, category: Any) -> ColumnElement[bool] | None:
    """A condition on ``category`` (the Category entity or an alias) that must also hold for
    ``member`` to see it (in lists, as a page, as a place to post), or None: what hides a
    category's very name, where ``visible_threads`` hides its threads. Synchronous."""


# ---------------------------------------------------------------------------------------------
# Slots: HTML in named places of the core's pages.


@hookspec
def render_slot(slot: Slot, context: dict[str, Any]) -> str | None:
    """HTML for ``slot`` (see ``community.web.slots.Slot`` for where each appears), or None.

    ``context`` holds the page's variables (``member``, and ``thread``, ``post``... where the
    slot has them). Return markup you have escaped (``markupsafe.escape``) or rendered with a
    template. Synchronous.
    """


# ---------------------------------------------------------------------------------------------
# Live: the plugin's channels on a member's live stream.


@hookspec
def live_channels(member: Member) -> list[str] | None:
    """Names of the plugin's channels that ``member``'s live stream (``/live``) listens to, or
    None. The core prefixes each with the plugin's name, so a plugin hears only its own
    channels; ``community.plugins.publish`` sends to them. Asked when the stream opens and
    again every minute (the stream restarts when the answer changes). Names are letters,
    digits, ``_ . : -``, at most 100 characters.
    """


@hookspec
def register_listeners() -> dict[str, Any]:
    """The plugin's channels its own processes listen to, each with a handler: ``{"flags":
    handler}``. Every server process calls ``handler(data)`` (plain or ``async def``) for each
    ``community.plugins.publish(<plugin>, "flags", event, data)``, made by any process (through
    Redis when configured): for dropping a cache everywhere at once. Asked once at startup.
    Messages may be lost while Redis reconnects: keep a slower check of your own for that."""


# ---------------------------------------------------------------------------------------------
# Demo data: ``community demo``.


@hookspec
def populate_demo(db: AsyncSession, rng: random.Random, since: datetime, now: datetime) -> None:
    """Fill the plugin's own tables with demo data consistent with the core's, which
    ``community demo`` has just written and committed: a year of members, threads, posts and
    reactions from ``since`` to ``now``. Called for enabled plugins only, with their settings
    readable. Draw every random choice from ``rng`` (the same seed must give the same rows),
    write in bulk (``community.demo.write``: COPY on PostgreSQL) and do not commit: the command
    does. May be ``async def``; an exception stops the command.
    """


# ---------------------------------------------------------------------------------------------
# Services: one plugin answers others through the core (``community.plugins.audit`` and
# ``community.plugins.member_scores``), so no plugin imports another.


@hookspec
def record_audit(
    db: AsyncSession,
    actor: Member | None,
    action: str,
    target_type: str,
    target_id: int | None,
    before: dict[str, Any],
    after: dict[str, Any],
    reason: str,
) -> None:
    """Keep an audit entry for a change another plugin (or the core) made: add it to ``db``,
    the caller's transaction, and do not commit (the entry stands or falls with the change).
    ``actor`` None: a plugin acting on its own rules. ``action`` is ``<plugin>.<verb>``
    ("beta.flag"). Synchronous."""


@hookspec
def member_scores(db: AsyncSession, member_ids: list[int]) -> dict[int, float] | None:
    """An engagement score for each of ``member_ids`` (higher: more engaged; members with
    none may be left out, meaning 0), or None when the plugin does not rate members. Called
    when a plugin orders members by engagement (a beta program's waitlist)."""


@hookspec
def feature_enabled(member: Member | None, key: str) -> bool | None:
    """Whether feature flag ``key`` is on for ``member``, or None when the plugin does not
    know the flag. Synchronous (templates ask it while rendering): answer from what the
    plugin holds in memory."""


@hookspec
def best_time(db: AsyncSession, now: datetime) -> datetime | None:
    """The next time after ``now`` (timezone-aware UTC) when the community pays most
    attention to what is posted, or None when the plugin cannot tell. May be ``async def``.
    Asked when something is scheduled for "the best time" (a cross-post)."""


@hookspec
def review_items(db: AsyncSession, member: Member) -> list[ReviewItem] | None:
    """What the plugin has waiting for ``member``'s decision as a moderator (drafts to
    approve), as ``community.plugins.ReviewItem``s, or None. May be ``async def``. The
    moderation plugin's inbox shows them, linking to where each is decided."""
