"""With the moderation plugin enabled too, every change of a feature flag is in its audit
log: who, what before and after."""

from __future__ import annotations

from typing import Any

import pytest
from community_beta import plugin
from community_moderation import plugin as moderation
from community_moderation.models import AuditEntry
from sqlalchemy import select


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [plugin, moderation]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["beta", "moderation"]


async def test_flag_changes_are_audited(beta: Any, app: Any, admin: Any) -> None:
    await beta.group("testers")
    await beta.call("PUT", "/flags/new-editor", json={"rollout": 30})
    await beta.call("PUT", "/flags/new-editor", json={"rollout": 30})  # no change, no entry
    await beta.call("PUT", "/flags/new-editor", json={"killed": True, "groups": ["testers"]})
    async with app.state.sessionmaker() as db:
        entries = list(await db.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.action, e.reason, e.actor_id) for e in entries] == [
        ("beta.flag", "new-editor", admin.id),
        ("beta.flag", "new-editor", admin.id),
    ]
    assert entries[0].before == {} and entries[0].after["rollout"] == 30
    assert entries[1].before["killed"] is False
    assert entries[1].after["killed"] is True and entries[1].after["groups"] == ["testers"]
