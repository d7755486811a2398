"""Events this plugin emits, for other plugins (analytics) and webhooks."""

from __future__ import annotations

from dataclasses import dataclass

from community.events import Event


@dataclass(frozen=True)
class PostFlagged(Event):
    """A member flagged a post."""

    post_id: int
    flagger_id: int
    reason: str
    score: float


@dataclass(frozen=True)
class ItemReviewed(Event):
    """A moderator (or the plugin) settled an inbox item."""

    item_id: int
    kind: str
    resolution: str
    moderator_id: int | None
    seconds_open: float


@dataclass(frozen=True)
class MemberWarned(Event):
    """A member received a warning (silences and suspensions are MemberPenalised)."""

    member_id: int
    moderator_id: int | None
    points: int


EVENT_TYPES = [PostFlagged, ItemReviewed, MemberWarned]
