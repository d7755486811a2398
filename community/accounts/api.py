"""The accounts JSON API under ``/api/v1/``: bearer tokens, no cookies, no CSRF."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, delete, get, post, put
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts import services
from community.accounts.auth import require_admin
from community.accounts.models import Invite, Member
from community.accounts.routes import PUBLIC, client_ip
from community.errors import ServiceError


def invite_json(invite: Invite, base_url: str, token: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": invite.id,
        "max_uses": invite.max_uses,
        "uses": invite.uses,
        "state": invite.state(),
        "expires_at": invite.expires_at.isoformat() if invite.expires_at else None,
        "created_at": invite.created_at.isoformat(),
        "created_by": invite.created_by.username if invite.created_by else None,
        "note": invite.note,
        "email": invite.email,
        "domain": invite.domain,
        "groups": [group.name for group in invite.groups],
        "message": invite.message,
        "landing": invite.landing,
    }
    if token is not None:
        body["token"] = token
        body["url"] = f"{base_url}/invite/{token}"
    return body


def _str(data: dict[str, Any], key: str) -> Any:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ServiceError(f"invalid_{key}", f"{key} must be a string.", 422, field=key)
    return value


def _required(data: dict[str, Any], *keys: str) -> None:
    missing = [key for key in keys if not data.get(key)]
    if missing:
        raise ServiceError(
            "missing_fields", f"Missing required field(s): {', '.join(missing)}.", 400
        )


@post("/auth/register", opt=PUBLIC, status_code=201)
async def register(request: Request[Any, Any, Any], db: AsyncSession, data: dict[str, Any]) -> Any:
    """201 ``{"status": "active", "member", "token"}``; or, when a ``check_member`` gate held
    the account, 202 ``{"status": "pending", "detail", "member"}`` and no token: it waits for
    an admin's approval and cannot sign in until then."""
    _required(data, "invite", "username", "password")
    limiter = request.app.state.limiter
    await limiter.hit("invite_ip", client_ip(request))
    await limiter.hit("register_ip", client_ip(request))
    member = await services.redeem_invite(
        db,
        _str(data, "invite"),
        username=_str(data, "username"),
        password=_str(data, "password"),
        email=_str(data, "email"),
    )
    if member.is_pending:
        body = {"status": "pending", "detail": services.PENDING_DETAIL, "member": member.to_json()}
        return Response(body, status_code=202)
    _, token = await services.create_api_token(db, member, "Registration")
    return {"status": "active", "member": member.to_json(), "token": token}


@post("/auth/token", opt=PUBLIC, status_code=201)
async def create_token(
    request: Request[Any, Any, Any], db: AsyncSession, data: dict[str, Any]
) -> Any:
    _required(data, "username", "password")
    username, password = _str(data, "username"), _str(data, "password")
    limiter = request.app.state.limiter
    await limiter.hit("signin_ip", client_ip(request))
    await limiter.hit("signin_account", username)
    member = await services.authenticate(db, username, password)
    row, token = await services.create_api_token(db, member, _str(data, "name") or "API sign-in")
    return {"token": token, "id": row.id, "member": member.to_json()}


@delete("/auth/token", status_code=204)
async def revoke_current_token(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member
) -> None:
    await services.revoke_api_token(db, member, request.state.api_token_id)


@get("/me")
async def me(member: Member) -> Any:
    return member.to_json()


@post("/invites", status_code=201)
async def create_invite(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: dict[str, Any]
) -> Any:
    groups = data.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(name, str) for name in groups):
        raise ServiceError("invalid_groups", "groups must be a list of group names.", 422)
    site = request.state.site
    new = await services.create_invite(
        db,
        member,
        settings=site,
        max_uses=data.get("max_uses", 1),
        expires_in=services.parse_expiry(data.get("expires_in_days", 7)),
        note=_str(data, "note"),
        groups=groups,
        email=_str(data, "email"),
        domain=_str(data, "domain"),
        message=_str(data, "message"),
        landing=_str(data, "landing"),
    )
    return invite_json(new.invite, request.app.state.settings.base_url, new.token)


