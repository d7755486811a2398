"""The cross-posting plugin's hooks, kept thin: each hands over to a module of its own."""

from __future__ import annotations

from pathlib import Path

from community import hookimpl
from community.plugins import Manifest
from community_crosspost import models

HERE = Path(__file__).parent
TABLES = models.Base.metadata  # the tables are known wherever the plugin is loaded

MANIFEST = Manifest(
    name="crosspost",
    version="0.1.0",
    description=(
        "Cross-posting: share threads to Mastodon, Bluesky, Discord, Slack and signed "
        "webhooks, by rule or by a moderator's mark, with review, scheduling and durable "
        "delivery. Never shares private or beta-gated content."
    ),
    api=">=1.0,<2",
    capabilities={"migrations", "outbound-network"},
)


@hookimpl
def register_migrations() -> str:
    return str(HERE / "migrations")
