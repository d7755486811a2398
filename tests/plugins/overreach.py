"""Implements a slot without declaring the "slots" capability: refused at load."""

from __future__ import annotations

from typing import Any

from community import hookimpl
from community.plugins import Manifest

MANIFEST = Manifest(
    name="overreach", version="1.0", description="Asks for less than it takes.", api=">=1.0"
)


@hookimpl
def render_slot(slot: Any, context: dict[str, Any]) -> str:
    return "<p>surprise</p>"
