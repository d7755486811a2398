"""A misspelt hook name: refused at startup with the plugin's name."""

from __future__ import annotations

from typing import Any

from community import hookimpl
from community.plugins import Manifest

MANIFEST = Manifest(
    name="typo", version="1.0", description="Cannot spell.", api=">=1.0", capabilities={"events"}
)


@hookimpl
def track_evnt(event: Any) -> None:
    pass
