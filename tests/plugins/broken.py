"""A plugin that fails: its event handler and slot raise, its nav hook is slow."""

from __future__ import annotations

import time
from typing import Any

from community import hookimpl
from community.plugins import Manifest, NavItem

MANIFEST = Manifest(
    name="broken",
    version="0.1",
    description="Fails on purpose.",
    api=">=1.0,<2",
    capabilities={"events", "slots", "nav"},
)


@hookimpl
def track_event(event: Any) -> None:
    raise RuntimeError("track_event always fails")


@hookimpl
def render_slot(slot: Any, context: dict[str, Any]) -> str:
    raise RuntimeError("render_slot always fails")


@hookimpl
def register_nav_items() -> list[NavItem]:
    time.sleep(0.3)
    return []
