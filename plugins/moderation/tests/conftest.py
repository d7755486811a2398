"""Every test here runs an app with the moderation plugin loaded and enabled, and may ask for
``mod``, a moderator."""

from __future__ import annotations

from typing import Any

import pytest
from community_moderation import plugin

from community.accounts.models import Member
from community.testing import make_member


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [plugin]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["moderation"]


@pytest.fixture
async def mod(app: Any) -> Member:
    return await make_member(app, "mod", "moderator")
