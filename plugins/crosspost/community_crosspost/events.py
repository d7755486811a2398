"""The plugin's events, for other plugins (``track_event``): a share delivered, or failed for
good (a permanent error, or its attempts spent)."""

from __future__ import annotations

from dataclasses import dataclass

from community.events import Event


@dataclass(frozen=True)
class DeliverySent(Event):
    delivery_id: int
    target_id: int
    thread_id: int | None
    network: str
    link: str = ""
    """The link back to the thread as sent, with the target's ``utm_`` tags."""


@dataclass(frozen=True)
class DeliveryFailed(Event):
    delivery_id: int
    target_id: int
    thread_id: int | None
    network: str
    reason: str


EVENT_TYPES: list[type[Event]] = [DeliverySent, DeliveryFailed]
