"""A tiny plugin using every register, event, visibility, slot and live hook: pages, an API
route, a template, static files, a setting, a permission, an admin link, a command, an event
type of its own, a job, a schedule and live channels. (Gates are in ``gatekeeper`` and
``doorman``; a table and its migrations in ``ledger``.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from litestar import Request, get
from markupsafe import escape

from community import hookimpl, plugins
from community.accounts.auth import require_admin
from community.events import Event, emit
from community.jobs import Job, JobContext, Schedule
from community.plugins import Manifest, NavItem, Permission
from community.web import render
from community.web.slots import Slot

HERE = Path(__file__).parent

MANIFEST = Manifest(
    name="hello",
    version="1.0",
    description="Says hello and hides threads whose title has the hidden word.",
    api=">=1.0,<2",
    capabilities={
        "routes",
        "settings",
        "slots",
        "nav",
        "events",
        "visibility",
        "jobs",
        "templates",
        "static",
        "admin",
        "permissions",
        "commands",
        "live",
        "audit",
        "scores",
        "flags",
        "reviews",
    },
)


seen: list[str] = []
"""Names of the events track_event received, for the tests."""
events: list[Any] = []
"""The events themselves."""
greeted: list[str] = []
"""Greetings the scheduled job made, for the tests."""
audited: list[tuple[Any, ...]] = []
"""The audit entries record_audit was handed, for the tests."""
shouts: list[str] = []
"""What the listener of the "shouts" channel heard, for the tests."""


async def greet(ctx: JobContext, who: str = "everyone") -> None:
    greeted.append(f"{plugins.settings('hello').greeting}, {who}")


@hookimpl
def register_jobs() -> list[Job]:
    return [Job("greet", greet, retries=0)]


@hookimpl
def register_schedules() -> list[Schedule]:
    return [Schedule("tick", job="greet", every=0.2)]


@dataclass
class Settings:
    greeting: str = field(default="Hello", metadata={"help": "Shown on the plugin's page."})
    times: int = 1
    hidden_word: str = ""
    shout: bool = False


@get("/")
async def hello_page(request: Request[Any, Any, Any]) -> str:
    settings = plugins.settings("hello")
    text = " ".join([settings.greeting] * settings.times)
    return text.upper() if settings.shout else text


@hookimpl
def register_routes() -> list[Any]:
    return [hello_page, greeting_page, admin_page]


@hookimpl
def register_settings() -> type:
    return Settings


@hookimpl
def register_nav_items() -> list[NavItem]:
    return [NavItem("Hello", "/p/hello/")]


@hookimpl
def render_slot(slot: Slot, context: dict[str, Any]) -> str | None:
    if slot is Slot.home_top:
        return f'<p class="hello-banner">Hello, {escape(context["member"].display_name)}!</p>'
    return None


@hookimpl
async def track_event(event: Any) -> None:
    seen.append(event.name)
    events.append(event)


@hookimpl
def visible_threads(member: Any, thread: Any) -> Any:
    word = plugins.settings("hello").hidden_word
    return ~thread.title.contains(word, autoescape=True) if word else None


@hookimpl
def visible_categories(member: Any, category: Any) -> Any:
    word = plugins.settings("hello").hidden_word
    return ~category.name.contains(word, autoescape=True) if word else None


@dataclass(frozen=True)
class GreetingSent(Event):
    """Someone opened the hello page and was greeted."""

    member_id: int
    greeting: str


@hookimpl
def register_event_types() -> list[type[Event]]:
    return [GreetingSent]


@get("/page")
async def greeting_page(request: Request[Any, Any, Any], db: Any) -> Any:
    """A page from the plugin's own template, extending the core's layout; emits an event."""
    greeting = plugins.settings("hello").greeting
    emit(db, GreetingSent(member_id=request.user.id, greeting=greeting))
    await db.commit()
    return render(request, "hello/page.html", greeting=greeting)


@get("/admin", guards=[require_admin])
async def admin_page() -> str:
    return "hello admin"


@hookimpl
def register_templates() -> str:
    return str(HERE / "hello_templates")


@hookimpl
def register_static() -> str:
    return str(HERE / "hello_static")


@get("/greeting")
async def greeting_api(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {
        "greeting": plugins.settings("hello").greeting,
        "may_review": plugins.allowed(request.user, "hello.review"),
    }


@hookimpl
def register_api_routes() -> list[Any]:
    return [greeting_api]


@hookimpl
def register_permissions() -> list[Permission]:
    return [Permission("review", "Review greetings", roles=("moderator", "admin"))]


@hookimpl
def register_admin_pages() -> list[NavItem]:
    return [NavItem("Hello admin", "/p/hello/admin")]


@click.command("greet")
@click.argument("name")
def greet_command(name: str) -> None:
    """Print the configured greeting."""
    click.echo(f"{plugins.settings('hello').greeting}, {name}!")


@hookimpl
def register_commands() -> list[Any]:
    return [greet_command]


@hookimpl
def live_channels(member: Any) -> list[str] | None:
    """Everyone hears "greetings"; reviewers hear "reviews" too."""
    if plugins.allowed(member, "hello.review"):
        return ["greetings", "reviews"]
    return ["greetings"]


@hookimpl
def register_listeners() -> dict[str, Any]:
    """Every process hears what any publishes to "shouts"; "broken" fails each time."""

    def broken(data: str) -> None:
        raise RuntimeError("deaf")

    return {"shouts": shouts.append, "broken": broken}


@hookimpl
def record_audit(
    db: Any,
    actor: Any,
    action: str,
    target_type: str,
    target_id: int | None,
    before: Any,
    after: Any,
) -> None:
    audited.append(
        (actor.username if actor else None, action, target_type, target_id, before, after)
    )


@hookimpl
async def member_scores(member_ids: list[int]) -> dict[int, float]:
    """Ten points per id, odd ids left out (they count 0)."""
    return {member_id: 10.0 * member_id for member_id in member_ids if member_id % 2 == 0}


@hookimpl
def feature_enabled(member: Any, key: str) -> bool | None:
    """The flag "hello-look" is on for alice alone; other flags are not hello's."""
    if key != "hello-look":
        return None
    return member is not None and member.username == "alice"


@hookimpl
def best_time(now: Any) -> Any:
    """Always the next full hour."""
    from datetime import timedelta

    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


@hookimpl
def review_items(member: Any) -> Any:
    """One greeting to review, for moderators."""
    from datetime import UTC, datetime

    from community.plugins import ReviewItem

    if not member.is_staff:
        return None
    return [ReviewItem("Greeting", "Say hi?", "/p/hello/page", datetime(2026, 1, 1, tzinfo=UTC))]
