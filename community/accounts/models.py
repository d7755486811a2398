"""Members, groups, invites, API tokens and instance settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, raiseload, relationship

from community.db import Base, UTCDateTime, utcnow

ROLES = ("member", "moderator", "admin")

group_members = Table(
    "group_members",
    Base.metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
)

invite_groups = Table(
    "invite_groups",
    Base.metadata,
    Column("invite_id", ForeignKey("invites.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    username_key: Mapped[str] = mapped_column(String(32), unique=True)
    """The username lower-cased: uniqueness ignores case."""
    display_name: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="member")
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_reason: Mapped[str | None] = mapped_column(Text)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped to end every open browser session of the member at once."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the account became usable: at once, or when an admin approved an account that a
    ``check_member`` gate held. None while it waits (it cannot sign in)."""
    pending_reason: Mapped[str | None] = mapped_column(Text)
    """Why a gate held the account, for the admin who decides."""
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    previous_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the member's previous visit ended: threads created since then are "new"."""
    bio: Mapped[str] = mapped_column(Text, default="", server_default="")
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    invite_id: Mapped[int | None] = mapped_column(
        ForeignKey("invites.id", ondelete="SET NULL", use_alter=True), index=True
    )

    groups: Mapped[list[Group]] = relationship(
        secondary=group_members, back_populates="members", lazy="selectin", order_by="Group.name"
    )
    invited_by: Mapped[Member | None] = relationship(remote_side=[id], lazy="joined", join_depth=1)

    def is_suspended(self, now: datetime | None = None) -> bool:
        if self.suspended_until is None:
            return False
        return self.suspended_until > (now or utcnow())

    @property
    def is_pending(self) -> bool:
        return self.approved_at is None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_staff(self) -> bool:
        return self.role in ("admin", "moderator")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "email": self.email,
            "role": self.role,
            "groups": [group.name for group in self.groups],
            "suspended_until": _iso(self.suspended_until) if self.is_suspended() else None,
            "pending": self.is_pending,
            "created_at": _iso(self.created_at),
            "last_seen_at": _iso(self.last_seen_at),
            "invited_by": self.invited_by.username if self.invited_by else None,
        }


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[Member]] = relationship(
        secondary=group_members, back_populates="groups", lazy="raise", order_by=Member.username_key
    )


class Invite(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(254))
    domain: Mapped[str | None] = mapped_column(String(253))
    role: Mapped[str] = mapped_column(String(16), default="member")
    """"admin" only for the one-time setup link of the first admin."""
    message: Mapped[str | None] = mapped_column(Text)
    """Shown to whoever opens the link ("You will also join the beta program Lab.")."""
    landing: Mapped[str | None] = mapped_column(String(200))
    """The local path a member lands on after joining or accepting (default: home)."""

    created_by: Mapped[Member | None] = relationship(
        foreign_keys=[created_by_id], lazy="joined", innerjoin=False
    )
    groups: Mapped[list[Group]] = relationship(
        secondary=invite_groups, lazy="selectin", order_by=Group.name
    )

    def state(self, now: datetime | None = None) -> str:
        """One of "active", "revoked", "expired", "used"."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or utcnow()):
            return "expired"
        if self.uses >= self.max_uses:
            return "used"
        return "active"


class InviteAcceptance(Base):
    """An existing member accepted an invite (its groups, and what plugins attach to it)."""

    __tablename__ = "invite_acceptances"

    invite_id: Mapped[int] = mapped_column(
        ForeignKey("invites.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InstanceSetting(Base):
    """Instance settings that admins change at run time (name, who may invite, quotas)."""

    __tablename__ = "instance_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


def brief(*members: Any) -> list[Any]:
    """Loader options for members (entities or aliases) shown by name only, as authors in
    lists: their groups and inviter are not loaded, so a page costs the same whoever is on it."""
    return [raiseload(m.groups) for m in members] + [raiseload(m.invited_by) for m in members]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
