"""The plugin's tables, all named ``analytics_...`` and made by its own Alembic branch."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from community.db import Base, UTCDateTime, utcnow

SITE = 0
"""``Daily.category_id`` of figures about the whole community (visits, new members)."""


class Visit(Base):
    """A member was active on ``day`` (a date in the community's time zone): one row per
    member per day, however often they came."""

    __tablename__ = "analytics_visits"
    __table_args__ = (Index("ix_analytics_visits_day", "day"),)

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    hits: Mapped[int] = mapped_column(Integer, default=1)
    """Signals that day: pages seen (every few minutes), sign-ins, posts, reactions."""


class Daily(Base):
    """One figure of one day, per category (``SITE`` for the whole community): recomputed whole
    for a day, so running the rollup twice changes nothing."""

    __tablename__ = "analytics_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    category_id: Mapped[int] = mapped_column(Integer, primary_key=True, default=SITE)
    value: Mapped[float] = mapped_column(Float, default=0.0)


class MemberDay(Base):
    """What a member did in one category's threads on ``day``, as the rollup found it: threads
    started, posts (replies among them), reactions given, and reactions received on their posts
    (from members who count). ``member_id`` is None for the posts of a deleted account. What
    engagement, contributors and categories read instead of every post and reaction."""

    __tablename__ = "analytics_member_days"
    __table_args__ = (Index("ix_analytics_member_days_day", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    category_id: Mapped[int] = mapped_column(Integer)
    started: Mapped[int] = mapped_column(Integer, default=0)
    posts: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    given: Mapped[int] = mapped_column(Integer, default=0)
    received: Mapped[int] = mapped_column(Integer, default=0)


class ThreadDay(Base):
    """A thread's posts, replies and reactions on ``day`` that count, as the rollup found them:
    what top threads rank by."""

    __tablename__ = "analytics_thread_days"
    __table_args__ = (Index("ix_analytics_thread_days_day", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True
    )
    posts: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    reactions: Mapped[int] = mapped_column(Integer, default=0)


class HourCount(Base):
    """Posts and reactions (``activity``) and replies in one category in an hour of ``day``
    (both in the community's time zone): what the best time to post reads."""

    __tablename__ = "analytics_hours"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)


class Response(Base):
    """When a thread got its first response (a shown reply by someone else), as the rollup of
    the day of that reply found it; threads without a row are looked up live."""

    __tablename__ = "analytics_responses"

    thread_id: Mapped[int] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True
    )
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RolledDay(Base):
    """A day the rollup has computed, and with which settings (``signature``: time zone and
    exclusions); a day whose signature no longer matches is computed again."""

    __tablename__ = "analytics_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    signature: Mapped[str] = mapped_column(String(80))
    rolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThreadView(Base):
    """Views of a thread on ``day`` (a member's view counts once an hour, as the core's
    ``ThreadViewed`` says), added in batches by ``views``."""

    __tablename__ = "analytics_thread_views"
    __table_args__ = (Index("ix_analytics_thread_views_day", "day"),)

    thread_id: Mapped[int] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    views: Mapped[int] = mapped_column(Integer, default=0)


class Campaign(Base):
    """Per day, link source and campaign (the ``utm_source`` and ``utm_campaign`` tags) and
    thread (0: a page that is not a thread's): threads shared to other networks (the
    cross-posting plugin's ``DeliverySent``) and tagged links followed back (the core's
    ``LinkFollowed``), ``member_clicks`` of them by signed-in members."""

    __tablename__ = "analytics_campaigns"
    __table_args__ = (Index("ix_analytics_campaigns_day", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(100), primary_key=True)
    thread_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shares: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    member_clicks: Mapped[int] = mapped_column(Integer, default=0)


class Mark(Base):
    """Something a moderator held against a member, from the moderation plugin's events when
    it is installed (``kind``: "flag" on one of their posts, "warning", "penalty")."""

    __tablename__ = "analytics_marks"
    __table_args__ = (Index("ix_analytics_marks_member_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Digest(Base):
    """The weekly report for admins: the dashboard's tiles of the week starting ``week``."""

    __tablename__ = "analytics_digests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[date] = mapped_column(Date, unique=True)
    tiles: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When it went out by email; None when email is not configured (or not sent yet)."""


def upsert(db: AsyncSession, model: type[Base], rows: list[dict[str, Any]], keys: list[str]) -> Any:
    """An INSERT of ``rows`` that updates the other columns of rows already there (by
    ``keys``), on PostgreSQL and SQLite alike."""
    statement = insert(db, model).values(rows)
    changed = {c.name: statement.excluded[c.name] for c in model.__table__.c if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=changed)


def insert(db: AsyncSession, model: type[Base]) -> Any:
    """The dialect's INSERT (it has ``on_conflict_do_update``) for the session's database."""
    dialect: Any = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)
