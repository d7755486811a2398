"""Talking to each network: post a share, check a target ("send test"), edit and delete a
post where the network allows it (Mastodon, Discord). Every call checks its URL first
(``outbound.check_url``: https to a public address, unless the host is allowed), follows no
redirect, has timeouts, and turns the answer into an ``outbound.Outcome``: anything but a
success raises ``Failed`` with it, so the caller retries transient errors and stops at
permanent ones. Secrets (``creds``) go only into the request, never into a reason."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from community_crosspost import outbound
from community_crosspost.models import Target
from community_crosspost.render import Rendered

TIMEOUT = 10.0
"""Seconds each call to a network may take, in every phase."""


class Failed(Exception):
    """A call that did not succeed, and how (transient or permanent, with the reason)."""

    def __init__(self, outcome: outbound.Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


@dataclass(frozen=True)
class Posted:
    remote_id: str = ""
    remote_url: str = ""
    session: str | None = None
    """A network session to keep for the next post (Bluesky's), when it changed."""


async def call(
    method: str,
    url: str,
    hosts: frozenset[str],
    *,
    json_body: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One request, checked and classified: the response when it succeeded, else Failed."""
    try:
        checked = await outbound.check_url(url, allowed_hosts=hosts, resolve=False)
    except outbound.OutboundError as error:
        raise Failed(outbound.Outcome("permanent", None, None, error.reason)) from None
    try:
        async with outbound.client(TIMEOUT, allowed_hosts=hosts) as http:
            response = await http.request(
                method, checked, json=json_body, content=content, headers=headers
            )
    except (httpx.HTTPError, outbound.OutboundError) as error:
        raise Failed(outbound.classify(None, error)) from None
    outcome = outbound.classify(response)
    if outcome.kind != "sent":
        raise Failed(outcome)
    return response


def as_json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# -- Mastodon ----------------------------------------------------------------------------------


def _mastodon(target: Target, creds: dict[str, str], path: str) -> tuple[str, dict[str, str]]:
    """The URL of ``path`` on the target's instance, and the token's header."""
    if not creds.get("access_token"):
        raise Failed(
            outbound.Outcome(
                "permanent",
                None,
                None,
                "Not connected: connect the target to Mastodon or paste an access token.",
            )
        )
    base = str(target.config["instance_url"]).rstrip("/")
    return f"{base}{path}", {"Authorization": f"Bearer {creds['access_token']}"}


async def mastodon_limits(target: Target, hosts: frozenset[str]) -> dict[str, int]:
    """The instance's character limit and what a link counts (``/api/v2/instance``), or the
    defaults (500, 23) when it does not say."""
    url = str(target.config["instance_url"]).rstrip("/") + "/api/v2/instance"
    body = as_json(await call("GET", url, hosts))
    statuses = (body.get("configuration") or {}).get("statuses") or {}
    limit = statuses.get("max_characters")
    per_url = statuses.get("characters_reserved_per_url")
    return {
        "char_limit": limit if isinstance(limit, int) and limit >= 100 else 500,
        "url_length": per_url if isinstance(per_url, int) and per_url > 0 else 23,
    }


# -- posting -----------------------------------------------------------------------------------


async def _post(
    target: Target, creds: dict[str, str], rendered: Rendered, key: str, hosts: frozenset[str]
) -> Posted:
    if target.kind == "mastodon":
        url, headers = _mastodon(target, creds, "/api/v1/statuses")
        response = await call(
            "POST",
            url,
            hosts,
            json_body=rendered.payload,
            headers={**headers, "Idempotency-Key": key},
        )
        body = as_json(response)
        return Posted(str(body.get("id", "")), str(body.get("url") or body.get("uri") or ""))
    if target.kind == "bluesky":
        return await bluesky_post(target, creds, rendered, hosts)
    if target.kind == "discord":
        response = await call(
            "POST",
            _with_query(creds["webhook_url"], "wait=true"),
            hosts,
            json_body=rendered.payload,
        )
        return Posted(str(as_json(response).get("id", "")), "")
    if target.kind == "slack":
        await call("POST", creds["webhook_url"], hosts, json_body=rendered.payload)
        return Posted()
    if target.kind == "webhook":
        await signed(creds, rendered.payload, key, hosts)
        return Posted()
    raise Failed(
        outbound.Outcome("permanent", None, None, f"Posting to {target.kind} is not supported.")
    )


async def signed(
    creds: dict[str, str], payload: dict[str, Any], key: str, hosts: frozenset[str]
) -> httpx.Response:
    """POST ``payload`` to a webhook signed the Standard Webhooks way (``webhook-id``,
    ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    now = datetime.now(UTC)
    signature = Webhook(creds["signing_secret"]).sign(key, now, body)
    headers = {
        "content-type": "application/json",
        "webhook-id": key,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return await call("POST", creds["url"], hosts, content=body.encode(), headers=headers)


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


# -- editing and deleting ----------------------------------------------------------------------

EDITABLE = ("mastodon", "discord")
"""The networks whose posts can be changed or removed later."""


async def _edit(
    target: Target, creds: dict[str, str], remote_id: str, rendered: Rendered, hosts: frozenset[str]
) -> None:
    if target.kind == "mastodon":
        url, headers = _mastodon(target, creds, f"/api/v1/statuses/{remote_id}")
        await call(
            "PUT", url, hosts, json_body={"status": rendered.payload["status"]}, headers=headers
        )
    elif target.kind == "discord":
        url = _message_url(creds["webhook_url"], remote_id)
        await call("PATCH", url, hosts, json_body=rendered.payload)


async def _delete(
    target: Target, creds: dict[str, str], remote_id: str, hosts: frozenset[str]
) -> None:
    if target.kind == "mastodon":
        url, headers = _mastodon(target, creds, f"/api/v1/statuses/{remote_id}")
        await call("DELETE", url, hosts, headers=headers)
    elif target.kind == "discord":
        await call("DELETE", _message_url(creds["webhook_url"], remote_id), hosts)


def _message_url(webhook_url: str, message_id: str) -> str:
    base = webhook_url.split("?", 1)[0].rstrip("/")
    return f"{base}/messages/{message_id}"


# -- send test -------------------------------------------------------------------------------


async def _check(target: Target, creds: dict[str, str], hosts: frozenset[str], site: str) -> str:
    """Whether the target works, said in a sentence; Failed when it does not. Mastodon and
    Discord are asked who the credentials belong to (nothing is posted); Slack and a
    signed webhook get a test message."""
    if target.kind == "mastodon":
        url, headers = _mastodon(target, creds, "/api/v1/accounts/verify_credentials")
        account = as_json(await call("GET", url, hosts, headers=headers))
        return f"Connected as @{account.get('acct', '?')}."
    if target.kind == "bluesky":
        await _bluesky(target, creds, hosts)
        return f"Signed in to Bluesky as @{target.config.get('handle', '?')}."
    if target.kind == "discord":
        hook = as_json(await call("GET", creds["webhook_url"], hosts))
        return f"Connected to the Discord webhook {hook.get('name', '?')}."
    if target.kind == "slack":
        text = f"A test from {site}: shares will appear here."
        await call("POST", creds["webhook_url"], hosts, json_body={"text": text})
        return "The test message was accepted by Slack."
    if target.kind == "webhook":
        await signed(creds, {"type": "test", "data": {"site": site}}, _test_id(), hosts)
        return "The signed test event was accepted."
    raise Failed(outbound.Outcome("permanent", None, None, f"{target.kind} cannot be tested."))


def _test_id() -> str:
    import secrets

    return "test_" + secrets.token_hex(12)


# -- Bluesky (atproto) -------------------------------------------------------------------------


@dataclass
class _Bluesky:
    client: Any
    sessions: list[str]
    """Session strings the client made (a sign-in or a refresh), newest last."""


async def _bluesky(target: Target, creds: dict[str, str], hosts: frozenset[str]) -> _Bluesky:
    """A client signed in to the target's service: with the kept session when there is one
    (atproto refreshes it as it ages), else with the handle and app password."""
    from atproto import AsyncClient
    from atproto_client.request import AsyncRequest

    try:
        service = await outbound.check_url(
            str(target.config["service"]), allowed_hosts=hosts, resolve=False
        )
    except outbound.OutboundError as error:
        raise Failed(outbound.Outcome("permanent", None, None, error.reason)) from None
    request = AsyncRequest(timeout=TIMEOUT, trust_env=False, transport=outbound.Transport(hosts))
    request._client.follow_redirects = False  # atproto follows redirects unless told not to
    made = _Bluesky(AsyncClient(base_url=service, request=request), [])

    def keep(event: Any, session: Any) -> None:
        made.sessions.append(session.encode())

    made.client.on_session_change(keep)
    if creds.get("session"):
        try:
            await made.client.login(session_string=creds["session"], fetch_bsky_profile=False)
            return await _checked_pds(made, hosts)
        except Failed:
            raise
        except Exception:  # a session gone stale: sign in again
            made.sessions.clear()
    try:
        await made.client.login(
            target.config["handle"], creds["app_password"], fetch_bsky_profile=False
        )
    except Exception as error:
        raise Failed(_atproto_outcome(error, creds)) from None
    return await _checked_pds(made, hosts)


async def _checked_pds(made: _Bluesky, hosts: frozenset[str]) -> _Bluesky:
    """The service may send the client on to the account's own server (its PDS, named in
    the session): that address passes the same outbound check before anything goes there."""
    base = str(made.client._base_url).removesuffix("/xrpc")
    try:
        await outbound.check_url(base, allowed_hosts=hosts)
    except outbound.OutboundError as error:
        raise Failed(
            outbound.Outcome("permanent", None, None, f"The account's server: {error.reason}")
        ) from None
    return made


async def bluesky_post(
    target: Target, creds: dict[str, str], rendered: Rendered, hosts: frozenset[str]
) -> Posted:
    """Create the post record; the answer carries the session to keep when it changed."""
    made = await _bluesky(target, creds, hosts)
    client = made.client
    record = {**rendered.payload, "createdAt": client.get_current_time_iso()}
    try:
        answer = await client.com.atproto.repo.create_record(
            {"repo": client._session.did, "collection": "app.bsky.feed.post", "record": record}
        )
    except Exception as error:
        raise Failed(_atproto_outcome(error, creds)) from None
    rkey = answer.uri.rsplit("/", 1)[-1]
    handle = client._session.handle or target.config.get("handle", "")
    return Posted(
        answer.uri,
        f"https://bsky.app/profile/{handle}/post/{rkey}",
        made.sessions[-1] if made.sessions else None,
    )


def _atproto_outcome(error: Exception, creds: dict[str, str]) -> outbound.Outcome:
    """An atproto error as an Outcome: by the status of its response, when one arrived."""
    response = getattr(error, "response", None)
    if response is None:
        return outbound.classify(None, error)
    content = getattr(response, "content", b"")
    rebuilt = httpx.Response(
        response.status_code,
        headers=dict(getattr(response, "headers", None) or {}),
        content=content if isinstance(content, bytes) else json.dumps(content).encode(),
    )
    return outbound.classify(rebuilt, secrets=[v for v in creds.values() if v])


# -- the entry points: every reason a failure gives is said without the target's secrets ------


def _hidden(failure: Failed, creds: dict[str, str]) -> Failed:
    """``failure`` with the target's secrets blanked out of its reason."""
    reason = failure.outcome.reason
    for value in creds.values():
        if isinstance(value, str) and len(value) >= 4:
            reason = reason.replace(value, "[secret]")
    return Failed(dataclasses.replace(failure.outcome, reason=reason))


async def post(
    target: Target, creds: dict[str, str], rendered: Rendered, key: str, hosts: frozenset[str]
) -> Posted:
    """Send ``rendered`` to the target; ``key`` is the delivery's idempotency key (Mastodon's
    ``Idempotency-Key``, a signed webhook's ``webhook-id``)."""
    try:
        return await _post(target, creds, rendered, key, hosts)
    except Failed as failure:
        raise _hidden(failure, creds) from None


async def edit(
    target: Target, creds: dict[str, str], remote_id: str, rendered: Rendered, hosts: frozenset[str]
) -> None:
    try:
        await _edit(target, creds, remote_id, rendered, hosts)
    except Failed as failure:
        raise _hidden(failure, creds) from None


async def delete(
    target: Target, creds: dict[str, str], remote_id: str, hosts: frozenset[str]
) -> None:
    try:
        await _delete(target, creds, remote_id, hosts)
    except Failed as failure:
        raise _hidden(failure, creds) from None


async def check(target: Target, creds: dict[str, str], hosts: frozenset[str], site: str) -> str:
    """Whether the target works, said in a sentence; Failed when it does not."""
    try:
        return await _check(target, creds, hosts, site)
    except Failed as failure:
        raise _hidden(failure, creds) from None
