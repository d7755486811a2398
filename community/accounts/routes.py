"""Account pages: sign in and out, invite links and registration, settings, the home page."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts import services
from community.accounts.models import Member
from community.errors import ServiceError
from community.forum.feeds import has_feed_token
from community.web import render
from community.web.sessions import renew_session_id

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
PUBLIC = {"public": True}


def text(data: dict[str, Any], key: str) -> str:
    """One form field as text: a repeated field counts once, a missing one is empty."""
    value = data.get(key, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return value if isinstance(value, str) else ""


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def sign_in(request: Request[Any, Any, Any], member: Member) -> None:
    """Start a fresh session for ``member``: a new session id, so a planted one is useless."""
    renew_session_id(request)
    request.set_session({"member_id": member.id, "epoch": member.session_epoch})


def safe_next(target: Any) -> str:
    if isinstance(target, str) and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@get("/signin", opt=PUBLIC, name="signin")
async def signin_page(
    request: Request[Any, Any, Any], next: str | None = None
) -> Template | Redirect:
    if request.scope.get("user"):
        return Redirect(safe_next(next))
    return render(request, "accounts/signin.html", next=safe_next(next), error=None)


@post("/signin", opt=PUBLIC)
async def signin(
    request: Request[Any, Any, Any], db: AsyncSession, data: Form
) -> Template | Redirect:
    username = text(data, "username").strip()
    target = safe_next(text(data, "next"))
    limiter = request.app.state.limiter
    try:
        await limiter.hit("signin_ip", client_ip(request))
        await limiter.hit("signin_account", username or "-")
        member = await services.authenticate(db, username, text(data, "password"))
    except ServiceError as error:
        page = render(
            request,
            "accounts/signin.html",
            status_code=error.status,
            next=target,
            error=error.detail,
            username=username,
        )
        if "retry_after" in error.extra:
            page.headers["Retry-After"] = str(error.extra["retry_after"])
        return page
    sign_in(request, member)
    return Redirect(target)


@post("/signout", opt=PUBLIC)
async def signout(request: Request[Any, Any, Any]) -> Redirect:
    request.clear_session()
    return Redirect("/signin")


@get("/invite/{token:str}", opt=PUBLIC, name="invite")
async def invite_page(request: Request[Any, Any, Any], db: AsyncSession, token: str) -> Template:
    try:
        await request.app.state.limiter.hit("invite_ip", client_ip(request))
        invite = await services.find_invite(db, token)
    except ServiceError as error:
        return await _invite_error(request, error)
    member = request.scope.get("user")
    if member is not None:
        return await _accept_page(request, db, member, invite, token)
    return render(request, "accounts/invite.html", invite=invite, token=token, errors={})


async def _accept_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    invite: Any,
    token: str,
    error: ServiceError | None = None,
) -> Template:
    """A signed-in member opening an invite link: what accepting it gives them, and a button."""
    return render(
        request,
        "accounts/invite_accept.html",
        status_code=error.status if error else 200,
        invite=invite,
        token=token,
        already=await services.accepted(db, invite, member),
        error=error.detail if error else None,
    )


@post("/invite/{token:str}/accept")
async def accept_invite(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, token: str
) -> Template | Redirect:
    """A signed-in member accepts the invite: its groups and whatever plugins attach to it."""
    try:
        await request.app.state.limiter.hit("invite_ip", client_ip(request))
        invite = await services.accept_invite(db, token, member)
    except ServiceError as error:
        if error.status in (404, 410, 429):
            return await _invite_error(request, error)
        await db.rollback()
        await db.refresh(member)
        return await _accept_page(
            request, db, member, await services.find_invite(db, token), token, error
        )
    return Redirect(invite.landing or "/")


@post("/invite/{token:str}", opt=PUBLIC)
async def register(
    request: Request[Any, Any, Any], db: AsyncSession, token: str, data: Form
) -> Template | Redirect:
    limiter = request.app.state.limiter
    values = {key: text(data, key).strip() for key in ("username", "email")}
    try:
        await limiter.hit("invite_ip", client_ip(request))
        await limiter.hit("register_ip", client_ip(request))
        invite = await services.find_invite(db, token)
    except ServiceError as error:
        return await _invite_error(request, error)
    password = text(data, "password")
    try:
        if "password_confirm" in data and password != text(data, "password_confirm"):
            raise ServiceError(
                "password_mismatch", "The passwords do not match.", 422, field="password"
            )
        member = await services.redeem_invite(
            db, token, username=values["username"], password=password, email=values["email"]
        )
    except ServiceError as error:
        if error.status in (404, 410):
            return await _invite_error(request, error)
        return render(
            request,
            "accounts/invite.html",
            status_code=error.status,
            invite=invite,
            token=token,
            values=values,
            errors={error.extra.get("field", "form"): error.detail},
        )
    if member.is_pending:
        # A gate held the account: it exists, but nobody signs in to it until an admin agrees.
        return render(request, "accounts/pending.html", pending=member)
    sign_in(request, member)
    return Redirect(invite.landing or "/")


async def _invite_error(request: Request[Any, Any, Any], error: ServiceError) -> Template:
    page = render(request, "accounts/invite_error.html", status_code=error.status, error=error)
    if "retry_after" in error.extra:
        page.headers["Retry-After"] = str(error.extra["retry_after"])
    return page


# ---------------------------------------------------------------------------------------------
# Settings: profile, password, API tokens


async def _settings_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    status_code: int = 200,
    **context: Any,
) -> Template:
    tokens = await services.list_api_tokens(db, member)
    context.setdefault("errors", {})
    return render(
        request,
        "accounts/settings.html",
        status_code=status_code,
        tokens=tokens,
        has_feed_token=await has_feed_token(db, member),
        **context,
    )


@get("/settings", name="settings")
async def settings_page(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member
) -> Template:
    return await _settings_page(request, db, member)


@post("/settings/profile")
async def update_profile(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: Form
) -> Template:
    try:
        await services.update_profile(
            db,
            member,
            text(data, "display_name"),
            text(data, "email"),
            text(data, "bio") if "bio" in data else None,
        )
    except ServiceError as error:
        return await _settings_page(
            request, db, member, error.status, errors={"profile": error.detail}
        )
    return await _settings_page(request, db, member, notice="Profile saved.")


@post("/settings/password")
async def change_password(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: Form
) -> Template:
    try:
        if text(data, "new_password") != text(data, "new_password_confirm"):
            raise ServiceError("password_mismatch", "The new passwords do not match.", 422)
        await services.change_password(
            db, member, text(data, "current_password"), text(data, "new_password")
        )
    except ServiceError as error:
        return await _settings_page(
            request, db, member, error.status, errors={"password": error.detail}
        )
    sign_in(request, member)  # every other session of this member has ended
    return await _settings_page(request, db, member, notice="Password changed.")


@post("/settings/tokens")
async def create_token(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: Form
) -> Template:
    try:
        _, token = await services.create_api_token(db, member, text(data, "name"))
    except ServiceError as error:
        return await _settings_page(
            request, db, member, error.status, errors={"tokens": error.detail}
        )
    return await _settings_page(request, db, member, new_token=token)


@post("/settings/tokens/{token_id:int}/delete")
async def delete_token(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, token_id: int
) -> Template:
    await services.revoke_api_token(db, member, token_id)
    return await _settings_page(request, db, member, notice="Token revoked.")


# ---------------------------------------------------------------------------------------------
# Invites a member makes (admins manage every invite in the admin pages)


async def _invites_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    status_code: int = 200,
    **context: Any,
) -> Template:
    site = request.state.site
    context.setdefault("error", None)
    return render(
        request,
        "accounts/invites.html",
        status_code=status_code,
        invites=await services.list_invites(db, member),
        blocked=await services.may_invite(db, member, site),
        base_url=request.app.state.settings.base_url,
        **context,
    )


@get("/invites", name="invites")
async def invites_page(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member
) -> Template:
    return await _invites_page(request, db, member)


async def create_invite_from_form(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: dict[str, Any]
) -> services.NewInvite:
    """The invite form, shared by the member and admin pages."""
    site = request.state.site
    days = text(data, "expires_in_days") or "7"
    groups = data.get("groups") or []
    groups = [groups] if isinstance(groups, str) else groups
    return await services.create_invite(
        db,
        member,
        settings=site,
        max_uses=text(data, "max_uses") or 1,
        expires_in=services.parse_expiry(days),
        note=text(data, "note") or None,
        message=text(data, "message") or None,
        groups=[name for name in groups if isinstance(name, str) and name],
        email=text(data, "email") or None,
        domain=text(data, "domain") or None,
    )


@post("/invites")
async def create_invite(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: Form
) -> Template:
    try:
        new = await create_invite_from_form(request, db, member, data)
    except ServiceError as error:
        return await _invites_page(request, db, member, error.status, error=error.detail)
    url = f"{request.app.state.settings.base_url}/invite/{new.token}"
    return await _invites_page(request, db, member, new_url=url)


@post("/invites/{invite_id:int}/revoke")
async def revoke_invite(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, invite_id: int
) -> Template:
    invite = await services.invite_by_id(db, invite_id, by=member)
    await services.revoke_invite(db, invite)
    return await _invites_page(request, db, member)


routes = [
    signin_page,
    signin,
    signout,
    invite_page,
    accept_invite,
    register,
    settings_page,
    update_profile,
    change_password,
    create_token,
    delete_token,
    invites_page,
    create_invite,
    revoke_invite,
]
