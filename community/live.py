"""Live updates: committed events become SSE messages through Litestar channels.

Messages carry only names and numbers ("post 7 in thread 42 changed"); the page then fetches
the fragment through an ordinary request, which applies visibility exactly as pages do.
Channels run on Redis pub/sub when Redis is configured, so a post made through one process
reaches pages served by every other; in-process otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from litestar.channels import ChannelsPlugin
from litestar.response import ServerSentEventMessage
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

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
    ThreadsMerged,
    ThreadSplit,
)

log = logging.getLogger("community.live")

KEEPALIVE_SECONDS = 20.0
RECHECK_SECONDS = 60.0
PENDING = "community.live.pending"
"""Session info key: messages waiting for the transaction to commit."""


def thread_channel(namespace: str, thread_id: int) -> str:
    return f"{namespace}:thread:{thread_id}"


def member_channel(namespace: str, member_id: int) -> str:
    return f"{namespace}:member:{member_id}"


def plugin_channel(namespace: str, plugin: str, name: str) -> str:
    """Plugin ``plugin``'s channel ``name``: under a prefix of its own, so a plugin can neither
    listen to the core's channels nor to another plugin's."""
    return f"{namespace}:plugin:{plugin}:{name}"


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
        case ThreadSplit(source_id=source_id):
            return [(thread_channel(namespace, source_id), {"event": "thread", "data": "split"})]
        case ThreadsMerged(source_id=source_id, target_id=target_id):
            # The target's pages fetch the posts appended after what they show, as for a reply.
            return [
                (thread_channel(namespace, source_id), {"event": "thread", "data": "merged"}),
                (thread_channel(namespace, target_id), {"event": "post", "data": "merged"}),
            ]
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
                publish(self.channels, channel, message)


def publish(channels: ChannelsPlugin, channel: str, message: dict[str, str]) -> None:
    """Send ``message`` (``event`` and ``data``) to the streams listening to ``channel``. Never
    raises: a dead channel must not fail a committed write."""
    try:
        channels.publish(json.dumps(message), channel)
    except RuntimeError:
        # Channels not started: a script or command outside the server wrote.
        log.debug("live: channels not running; %s not published", message["event"])
    except Exception as exc:
        log.warning("live: could not publish %s: %s", message["event"], exc)


def publish_after_commit(
    db: AsyncSession | Session, channels: ChannelsPlugin, channel: str, message: dict[str, str]
) -> None:
    """``publish`` once ``db``'s transaction commits; nothing if it rolls back. The same
    message twice in one transaction goes once."""
    session = db.sync_session if isinstance(db, AsyncSession) else db
    pending = session.info.setdefault(PENDING, [])
    if (channels, channel, message) not in pending:
        pending.append((channels, channel, message))


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT released: the real commit is still to come
    for channels, channel, message in session.info.pop(PENDING, None) or []:
        publish(channels, channel, message)


@sa_event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if not previous_transaction.nested:
        session.info.pop(PENDING, None)


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


async def listen(
    channels: ChannelsPlugin, handlers: list[tuple[str, Callable[[str], Any]]]
) -> None:
    """Call ``handler(data)`` for every message published to its channel, for each (channel,
    handler), until cancelled. The subscriptions are made one after the other, then heard
    together. A handler that fails is logged and hears the next message."""
    async with contextlib.AsyncExitStack() as stack:
        heard = []
        for channel, handler in handlers:
            subscriber = await stack.enter_async_context(channels.start_subscription([channel]))
            heard.append(_hear(subscriber, channel, handler))
        await asyncio.gather(*heard)


async def _hear(subscriber: Any, channel: str, handler: Callable[[str], Any]) -> None:
    async for raw in subscriber.iter_events():
        try:
            result = handler(json.loads(raw)["data"])
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("live: the listener of %s failed", channel)
