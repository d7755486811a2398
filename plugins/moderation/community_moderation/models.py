"""The plugin's tables, all named ``moderation_...`` and made by its own Alembic branch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from community.db import Base, UTCDateTime, utcnow

OPEN, CLAIMED, HANDLED = "open", "claimed", "handled"


class Item(Base):
    """One thing in the moderators' inbox: a flagged post, a post held for approval or by a
    gate, an appeal, an unanswered thread, a watched word to know about. ``version`` goes up
    with every change, so a moderator acting on what they saw learns when someone else acted
    first."""

    __tablename__ = "moderation_items"
    __table_args__ = (
        Index("ix_moderation_items_state_created", "state", "created_at"),
        Index("ix_moderation_items_post", "post_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """flag, held, appeal, unanswered, watched."""
    state: Mapped[str] = mapped_column(String(16), default=OPEN)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    """Whom the item is about: the post's author, the appealing member."""
    category_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[float] = mapped_column(default=0.0)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    resolution: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Flag(Base):
    """A member's flag on a post: one per member per post."""

    __tablename__ = "moderation_flags"
    __table_args__ = (UniqueConstraint("post_id", "flagger_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    flagger_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("moderation_items.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    weight: Mapped[float] = mapped_column(default=1.0)
    outcome: Mapped[str | None] = mapped_column(String(16))
    """agreed, disagreed, ignored: what the review decided, told to the flagger."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Word(Base):
    """A watched word or phrase (``*`` wildcards), site-wide or for one category."""

    __tablename__ = "moderation_words"
    __table_args__ = (UniqueConstraint("pattern", "category_id", "action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pattern: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))
    """block, approve, censor, flag, replace, notify."""
    replacement: Mapped[str] = mapped_column(String(200), default="")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Penalty(Base):
    """A warning, silence or suspension of a member, with its reason, points and end."""

    __tablename__ = "moderation_penalties"
    __table_args__ = (Index("ix_moderation_penalties_member", "member_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    """warn, silence, suspend."""
    reason: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[int] = mapped_column(Integer, default=0)
    automatic: Mapped[bool] = mapped_column(default=False)
    """Made by escalation rather than by a moderator."""
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """None: until lifted. Points of a warning expire on their own (a setting)."""
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Appeal(Base):
    """A member's one appeal against one penalty."""

    __tablename__ = "moderation_appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    penalty_id: Mapped[int] = mapped_column(
        ForeignKey("moderation_penalties.id", ondelete="CASCADE"), unique=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Canned(Base):
    """A canned reply: a Markdown template with {member}, {thread_title}, {thread_url},
    {moderator}."""

    __tablename__ = "moderation_canned"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(Text)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """One moderator action, automatic action or setting change. Append-only."""

    __tablename__ = "moderation_audit"
    __table_args__ = (Index("ix_moderation_audit_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    """None: the plugin acting on its own rules."""
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[Any] = mapped_column(JSON, default=dict)
    after: Mapped[Any] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThreadSettings(Base):
    """A thread's moderation settings: slow mode and a timer that locks it."""

    __tablename__ = "moderation_threads"
    __table_args__ = (Index("ix_moderation_threads_close_at", "close_at"),)

    thread_id: Mapped[int] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True
    )
    slow_seconds: Mapped[int] = mapped_column(Integer, default=0)
    """Minimum seconds between one member's posts in the thread; 0: off."""
    close_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the thread is locked on its own; None: no timer."""
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Away(Base):
    """A moderator who set themselves away: their claims went back to the queue."""

    __tablename__ = "moderation_away"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CategoryRule(Base):
    """How one category is moderated: the group whose members moderate it (its inbox items,
    watched words and thread tools, nothing beyond), and whether every post waits for one of
    them."""

    __tablename__ = "moderation_categories"

    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True
    )
    moderator_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="SET NULL"), index=True
    )
    approve_all: Mapped[bool] = mapped_column(default=False)
    """Every new thread and reply is held for approval (staff, the category's moderators and
    the bypass groups excepted)."""
