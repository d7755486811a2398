"""Live channels whose answer a test sets: to try names a plugin must not get."""

from __future__ import annotations

from typing import Any

from community import hookimpl
from community.plugins import Manifest

MANIFEST = Manifest(
    name="chatter",
    version="1.0",
    description="Names whatever live channels the test says.",
    api=">=1.0,<2",
    capabilities={"live"},
)

answer: list[Any] = [None]
"""``answer[0]`` is what live_channels returns."""


@hookimpl
def live_channels(member: Any) -> Any:
    return answer[0]
