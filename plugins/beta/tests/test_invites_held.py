"""A program's invite link used by someone a ``check_member`` gate holds: no place is taken
until an admin approves the account; then they join."""

from __future__ import annotations

from typing import Any

import pytest
from community_beta import plugin
from sqlalchemy import select

from community.accounts import services
from community.accounts.models import Member
from community.testing import PASSWORD, settle
from tests.plugins import doorman


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [plugin, doorman]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["beta", "doorman"]


async def test_a_held_account_joins_when_approved(beta: Any, app: Any) -> None:
    program = await beta.program(status="private_beta", capacity=1)
    link = (await beta.call("POST", f"/programs/{program['id']}/invites", json={})).json()
    held = await beta.client.post(
        "/api/v1/auth/register",
        json={"invite": link["token"], "username": "newcomer", "password": PASSWORD},
    )
    assert held.status_code == 202, held.text
    await settle(app)
    members = (await beta.call("GET", f"/programs/{program['id']}/members")).json()["members"]
    assert members == []  # waiting for approval: no place taken
    async with app.state.sessionmaker() as db:
        newcomer = await db.scalar(select(Member).where(Member.username_key == "newcomer"))
        await services.approve_member(db, newcomer.id)
    await settle(app)
    members = (await beta.call("GET", f"/programs/{program['id']}/members")).json()["members"]
    assert [(m["username"], m["via"]) for m in members] == [("newcomer", "invite")]
