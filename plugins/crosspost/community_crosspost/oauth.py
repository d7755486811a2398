"""Connecting a Mastodon target with the OAuth app flow instead of a pasted token: the plugin
registers an app on the instance (once per target; its client id and secret are sealed with
the target's secrets), sends the admin to the instance to authorise it, and on the way back
trades the code for an access token, sealed as if it had been pasted. The ``state`` sent
along is random, kept in the admin's session and checked on return."""

from __future__ import annotations

import secrets as random_secrets
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.db import utcnow
from community.errors import ServiceError
from community_crosspost import networks, secrets, targets
from community_crosspost.models import OK, Target

SCOPES = "read:accounts write:statuses"
CALLBACK = "/p/crosspost/oauth/mastodon/callback"


def bad(detail: str) -> ServiceError:
    return ServiceError("oauth_failed", detail, 400)


def _base(target: Target) -> str:
    return str(target.config["instance_url"]).rstrip("/")


async def start(
    db: AsyncSession, target: Target, secret_key: str, base_url: str, site_name: str
) -> tuple[str, str]:
    """The instance's authorisation URL for ``target`` and the state to keep in the session;
    registers the app on the instance first when the target has none. Commits."""
    if target.kind != "mastodon":
        raise bad("Only Mastodon targets connect with OAuth.")
    hosts = plugins.settings("crosspost").hosts()
    stored = targets.secrets_of(target, secret_key)
    redirect_uri = base_url + CALLBACK
    if not stored.get("client_id") or stored.get("redirect_uri") != redirect_uri:
        await db.commit()  # no transaction held while the instance answers
        try:
            response = await networks.call(
                "POST",
                _base(target) + "/api/v1/apps",
                hosts,
                json_body={
                    "client_name": site_name,
                    "redirect_uris": redirect_uri,
                    "scopes": SCOPES,
                    "website": base_url,
                },
            )
        except networks.Failed as failure:
            raise bad(f"The instance did not register the app: {failure.outcome.reason}") from None
        app = networks.as_json(response)
        if not app.get("client_id") or not app.get("client_secret"):
            raise bad("The instance answered without a client id and secret.")
        stored.update(
            client_id=str(app["client_id"]),
            client_secret=str(app["client_secret"]),
            redirect_uri=redirect_uri,
        )
        targets.store_secrets(target, stored, secret_key)
        await db.commit()
    state = random_secrets.token_urlsafe(24)
    query = urlencode(
        {
            "client_id": stored["client_id"],
            "scope": SCOPES,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "state": state,
        }
    )
    return f"{_base(target)}/oauth/authorize?{query}", state


async def finish(db: AsyncSession, target: Target, code: Any, secret_key: str) -> Target:
    """Trade the authorisation ``code`` for an access token and keep it (sealed); commits."""
    if not isinstance(code, str) or not code or len(code) > 500:
        raise bad("The instance sent no authorisation code back.")
    stored = targets.secrets_of(target, secret_key)
    if not stored.get("client_id"):
        raise bad("This target has no registered app: connect again.")
    await db.commit()  # no transaction held while the instance answers
    try:
        response = await networks.call(
            "POST",
            _base(target) + "/oauth/token",
            plugins.settings("crosspost").hosts(),
            json_body={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": stored["client_id"],
                "client_secret": stored["client_secret"],
                "redirect_uri": stored["redirect_uri"],
                "scope": SCOPES,
            },
        )
    except networks.Failed as failure:
        raise bad(f"The instance refused the code: {failure.outcome.reason}") from None
    token = networks.as_json(response).get("access_token")
    if not isinstance(token, str) or not token:
        raise bad("The instance answered without an access token.")
    stored["access_token"] = token
    targets.store_secrets(target, stored, secret_key)
    target.secret_hint = secrets.hint(token)
    target.status, target.attention, target.updated_at = OK, "", utcnow()
    await db.commit()
    return target
