"""Live fan-out: many server-sent-event clients on one thread, and how long a reply takes to
reach them all. ``bench/load.py --pages fanout`` runs it against the server it started.

Each client is a raw HTTP/1.1 connection to ``/live?thread=<id>`` with a member's session
cookie, read line by line. Once every client has its ``ready`` event, replies are posted
through the API one after the other; for each, the time from sending the request (its commit
falls inside the request) to each client reading the ``post`` event with the reply's number.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx


@dataclass
class Fanout:
    clients: int
    connected: int
    posts: int
    p50_ms: float
    p99_ms: float
    last_p50_ms: float
    """Per reply, when its last client had it; the median over the replies."""
    last_max_ms: float
    missed: int
    """Deliveries that never came (clients x replies - received)."""

    def line(self) -> str:
        return (
            f"  fan-out: {self.connected}/{self.clients} clients, {self.posts} replies: "
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, last client p50 "
            f"{self.last_p50_ms:.1f} ms (worst {self.last_max_ms:.1f} ms), missed {self.missed}"
        )


async def _client(
    port: int,
    path: str,
    cookie: str,
    ready: asyncio.Event,
    connected: list[int],
    heard: dict[int, list[float]],
    total: int,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    )
    writer.write(request.encode())
    await writer.drain()
    event, pending = "", b""
    try:
        async for data in _body(reader):
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                text = line.decode().rstrip("\r")
                if text.startswith("event:"):
                    event = text[6:].strip()
                elif text.startswith("data:") and event == "ready":
                    connected.append(1)
                    if len(connected) == total:
                        ready.set()
                elif text.startswith("data:") and event == "post":
                    number = text[5:].strip()
                    if number.isdigit():
                        heard.setdefault(int(number), []).append(time.perf_counter())
                elif not text:
                    event = ""  # a blank line ends the message
    finally:
        writer.close()


async def _body(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The response body as it comes, its chunked transfer encoding undone."""
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"/live answered {status!r}")
    chunked = False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower():
            chunked = True
    if not chunked:
        while data := await reader.read(65536):
            yield data
        return
    while size_line := await reader.readline():
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return
        yield await reader.readexactly(size)
        await reader.readexactly(2)  # the chunk's CRLF


async def run(
    port: int,
    cookies: list[str],
    thread_id: int,
    tokens: list[str],
    clients: int = 1000,
    posts: int = 20,
    connect_within: float = 120,
) -> Fanout:
    """``clients`` streams on thread ``thread_id`` (the cookies in turn), then ``posts``
    replies by the tokens in turn, 0.5 s apart."""
    ready = asyncio.Event()
    connected: list[int] = []
    heard: dict[int, list[float]] = {}
    path = f"/live?thread={thread_id}"
    tasks = []
    for n in range(clients):
        cookie = cookies[n % len(cookies)]
        tasks.append(
            asyncio.create_task(_client(port, path, cookie, ready, connected, heard, clients))
        )
        if n % 50 == 49:
            await asyncio.sleep(0.05)  # a crowd arriving, not one SYN flood
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ready.wait(), connect_within)
    sent: dict[int, float] = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as api:
        for n in range(posts):
            token = tokens[n % len(tokens)]
            started = time.perf_counter()
            answer = await api.post(
                f"/api/v1/threads/{thread_id}/posts",
                json={"body": f"Fan-out reply {n} at {time.time():.3f}."},
                headers={"Authorization": f"Bearer {token}"},
            )
            if answer.status_code != 201:
                raise RuntimeError(f"posting answered {answer.status_code}: {answer.text}")
            sent[int(answer.json()["number"])] = started
            await asyncio.sleep(0.5)
    await asyncio.sleep(3)  # the stragglers
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    delays, lasts = [], []
    for number, started in sent.items():
        times = [(t - started) * 1000 for t in heard.get(number, [])]
        delays += times
        if times:
            lasts.append(max(times))
    delays.sort()
    return Fanout(
        clients=clients,
        connected=len(connected),
        posts=len(sent),
        p50_ms=_pct(delays, 50),
        p99_ms=_pct(delays, 99),
        last_p50_ms=statistics.median(lasts) if lasts else float("nan"),
        last_max_ms=max(lasts) if lasts else float("nan"),
        missed=len(connected) * len(sent) - len(delays),
    )


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(len(values) * pct / 100))]
