"""Targets: where threads are shared to, as admins configure them. Each kind takes its own
fields (an instance and token for Mastodon, a handle and app password for Bluesky, a webhook
URL for Discord and Slack, a URL for a signed webhook, whose signing secret is made here and
shown once). Secrets are sealed before they are stored and never shown back; a URL must be
https to a public address (``outbound.check_url``). Rules: new threads in chosen categories,
which must be open to every member (a private or beta-gated category is refused), and
threads a moderator marks."""

from __future__ import annotations

import base64
import json
import re
import secrets as random_secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.db import utcnow
from community.errors import ServiceError
from community.forum import visibility
from community.forum.models import Category
from community.forum.services import check_id
from community_crosspost import outbound, render, secrets
from community_crosspost.models import KINDS, OK, Target

NAME_MAX = 100
HANDLE_RE = re.compile(r"(did:[a-z]+:[A-Za-z0-9._:%-]{1,200}|[A-Za-z0-9.-]{3,253})")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
COMMON = {"name", "kind", "categories", "on_mark", "approval", "enabled", "template", "utm"}
KIND_FIELDS: dict[str, dict[str, str]] = {
    # field: "secret" (sealed) or "config" (kept as is)
    "mastodon": {"instance_url": "config", "access_token": "secret", "char_limit": "config"},
    "bluesky": {"handle": "config", "app_password": "secret", "service": "config"},
    "discord": {"webhook_url": "secret"},
    "slack": {"webhook_url": "secret"},
    "webhook": {"url": "secret"},
}
REQUIRED = {
    "mastodon": ("instance_url",),  # the token pasted, or got by connecting (``oauth``)
    "bluesky": ("handle", "app_password"),
    "discord": ("webhook_url",),
    "slack": ("webhook_url",),
    "webhook": ("url",),
}
URL_FIELDS = ("instance_url", "service", "webhook_url", "url")
MAIN_SECRET = {
    "mastodon": "access_token",
    "bluesky": "app_password",
    "discord": "webhook_url",
    "slack": "webhook_url",
    "webhook": "url",
}
"""The secret whose last characters the target shows (its hint)."""
BLUESKY_SERVICE = "https://bsky.social"


def bad(code: str, detail: str, field: str | None = None) -> ServiceError:
    return ServiceError(code, detail, 400, **({"field": field} if field else {}))


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or "\x00" in value or len(value.strip()) > limit:
        raise bad(f"invalid_{field}", f"{field} is text of at most {limit} characters.", field)
    return value.strip()


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "on", "1", "yes"):
        return True
    if value in ("false", "off", "0", "no", ""):
        return False
    raise bad(f"invalid_{field}", f"{field} is true or false.", field)


def _utm(value: Any) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict) or set(value) - set(UTM_KEYS):
        raise bad("invalid_utm", f"utm takes only {', '.join(UTM_KEYS)}.", "utm")
    return {k: _text(v, "utm", 100) for k, v in value.items() if v}


