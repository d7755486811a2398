"""The plugin's pages under ``/p/crosspost/``: the admins' targets (``/admin``, one target's
settings, "send test" and log under ``/admin/targets/{id}``), the delivery log with the drafts
waiting for approval (``/admin/deliveries``, moderators too), and a thread's "share" page
with the exact preview each target would receive (``/threads/{id}/share``, moderators).
Every form carries the CSRF token; a refused change shows the form again with the reason.
Secrets are never put in a page: a target shows only the hint of its main secret."""

from __future__ import annotations

import json
from hmac import compare_digest as secrets_compare
from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.accounts.auth import require_admin, require_staff, undo
from community.accounts.models import Member
from community.accounts.routes import Form, text
from community.errors import ServiceError
from community.forum import visibility
from community.forum.models import Category, Thread
from community.web import render
from community.web.slots import Slot
from community_crosspost import oauth, shares, targets
from community_crosspost.models import DRAFT, KINDS, STATUSES, Delivery, Target

Request_ = Request[Any, Any, Any]

NOTICE, ERROR = "crosspost_notice", "crosspost_error"
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
SECRET_FIELDS = ("access_token", "app_password", "webhook_url", "url")
CONFIG_FIELDS = ("instance_url", "char_limit", "handle", "service")
SHOWN_PAYLOAD = ("bluesky", "discord", "slack")  # text alone does not say what is sent
LOG_LIMIT = 50
# Discord and Slack share the "webhook_url" input; the signed webhook has its own "url".
KIND_INPUTS: dict[str, tuple[str, ...]] = {
    "mastodon": ("instance_url", "access_token", "char_limit"),
    "bluesky": ("handle", "app_password", "service"),
    "discord": ("webhook_url",),
    "slack": ("webhook_url",),
    "webhook": ("url",),
}


def _many(data: dict[str, Any], key: str) -> list[str]:
    """A repeated form field (checkboxes) as a list."""
    value = data.get(key, [])
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]


def _flashed(request: Request_) -> dict[str, Any]:
    """The notice and error a redirect left in the session, taken once."""
    if not request.session:
        return {}
    found = {"notice": request.session.pop(NOTICE, None), "error": request.session.pop(ERROR, None)}
    return {key: value for key, value in found.items() if value}


def _values(data: dict[str, Any]) -> dict[str, Any]:
    """The target form as typed, without its secrets (never put back in a page)."""
    values = {
        key: text(data, key).strip()
        for key in ("kind", "name", "template", *CONFIG_FIELDS, *UTM_FIELDS)
    }
    for box in ("on_mark", "approval", "enabled"):
        values[box] = text(data, box) == "on"
    values["categories"] = {int(v) for v in _many(data, "categories") if v.isdigit()}
    return values


def _number(value: str) -> Any:
    """A number typed in a form as an int; anything else as typed, for the service to refuse."""
    return int(value) if value.isdigit() else value


def _target_fields(data: dict[str, Any], target: Target | None) -> dict[str, Any]:
    """The target form's fields as ``targets.save`` takes them. When changing ``target``, a
    blank secret keeps the stored one and an unchanged setting is not sent again."""
    kind = target.kind if target is not None else text(data, "kind")
    fields: dict[str, Any] = {
        "name": text(data, "name").strip(),
        "categories": [_number(v) for v in _many(data, "categories")],
        "on_mark": text(data, "on_mark") == "on",
        "approval": text(data, "approval") == "on",
        "enabled": text(data, "enabled") == "on",
        "template": text(data, "template").strip(),
    }
    if target is not None and fields["enabled"] == target.enabled:
        del fields["enabled"]  # sending it again would clear "needs attention" unasked
    kept_utm = dict(target.config.get("utm") or {}) if target is not None else {}
    for key in UTM_FIELDS:
        kept_utm.pop(key, None)
        if text(data, key).strip():
            kept_utm[key] = text(data, key).strip()
    if kept_utm or target is not None:
        fields["utm"] = kept_utm  # a new target left untagged gets the default tags
    if target is None:
        fields["kind"] = kind
    config = target.config if target is not None else {}
    for field in KIND_INPUTS.get(kind, ()):
        value = text(data, field).strip()
        if field in SECRET_FIELDS:
            if value or target is None:
                fields[field] = value
        elif field == "char_limit":
            if value != str(config.get(field) or ""):
                fields[field] = _number(value) if value else None
        elif value and value != config.get(field):
            fields[field] = value
    if target is None and kind == "bluesky" and not fields.get("service"):
        fields.pop("service", None)  # the default service
    return fields


