"""With the moderation plugin: drafts waiting for approval are in the moderation inbox."""

from __future__ import annotations

from typing import Any

import pytest
from community_crosspost import plugin as crosspost_plugin
from community_moderation import plugin as moderation

from community.testing import browser, make_thread, settle, sign_in


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [crosspost_plugin, moderation]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["crosspost", "moderation"]


async def test_drafts_are_in_the_moderation_inbox(
    crosspost: Any, app: Any, fake: Any, moderator: Any
) -> None:
    general = await make_thread(app, "admin", title="Seed", category="General")
    await crosspost.target(
        name="Brand chat",
        kind="slack",
        webhook_url=f"{fake.url}/a",
        categories=[general.category_id],
        approval=True,
    )
    await make_thread(app, "admin", title="Needs a look first", category="General")
    await settle(app)
    async with browser(app) as client:
        await sign_in(client, "mod")
        inbox = (await client.get("/p/moderation/")).text
    assert "Also waiting for a decision" in inbox
    assert "Needs a look first" in inbox and "to Brand chat" in inbox
    assert "/p/crosspost/admin/deliveries#draft-" in inbox
