"""A plugin's own session (``plugins.session()``, which gates and slots open while the
request's session holds a connection) comes from a pool of its own: with one pool, a burst of
requests could hold every connection, each waiting for a second one. Here the request pool has
one connection: every request holds it while its gate asks for another. On SQLite too: its
engine has a pool as well (32 replies at once to the embedded server answered nothing)."""

from __future__ import annotations

import asyncio
import types
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import community.app
from community import hookimpl, plugins
from community.plugins import Manifest
from community.testing import api_token, make_thread

asked: list[int] = []


def _gate_plugin() -> types.ModuleType:
    module = types.ModuleType("poolgate")
    module.MANIFEST = Manifest(  # type: ignore[attr-defined]
        name="poolgate",
        version="1.0",
        description="A gate that reads with a session of its own.",
        api=">=1.0,<2",
        capabilities={"gates"},
    )

    @hookimpl
    async def check_post(member: Any, thread: Any, body: str, editing: bool) -> None:
        async with plugins.session() as db:
            asked.append(int((await db.execute(text("SELECT 1"))).scalar_one()))

    module.check_post = check_post  # type: ignore[attr-defined]
    return module


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [_gate_plugin()]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["poolgate"]


@pytest.fixture(autouse=True)
def one_request_connection(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """The app's first engine (the requests') keeps one connection and waits 3 s at most."""
    made = community.app.create_engine
    calls: list[str] = []

    def engine(url: str, *args: Any) -> Any:
        calls.append(url)
        if len(calls) > 1:
            return made(url, *args)
        return create_async_engine(
            make_url(url), pool_size=1, max_overflow=0, pool_timeout=3, pool_pre_ping=True
        )

    monkeypatch.setattr(community.app, "create_engine", engine)


async def test_a_gate_session_never_waits_for_the_request_pool(app: Any, client: Any, member: Any):
    thread = await make_thread(app, member.username)
    headers = await api_token(app, member.username)
    asked.clear()
    replies = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/threads/{thread.id}/posts", json={"body": f"Reply {n}"}, headers=headers
            )
            for n in range(3)
        )
    )
    assert [r.status_code for r in replies] == [201, 201, 201], [r.text for r in replies]
    assert asked == [1, 1, 1]
