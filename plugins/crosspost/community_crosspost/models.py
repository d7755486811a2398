"""The plugin's tables, all named ``crosspost_...`` and made by its own Alembic branch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from community.db import Base, UTCDateTime, utcnow

KINDS = ("mastodon", "bluesky", "discord", "slack", "webhook")
OK, ATTENTION = "ok", "needs_attention"


class Target(Base):
    """Somewhere threads are shared to: a network account or a webhook, with its rules (new
    threads in ``categories``; threads a moderator marks, when ``on_mark``), its template and
    whether each share waits for a moderator's approval. ``secret`` is sealed
    (``secrets.seal``): never shown back; ``config`` holds what is not secret."""

    __tablename__ = "crosspost_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Per kind: ``instance_url`` and ``char_limit`` (Mastodon), ``handle`` (Bluesky),
    ``utm`` parameters, and ``template``."""
    secret: Mapped[str] = mapped_column(Text, default="")
    secret_hint: Mapped[str] = mapped_column(String(16), default="")
    session: Mapped[str] = mapped_column(Text, default="")
    """Sealed: a network session kept between posts (Bluesky's), refreshed as it ages."""
    categories: Mapped[list[int]] = mapped_column(JSON, default=list)
    on_mark: Mapped[bool] = mapped_column(Boolean, default=True)
    approval: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default=OK)
    attention: Mapped[str] = mapped_column(Text, default="")
    """Why it needs attention: the last permanent error."""
    next_send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Pacing: no delivery to this target starts before."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


DRAFT, SCHEDULED, SENDING, RETRYING, SENT, DEAD, CANCELLED, DELETED = (
    "draft",
    "scheduled",
    "sending",
    "retrying",
    "sent",
    "dead",
    "cancelled",
    "deleted",
)
STATUSES = (DRAFT, SCHEDULED, SENDING, RETRYING, SENT, DEAD, CANCELLED, DELETED)


class Delivery(Base):
    """One thread shared to one target: waiting for approval (draft), due at ``due_at``,
    being sent, retrying, sent (with the remote post's id and link), dead after a permanent
    error or too many attempts, cancelled, or deleted remotely after the thread was hidden.
    ``key`` is the idempotency key sent with every attempt (Mastodon's Idempotency-Key, a
    webhook's webhook-id), so a network that honours it takes a repeated attempt once."""

    __tablename__ = "crosspost_deliveries"
    __table_args__ = (
        Index("ix_crosspost_deliveries_thread", "thread_id"),
        Index("ix_crosspost_deliveries_target_status", "target_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id", ondelete="SET NULL"))
    target_id: Mapped[int] = mapped_column(ForeignKey("crosspost_targets.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=SCHEDULED)
    reason: Mapped[str] = mapped_column(String(16), default="rule")
    """rule, mark or manual: why it was made."""
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text, default="")
    """What was (or will be) sent, as the preview shows it."""
    remote_id: Mapped[str] = mapped_column(String(255), default="")
    remote_url: Mapped[str] = mapped_column(String(500), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
