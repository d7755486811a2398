"""(being written) Moderators' marks against members, from the moderation plugin's events."""

from __future__ import annotations

from community.events import Event

KINDS: dict[str, str] = {}


async def record(event: Event) -> None:
    return None