async def _category_choices(db: AsyncSession) -> list[Category]:
    """The categories a rule may name: those open to every member."""
    return list(
        await db.scalars(
            select(Category)
            .where(visibility.categories(plugins.ordinary_member()))
            .order_by(Category.position, Category.name)
        )
    )


async def _category_names(db: AsyncSession) -> dict[int, str]:
    return {c.id: c.name for c in await db.scalars(select(Category))}


async def _thread_titles(db: AsyncSession, ids: set[int]) -> dict[int, Thread]:
    if not ids:
        return {}
    return {t.id: t for t in await db.scalars(select(Thread).where(Thread.id.in_(ids)))}


async def _log_rows(db: AsyncSession, found: list[tuple[Delivery, str]]) -> list[dict[str, Any]]:
    """The deliveries as the log shows them, each with its thread's title and link."""
    threads = await _thread_titles(db, {d.thread_id for d, _ in found if d.thread_id})
    rows = []
    for delivery, name in found:
        thread = threads.get(delivery.thread_id) if delivery.thread_id else None
        rows.append(
            {
                "delivery": delivery,
                "target": name,
                "thread_title": thread.title if thread is not None else "",
                "thread_url": thread.url if thread is not None else "",
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Admin: targets


async def _targets_page(
    request: Request_, db: AsyncSession, status_code: int = 200, **context: Any
) -> Template:
    return render(
        request,
        "crosspost/admin_targets.html",
        status_code=status_code,
        targets=await targets.listing(db),
        names=await _category_names(db),
        choices=await _category_choices(db),
        kinds=KINDS,
        **context,
    )


@get("/admin", guards=[require_admin])
async def admin_targets(request: Request_, db: AsyncSession) -> Template:
    defaults = {"kind": "mastodon", "on_mark": True, "enabled": True, "categories": set()}
    return await _targets_page(request, db, values=defaults, **_flashed(request))


@post("/admin", guards=[require_admin])
async def create_target(request: Request_, db: AsyncSession, member: Member, data: Form) -> Any:
    """A new target; a signed webhook's signing secret is shown on the page this once."""
    try:
        target, shown_once = await targets.save(
            db, None, _target_fields(data, None), request.app.state.settings.secret_key
        )
    except ServiceError as error:
        await undo(db, member)
        return await _targets_page(
            request, db, error.status, error=error.detail, values=_values(data)
        )
    if shown_once is not None:
        return await _targets_page(
            request,
            db,
            notice=f"{target.name} is added.",
            new_secret=shown_once,
            new_target=target.name,
            values={"kind": "mastodon", "on_mark": True, "enabled": True, "categories": set()},
        )
    request.session[NOTICE] = f"{target.name} is added."
    return Redirect("/p/crosspost/admin", status_code=303)


async def _target_page(
    request: Request_,
    db: AsyncSession,
    target_id: int,
    status_code: int = 200,
    **context: Any,
) -> Template:
    target = await targets.target_by_id(db, target_id)
    found = await shares.log(db, target_id=target.id, limit=LOG_LIMIT)
    config = target.config or {}
    context.setdefault(
        "values",
        {
            "name": target.name,
            "template": config.get("template") or "",
            "on_mark": target.on_mark,
            "approval": target.approval,
            "enabled": target.enabled,
            "categories": set(target.categories or []),
            **{key: str(config.get(key) or "") for key in CONFIG_FIELDS},
            **{key: (config.get("utm") or {}).get(key, "") for key in UTM_FIELDS},
        },
    )
    return render(
        request,
        "crosspost/admin_target.html",
        status_code=status_code,
        target=target,
        names=await _category_names(db),
        choices=await _category_choices(db),
        rows=await _log_rows(db, found),
        **context,
    )


@get("/admin/targets/{target_id:int}", guards=[require_admin])
async def admin_target(request: Request_, db: AsyncSession, target_id: int) -> Template:
    return await _target_page(request, db, target_id, **_flashed(request))


@post("/admin/targets/{target_id:int}", guards=[require_admin])
async def change_target(
    request: Request_, db: AsyncSession, member: Member, target_id: int, data: Form
) -> Any:
    """Saves the form; a blank secret keeps the stored one."""
    target = await targets.target_by_id(db, target_id)
    try:
        await targets.save(
            db, target, _target_fields(data, target), request.app.state.settings.secret_key
        )
    except ServiceError as error:
        await undo(db, member)
        values = {**_values(data), "kind": target.kind}
        return await _target_page(
            request, db, target_id, error.status, error=error.detail, values=values
        )
    request.session[NOTICE] = "Saved."
    return Redirect(f"/p/crosspost/admin/targets/{target_id}", status_code=303)


@post("/admin/targets/{target_id:int}/test", guards=[require_admin])
async def test_target(request: Request_, db: AsyncSession, member: Member, target_id: int) -> Any:
    """The "send test" button: the sentence saying whether the target works."""
    target = await targets.target_by_id(db, target_id)
    try:
        ok, detail = await targets.check(
            db, target, request.app.state.settings.secret_key, request.state.site
        )
    except ServiceError as error:
        await undo(db, member)
        ok, detail = False, error.detail
    request.session[NOTICE if ok else ERROR] = detail
    return Redirect(f"/p/crosspost/admin/targets/{target_id}", status_code=303)


OAUTH = "crosspost_oauth"
"""Session key: the state and target of a Mastodon connection under way."""


@post("/admin/targets/{target_id:int}/connect", guards=[require_admin])
async def connect_target(
    request: Request_, db: AsyncSession, member: Member, target_id: int
) -> Any:
    """Off to the Mastodon instance to authorise the app (registered there first)."""
    target = await targets.target_by_id(db, target_id)
    settings = request.app.state.settings
    try:
        url, state = await oauth.start(
            db, target, settings.secret_key, settings.base_url, request.state.site["name"]
        )
    except ServiceError as error:
        await undo(db, member)
        request.session[ERROR] = error.detail
        return Redirect(f"/p/crosspost/admin/targets/{target_id}", status_code=303)
    request.session[OAUTH] = {"state": state, "target": target.id}
    return Redirect(url, status_code=303)


@get(oauth.CALLBACK.removeprefix("/p/crosspost"), guards=[require_admin])
async def connected(
    request: Request_,
    db: AsyncSession,
    member: Member,
    code: str = "",
    error: str = "",
) -> Any:
    """Back from the instance: the code traded for a token, or why not. (``state`` is read
    from the query by hand: Litestar reserves the name for its own.)"""
    returned = request.query_params.get("state", "")
    pending = request.session.pop(OAUTH, None) or {}
    target_id = pending.get("target")
    if not target_id or not returned or not secrets_compare(returned, pending.get("state", "")):
        request.session[ERROR] = "This connection was not started here (or was already used)."
        return Redirect("/p/crosspost/admin", status_code=303)
    back = f"/p/crosspost/admin/targets/{target_id}"
    if error:
        request.session[ERROR] = f"The instance did not authorise the app ({error[:100]})."
        return Redirect(back, status_code=303)
    target = await targets.target_by_id(db, target_id)
    try:
        await oauth.finish(db, target, code, request.app.state.settings.secret_key)
    except ServiceError as failure:
        await undo(db, member)
        request.session[ERROR] = failure.detail
        return Redirect(back, status_code=303)
    request.session[NOTICE] = f"{target.name} is connected to Mastodon."
    return Redirect(back, status_code=303)


# ---------------------------------------------------------------------------------------------
# Moderators: the delivery log, approvals and retries


async def _draft_preview(
    db: AsyncSession, delivery: Delivery, found: dict[int, Target], base_url: str
) -> str:
    """The text a draft would be sent with now, or why it cannot be sent."""
    target = found.get(delivery.target_id) or await targets.target_by_id(db, delivery.target_id)
    found[target.id] = target
    if delivery.thread_id is None:
        return "The thread is gone: it will not be sent."
    try:
        return str((await shares.preview(db, target, delivery.thread_id, base_url)).text)
    except ServiceError as error:
        return error.detail


@get("/admin/deliveries", guards=[require_staff])
async def admin_deliveries(request: Request_, db: AsyncSession) -> Template:
    """The whole log (``?status=`` to filter), the drafts waiting for approval first."""
    status = request.query_params.get("status") or None
    if status is not None and status not in STATUSES:
        raise ServiceError("invalid_status", f"status is one of {', '.join(STATUSES)}.", 400)
    base_url = request.app.state.settings.base_url
    drafts = await _log_rows(db, await shares.log(db, status=DRAFT))
    found: dict[int, Target] = {}
    for row in drafts:
        row["preview"] = await _draft_preview(db, row["delivery"], found, base_url)
    return render(
        request,
        "crosspost/admin_deliveries.html",
        drafts=drafts,
        rows=await _log_rows(db, await shares.log(db, status=status)),
        status=status or "",
        statuses=STATUSES,
        **_flashed(request),
    )


def _back(data: dict[str, Any]) -> str:
    """Where an action returns to: one of the plugin's own pages, else the log."""
    back = text(data, "back")
    if back.startswith("/p/crosspost/") and "//" not in back and "\\" not in back:
        return back
    return "/p/crosspost/admin/deliveries"


async def _delivery_act(
    request: Request_, db: AsyncSession, member: Member, delivery_id: int, data: Any, work: Any
) -> Redirect:
    """Run ``work(delivery)``; back to the page the button was on, with what came of it."""
    delivery = await shares.delivery_by_id(db, delivery_id)
    try:
        request.session[NOTICE] = await work(delivery)
    except ServiceError as error:
        await undo(db, member)
        request.session[ERROR] = error.detail
    return Redirect(_back(data), status_code=303)


@post("/deliveries/{delivery_id:int}/approve", guards=[require_staff])
async def approve_delivery(
    request: Request_, db: AsyncSession, member: Member, delivery_id: int, data: Form
) -> Redirect:
    async def work(delivery: Delivery) -> str:
        await shares.approve(db, member, delivery)
        return "Approved: the share is scheduled."

    return await _delivery_act(request, db, member, delivery_id, data, work)


@post("/deliveries/{delivery_id:int}/cancel", guards=[require_staff])
async def cancel_delivery(
    request: Request_, db: AsyncSession, member: Member, delivery_id: int, data: Form
) -> Redirect:
    async def work(delivery: Delivery) -> str:
        await shares.cancel(db, delivery)
        return "Cancelled: the share will not be sent."

    return await _delivery_act(request, db, member, delivery_id, data, work)


@post("/deliveries/{delivery_id:int}/retry", guards=[require_staff])
async def retry_delivery(
    request: Request_, db: AsyncSession, member: Member, delivery_id: int, data: Form
) -> Redirect:
    async def work(delivery: Delivery) -> str:
        await shares.retry(db, delivery)
        return "Retrying now."

    return await _delivery_act(request, db, member, delivery_id, data, work)


# ---------------------------------------------------------------------------------------------
# Moderators: sharing a thread by hand


async def _share_page(
    request: Request_,
    db: AsyncSession,
    member: Member,
    thread_id: int,
    status_code: int = 200,
    **context: Any,
) -> Template:
    thread = await db.scalar(
        select(Thread).where(Thread.id == thread_id, visibility.threads(member))
    )
    if thread is None:
        raise ServiceError("not_found", "No such thread.", 404)
    choices = []
    refused = None
    if await shares.shareable(db, thread.id) is None:
        refused = shares.NOT_SHAREABLE
    else:
        base_url = request.app.state.settings.base_url
        enabled = select(Target).where(Target.enabled.is_(True)).order_by(Target.name, Target.id)
        for target in await db.scalars(enabled):
            try:
                rendered = await shares.preview(db, target, thread.id, base_url)
            except ServiceError as error:
                choices.append({"target": target, "error": error.detail})
                continue
            payload = (
                json.dumps(rendered.payload, indent=2, ensure_ascii=False)
                if target.kind in SHOWN_PAYLOAD
                else ""
            )
            choices.append({"target": target, "text": rendered.text, "payload": payload})
    context.setdefault("values", {"when": "now", "at": "", "chosen": set()})
    return render(
        request,
        "crosspost/share.html",
        status_code=status_code,
        thread=thread,
        refused=refused,
        choices=choices,
        marks=[c["target"].name for c in choices if c["target"].on_mark and "text" in c],
        **context,
    )


@get("/threads/{thread_id:int}/share", guards=[require_staff])
async def share_page(
    request: Request_, db: AsyncSession, member: Member, thread_id: int
) -> Template:
    return await _share_page(request, db, member, thread_id, **_flashed(request))


def _at(when: str, at: str) -> str:
    """The form's "when" as ``shares.share`` takes it: now, best, or an ISO time in UTC."""
    if when == "best":
        return "best"
    if when == "at":
        if not at:
            raise ServiceError("invalid_at", "Choose the date and time to share at.", 400)
        return f"{at}+00:00"
    return "now"


@post("/threads/{thread_id:int}/share", guards=[require_staff])
async def share_thread(
    request: Request_, db: AsyncSession, member: Member, thread_id: int, data: Form
) -> Any:
    chosen = _many(data, "targets")
    values = {
        "when": text(data, "when") or "now",
        "at": text(data, "at").strip(),
        "chosen": {int(v) for v in chosen if v.isdigit()},
    }
    try:
        if not chosen:
            raise ServiceError("invalid_targets", "Choose at least one target.", 400)
        made = await shares.share(
            db,
            member,
            thread_id,
            {"targets": [_number(v) for v in chosen], "at": _at(values["when"], values["at"])},
        )
    except ServiceError as error:
        await undo(db, member)
        return await _share_page(
            request, db, member, thread_id, error.status, error=error.detail, values=values
        )
    drafts = sum(1 for d in made if d.status == DRAFT)
    notice = f"Shared to {len(made)} target{'' if len(made) == 1 else 's'}."
    if drafts:
        notice += f" {drafts} wait{'s' if drafts == 1 else ''} for a moderator's approval."
    request.session[NOTICE] = notice
    return Redirect(f"/p/crosspost/threads/{thread_id}/share", status_code=303)


@post("/threads/{thread_id:int}/mark", guards=[require_staff])
async def mark_thread(request: Request_, db: AsyncSession, member: Member, thread_id: int) -> Any:
    """Mark the thread for sharing: every enabled target that takes marked threads."""
    try:
        made = await shares.mark(db, member, thread_id)
    except ServiceError as error:
        await undo(db, member)
        return await _share_page(request, db, member, thread_id, error.status, error=error.detail)
    request.session[NOTICE] = (
        f"Marked for sharing: {len(made)} target{'' if len(made) == 1 else 's'} will get it."
    )
    return Redirect(f"/p/crosspost/threads/{thread_id}/share", status_code=303)


def render_slot(slot: Slot, context: dict[str, Any]) -> str | None:
    """A "Share…" link under a thread's title, for moderators and admins."""
    member, thread = context.get("member"), context.get("thread")
    if slot is not Slot.thread_header or thread is None or not getattr(member, "is_staff", False):
        return None
    link = Markup('<a href="/p/crosspost/threads/{}/share" class="crosspost-share">Share…</a>')
    return str(link.format(thread.id))


routes: list[Any] = [
    admin_targets,
    create_target,
    admin_target,
    change_target,
    test_target,
    admin_deliveries,
    approve_delivery,
    cancel_delivery,
    retry_delivery,
    share_page,
    share_thread,
    mark_thread,
    connect_target,
    connected,
]
