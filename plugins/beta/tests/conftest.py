"""Every test here runs an app with the beta plugin loaded and enabled. ``beta`` offers the
steps the tests repeat: an admin's API headers, a program made through the API, members
and groups made as admins make them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from community_beta import flags, plugin

from community.accounts import services
from community.testing import api_token, make_member


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [plugin]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["beta"]


@pytest.fixture(autouse=True)
def fresh_flag_cache() -> None:
    """Each test's database starts empty: this process's flag snapshot starts empty too."""
    flags.cache = flags.Cache()


@dataclass
class Beta:
    """Helpers bound to one test's app and client."""

    app: Any
    client: Any
    admin_headers: dict[str, str]

    async def program(self, **fields: Any) -> dict[str, Any]:
        """A program made through the API (a name is made up when none is given)."""
        body = {"name": "Private editor", **fields}
        got = await self.client.post("/api/v1/beta/programs", json=body, headers=self.admin_headers)
        assert got.status_code == 201, got.text
        return dict(got.json())

    async def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        return await self.client.request(
            method, f"/api/v1/beta{path}", headers=headers or self.admin_headers, **kwargs
        )

    async def member(self, username: str, role: str = "member") -> dict[str, str]:
        """A new member's API headers."""
        await make_member(self.app, username, role)
        return await api_token(self.app, username)

    async def group(self, name: str, *usernames: str) -> None:
        async with self.app.state.sessionmaker() as db:
            group = await services.create_group(db, name)
            for username in usernames:
                await services.add_to_group(
                    db, group, await services.member_by_username(db, username)
                )


@pytest.fixture
async def beta(app: Any, client: Any, admin: Any) -> Beta:
    return Beta(app, client, await api_token(app, "admin"))
