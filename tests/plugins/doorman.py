"""A member gate: rejects usernames starting with "spam", holds those starting with "new",
fails (so holds) on "boom"; and an event log, to see account events arrive after commit."""

from __future__ import annotations

from typing import Any

from community import hookimpl
from community.plugins import Gate, Manifest

MANIFEST = Manifest(
    name="doorman",
    version="1.0",
    description="Checks who joins.",
    api=">=1.0,<2",
    capabilities={"gates", "events"},
)

asked: list[tuple[str, str | None]] = []
"""The (username, email) pairs check_member was asked about, for the tests."""
seen: list[Any] = []
"""The events track_event received, for the tests."""


@hookimpl
async def check_member(username: str, email: str | None) -> Gate | None:
    asked.append((username, email))
    name = username.lower()
    if name.startswith("boom"):
        raise RuntimeError("the doorman tripped")
    if name.startswith("spam"):
        return Gate.reject("We do not let spammers in.")
    if name.startswith("new"):
        return Gate.hold("New here: an admin will have a look.")
    return None


@hookimpl
def track_event(event: Any) -> None:
    seen.append(event)
