"""With the beta plugin: a category gated by a beta program is never shared, whether named
in a rule, shared by hand, or gated after a share was scheduled."""

from __future__ import annotations

from typing import Any

import pytest
from community_beta import plugin as beta
from community_crosspost import plugin as crosspost_plugin
from community_crosspost.models import Delivery
from sqlalchemy import select

from community.testing import make_thread, settle


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [crosspost_plugin, beta]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["crosspost", "beta"]


async def _program(crosspost: Any, name: str, category_id: int) -> dict[str, Any]:
    got = await crosspost.client.post(
        "/api/v1/beta/programs",
        json={"name": name, "status": "private_beta", "categories": [category_id]},
        headers=crosspost.admin_headers,
    )
    assert got.status_code == 201, got.text
    return dict(got.json())


async def test_gated_categories_are_never_shared(crosspost: Any, app: Any, fake: Any) -> None:
    lab = await make_thread(app, "admin", title="Secret plans", category="Lab")
    await _program(crosspost, "Lab", lab.category_id)
    general = await make_thread(app, "admin", title="Public news", category="General")
    refused = await crosspost.call(
        "POST",
        "/targets",
        json={
            "name": "Chat",
            "kind": "slack",
            "webhook_url": f"{fake.url}/slack",
            "categories": [lab.category_id],
        },
    )
    assert refused.status_code == 400 and refused.json()["error"] == "private_category"
    target = await crosspost.target(
        kind="slack", webhook_url=f"{fake.url}/slack", categories=[general.category_id]
    )
    by_hand = await crosspost.call(
        "POST", f"/threads/{lab.id}/share", json={"targets": [target["id"]]}
    )
    assert by_hand.status_code == 400 and by_hand.json()["error"] == "not_shareable"
    # Shared by hand while General was public; General is gated before the job runs.
    later = await make_thread(app, "admin", title="Soon secret", category="General")
    await settle(app)
    await crosspost.call("POST", f"/threads/{later.id}/share", json={"targets": [target["id"]]})
    await _program(crosspost, "Everyone", general.category_id)
    await crosspost.run_jobs()
    async with app.state.sessionmaker() as db:
        statuses = set(await db.scalars(select(Delivery.status)))
    assert statuses == {"cancelled"}
    assert fake.seen == []