async def public_categories(db: AsyncSession, value: Any) -> list[int]:
    """The ids in ``value``, each a category every member sees: threads in a category
    private to some groups or gated by a plugin (a beta program) are never shared."""
    if value is None or value == "":
        return []
    if not isinstance(value, list) or len(value) > 200:
        raise bad("invalid_categories", "categories is a list of category ids.", "categories")
    ids = [body_id(v, "category") for v in value]
    found = {c.id: c for c in await db.scalars(select(Category).where(Category.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise bad("unknown_category", f"No category has the id {missing[0]}.", "categories")
    open_to_all = set(
        await db.scalars(
            select(Category.id).where(
                Category.id.in_(ids), visibility.categories(plugins.ordinary_member())
            )
        )
    )
    private = [found[i].name for i in ids if i not in open_to_all]
    if private:
        raise bad(
            "private_category",
            f"{private[0]} is not open to every member: its threads are never shared.",
            "categories",
        )
    return sorted(set(ids))


def body_id(value: Any, what: str) -> int:
    """An id in a request's body: a 400 naming it when it cannot be one."""
    try:
        return check_id(value, what)
    except ServiceError:
        raise bad(f"unknown_{what}", f"No {what} has the id {value!r}.", f"{what}s") from None


def signing_secret() -> str:
    """A new Standard Webhooks signing secret (``whsec_`` and 32 random bytes, base64)."""
    return "whsec_" + base64.b64encode(random_secrets.token_bytes(32)).decode()


async def _url(value: Any, field: str) -> str:
    url = _text(value, field, 2000)
    try:
        return await outbound.check_url(url, allowed_hosts=_allowed_hosts())
    except outbound.OutboundError as error:
        raise bad(f"invalid_{field}", f"{field}: {error.reason}", field) from None


def _allowed_hosts() -> frozenset[str]:
    return plugins.settings("crosspost").hosts()


async def save(
    db: AsyncSession, target: Target | None, data: Any, secret_key: str
) -> tuple[Target, str | None]:
    """Make (``target`` None) or change a target from ``data``; commits. Returns it and,
    for a new signed webhook, its signing secret: shown this once."""
    if not isinstance(data, dict):
        raise bad("invalid_body", "Send the target's fields as a JSON object.")
    kind = target.kind if target is not None else data.get("kind")
    if kind not in KINDS:
        raise bad("invalid_kind", f"kind is one of {', '.join(KINDS)}.", "kind")
    if target is not None and "kind" in data and data["kind"] != kind:
        raise bad("invalid_kind", "A target's kind cannot change: make a new target.", "kind")
    unknown = set(data) - COMMON - set(KIND_FIELDS[kind])
    if unknown:
        raise bad("invalid_body", f"Unknown fields for {kind}: {', '.join(sorted(unknown))}.")
    if target is None:
        missing = [f for f in ("name", *REQUIRED[kind]) if not data.get(f)]
        if missing:
            raise bad("missing_fields", f"A {kind} target needs {', '.join(missing)}.", missing[0])
    changes: dict[str, Any] = {}
    config = dict(target.config) if target is not None else {}
    sealed: dict[str, str] = {}
    if "name" in data:
        changes["name"] = _text(data["name"], "name", NAME_MAX)
        if not changes["name"]:
            raise bad("invalid_name", "A target needs a name.", "name")
    if "categories" in data:
        changes["categories"] = await public_categories(db, data["categories"])
    for field in ("on_mark", "approval", "enabled"):
        if field in data:
            changes[field] = _bool(data[field], field)
    if "template" in data:
        template = data["template"] or ""
        config["template"] = render.check_template(template) if template else ""
    if "utm" in data:
        config["utm"] = _utm(data["utm"])
    elif target is None:  # tagged links back, so the analytics plugin counts the clicks
        config["utm"] = {"utm_source": kind, "utm_medium": "social"}
    for field, where in KIND_FIELDS[kind].items():
        if field not in data:
            continue
        value = data[field]
        if field == "char_limit":
            if value in (None, ""):
                config.pop(field, None)
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 100_000:
                raise bad("invalid_char_limit", "char_limit is from 100 to 100000.", field)
            config[field] = value
        elif field in URL_FIELDS:
            url = await _url(value, field)
            if where == "secret":
                sealed[field] = url
            else:
                config[field] = url
        elif where == "secret":
            secret = _text(value, field, 2000)
            if not secret:
                raise bad(f"invalid_{field}", f"{field} cannot be empty.", field)
            sealed[field] = secret
        else:
            handle = _text(value, field, 253).lstrip("@")
            if not HANDLE_RE.fullmatch(handle):
                raise bad("invalid_handle", "handle is a Bluesky handle or a DID.", field)
            config[field] = handle
    if kind == "bluesky":
        config.setdefault("service", BLUESKY_SERVICE)
    shown_once = None
    if target is None:
        target = Target(kind=kind, config={}, secret="", secret_hint="", session="")
        db.add(target)
        if kind == "webhook":
            shown_once = signing_secret()
            sealed["signing_secret"] = shown_once
    moved = any(config.get(f) != (target.config or {}).get(f) for f in ("instance_url", "service"))
    if sealed or moved:
        stored = secrets_of(target, secret_key) if target.secret else {}
        if moved:  # another server: what the old one gave (a token, an app) is not for it
            for name in ("access_token", "client_id", "client_secret", "redirect_uri"):
                stored.pop(name, None)
            target.secret_hint = ""
        stored.update(sealed)
        store_secrets(target, stored, secret_key)
        if MAIN_SECRET[kind] in sealed:  # the kind's main secret, hinted (never shown)
            target.secret_hint = secrets.hint(sealed[MAIN_SECRET[kind]])
        target.session = ""  # new credentials or server: any kept session is stale
    for field, value in changes.items():
        setattr(target, field, value)
    target.config = config
    target.updated_at = utcnow()
    if sealed or "enabled" in changes:
        target.status, target.attention = OK, ""  # new credentials deserve a fresh try
    await db.commit()
    return target, shown_once


def store_secrets(target: Target, values: dict[str, str], secret_key: str) -> None:
    """Seal ``values`` as the target's secrets (in the caller's transaction)."""
    target.secret = secrets.seal(secret_key, json.dumps(values, sort_keys=True))


def secrets_of(target: Target, secret_key: str, with_session: bool = False) -> dict[str, str]:
    """The target's secrets, unsealed (for sending; never for showing), and with
    ``with_session`` the network session kept from the last post ("session")."""
    if not target.secret:
        return {}
    try:
        found = dict(json.loads(secrets.unseal(secret_key, target.secret)))
        if with_session and target.session:
            found["session"] = secrets.unseal(secret_key, target.session)
        return found
    except secrets.SecretError:
        raise ServiceError(
            "secret_unreadable",
            "This target's secrets cannot be read (the instance's secret key changed): "
            "enter them again.",
            409,
        ) from None


async def target_by_id(db: AsyncSession, target_id: Any) -> Target:
    found = await db.get(Target, check_id(target_id, "target"))
    if found is None:
        raise ServiceError("not_found", "No such target.", 404)
    return found


async def listing(db: AsyncSession) -> list[Target]:
    return list(await db.scalars(select(Target).order_by(Target.name, Target.id)))


def target_json(target: Target) -> dict[str, Any]:
    """The target as admins see it: everything but its secrets (a hint of the main one)."""
    config = dict(target.config)
    return {
        "id": target.id,
        "name": target.name,
        "kind": target.kind,
        "config": config,
        "secret_hint": target.secret_hint,
        "categories": list(target.categories),
        "on_mark": target.on_mark,
        "approval": target.approval,
        "enabled": target.enabled,
        "status": target.status,
        "attention": target.attention,
        "created_at": target.created_at.isoformat(),
        "updated_at": target.updated_at.isoformat(),
    }


async def check(
    db: AsyncSession, target: Target, secret_key: str, site: dict[str, Any]
) -> tuple[bool, str]:
    """The "send test" button: whether the target works, in a sentence. Success clears
    "needs attention"; for Mastodon it also reads the instance's character limit."""
    from community_crosspost import networks

    creds = secrets_of(target, secret_key)
    hosts = _allowed_hosts()
    await db.commit()  # no transaction held while the network answers
    try:
        detail = await networks.check(target, creds, hosts, str(site.get("name") or "community"))
        if target.kind == "mastodon":
            limits = await networks.mastodon_limits(target, hosts)
            target.config = {**target.config, **limits}
    except networks.Failed as failure:
        return False, failure.outcome.reason
    target.status, target.attention, target.updated_at = OK, "", utcnow()
    await db.commit()
    return True, detail