@post("/invites/accept", status_code=200)
async def accept_invite(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: dict[str, Any]
) -> Any:
    """A member accepts an invite link's token: ``{"invite": token}``; they join its groups
    (and whatever plugins attach to it)."""
    _required(data, "invite")
    await request.app.state.limiter.hit("invite_ip", client_ip(request))
    invite = await services.accept_invite(db, _str(data, "invite"), member)
    return {
        "accepted": True,
        "groups": [group.name for group in invite.groups],
        "landing": invite.landing or "/",
    }


@get("/invites")
async def list_invites(request: Request[Any, Any, Any], db: AsyncSession, member: Member) -> Any:
    invites = await services.list_invites(db, None if member.is_admin else member)
    base_url = request.app.state.settings.base_url
    return {"invites": [invite_json(invite, base_url) for invite in invites]}


@delete("/invites/{invite_id:int}", status_code=200)
async def revoke_invite(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, invite_id: int
) -> Any:
    invite = await services.invite_by_id(db, invite_id, by=member)
    await services.revoke_invite(db, invite)
    return invite_json(invite, request.app.state.settings.base_url)


# ---------------------------------------------------------------------------------------------
# Admin: groups, members, instance settings


@get("/groups")
async def list_groups(db: AsyncSession) -> Any:
    groups = await services.list_groups(db)
    return {"groups": [{"name": group.name, "members": count} for group, count in groups]}


@post("/groups", guards=[require_admin], status_code=201)
async def create_group(db: AsyncSession, data: dict[str, Any]) -> Any:
    _required(data, "name")
    group = await services.create_group(db, data["name"])
    return {"name": group.name, "members": 0}


@put("/groups/{name:str}/members/{username:str}", guards=[require_admin])
async def add_group_member(db: AsyncSession, name: str, username: str) -> Any:
    group = await services.group_by_name(db, name)
    member = await services.member_by_username(db, username)
    await services.add_to_group(db, group, member)
    return member.to_json()


@delete("/groups/{name:str}/members/{username:str}", guards=[require_admin], status_code=200)
async def remove_group_member(db: AsyncSession, name: str, username: str) -> Any:
    group = await services.group_by_name(db, name)
    member = await services.member_by_username(db, username)
    await services.remove_from_group(db, group, member)
    return member.to_json()


@get("/members", guards=[require_admin])
async def list_members(db: AsyncSession, q: str = "") -> Any:
    return {"members": [member.to_json() for member in await services.search_members(db, q)]}


@put("/members/{username:str}/role", guards=[require_admin])
async def set_role(db: AsyncSession, username: str, data: dict[str, Any]) -> Any:
    _required(data, "role")
    member = await services.member_by_username(db, username)
    return (await services.set_role(db, member, _str(data, "role"))).to_json()


@post("/members/{username:str}/suspension", guards=[require_admin], status_code=200)
async def suspend(db: AsyncSession, member: Member, username: str, data: dict[str, Any]) -> Any:
    until, reason = _str(data, "until"), _str(data, "reason")
    target = await services.member_by_username(db, username)
    when = services.parse_until(until) if until else None
    return (await services.suspend(db, target, when, reason, actor=member)).to_json()


@delete("/members/{username:str}/suspension", guards=[require_admin], status_code=200)
async def unsuspend(db: AsyncSession, username: str) -> Any:
    member = await services.member_by_username(db, username)
    return (await services.unsuspend(db, member)).to_json()


@get("/settings", guards=[require_admin])
async def get_settings(request: Request[Any, Any, Any], db: AsyncSession) -> Any:
    return await services.instance_settings(db, request.app.state.settings.name)


@put("/settings", guards=[require_admin])
async def put_settings(
    request: Request[Any, Any, Any], db: AsyncSession, data: dict[str, Any]
) -> Any:
    unknown = set(data) - (set(services.SETTING_DEFAULTS) | {"name"})
    if unknown:
        raise ServiceError("unknown_settings", f"Unknown settings: {', '.join(sorted(unknown))}.")
    await services.update_instance_settings(db, data)
    return await services.instance_settings(db, request.app.state.settings.name)


router = Router(
    path="/api/v1",
    route_handlers=[
        register,
        create_token,
        revoke_current_token,
        me,
        create_invite,
        list_invites,
        revoke_invite,
        accept_invite,
        list_groups,
        create_group,
        add_group_member,
        remove_group_member,
        list_members,
        set_role,
        suspend,
        unsuspend,
        get_settings,
        put_settings,
    ],
    tags=["accounts"],
)
