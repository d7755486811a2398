"""(being written) Thread views, counted in batches."""

from __future__ import annotations

from community.events import Event


async def record(event: Event) -> None:
    return None
