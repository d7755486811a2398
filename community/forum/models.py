"""Categories, threads, posts and what members do with them: reactions, bookmarks, reading,
watching, notifications. A private conversation is a thread without a category."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.accounts.models import Group, Member
from community.db import Base, UTCDateTime, utcnow

ABILITIES = ("see", "start", "reply")
"""What a category's group list can grant. A category with no rows for an ability grants it to
every member."""

WATCH_LEVELS = ("watching", "tracking", "muted")


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    color: Mapped[str] = mapped_column(String(7), default="#2f5fd0")
    position: Mapped[int] = mapped_column(Integer, default=0)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), index=True
    )
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    """Only moderators and admins start threads (announcements)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    permissions: Mapped[list[CategoryPermission]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )

    def groups_for(self, ability: str) -> list[Group]:
        return sorted(
            (p.group for p in self.permissions if p.ability == ability), key=lambda g: g.name_key
        )


class CategoryPermission(Base):
    """Grants ``ability`` in a category to one group; see ``ABILITIES``."""

    __tablename__ = "category_permissions"

    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    ability: Mapped[str] = mapped_column(String(8), primary_key=True)

    group: Mapped[Group] = relationship(lazy="joined")


class Thread(Base):
    __tablename__ = "threads"
    __table_args__ = (
        Index("ix_threads_category_activity", "category_id", "last_posted_at"),
        Index("ix_threads_activity", "last_posted_at"),
        # Few threads are pinned: the home page finds them without walking the others.
        Index(
            "ix_threads_pinned",
            "last_posted_at",
            postgresql_where=text("pinned IS NOT NULL"),
            sqlite_where=text("pinned IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT")
    )
    """None for a private conversation."""
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_poster_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    post_count: Mapped[int] = mapped_column(Integer, default=0)
    """The highest post number: posts are numbered 1, 2, 3... and keep their number."""
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    pinned: Mapped[str | None] = mapped_column(String(8))
    """None, "category" (top of its category) or "global" (top of every list)."""
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set while a gate holds the opening post for review: only its author and staff see it."""

    category: Mapped[Category | None] = relationship(lazy="raise")
    author: Mapped[Member | None] = relationship(foreign_keys=[author_id], lazy="raise")
    last_poster: Mapped[Member | None] = relationship(foreign_keys=[last_poster_id], lazy="raise")

    @property
    def is_conversation(self) -> bool:
        return self.category_id is None

    @property
    def url(self) -> str:
        return f"/t/{self.slug}/{self.id}"

    def post_url(self, number: int) -> str:
        return f"/t/{self.slug}/{self.id}/{number}"


class ConversationMember(Base):
    """Who takes part in a private conversation: nobody else may see it."""

    __tablename__ = "conversation_members"

    thread_id: Mapped[int] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("thread_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    """The Markdown source."""
    html: Mapped[str] = mapped_column(Text)
    """``body`` rendered and sanitised when it was written."""
    reply_to_number: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revision_count: Mapped[int] = mapped_column(Integer, default=0)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set while a gate holds the post for review: only its author and staff see it."""
    held_reason: Mapped[str | None] = mapped_column(Text)
    reaction_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    """Kept on write: emoji -> count."""

    author: Mapped[Member | None] = relationship(foreign_keys=[author_id], lazy="raise")


class PostRevision(Base):
    """An earlier version of an edited post."""

    __tablename__ = "post_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(String(200))
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """When this version was written (replaced by the next one at the following revision)."""


class Reaction(Base):
    __tablename__ = "reactions"
    __table_args__ = (Index("ix_reactions_created_at", "created_at"),)

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    emoji: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Bookmark(Base):
    __tablename__ = "bookmarks"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThreadRead(Base):
    """How far a member has read a thread, for unread counts and returning to the first unread."""

    __tablename__ = "thread_reads"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    last_read_number: Mapped[int] = mapped_column(Integer, default=0)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """When the mark last moved or a view was last counted (once per member per hour)."""


class ThreadWatch(Base):
    __tablename__ = "thread_watches"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    level: Mapped[str] = mapped_column(String(8))


class CategoryWatch(Base):
    __tablename__ = "category_watches"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    level: Mapped[str] = mapped_column(String(8))


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_member_created", "member_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    """"reply", "mention", "quote", "reaction" or "message"."""
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FeedToken(Base):
    """A member's secret for Atom feed URLs (feed readers cannot sign in); stored hashed."""

    __tablename__ = "feed_tokens"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
