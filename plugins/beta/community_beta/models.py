"""The plugin's tables, all named ``beta_...`` and made by its own Alembic branch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from community.db import Base, UTCDateTime, utcnow

DRAFT, PRIVATE, PUBLIC, GRADUATED, ARCHIVED = (
    "draft",
    "private_beta",
    "public_beta",
    "graduated",
    "archived",
)
STATUSES = (DRAFT, PRIVATE, PUBLIC, GRADUATED, ARCHIVED)


class Program(Base):
    """A beta program: its gated categories, participants, terms and feature flags.

    ``terms_version`` is 0 while the program has no terms and goes up by one each time the
    terms text changes; a participant sees the gated categories only after accepting the
    current version."""

    __tablename__ = "beta_programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    terms: Mapped[str] = mapped_column(Text, default="")
    terms_version: Mapped[int] = mapped_column(Integer, default=0)
    capacity: Mapped[int | None] = mapped_column(Integer)
    """At most this many participants; None: no limit."""
    waitlist_open: Mapped[bool] = mapped_column(Boolean, default=False)
    """Members may find the program and ask to join it."""
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    """What a member asking to join answers, in order."""
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Feature flag keys on for the program's participants."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GatedCategory(Base):
    """A category gated by a program; a category belongs to at most one program."""

    __tablename__ = "beta_categories"

    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True
    )
    program_id: Mapped[int] = mapped_column(
        ForeignKey("beta_programs.id", ondelete="CASCADE"), index=True
    )


class OpenGroup(Base):
    """A group a program in public beta is opened to (none: every member)."""

    __tablename__ = "beta_open_groups"

    program_id: Mapped[int] = mapped_column(
        ForeignKey("beta_programs.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )


class Participant(Base):
    """A member in a program; ``accepted_version`` is the terms version they last accepted
    (0: none)."""

    __tablename__ = "beta_participants"
    __table_args__ = (Index("ix_beta_participants_member_id", "member_id"),)

    program_id: Mapped[int] = mapped_column(
        ForeignKey("beta_programs.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    via: Mapped[str] = mapped_column(String(16))
    """admin, group, waitlist or invite."""
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    accepted_version: Mapped[int] = mapped_column(Integer, default=0)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    welcomed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the welcome message went (None: not yet)."""


class JoinRequest(Base):
    """A member's request to join a program, with their answers; ``admitted_at`` is set when
    an admin admits them."""

    __tablename__ = "beta_requests"
    __table_args__ = (
        UniqueConstraint("program_id", "member_id"),
        Index("ix_beta_requests_program_requested", "program_id", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("beta_programs.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    answers: Mapped[list[str]] = mapped_column(JSON, default=list)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    admitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Acceptance(Base):
    """A participant accepted a version of a program's terms: kept for the record."""

    __tablename__ = "beta_acceptances"
    __table_args__ = (Index("ix_beta_acceptances_program_member", "program_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("beta_programs.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Flag(Base):
    """A feature flag: on for its groups and a sticky percentage of members (and for the
    participants of programs that list it), off for everyone while ``killed``."""

    __tablename__ = "beta_flags"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    rollout: Mapped[int] = mapped_column(Integer, default=0)
    group_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    killed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))


class Clock(Base):
    """One row whose ``revision`` goes up whenever something a flag's answer depends on
    changes (a flag, a program's flags, participants, terms): each process's cache compares
    it at most once a second."""

    __tablename__ = "beta_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)


BUG, IDEA, PRAISE = "bug", "idea", "praise"
KINDS = (BUG, IDEA, PRAISE)
SEVERITIES = ("low", "normal", "high", "critical")
NEW, ACKNOWLEDGED, PLANNED, DONE, DECLINED = "new", "acknowledged", "planned", "done", "declined"
FEEDBACK_STATUSES = (NEW, ACKNOWLEDGED, PLANNED, DONE, DECLINED)


class Feedback(Base):
    """What a participant tells a program: a bug, an idea or praise, with a severity
    (meaningful for bugs), optionally about a thread they could see; admins triage it
    (``status``). The author stays None once their account is gone."""

    __tablename__ = "beta_feedback"
    __table_args__ = (Index("ix_beta_feedback_program_created", "program_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("beta_programs.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16), default="normal")
    title: Mapped[str] = mapped_column(String(150))
    body: Mapped[str] = mapped_column(Text, default="")
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=NEW)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProgramInvite(Base):
    """One of the core's invite links that enrols into a program whoever uses it (a new
    member registering, or a member accepting it)."""

    __tablename__ = "beta_invites"
    __table_args__ = (Index("ix_beta_invites_program_id", "program_id"),)

    invite_id: Mapped[int] = mapped_column(
        ForeignKey("invites.id", ondelete="CASCADE"), primary_key=True
    )
    program_id: Mapped[int] = mapped_column(ForeignKey("beta_programs.id", ondelete="CASCADE"))


JOINED, WAITING, CLOSED = "joined", "waiting", "closed"
INVITE_OUTCOMES = (JOINED, WAITING, CLOSED)


class InviteUse(Base):
    """A member used a program's invite link and what came of it: joined, put on the
    waitlist (the program was full) or nothing (it had closed). Once per member and link."""

    __tablename__ = "beta_invite_uses"

    invite_id: Mapped[int] = mapped_column(
        ForeignKey("beta_invites.invite_id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    outcome: Mapped[str] = mapped_column(String(16))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
