"""Declares an event type named like one of the core's: refused at load."""

from __future__ import annotations

from dataclasses import dataclass

from community import hookimpl
from community.events import Event
from community.plugins import Manifest

MANIFEST = Manifest(
    name="clash", version="1.0", description="Copies names.", api=">=1.0", capabilities={"events"}
)


@dataclass(frozen=True)
class PostCreated(Event):
    post_id: int


@hookimpl
def register_event_types() -> list[type[Event]]:
    return [PostCreated]
