"""Outbound safety: every call the plugin makes to a network goes through here.

``check_url`` refuses a URL that could reach the instance's own network (a private, loopback,
link-local or otherwise non-public address), plain http, or a user name in the URL, unless an
admin named the host in the "allowed hosts" setting. ``client`` builds an HTTP client that
follows no redirects, times out every call and makes the same address check when it connects:
it resolves the name itself and connects to the address it checked, so a DNS answer that
changes after ``check_url`` (DNS rebinding) cannot lead it to a non-public address; it raises
OutboundError instead. TLS still verifies the certificate against the name. ``classify`` sorts
a response or an error into sent, transient (try again later) or permanent (stop and tell an
admin), and ``backoff`` says how long to wait before the next attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import ipaddress
import random
import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpcore
import httpx

USER_AGENT = "community-crosspost/0.1"
MAX_URL_LENGTH = 2048
MAX_RETRY_AFTER = 3600.0
EXCERPT_LENGTH = 200
DEFAULT_PORTS = {"http": 80, "https": 443}
# Reset headers above this are Unix times (Bluesky, Discord); below it, seconds from now.
EPOCH_THRESHOLD = 1_000_000_000
# Parts of a request shorter than this are not worth hiding (and would blank out common words).
MIN_SECRET_LENGTH = 16
SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "webhook-signature", "x-api-key"})
TRANSIENT_STATUSES = frozenset({408, 429})

_NUMBER = re.compile(r"\d+(\.\d+)?")
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|\d+")
_TAG = re.compile(r"<[^>]*>")
_RANDOM = random.Random()

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundError(Exception):
    """A URL the plugin refuses to call; ``reason`` says why, in words an admin understands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- URL checks


async def check_url(
    url: str, *, allowed_hosts: frozenset[str] = frozenset(), resolve: bool = True
) -> str:
    """Return the URL normalised, or raise OutboundError when it may not be called. With
    ``resolve`` false the name is not looked up here: for a URL about to be called through
    ``client``, which checks the addresses as it connects (a second lookup would be wasted)."""
    parts = _split(url)
    host = _host(parts)
    allowed = _is_allowed(host, allowed_hosts)
    if parts.scheme == "http" and not allowed:
        raise OutboundError(
            f"plain http is refused for {host}: use https, or add the host to the allowed hosts"
        )
    if resolve and not allowed:
        await _check_addresses(host, parts.port or DEFAULT_PORTS[parts.scheme])
    return _normalise(parts, host)


