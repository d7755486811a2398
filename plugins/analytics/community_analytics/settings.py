"""The plugin's settings: admins edit them on Admin → Plugins; read with
``community.plugins.settings("analytics")``."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

METRICS_VERSION = 3
"""Raise it when the rollup's metrics change, so stored days are computed again."""


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def zone(name: str) -> ZoneInfo:
    """The time zone called ``name``, or ValueError saying what is wrong."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"Unknown time zone {name!r}: use a name like Europe/Paris or UTC."
        ) from None


@dataclass
class Settings:
    time_zone: str = field(
        default="UTC",
        metadata=_help("The community's time zone (like Europe/Paris): where a day begins."),
    )
    exclude_staff: bool = field(
        default=True, metadata=_help("Leave moderators, admins and suspended members out.")
    )
    moderators_may_view: bool = field(
        default=False, metadata=_help("Moderators may see the reports too (admins always may).")
    )

    def __post_init__(self) -> None:
        zone(self.time_zone)

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.time_zone)

    @property
    def signature(self) -> str:
        """What a rolled-up day depends on: a day rolled up under others (or before the
        metrics changed: ``METRICS_VERSION``) is computed again."""
        staff = "x" if self.exclude_staff else "a"
        return f"{self.time_zone.strip()}|{staff}|m{METRICS_VERSION}"
