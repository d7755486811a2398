"""Live updates: committed events become SSE messages through Litestar channels.

Messages carry only names and numbers ("post 7 in thread 42 changed"); the page then fetches
the fragment through an ordinary request, which applies visibility exactly as pages do.
Channels run on Redis pub/sub when Redis is configured, so a post made through one process
reaches pages served by every other; in-process otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from litestar.channels import ChannelsPlugin
from litestar.response import ServerSentEventMessage

from community.events import (
    Event,
    MembersNotified,
    PostCreated,
    PostDeleted,
    PostEdited,
    PostHeld,
    PostRestored,
    ReactionAdded,
    ReactionRemoved,
    ThreadChanged,
)

log = logging.getLogger("community.live")

KEEPALIVE_SECONDS = 20.0
RECHECK_SECONDS = 60.0


def thread_channel(namespace: str, thread_id: int) -> str:
    return f"{namespace}:thread:{thread_id}"


def member_channel(namespace: str, member_id: int) -> str:
    return f"{namespace}:member:{member_id}"


def messages(namespace: str, event: Event) -> list[tuple[str, dict[str, str]]]:
    """The (channel, message) pairs that tell open pages about ``event``."""
    match event:
        case PostCreated(thread_id=thread_id, number=number):
            return [(thread_channel(namespace, thread_id), {"event": "post", "data": str(number)})]
        case (
            PostEdited(post_id=post_id, thread_id=thread_id)
            | PostDeleted(post_id=post_id, thread_id=thread_id)
            | PostHeld(post_id=post_id, thread_id=thread_id)
            | PostRestored(post_id=post_id, thread_id=thread_id)
            | ReactionAdded(post_id=post_id, thread_id=thread_id)
            | ReactionRemoved(post_id=post_id, thread_id=thread_id)
        ):
            message = {"event": f"post-{post_id}", "data": str(post_id)}
            return [(thread_channel(namespace, thread_id), message)]
        case ThreadChanged(thread_id=thread_id, change=change):
            return [(thread_channel(namespace, thread_id), {"event": "thread", "data": change})]
        case MembersNotified(member_ids=member_ids):
            return [
                (member_channel(namespace, member_id), {"event": "notify", "data": ""})
                for member_id in member_ids
            ]
    return []


class Publisher:
    """The sessions' after-commit dispatch: publishes each event's messages."""

    def __init__(self, channels: ChannelsPlugin, namespace: str) -> None:
        self.channels = channels
        self.namespace = namespace

    def __call__(self, events: Sequence[Event]) -> None:
        for event in events:
            for channel, message in messages(self.namespace, event):
                try:
                    self.channels.publish(json.dumps(message), channel)
                except RuntimeError:
                    # Channels not started: a script or command outside the server wrote.
                    log.debug("live: channels not running; %s not published", event.name)
                except Exception as exc:  # a dead channel must never fail a committed write
                    log.warning("live: could not publish %s: %s", event.name, exc)


async def stream(
    channels: ChannelsPlugin,
    names: list[str],
    keepalive: float = KEEPALIVE_SECONDS,
    still_allowed: Callable[[], Awaitable[bool]] | None = None,
    recheck: float = RECHECK_SECONDS,
) -> AsyncIterator[ServerSentEventMessage | str]:
    """SSE messages from ``names`` until the client goes away, with a comment every
    ``keepalive`` seconds so proxies keep the connection and dead clients are noticed.
    Every ``recheck`` seconds ``still_allowed`` is asked again (the member may have been
    suspended or lost the thread); the stream ends when it says no."""
    async with channels.start_subscription(names) as subscriber:
        yield ServerSentEventMessage(event="ready", data="")
        events = subscriber.iter_events()
        pending: asyncio.Task[bytes] | None = None
        checked = time.monotonic()
        try:
            while True:
                if still_allowed is not None and time.monotonic() - checked > recheck:
                    if not await still_allowed():
                        return
                    checked = time.monotonic()
                if pending is None:
                    pending = asyncio.ensure_future(anext(events))
                done, _ = await asyncio.wait({pending}, timeout=keepalive)
                if not done:
                    yield ServerSentEventMessage(comment="keepalive")
                    continue
                raw, pending = pending.result(), None
                message = json.loads(raw)
                yield ServerSentEventMessage(event=message["event"], data=message["data"])
        finally:
            if pending is not None:
                pending.cancel()
