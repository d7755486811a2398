"""Every test here runs an app with the crosspost plugin loaded and enabled, and may start a
fake network: a real HTTP server on loopback that records each request and answers as a
test scripts it (loopback is allowed through the plugin's ``allowed_hosts`` setting)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from community_crosspost import plugin
from community_crosspost.settings import Settings

from community import plugins
from community.accounts.services import instance_settings
from community.jobs import JobRunner
from community.testing import api_token, make_member


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [plugin]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["crosspost"]


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Fake:
    """A network on loopback: ``answers[path]`` lists (status, headers, body) to give in turn
    (the last one repeats); anything else answers 200 ``{"id": "1", "url": ...}``."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    answers: dict[str, list[tuple[int, dict[str, str], Any]]] = field(default_factory=dict)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers, body = await read(scope, receive)
        path = scope["path"]
        self.seen.append(Seen(scope["method"], path, scope["query_string"].decode(), headers, body))
        queue = self.answers.get(path)
        if queue:
            status, extra, reply = queue.pop(0) if len(queue) > 1 else queue[0]
        else:
            status, extra, reply = 200, {}, {"id": str(len(self.seen)), "url": f"{self.url}/@x/1"}
        await answer(send, status, reply, extra)


async def read(scope: Any, receive: Any) -> tuple[dict[str, str], bytes]:
    """An ASGI request's headers (names in lower case) and whole body."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    return {k.decode().lower(): v.decode() for k, v in scope["headers"]}, body


async def answer(send: Any, status: int, reply: Any, headers: dict[str, str] | None = None) -> None:
    """Send an ASGI response: ``reply`` as JSON (bytes as they are)."""
    raw = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")]
            + [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
        }
    )
    await send({"type": "http.response.body", "body": raw})


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve the ASGI ``app`` on a free loopback port; its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):  # uvicorn says nothing when it is up: look every 10 ms
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    network = Fake()
    async with serving(network) as url:
        network.url = url
        yield network


@dataclass
class Crosspost:
    """Helpers bound to one test's app and client."""

    app: Any
    client: Any
    admin_headers: dict[str, str]

    async def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        return await self.client.request(
            method, f"/api/v1/crosspost{path}", headers=headers or self.admin_headers, **kwargs
        )

    async def target(self, **fields: Any) -> dict[str, Any]:
        got = await self.call("POST", "/targets", json={"name": "Somewhere", **fields})
        assert got.status_code == 201, got.text
        return dict(got.json())

    async def settings(self, **values: Any) -> None:
        async with self.app.state.sessionmaker() as db:
            site = await instance_settings(db, self.app.state.settings.name)
            defaults = {f.name: getattr(Settings(), f.name) for f in dataclasses.fields(Settings)}
            stored = {**defaults, **(site.get("plugin:crosspost") or {}), **values}
            await plugins.save_settings(
                db, self.app.state.plugins, "crosspost", {k: str(v) for k, v in stored.items()}
            )

    async def run_jobs(self) -> int:
        """Run every job due now; how many ran."""
        runner = JobRunner(
            self.app.state.sessionmaker, self.app.state.jobs, self.app.state.settings
        )
        ran = 0
        while await runner.run_next():
            ran += 1
        return ran


@pytest.fixture(autouse=True)
async def own_runner_only(app: Any) -> None:
    """Stop the app's job runner: tests run the due jobs themselves (``run_jobs``)."""
    await app.state.job_runner.stop()


@pytest.fixture
async def crosspost(app: Any, client: Any, admin: Any) -> Crosspost:
    helper = Crosspost(app, client, await api_token(app, "admin"))
    await helper.settings(allowed_hosts="127.0.0.1", min_interval="0")
    return helper


@pytest.fixture
async def moderator(app: Any) -> dict[str, str]:
    await make_member(app, "mod", role="moderator")
    return await api_token(app, "mod")
