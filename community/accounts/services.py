"""Accounts logic: members, groups, invites, API tokens, instance settings. No HTTP here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from community import plugins
from community.accounts.models import (
    ROLES,
    ApiToken,
    Group,
    InstanceSetting,
    Invite,
    InviteAcceptance,
    Member,
    group_members,
)
from community.accounts.security import (
    hash_password,
    hash_token,
    needs_rehash,
    new_token,
    verify_password,
)
from community.db import utcnow
from community.errors import ServiceError
from community.events import (
    InviteCreated,
    InviteRedeemed,
    MemberJoined,
    MemberPenalised,
    MemberSignedIn,
    emit,
)
from community.plugins import Gate

USERNAME_RE = re.compile(r"^[A-Za-z0-9_-]{3,32}$")
EMAIL_RE = re.compile(r"^[^@\s]+@([A-Za-z0-9-]+\.)+[A-Za-z0-9-]{2,}$")
DOMAIN_RE = re.compile(r"^([a-z0-9-]+\.)+[a-z0-9-]{2,}$")
INVITE_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")
API_TOKEN_PREFIX = "cmt_"
PASSWORD_MIN, PASSWORD_MAX = 10, 256
INVITE_POLICIES = ("admins", "staff", "members")
MAX_ID = 2**31 - 1
"""Ids are 32-bit integers on PostgreSQL: a larger one in a URL is simply not found."""

# ---------------------------------------------------------------------------------------------
# Validation


def check_username(username: Any) -> str:
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise ServiceError(
            "invalid_username",
            "Usernames are 3 to 32 letters, digits, underscores or hyphens.",
            422,
            field="username",
        )
    return username


def check_password(password: Any) -> str:
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise ServiceError(
            "invalid_password",
            f"Passwords are {PASSWORD_MIN} to {PASSWORD_MAX} characters long.",
            422,
            field="password",
        )
    return password


def check_email(email: Any) -> str | None:
    if email is None or email == "":
        return None
    if not isinstance(email, str) or len(email) > 254 or not EMAIL_RE.fullmatch(email.strip()):
        raise ServiceError(
            "invalid_email", "That does not look like an email address.", 422, field="email"
        )
    return email.strip()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ServiceError("invalid_role", f"Role must be one of: {', '.join(ROLES)}.", 422)
    return role


def check_group_name(name: Any) -> str:
    if (
        not isinstance(name, str)
        or not 1 <= len(name.strip()) <= 64
        or any(char in name for char in "/?#%\\")
        or not name.isprintable()
    ):
        raise ServiceError(
            "invalid_group",
            "Group names are 1 to 64 printable characters without / ? # % or \\.",
            422,
        )
    return name.strip()


# ---------------------------------------------------------------------------------------------
# Instance settings

DEFAULT_REACTIONS = ["👍", "❤️", "😂", "🎉", "🤔", "👀"]
SETTING_DEFAULTS: dict[str, Any] = {
    "invite_policy": "admins",
    "invite_quota": 5,
    "edit_window_minutes": 1440,
    "max_post_length": 32_000,
    "reactions": DEFAULT_REACTIONS,
}


async def instance_settings(db: AsyncSession, default_name: str) -> dict[str, Any]:
    """Every instance setting, stored values over defaults."""
    rows = (await db.execute(select(InstanceSetting))).scalars()
    values = {"name": default_name, **SETTING_DEFAULTS}
    values.update({row.key: row.value for row in rows})
    return values


async def update_instance_settings(db: AsyncSession, changes: dict[str, Any]) -> None:
    clean: dict[str, Any] = {}
    if "name" in changes:
        name = changes["name"].strip() if isinstance(changes["name"], str) else ""
        if not 1 <= len(name) <= 100:
            raise ServiceError("invalid_name", "The community name is 1 to 100 characters.", 422)
        clean["name"] = name
    if "invite_policy" in changes:
        if changes["invite_policy"] not in INVITE_POLICIES:
            raise ServiceError(
                "invalid_invite_policy",
                f"Who may invite must be one of: {', '.join(INVITE_POLICIES)}.",
                422,
            )
        clean["invite_policy"] = changes["invite_policy"]
    if "invite_quota" in changes:
        quota = _int(changes["invite_quota"], "invite_quota", 0, 1000)
        clean["invite_quota"] = quota
    if "edit_window_minutes" in changes:
        clean["edit_window_minutes"] = _int(
            changes["edit_window_minutes"], "edit_window_minutes", 0, 525_600
        )
    if "max_post_length" in changes:
        clean["max_post_length"] = _int(changes["max_post_length"], "max_post_length", 100, 100_000)
    if "reactions" in changes:
        clean["reactions"] = check_reactions(changes["reactions"])
    for key, value in clean.items():
        await db.merge(InstanceSetting(key=key, value=value))
    await db.commit()


def check_reactions(value: Any) -> list[str]:
    """1 to 12 distinct emoji, given as a list or as text separated by spaces."""
    items = value.split() if isinstance(value, str) else value
    if (
        not isinstance(items, list)
        or not 1 <= len(items) <= 12
        or len(set(items)) != len(items)
        or not all(
            isinstance(item, str) and 1 <= len(item) <= 8 and not any(c.isalnum() for c in item)
            for item in items
        )
    ):
        raise ServiceError(
            "invalid_reactions", "Reactions are 1 to 12 different emoji, separated by spaces.", 422
        )
    return items


def _int(value: Any, field: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not low <= number <= high:
        raise ServiceError(
            f"invalid_{field}", f"{field} must be a whole number from {low} to {high}.", 422
        )
    return number


# ---------------------------------------------------------------------------------------------
# Members


async def member_by_username(db: AsyncSession, username: str) -> Member:
    member = await db.scalar(select(Member).where(Member.username_key == username.lower()))
    if member is None:
        raise ServiceError("unknown_member", f"No member is called {username!r}.", 404)
    return member


async def create_member(
    db: AsyncSession,
    *,
    username: str,
    password: str,
    email: str | None = None,
    role: str = "member",
) -> Member:
    """Add a member without an invite (the command line's first admin) and commit: no gate
    asks about it, so the account is usable at once."""
    check_username(username)
    check_password(password)
    email = check_email(email)
    check_role(role)
    await _check_username_free(db, username)
    member = await _insert_member(
        db, username=username, password_hash=await hash_password(password), email=email, role=role
    )
    emit(db, MemberJoined(member_id=member.id, invite_id=None, invited_by_id=None))
    await db.commit()
    return member


async def _check_username_free(db: AsyncSession, username: str) -> None:
    if await db.scalar(select(Member.id).where(Member.username_key == username.lower())):
        raise _username_taken(username)


async def _insert_member(
    db: AsyncSession,
    *,
    username: str,
    password_hash: str,
    email: str | None,
    role: str,
    invite: Invite | None = None,
    held: Gate | None = None,
) -> Member:
    """A new member row, flushed; approved now unless a gate ``held`` it."""
    now = utcnow()
    member = Member(
        username=username,
        username_key=username.lower(),
        display_name=username,
        email=email,
        password_hash=password_hash,
        role=role,
        invite_id=invite.id if invite else None,
        invited_by_id=invite.created_by_id if invite else None,
        session_epoch=0,
        created_at=now,
        approved_at=None if held else now,
        pending_reason=(held.reason or None) if held else None,
        last_seen_at=now,
    )
    member.groups = list(invite.groups) if invite else []
    db.add(member)
    try:
        await db.flush()
    except IntegrityError:
        # Someone took the name since we looked; rolling back also returns the invite's use.
        await db.rollback()
        raise _username_taken(username) from None
    await db.refresh(member, ["groups", "invited_by"])
    return member


def _username_taken(username: str) -> ServiceError:
    return ServiceError(
        "username_taken", f"The username {username!r} is taken.", 409, field="username"
    )


async def authenticate(db: AsyncSession, username: str, password: str) -> Member:
    """The member with these credentials, or ServiceError 401/403."""
    member = None
    if isinstance(username, str) and USERNAME_RE.fullmatch(username):
        member = await db.scalar(select(Member).where(Member.username_key == username.lower()))
    ok = await verify_password(member.password_hash if member else None, password)
    if member is None or not ok:
        raise ServiceError("invalid_credentials", "Wrong username or password.", 401)
    if member.is_suspended():
        raise suspended_error(member)
    if member.is_pending:
        raise pending_error()
    if needs_rehash(member.password_hash):
        member.password_hash = await hash_password(password)
    member.last_seen_at = utcnow()
    emit(db, MemberSignedIn(member_id=member.id))
    await db.commit()
    return member


PENDING_DETAIL = "Your account is waiting for approval by an admin. You can sign in once it is."


def pending_error() -> ServiceError:
    return ServiceError("pending", PENDING_DETAIL, 403)


def suspended_error(member: Member) -> ServiceError:
    until = member.suspended_until
    if until is None or until >= FOREVER:
        detail = "This account is suspended."
    else:
        detail = f"This account is suspended until {until:%Y-%m-%d %H:%M} UTC."
    if member.suspended_reason:
        detail += f" Reason: {member.suspended_reason}"
    return ServiceError(
        "suspended",
        detail.strip(),
        403,
        suspended_until=until.isoformat() if until else None,
    )


async def set_role(db: AsyncSession, member: Member, role: str) -> Member:
    check_role(role)
    if member.role == "admin" and role != "admin":
        admins = await db.scalar(select(func.count()).where(Member.role == "admin"))
        if admins == 1:
            raise ServiceError("last_admin", "The last admin cannot lose the admin role.", 409)
    member.role = role
    await db.commit()
    return member


FOREVER = datetime(9999, 12, 31, tzinfo=UTC)


async def suspend(
    db: AsyncSession,
    member: Member,
    until: datetime | None = None,
    reason: str | None = None,
    *,
    actor: Member | None = None,
) -> Member:
    """Suspend until a time (default: indefinitely); open sessions and tokens stop at once.
    ``actor`` is the admin doing it (None: the command line)."""
    if member.is_admin:
        raise ServiceError("cannot_suspend_admin", "Admins cannot be suspended.", 409)
    if until is not None and until <= utcnow():
        raise ServiceError("invalid_until", "The suspension must end in the future.", 422)
    member.suspended_until = until or FOREVER
    member.suspended_reason = (reason or "").strip() or None
    member.session_epoch += 1
    emit(
        db,
        MemberPenalised(
            member_id=member.id,
            actor_id=actor.id if actor else None,
            kind="suspend",
            until=until.isoformat() if until else None,
            reason=member.suspended_reason,
        ),
    )
    await db.commit()
    return member


def parse_until(value: str) -> datetime:
    """An ISO date or date-time; a bare date means the start of that day, UTC."""
    try:
        when = datetime.fromisoformat(value.strip())
        when = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, AttributeError, OverflowError):
        raise ServiceError(
            "invalid_until", f"{value!r} is not a date; use YYYY-MM-DD or an ISO date-time.", 422
        ) from None
    if when.year >= 9999:
        raise ServiceError("invalid_until", "Leave the date empty to suspend indefinitely.", 422)
    return when


async def unsuspend(db: AsyncSession, member: Member) -> Member:
    member.suspended_until = None
    member.suspended_reason = None
    await db.commit()
    return member


async def search_members(db: AsyncSession, query: str = "", limit: int = 50) -> list[Member]:
    stmt = select(Member).order_by(Member.username_key).limit(limit)
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(
            or_(Member.username_key.like(like), func.lower(Member.display_name).like(like))
        )
    return list((await db.execute(stmt)).scalars())


async def change_password(db: AsyncSession, member: Member, current: str, new: str) -> Member:
    if not await verify_password(member.password_hash, current):
        raise ServiceError("invalid_credentials", "Your current password is wrong.", 401)
    check_password(new)
    member.password_hash = await hash_password(new)
    member.session_epoch += 1
    await db.commit()
    return member


async def update_profile(
    db: AsyncSession, member: Member, display_name: Any, email: Any, bio: Any = None
) -> Member:
    """Change the display name, email and (when given) the bio shown on the profile page."""
    name = str(display_name or "").strip()
    if not 1 <= len(name) <= 64:
        raise ServiceError("invalid_display_name", "Display names are 1 to 64 characters.", 422)
    if bio is not None:
        bio = str(bio).strip()
        if len(bio) > 2000:
            raise ServiceError("invalid_bio", "A bio is at most 2,000 characters.", 422)
        member.bio = bio
    member.display_name = name
    member.email = check_email(email)
    await db.commit()
    return member


# ---------------------------------------------------------------------------------------------
# Groups


async def list_groups(db: AsyncSession) -> list[tuple[Group, int]]:
    count = (
        select(func.count())
        .where(group_members.c.group_id == Group.id)
        .correlate(Group)
        .scalar_subquery()
    )
    rows = await db.execute(select(Group, count).order_by(Group.name_key))
    return [(group, n) for group, n in rows]


async def group_by_name(db: AsyncSession, name: str) -> Group:
    group = await db.scalar(select(Group).where(Group.name_key == name.strip().lower()))
    if group is None:
        raise ServiceError("unknown_group", f"No group is called {name!r}.", 404)
    return group


async def create_group(db: AsyncSession, name: Any) -> Group:
    name = check_group_name(name)
    if await db.scalar(select(Group.id).where(Group.name_key == name.lower())):
        raise ServiceError("group_exists", f"A group called {name!r} exists.", 409)
    group = Group(name=name, name_key=name.lower())
    db.add(group)
    await db.commit()
    return group


async def group_members_of(db: AsyncSession, group: Group) -> list[Member]:
    stmt = (
        select(Member)
        .join(group_members, group_members.c.member_id == Member.id)
        .where(group_members.c.group_id == group.id)
        .order_by(Member.username_key)
    )
    return list((await db.execute(stmt)).scalars())


async def add_to_group(db: AsyncSession, group: Group, member: Member) -> None:
    if group not in member.groups:
        member.groups.append(group)
        await db.commit()


async def remove_from_group(db: AsyncSession, group: Group, member: Member) -> None:
    if group in member.groups:
        member.groups.remove(group)
        await db.commit()


# ---------------------------------------------------------------------------------------------
# Invites


def parse_expiry(value: Any) -> timedelta | None:
    """ "7d", "12h", "30m", a number of days, or "never" (None)."""
    text = str(value if value is not None else "never").strip().lower()
    if text in ("never", "none", "0", ""):
        return None
    match = re.fullmatch(r"(\d{1,5})\s*([dhm]?)", text)
    if not match:
        raise ServiceError(
            "invalid_expires",
            f"Expiry {value!r} is not understood; use e.g. 7d, 12h, 30m or never.",
            422,
        )
    unit = {"d": "days", "h": "hours", "m": "minutes", "": "days"}[match.group(2)]
    delta = timedelta(**{unit: int(match.group(1))})
    if delta > timedelta(days=3650):
        raise ServiceError("invalid_expires", "Invites expire within ten years.", 422)
    return delta


@dataclass(frozen=True)
class NewInvite:
    invite: Invite
    token: str


async def may_invite(db: AsyncSession, member: Member, settings: dict[str, Any]) -> str | None:
    """None when ``member`` may create an invite now, else the reason why not."""
    policy = settings["invite_policy"]
    if member.is_admin:
        return None
    if policy == "admins":
        return "Only admins can invite people."
    if member.role == "moderator":
        return None
    if policy == "staff":
        return "Only admins and moderators can invite people."
    month_start = utcnow().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    made = await db.scalar(
        select(func.count())
        .select_from(Invite)
        .where(Invite.created_by_id == member.id, Invite.created_at >= month_start)
    )
    if made >= settings["invite_quota"]:
        return f"You have used your {settings['invite_quota']} invites for this month."
    return None


async def create_invite(
    db: AsyncSession,
    creator: Member | None,
    *,
    settings: dict[str, Any],
    max_uses: Any = 1,
    expires_in: timedelta | None = timedelta(days=7),
    note: str | None = None,
    groups: list[str] | None = None,
    email: Any = None,
    domain: Any = None,
    role: str = "member",
    message: Any = None,
    landing: Any = None,
) -> NewInvite:
    """A new invite; ``creator`` None means the command line (the operator). ``message`` is
    shown to whoever opens the link; ``landing`` is the local path they land on after joining
    or accepting."""
    if creator is not None:
        # Lock the creator's row so that parallel requests cannot overrun the monthly quota.
        await db.execute(update(Member).where(Member.id == creator.id).values(id=Member.id))
        reason = await may_invite(db, creator, settings)
        if reason:
            raise ServiceError("invite_not_allowed", reason, 403)
        if groups and not creator.is_admin:
            raise ServiceError("invite_not_allowed", "Only admins can add invitees to groups.", 403)
        if (message or landing) and not creator.is_admin:
            raise ServiceError(
                "invite_not_allowed",
                "Only admins can give an invite a message or a landing page.",
                403,
            )
    uses = _int(max_uses, "max_uses", 1, 10_000)
    if expires_in is not None and expires_in <= timedelta(0):
        raise ServiceError("invalid_expires", "Invites must expire in the future.", 422)
    email = check_email(email)
    if domain:
        domain = str(domain).strip().lower().lstrip("@")
        if not DOMAIN_RE.fullmatch(domain):
            raise ServiceError("invalid_domain", f"{domain!r} is not an email domain.", 422)
    if email and domain:
        raise ServiceError(
            "invalid_invite", "Restrict an invite to one email or one domain, not both.", 422
        )
    group_rows = [await group_by_name(db, name) for name in groups or []]
    if note is not None and len(note) > 500:
        raise ServiceError("invalid_note", "Notes are at most 500 characters.", 422)
    message = _invite_message(message)
    landing = _landing(landing)
    token, token_hash = new_token()
    invite = Invite(
        token_hash=token_hash,
        created_by_id=creator.id if creator else None,
        max_uses=uses,
        uses=0,
        expires_at=utcnow() + expires_in if expires_in else None,
        note=(note or "").strip() or None,
        email=email,
        domain=domain or None,
        role=role,
        message=message,
        landing=landing,
    )
    invite.groups = group_rows
    db.add(invite)
    await db.flush()
    emit(db, InviteCreated(invite_id=invite.id, creator_id=invite.created_by_id))
    await db.commit()
    return NewInvite(invite, token)


LANDING_RE = re.compile(r"/(?![/\\])[^\s\x00-\x1f\x7f\\]{0,199}")
"""A local path: one leading slash (not two, not a backslash), no spaces or control bytes."""


def _invite_message(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 500 or "\x00" in value:
        raise ServiceError(
            "invalid_message", "An invite's message is text of at most 500 characters.", 422
        )
    return value.strip() or None


def _landing(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not LANDING_RE.fullmatch(value):
        raise ServiceError(
            "invalid_landing",
            "An invite's landing page is a path on this site, such as /c/general.",
            422,
        )
    return value


INVITE_GONE = {
    "expired": ("invite_expired", "This invite has expired."),
    "revoked": ("invite_revoked", "This invite was revoked."),
    "used": ("invite_used", "This invite has been used up."),
}


async def find_invite(db: AsyncSession, token: str) -> Invite:
    """The active invite behind ``token``, or ServiceError 404/410 saying what is wrong."""
    if not INVITE_TOKEN_RE.fullmatch(token or ""):
        raise ServiceError("invite_malformed", "This invite link is malformed.", 404)
    invite = await db.scalar(select(Invite).where(Invite.token_hash == hash_token(token)))
    if invite is None:
        raise ServiceError("invite_unknown", "This invite link does not exist.", 404)
    state = invite.state()
    if state != "active":
        code, detail = INVITE_GONE[state]
        raise ServiceError(code, detail, 410)
    return invite


async def redeem_invite(
    db: AsyncSession, token: str, *, username: Any, password: Any, email: Any = None
) -> Member:
    """Register a member through an invite; exactly one caller wins the invite's last use.

    The enabled ``check_member`` gates are asked first: a reject is a ServiceError (422) and
    the invite stays unused; a hold makes the account, pending (``member.is_pending``) until an
    admin approves it. The first admin's setup link is never gated: nobody could approve it.
    """
    invite = await find_invite(db, token)
    check_username(username)
    check_password(password)
    email = check_email(email)
    check_invitee(invite, email)
    await _check_username_free(db, username)
    verdict = Gate.allow()
    if invite.role != "admin" or await first_admin(db) is not None:
        verdict = await plugins.gate("check_member", username=username, email=email)
    if verdict.verdict == "reject":
        raise ServiceError("rejected", verdict.reason or "This account was not accepted.", 422)
    password_hash = await hash_password(password)
    await _claim(db, invite)
    member = await _insert_member(
        db,
        username=username,
        password_hash=password_hash,
        email=email,
        role=invite.role,
        invite=invite,
        held=verdict if verdict.verdict == "hold" else None,
    )
    emit(db, InviteRedeemed(invite_id=invite.id, member_id=member.id))
    if not member.is_pending:
        emit(db, _joined(member))
    await db.commit()
    return member


async def _claim(db: AsyncSession, invite: Invite) -> None:
    """Take one use of ``invite``; exactly one caller wins its last use (410 for the others)."""
    now = utcnow()
    claimed = await db.execute(
        update(Invite)
        .where(
            Invite.id == invite.id,
            Invite.uses < Invite.max_uses,
            Invite.revoked_at.is_(None),
            or_(Invite.expires_at.is_(None), Invite.expires_at > now),
        )
        .values(uses=Invite.uses + 1)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        await db.rollback()
        await db.refresh(invite)
        code, detail = INVITE_GONE.get(invite.state(), INVITE_GONE["used"])
        raise ServiceError(code, detail, 410)


def check_invitee(invite: Invite, email: str | None) -> None:
    """An invite restricted to one address or one domain is for that address or domain only."""
    if invite.email and (email or "").lower() != invite.email.lower():
        raise ServiceError(
            "invite_email_mismatch",
            "This invite is for another email address.",
            422,
            field="email",
        )
    if invite.domain and not (email or "").lower().endswith("@" + invite.domain):
        raise ServiceError(
            "invite_email_mismatch",
            f"This invite is for email addresses at {invite.domain}.",
            422,
            field="email",
        )


async def accepted(db: AsyncSession, invite: Invite, member: Member) -> bool:
    """Whether ``member`` already used ``invite``: accepted it, or registered with it."""
    if member.invite_id == invite.id:
        return True
    found = await db.get(InviteAcceptance, (invite.id, member.id))
    return found is not None


async def accept_invite(db: AsyncSession, token: str, member: Member) -> Invite:
    """A signed-in member accepts an invite: joins its groups, and plugins hear
    ``InviteRedeemed`` (``new_member`` False) to add what they attach to it (a beta program).
    Takes one use; accepting the same invite again is a 409. The first admin's setup link
    is not for members. Commits."""
    invite = await find_invite(db, token)
    if invite.role == "admin":
        raise ServiceError(
            "invite_not_for_members", "This link sets up the first admin account.", 422
        )
    check_invitee(invite, member.email)
    if await accepted(db, invite, member):
        raise ServiceError("invite_accepted", "You have already accepted this invite.", 409)
    await _claim(db, invite)
    db.add(InviteAcceptance(invite_id=invite.id, member_id=member.id, accepted_at=utcnow()))
    await db.refresh(member, ["groups"])
    member.groups = member.groups + [g for g in invite.groups if g not in member.groups]
    emit(db, InviteRedeemed(invite_id=invite.id, member_id=member.id, new_member=False))
    try:
        await db.commit()
    except IntegrityError:
        # The same member accepting twice at once: the second loses, and its use comes back.
        await db.rollback()
        raise ServiceError(
            "invite_accepted", "You have already accepted this invite.", 409
        ) from None
    return invite


def _joined(member: Member) -> MemberJoined:
    return MemberJoined(
        member_id=member.id, invite_id=member.invite_id, invited_by_id=member.invited_by_id
    )


# ---------------------------------------------------------------------------------------------
# Accounts a gate held: an admin approves or rejects them


async def pending_members(db: AsyncSession) -> list[Member]:
    """Accounts waiting for approval, oldest first."""
    stmt = select(Member).where(Member.approved_at.is_(None)).order_by(Member.created_at)
    return list((await db.execute(stmt.limit(500))).scalars())


async def _pending_member(db: AsyncSession, member_id: int) -> Member:
    member = await db.get(Member, member_id) if 0 < member_id <= MAX_ID else None
    if member is None:
        raise _unknown_member(member_id)
    if not member.is_pending:
        raise _not_pending(member.username)
    return member


async def _decided_meanwhile(db: AsyncSession, member_id: int) -> ServiceError:
    """Why a conditional write on a pending account changed nothing: another admin approved
    or rejected it since we looked. Nothing was written, so nothing needs a rollback (which
    would expire the signed-in admin the error page still shows)."""
    username = await db.scalar(select(Member.username).where(Member.id == member_id))
    return _unknown_member(member_id) if username is None else _not_pending(username)


def _unknown_member(member_id: int) -> ServiceError:
    return ServiceError("unknown_member", f"No member has the id {member_id}.", 404)


def _not_pending(username: str) -> ServiceError:
    return ServiceError(
        "not_pending", f"{username} is not waiting for approval: nothing to do.", 409
    )


async def approve_member(db: AsyncSession, member_id: int) -> Member:
    """Let a held account in; ``MemberJoined`` is told now, not when the invite was used."""
    member = await _pending_member(db, member_id)
    now = utcnow()
    # Conditional, so that two admins approving at once make one MemberJoined.
    approved = await db.execute(
        update(Member)
        .where(Member.id == member.id, Member.approved_at.is_(None))
        .values(approved_at=now, pending_reason=None)
        .execution_options(synchronize_session=False)
    )
    if approved.rowcount != 1:
        raise await _decided_meanwhile(db, member.id)
    set_committed_value(member, "approved_at", now)
    set_committed_value(member, "pending_reason", None)
    emit(db, _joined(member))
    await db.commit()
    return member


async def reject_member(db: AsyncSession, member_id: int) -> Member:
    """Delete a held account (never an approved one). The invite's use is not returned: the
    person behind it was turned away. Returns the deleted member, detached."""
    member = await _pending_member(db, member_id)
    deleted = await db.execute(
        delete(Member)
        .where(Member.id == member.id, Member.approved_at.is_(None))
        .execution_options(synchronize_session=False)
    )
    if deleted.rowcount != 1:
        raise await _decided_meanwhile(db, member.id)
    await db.commit()
    db.expunge(member)
    return member


async def list_invites(db: AsyncSession, creator: Member | None = None) -> list[Invite]:
    stmt = select(Invite).where(Invite.role == "member").order_by(Invite.id.desc()).limit(500)
    if creator is not None:
        stmt = stmt.where(Invite.created_by_id == creator.id)
    return list((await db.execute(stmt)).scalars())


async def invite_by_id(db: AsyncSession, invite_id: int, by: Member | None = None) -> Invite:
    """The invite; a non-admin ``by`` only finds their own."""
    if not 0 < invite_id <= MAX_ID:
        raise ServiceError("unknown_invite", f"No invite has the id {invite_id}.", 404)
    stmt = select(Invite).where(Invite.id == invite_id)
    if by is not None and not by.is_admin:
        stmt = stmt.where(Invite.created_by_id == by.id)
    invite = await db.scalar(stmt)
    if invite is None:
        raise ServiceError("unknown_invite", f"No invite has the id {invite_id}.", 404)
    return invite


async def revoke_invite(db: AsyncSession, invite: Invite) -> Invite:
    if invite.revoked_at is None:
        invite.revoked_at = utcnow()
        await db.commit()
    return invite


async def invite_tree(db: AsyncSession) -> list[tuple[Member, int]]:
    """Every member with their depth, in tree order: who invited whom."""
    members = list((await db.execute(select(Member).order_by(Member.created_at))).scalars())
    children: dict[int | None, list[Member]] = {}
    for member in members:
        children.setdefault(member.invited_by_id, []).append(member)
    ordered: list[tuple[Member, int]] = []
    stack = [(member, 0) for member in reversed(children.get(None, []))]
    while stack:
        member, depth = stack.pop()
        ordered.append((member, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(member.id, [])))
    return ordered


async def first_admin(db: AsyncSession) -> Member | None:
    return await db.scalar(
        select(Member).where(Member.role == "admin").order_by(Member.id).limit(1)
    )


async def setup_link(db: AsyncSession) -> str | None:
    """A fresh one-time admin setup token when there is no admin yet, else None."""
    if await first_admin(db) is not None:
        return None
    # Only the newest setup link works: the previous ones were printed and may be lost.
    await db.execute(
        update(Invite)
        .where(Invite.role == "admin", Invite.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    new = await create_invite(
        db,
        None,
        settings=SETTING_DEFAULTS,
        expires_in=timedelta(days=7),
        role="admin",
        note="First admin setup",
    )
    return new.token


# ---------------------------------------------------------------------------------------------
# API tokens


async def create_api_token(
    db: AsyncSession, member: Member, name: Any = ""
) -> tuple[ApiToken, str]:
    label = str(name or "").strip() or "API token"
    if len(label) > 64:
        raise ServiceError("invalid_name", "Token names are at most 64 characters.", 422)
    token, token_hash = new_token(API_TOKEN_PREFIX)
    row = ApiToken(member_id=member.id, name=label, token_hash=token_hash)
    db.add(row)
    await db.commit()
    return row, token


async def list_api_tokens(db: AsyncSession, member: Member) -> list[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.member_id == member.id).order_by(ApiToken.id.desc())
    return list((await db.execute(stmt)).scalars())


async def revoke_api_token(db: AsyncSession, member: Member, token_id: int) -> None:
    if not 0 < token_id <= MAX_ID:
        raise ServiceError("unknown_token", f"You have no token with the id {token_id}.", 404)
    row = await db.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.member_id == member.id)
    )
    if row is None:
        raise ServiceError("unknown_token", f"You have no token with the id {token_id}.", 404)
    await db.delete(row)
    await db.commit()


async def member_for_api_token(db: AsyncSession, token: str) -> tuple[ApiToken, Member] | None:
    """The token's row and its member, or None when no such token exists; ServiceError 403
    when the member's account waits for approval."""
    row = await db.execute(
        select(ApiToken, Member)
        .join(Member, Member.id == ApiToken.member_id)
        .where(ApiToken.token_hash == hash_token(token))
    )
    found = row.first()
    if found is None:
        return None
    api_token, member = found
    if member.is_pending:
        raise pending_error()
    now = utcnow()
    if api_token.last_used_at is None or now - api_token.last_used_at > timedelta(minutes=5):
        api_token.last_used_at = now
        member.last_seen_at = now
        await db.commit()
    return api_token, member
