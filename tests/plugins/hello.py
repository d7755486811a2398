"""A tiny plugin using most hooks: a page, a setting, a slot, a nav link, events, visibility."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar import Request, get
from markupsafe import escape
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from community import hookimpl, plugins
from community.db import Base
from community.jobs import Job, JobContext, Schedule
from community.plugins import Manifest, NavItem
from community.web.slots import Slot

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
        "migrations",
        "jobs",
    },
)


class Greeting(Base):
    """The plugin's own table: named ``hello_...``, migrated by its own Alembic branch."""

    __tablename__ = "hello_greetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(200))


@hookimpl
def register_migrations() -> str:
    return str(Path(__file__).parent / "hello_migrations")


seen: list[str] = []
"""Names of the events track_event received, for the tests."""
greeted: list[str] = []
"""Greetings the scheduled job made, for the tests."""


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
    return [hello_page]


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


@hookimpl
def visible_threads(member: Any, thread: Any) -> Any:
    word = plugins.settings("hello").hidden_word
    return ~thread.title.contains(word, autoescape=True) if word else None
