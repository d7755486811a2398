"""What happened, as frozen dataclasses, told to listeners only after the transaction commits.

Services call ``emit(db, event)`` inside their transaction; when that transaction commits, the
session's ``dispatch`` callable (set by the app on its sessionmaker) receives the events in
order. A rollback drops them: nobody hears about a change that did not happen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

PENDING = "community.pending_events"
DISPATCH = "community.dispatch"

Dispatch = Callable[[Sequence["Event"]], None]


@dataclass(frozen=True)
class Event:
    """The base of every event; ``name`` is how hooks and logs refer to it."""

    @property
    def name(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class ThreadCreated(Event):
    thread_id: int
    category_id: int | None
    author_id: int


@dataclass(frozen=True)
class ThreadViewed(Event):
    thread_id: int
    member_id: int


@dataclass(frozen=True)
class ThreadChanged(Event):
    """A moderator moved, locked, pinned or hidden a thread (``change`` says which)."""

    thread_id: int
    actor_id: int
    change: str
    value: Any


@dataclass(frozen=True)
class ThreadSplit(Event):
    """A moderator moved replies (``post_ids``) of a thread into a new thread."""

    source_id: int
    new_thread_id: int
    actor_id: int
    post_ids: tuple[int, ...]


@dataclass(frozen=True)
class ThreadsMerged(Event):
    """A moderator moved every post of a thread to the end of another; the source thread is
    gone."""

    source_id: int
    target_id: int
    actor_id: int


@dataclass(frozen=True)
class PostCreated(Event):
    post_id: int
    thread_id: int
    number: int
    author_id: int


@dataclass(frozen=True)
class PostEdited(Event):
    post_id: int
    thread_id: int
    editor_id: int


@dataclass(frozen=True)
class PostDeleted(Event):
    post_id: int
    thread_id: int
    actor_id: int


@dataclass(frozen=True)
class PostApproved(Event):
    """A moderator released a post a gate held for review."""

    post_id: int
    thread_id: int
    actor_id: int


@dataclass(frozen=True)
class PostHeld(Event):
    """A post already shown was taken back for review (flags, a moderator): only its author and
    moderators see it until it is approved."""

    post_id: int
    thread_id: int
    actor_id: int | None
    reason: str


@dataclass(frozen=True)
class PostRestored(Event):
    post_id: int
    thread_id: int
    actor_id: int


@dataclass(frozen=True)
class ReactionAdded(Event):
    post_id: int
    thread_id: int
    member_id: int
    emoji: str


@dataclass(frozen=True)
class ReactionRemoved(Event):
    post_id: int
    thread_id: int
    member_id: int
    emoji: str


@dataclass(frozen=True)
class ConversationMessageSent(Event):
    thread_id: int
    post_id: int
    author_id: int
    recipient_ids: tuple[int, ...]


@dataclass(frozen=True)
class MembersNotified(Event):
    """New notifications were written for these members (their badges change)."""

    member_ids: tuple[int, ...]


@dataclass(frozen=True)
class MemberJoined(Event):
    """An account became usable: at once when it was made, or when an admin approved one that
    a ``check_member`` gate held. ``invite_id`` is None for accounts the command line made."""

    member_id: int
    invite_id: int | None
    invited_by_id: int | None


@dataclass(frozen=True)
class MemberSignedIn(Event):
    """A member gave their password: on the sign-in page, or asking the API for a token."""

    member_id: int


@dataclass(frozen=True)
class MemberSeen(Event):
    """A signed-in member opened a page, told at most once every few minutes (``at`` is an ISO
    date-time): what visit counts are made of."""

    member_id: int
    at: str


@dataclass(frozen=True)
class MemberPenalised(Event):
    """A member was penalised. The core's ``kind`` is "suspend"; ``until`` is an ISO date-time,
    or None for indefinitely; ``actor_id`` is None when the command line did it."""

    member_id: int
    actor_id: int | None
    kind: str
    until: str | None
    reason: str | None


@dataclass(frozen=True)
class InviteCreated(Event):
    """``creator_id`` is None for the command line's invites and the first admin's setup link."""

    invite_id: int
    creator_id: int | None


@dataclass(frozen=True)
class InviteRedeemed(Event):
    """Someone used an invite: a new account (``new_member``), which may still wait for
    approval (``MemberJoined`` follows when it is usable), or a signed-in member accepting it
    (``new_member`` False: they joined its groups)."""

    invite_id: int
    member_id: int
    new_member: bool = True


@dataclass(frozen=True)
class LinkFollowed(Event):
    """Someone opened a page through a link tagged with ``utm_`` parameters (a cross-post's
    link back, a newsletter's): a member, or a visitor not signed in (``member_id`` None) on
    the way to the sign-in page. ``thread_id`` when the page is a thread's."""

    path: str
    source: str
    medium: str
    campaign: str
    thread_id: int | None
    member_id: int | None
    at: str


def emit(db: AsyncSession | Session, event: Event) -> None:
    """Queue ``event`` until the current transaction commits."""
    session = db.sync_session if isinstance(db, AsyncSession) else db
    session.info.setdefault(PENDING, []).append(event)


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT released: the real commit is still to come
    events = session.info.pop(PENDING, None)
    dispatch = session.info.get(DISPATCH)
    if events and dispatch is not None:
        dispatch(events)


@sa_event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if not previous_transaction.nested:  # a failed SAVEPOINT keeps the outer work's events
        session.info.pop(PENDING, None)
