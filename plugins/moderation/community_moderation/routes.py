"""Every page of the plugin, under /p/moderation/, and its API under /api/v1/moderation/."""

from __future__ import annotations

from typing import Any

from community_moderation import (
    canned,
    categories,
    flags,
    inbox,
    penalties,
    split,
    threads,
    wellbeing,
    words,
)

PAGES: list[Any] = [
    *inbox.routes,
    *flags.routes,
    *words.routes,
    *penalties.routes,
    *canned.routes,
    *threads.routes,
    *split.routes,
    *wellbeing.routes,
    *categories.routes,
]
API: list[Any] = [
    *inbox.api_routes,
    *flags.api_routes,
    *words.api_routes,
    *penalties.api_routes,
    *canned.api_routes,
    *threads.api_routes,
    *split.api_routes,
    *wellbeing.api_routes,
    *categories.api_routes,
]