def _split(url: str) -> SplitResult:
    """Split the URL, refusing what is not a plain http(s) URL without credentials."""
    if len(url) > MAX_URL_LENGTH:
        raise OutboundError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise OutboundError("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # reading the port raises ValueError when it is out of range
    except ValueError as exc:
        raise OutboundError(f"the URL is malformed: {exc}") from exc
    if parts.scheme not in DEFAULT_PORTS:
        given = f" (not {parts.scheme}:)" if parts.scheme else ""
        raise OutboundError(f"the URL must start with https://{given}")
    if "@" in parts.netloc:
        raise OutboundError("the URL must not contain a user name or password")
    return parts


def _host(parts: SplitResult) -> str:
    """The URL's host, canonical; numbers that only look like addresses are refused."""
    if not parts.hostname:
        raise OutboundError("the URL has no host")
    host = _canonical_host(parts.hostname)
    last_label = host.rsplit(".", 1)[-1]
    if _ip(host) is None and _NUMERIC_LABEL.fullmatch(last_label):
        raise OutboundError(
            f"the host {host} is a number in an unusual form: write an IPv4 address as "
            "four decimal numbers, or use the host's name"
        )
    return host


def _is_allowed(host: str, allowed_hosts: frozenset[str]) -> bool:
    """Whether the canonical host is one of the allowed hosts."""
    return host in {_allowed_host(h) for h in allowed_hosts if h.strip()}


def _allowed_host(entry: str) -> str:
    """An entry of the allowed hosts, canonical and without a port ("localhost:8080")."""
    entry = entry.strip()
    if entry.count(":") == 1:
        entry = entry.split(":", 1)[0]
    elif entry.startswith("[") and "]:" in entry:
        entry = entry.split("]:", 1)[0]
    return _canonical_host(entry)


def _canonical_host(host: str) -> str:
    """Lower-case the host, drop brackets and a trailing dot, write an IP address one way."""
    host = host.strip().lower().strip("[]").rstrip(".")
    address = _ip(host)
    return str(address) if address is not None else host


def _ip(host: str) -> IPAddress | None:
    """The host as an IP address, or None when it is a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def _check_addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses the host is or resolves to; OutboundError when any is not public."""
    literal = _ip(host)
    addresses = [literal] if literal is not None else await _resolve(host, port)
    for address in addresses:
        if not is_public(address):
            raise OutboundError(
                f"{host} points to {address}, which is not a public address; "
                "add the host to the allowed hosts to reach it"
            )
    return addresses


async def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host name resolves to."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise OutboundError(f"the host {host} does not resolve") from exc
    addresses = [_ip(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses or None in addresses:
        raise OutboundError(f"the host {host} does not resolve to a usable address")
    return [a for a in addresses if a is not None]


def is_public(address: IPAddress) -> bool:
    """Whether the address is on the public internet (an IPv4 inside IPv6 is checked itself)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _normalise(parts: SplitResult, host: str) -> str:
    """Rebuild the URL: lower-case scheme and host, no default port, no fragment."""
    netloc = f"[{host}]" if ":" in host else host
    netloc = netloc.replace("%", "%25")
    if parts.port is not None and parts.port != DEFAULT_PORTS[parts.scheme]:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


# ---------------------------------------------------------------- HTTP client


def client(
    timeout: float = 10.0, *, allowed_hosts: frozenset[str] = frozenset()
) -> httpx.AsyncClient:
    """An HTTP client that follows no redirects, times out every call, ignores proxy settings
    and connects only to public addresses, or to the allowed hosts."""
    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": USER_AGENT},
        trust_env=False,
        transport=Transport(allowed_hosts),
    )


class Transport(httpx.AsyncHTTPTransport):
    """httpx's own transport, its connections opened by a ``CheckedBackend``."""

    def __init__(self, allowed_hosts: frozenset[str] = frozenset()) -> None:
        super().__init__(trust_env=False)
        # httpx takes no network backend, so its pool (a private attribute) is replaced by one
        # built the same way with ours; refuse to run without it if httpx ever renames it.
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("this httpx version keeps its connection pool elsewhere")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=100,  # httpx's defaults
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=CheckedBackend(allowed_hosts),
        )


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """Opens connections only to addresses ``_check_addresses`` accepted (any address for the
    allowed hosts): the name is resolved once, here, and the socket goes to what was checked."""

    def __init__(self, allowed_hosts: frozenset[str] = frozenset()) -> None:
        self.allowed_hosts = allowed_hosts
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore calls it so)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """A connection to the host, made to a checked address; OutboundError when refused."""
        connect = functools.partial(
            self.inner.connect_tcp,
            port=port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )
        canonical = _canonical_host(host)
        if _is_allowed(canonical, self.allowed_hosts):
            return await connect(host)
        try:
            async with asyncio.timeout(timeout):
                addresses = await _check_addresses(canonical, port)
        except TimeoutError as error:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from error
        *others, last = dict.fromkeys(addresses)  # in the resolver's order, the next on failure
        for address in others:
            with contextlib.suppress(httpcore.ConnectError):
                return await connect(str(address))
        return await connect(str(last))

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore calls it so)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Refused: the plugin only calls out over TCP."""
        raise OutboundError("connecting to a unix socket is refused")

    async def sleep(self, seconds: float) -> None:
        """Wait between connection retries, as httpcore's own backend does."""
        await self.inner.sleep(seconds)


# ---------------------------------------------------------------- outcomes


@dataclass
class Outcome:
    """What became of one delivery attempt."""

    kind: Literal["sent", "transient", "permanent"]
    status: int | None
    retry_after: float | None
    reason: str


def classify(
    response: httpx.Response | None,
    error: Exception | None = None,
    *,
    secrets: Iterable[str] = (),
    now: float | None = None,
) -> Outcome:
    """Sort a response, or the error raised instead of one, into sent, transient or permanent.

    ``secrets`` are extra strings (passwords, tokens) to hide from the reason; the request's
    URL path, query and credential headers are hidden anyway.
    """
    if response is None:
        return _classify_error(error, secrets)
    status = response.status_code
    line = f"{status} {response.reason_phrase}".strip()
    if 200 <= status < 300:
        return Outcome("sent", status, None, line)
    if 300 <= status < 400:
        return Outcome("permanent", status, None, f"{line}: redirects are not followed")
    reason = _reason(line, response, secrets)
    if status in TRANSIENT_STATUSES or 500 <= status < 600:
        return Outcome("transient", status, _wait(response, now), reason)
    return Outcome("permanent", status, None, reason)


