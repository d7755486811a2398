"""The plugin's settings: admins edit them on Admin → Plugins; read with
``community.plugins.settings("crosspost")``."""

from __future__ import annotations

from dataclasses import dataclass, field


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class Settings:
    allowed_hosts: str = field(
        default="",
        metadata=_help(
            "Hosts (comma-separated) that may be private addresses or plain http: for tests "
            "and intranets. Every other URL must be https to a public address."
        ),
    )
    best_time: str = field(
        default="09:00",
        metadata=_help(
            "When 'best time' shares go out (UTC, HH:MM) without the analytics plugin's "
            "best-time heatmap."
        ),
    )
    max_attempts: int = field(
        default=12,
        metadata=_help(
            "Attempts of a delivery before it is dead (retried by hand); 12 keep trying for "
            "2.5 to 5 hours."
        ),
    )
    min_interval: int = field(
        default=5, metadata=_help("Seconds between two deliveries to the same target (pacing).")
    )

    def hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip())

    def best_hour(self) -> tuple[int, int]:
        """``best_time`` as (hour, minute); a 400 saying so when it is not HH:MM."""
        import re

        from community.errors import ServiceError

        found = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", self.best_time.strip())
        if found is None:
            raise ServiceError(
                "invalid_best_time",
                f"The crosspost setting best_time {self.best_time!r} is not a time HH:MM (UTC).",
                400,
            )
        return int(found.group(1)), int(found.group(2))