def _classify_error(error: Exception | None, secrets: Iterable[str]) -> Outcome:
    """Timeouts and connection errors are transient; anything else is permanent."""
    if error is None:
        raise ValueError("classify needs a response or an error")
    if isinstance(error, OutboundError):
        return Outcome("permanent", None, None, error.reason)
    message = _redact(str(error), _secrets_of(error, secrets))
    reason = _excerpt(f"{type(error).__name__}: {message}" if message else type(error).__name__)
    transient = isinstance(error, httpx.TransportError | TimeoutError | ConnectionError)
    if transient and not isinstance(error, httpx.UnsupportedProtocol):
        return Outcome("transient", None, None, reason)
    return Outcome("permanent", None, None, reason)


def _reason(line: str, response: httpx.Response, secrets: Iterable[str]) -> str:
    """The status line and a short excerpt of the body, with the request's secrets hidden."""
    try:
        text = response.text
    except httpx.ResponseNotRead:
        return line
    if "html" in response.headers.get("content-type", ""):
        text = _TAG.sub(" ", text)
    excerpt = _excerpt(_redact(text, _secrets_of(response, secrets)))
    return f"{line}: {excerpt}" if excerpt else line


def _excerpt(text: str) -> str:
    """The text on one line, at most EXCERPT_LENGTH characters."""
    text = " ".join(text.split())
    if len(text) <= EXCERPT_LENGTH:
        return text
    return text[: EXCERPT_LENGTH - 1].rstrip() + "…"


def _secrets_of(source: httpx.Response | Exception, extra: Iterable[str]) -> set[str]:
    """Strings to hide: the caller's secrets and the credential-looking parts of the request."""
    found = {s for s in extra if s}
    request = _request_of(source)
    if request is None:
        return found
    parts = [str(request.url), *request.url.path.split("/")]
    parts += [value for _, value in request.url.params.multi_items()]
    for name, value in request.headers.items():
        if name.lower() in SENSITIVE_HEADERS:
            parts += [value, *value.split()]
    return found | {p for p in parts if len(p) >= MIN_SECRET_LENGTH}


def _request_of(source: httpx.Response | Exception) -> httpx.Request | None:
    """The request behind a response or an httpx error, when it is known."""
    if not isinstance(source, httpx.Response | httpx.RequestError):
        return None
    try:
        return source.request
    except RuntimeError:
        return None


def _redact(text: str, secrets: set[str]) -> str:
    """Replace every secret in the text, longest first."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text


# ---------------------------------------------------------------- waiting


def _wait(response: httpx.Response, now: float | None) -> float | None:
    """Seconds the server asks us to wait, capped at an hour, or None when it does not say."""
    now = time.time() if now is None else now
    seconds = _parse_retry_after(response.headers.get("retry-after", ""), now)
    if seconds is None and response.status_code == 429:
        seconds = _rate_limit_reset(response.headers, now)
    return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


def _parse_retry_after(value: str, now: float) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date."""
    value = value.strip()
    if not value:
        return None
    if _NUMBER.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return _seconds_until(when, now)


def _rate_limit_reset(headers: httpx.Headers, now: float) -> float | None:
    """A 429 without Retry-After: the networks' own reset headers (Discord, Bluesky, Mastodon)."""
    after = headers.get("x-ratelimit-reset-after", "").strip()
    if _NUMBER.fullmatch(after):
        return float(after)
    for name in ("ratelimit-reset", "x-ratelimit-reset"):
        seconds = _parse_reset(headers.get(name, "").strip(), now)
        if seconds is not None:
            return seconds
    return None


def _parse_reset(value: str, now: float) -> float | None:
    """A reset header as seconds: a Unix time, seconds from now, or an ISO 8601 time."""
    if _NUMBER.fullmatch(value):
        number = float(value)
        return max(0.0, number - now) if number > EPOCH_THRESHOLD else number
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return _seconds_until(when, now)


def _seconds_until(when: datetime, now: float) -> float:
    """Seconds from now until the given time (UTC when it names no zone), at least 0."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def backoff(
    attempt: int,
    retry_after: float | None,
    *,
    base: float = 30,
    cap: float = 3600,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential, capped, with "equal
    jitter" (between half the ceiling and the ceiling, so retries spread out yet the waits
    add up to a known least: 12 attempts keep trying for at least 2.5 hours), and never less
    than what the server asked for."""
    if attempt < 1:
        raise ValueError("attempts are counted from 1")
    ceiling = min(cap, base * 2 ** min(attempt - 1, 64))
    delay = (rng or _RANDOM).uniform(ceiling / 2, ceiling)
    return delay if retry_after is None else max(delay, retry_after)
