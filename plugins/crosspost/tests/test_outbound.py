"""Outbound safety: which URLs may be called, how responses are sorted, how long to wait."""

from __future__ import annotations

import asyncio
import random
import socket
from datetime import UTC, datetime
from email.utils import format_datetime

import httpcore
import httpx
import pytest
from community_crosspost.outbound import (
    CheckedBackend,
    OutboundError,
    backoff,
    check_url,
    classify,
    client,
)

NOW = 1_800_000_000.0  # a fixed "now" for Retry-After dates


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Answer getaddrinfo from a table instead of the network; return the names looked up."""
    asked: list[str] = []

    async def getaddrinfo(host, port, *, family=0, type=0, proto=0, flags=0):
        asked.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    return asked


async def refused(url: str, **kwargs) -> str:
    with pytest.raises(OutboundError) as info:
        await check_url(url, **kwargs)
    assert str(info.value) == info.value.reason
    return info.value.reason


# ---------------------------------------------------------------- check_url


async def test_public_ip_literal_with_https_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = fake_dns(monkeypatch, {})
    assert await check_url("https://93.184.216.34/hook") == "https://93.184.216.34/hook"
    assert asked == []


async def test_public_name_is_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = fake_dns(monkeypatch, {"mastodon.example": ["93.184.216.34", "2606:2800:220:1::"]})
    url = "HTTPS://Mastodon.Example.:443/api/v1?x=1#top"
    assert await check_url(url) == "https://mastodon.example/api/v1?x=1"
    assert asked == ["mastodon.example"]


async def test_other_port_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"hooks.example": ["93.184.216.34"]})
    assert await check_url("https://hooks.example:8443/in") == "https://hooks.example:8443/in"


async def test_name_with_one_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"rebind.example": ["93.184.216.34", "10.1.2.3"]})
    reason = await refused("https://rebind.example/")
    assert reason == (
        "rebind.example points to 10.1.2.3, which is not a public address; "
        "add the host to the allowed hosts to reach it"
    )


async def test_name_resolving_to_mapped_private_ipv6_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"sneaky.example": ["::ffff:192.168.0.7"]})
    reason = await refused("https://sneaky.example/")
    assert reason.startswith("sneaky.example points to ::ffff:c0a8:7, which is not a public")


async def test_name_that_does_not_resolve_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {})
    assert await refused("https://nowhere.invalid/") == "the host nowhere.invalid does not resolve"


async def test_localhost_is_refused() -> None:
    reason = await refused("https://localhost/hook")
    assert reason.startswith("localhost points to ")
    assert "not a public address" in reason


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:8080/",
        "https://[::1]/",
        "https://10.0.0.1/",
        "https://172.16.5.4/",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://0.0.0.0/",
        "https://[::]/",
        "https://224.0.0.1/",
        "https://240.0.0.1/",
        "https://100.64.0.1/",
        "https://[fe80::1]/",
        "https://[fc00::1]/",
        "https://[ff02::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[2002:a00:1::]/",
    ],
)
async def test_non_public_ip_literals_are_refused(url: str) -> None:
    assert "which is not a public address" in await refused(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://2130706433/",
        "http://2130706433/",
        "https://0x7f000001/",
        "https://127.1/",
        "https://017700000001/",
        "https://0177.0.0.1/",
        "https://1.2.3.4.5/",
    ],
)
async def test_numbers_in_unusual_forms_are_refused(url: str) -> None:
    assert "is a number in an unusual form" in await refused(url)


async def test_http_is_refused_even_for_a_public_address() -> None:
    reason = await refused("http://93.184.216.34/")
    assert reason == (
        "plain http is refused for 93.184.216.34: use https, or add the host to the allowed hosts"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://93.184.216.34/", "the URL must start with https:// (not ftp:)"),
        ("file:///etc/passwd", "the URL must start with https:// (not file:)"),
        ("93.184.216.34/hook", "the URL must start with https://"),
        ("https:///path", "the URL has no host"),
        ("https://user:pw@93.184.216.34/", "the URL must not contain a user name or password"),
        ("https://token@93.184.216.34/", "the URL must not contain a user name or password"),
        ("https://93.184.216.34:99999/", "the URL is malformed: Port out of range 0-65535"),
        ("https://[::1/", "the URL is malformed: Invalid IPv6 URL"),
        ("https://93.184.216.34/a b", "the URL contains spaces or control characters"),
        ("https://93.184.216.34/\n", "the URL contains spaces or control characters"),
        ("https://93.184.216.34/" + "a" * 2048, "the URL is longer than 2048 characters"),
    ],
)
async def test_malformed_urls_are_refused(url: str, reason: str) -> None:
    assert await refused(url) == reason


@pytest.mark.parametrize(
    ("url", "allowed", "expected"),
    [
        ("http://127.0.0.1:8080/x", {"127.0.0.1"}, "http://127.0.0.1:8080/x"),
        ("http://LOCALHOST:3000/api", {"localhost"}, "http://localhost:3000/api"),
        ("http://localhost:3000/api", {"LocalHost:8080"}, "http://localhost:3000/api"),
        ("http://[::1]:8080/", {"::1"}, "http://[::1]:8080/"),
        ("https://[0:0::1]/", {"[::1]"}, "https://[::1]/"),
        ("https://10.0.0.5/hook", {" 10.0.0.5 "}, "https://10.0.0.5/hook"),
    ],
)
async def test_allowed_hosts_may_be_private_and_plain_http(
    url: str, allowed: set[str], expected: str
) -> None:
    assert await check_url(url, allowed_hosts=frozenset(allowed)) == expected


async def test_allowed_host_is_not_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = fake_dns(monkeypatch, {})
    allowed = frozenset({"mastodon.test"})
    assert (
        await check_url("http://mastodon.test/", allowed_hosts=allowed) == "http://mastodon.test/"
    )
    assert asked == []


async def test_allowing_one_host_does_not_allow_another() -> None:
    allowed = frozenset({"127.0.0.1"})
    assert "plain http is refused" in await refused("http://127.0.0.2/", allowed_hosts=allowed)
    assert "not a public address" in await refused("https://127.0.0.2/", allowed_hosts=allowed)


async def test_allowed_hosts_still_need_a_sound_url() -> None:
    allowed = frozenset({"127.0.0.1"})
    reason = await refused("http://u:p@127.0.0.1/", allowed_hosts=allowed)
    assert reason == "the URL must not contain a user name or password"


# ---------------------------------------------------------------- client


async def test_client_follows_no_redirects_and_times_out() -> None:
    async with client(5.0) as http:
        assert http.follow_redirects is False
        assert http.timeout == httpx.Timeout(connect=5.0, read=5.0, write=5.0, pool=5.0)
        assert http.headers["User-Agent"] == "community-crosspost/0.1"
        assert http.trust_env is False


async def test_client_default_timeout_is_ten_seconds() -> None:
    async with client() as http:
        assert http.timeout == httpx.Timeout(10.0)


async def local_server() -> tuple[asyncio.Server, list[bytes]]:
    """An HTTP server on 127.0.0.1 that answers 200 to anything; return it and the head of
    each request it got (an empty one as soon as a connection opens)."""
    received: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(b"")
        received[-1] = await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0), received


async def test_client_refuses_a_name_rebound_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    server, received = await local_server()
    port = server.sockets[0].getsockname()[1]
    answers = [["93.184.216.34"], ["127.0.0.1"]]  # public when checked, loopback when connecting

    async def getaddrinfo(host, port, *, family=0, type=0, proto=0, flags=0):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers.pop(0)]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    async with server:
        url = await check_url(f"https://rebind.example:{port}/hook")
        async with client() as http:
            with pytest.raises(OutboundError) as info:
                await http.get(url)
    assert answers == []
    assert received == []
    assert info.value.reason == (
        "rebind.example points to 127.0.0.1, which is not a public address; "
        "add the host to the allowed hosts to reach it"
    )
    assert classify(None, info.value).kind == "permanent"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_client_connects_to_an_allowed_host(host: str) -> None:
    server, received = await local_server()
    port = server.sockets[0].getsockname()[1]
    async with server, client(allowed_hosts=frozenset({host})) as http:
        response = await http.get(f"http://{host}:{port}/hook")
    assert (response.status_code, response.text) == (200, "ok")
    assert received[0].startswith(b"GET /hook HTTP/1.1")


async def test_client_refuses_loopback_without_allowed_hosts() -> None:
    server, received = await local_server()
    port = server.sockets[0].getsockname()[1]
    async with server, client() as http:
        with pytest.raises(OutboundError, match="127.0.0.1 points to 127.0.0.1"):
            await http.get(f"http://127.0.0.1:{port}/")
    assert received == []


class FakeNetwork(httpcore.AsyncNetworkBackend):
    """Records where connections go and the name TLS is asked to verify; connects nowhere."""

    def __init__(self, unreachable: frozenset[str] = frozenset()) -> None:
        self.unreachable = unreachable
        self.calls: list[tuple[str, str]] = []

    async def connect_tcp(self, host, port, **options):
        self.calls.append(("connect", host))
        if host in self.unreachable:
            raise httpcore.ConnectError(f"{host} is unreachable")
        return FakeStream(self.calls)


class FakeStream(httpcore.AsyncNetworkStream):
    def __init__(self, calls: list[tuple[str, str]]) -> None:
        self.calls = calls

    async def start_tls(self, ssl_context, server_hostname=None, **options):
        self.calls.append(("tls", str(server_hostname)))
        raise httpcore.ConnectError("stop here")

    async def aclose(self) -> None:
        pass


async def test_backend_connects_to_the_checked_address_and_tls_checks_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"mastodon.example": ["2606:2800:220:1::", "93.184.216.34"]})
    backend = CheckedBackend()
    backend.inner = FakeNetwork(unreachable=frozenset({"2606:2800:220:1::"}))
    async with httpcore.AsyncConnectionPool(network_backend=backend) as pool:
        with pytest.raises(httpcore.ConnectError, match="stop here"):
            await pool.request("GET", "https://mastodon.example/api")
    assert backend.inner.calls == [
        ("connect", "2606:2800:220:1::"),
        ("connect", "93.184.216.34"),
        ("tls", "mastodon.example"),
    ]


# ---------------------------------------------------------------- classify


@pytest.mark.parametrize(
    ("status", "reason"), [(200, "200 OK"), (201, "201 Created"), (204, "204 No Content")]
)
def test_2xx_is_sent(status: int, reason: str) -> None:
    outcome = classify(httpx.Response(status))
    assert (outcome.kind, outcome.status, outcome.retry_after, outcome.reason) == (
        "sent",
        status,
        None,
        reason,
    )


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_3xx_is_permanent(status: int) -> None:
    response = httpx.Response(status, headers={"Location": "https://elsewhere.example/"})
    outcome = classify(response)
    assert outcome.kind == "permanent"
    assert outcome.status == status
    assert outcome.reason.endswith(": redirects are not followed")
    assert outcome.reason == f"{status} {response.reason_phrase}: redirects are not followed"


def test_429_with_retry_after_seconds() -> None:
    outcome = classify(httpx.Response(429, headers={"Retry-After": "120"}), now=NOW)
    assert (outcome.kind, outcome.status, outcome.retry_after) == ("transient", 429, 120.0)
    assert outcome.reason == "429 Too Many Requests"


def test_503_with_retry_after_date() -> None:
    when = datetime.fromtimestamp(NOW + 90, UTC)
    response = httpx.Response(503, headers={"Retry-After": format_datetime(when, usegmt=True)})
    outcome = classify(response, now=NOW)
    assert (outcome.kind, outcome.status, outcome.retry_after) == ("transient", 503, 90.0)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("0", 0.0),
        ("1.5", 1.5),
        ("3600", 3600.0),
        ("99999", 3600.0),
        (format_datetime(datetime.fromtimestamp(NOW + 7200, UTC), usegmt=True), 3600.0),
        (format_datetime(datetime.fromtimestamp(NOW - 60, UTC), usegmt=True), 0.0),
        ("soon", None),
        ("-5", None),
        ("", None),
    ],
)
def test_retry_after_is_read_and_capped(header: str, expected: float | None) -> None:
    outcome = classify(httpx.Response(503, headers={"Retry-After": header}), now=NOW)
    assert outcome.retry_after == expected


def test_retry_after_absent_is_none() -> None:
    assert classify(httpx.Response(502), now=NOW).retry_after is None
    assert classify(httpx.Response(429), now=NOW).retry_after is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-RateLimit-Reset-After": "2.5"}, 2.5),  # Discord
        ({"RateLimit-Reset": str(int(NOW) + 40)}, 40.0),  # Bluesky: a Unix time
        ({"RateLimit-Reset": "30"}, 30.0),  # IETF draft: seconds
        ({"X-RateLimit-Reset": "2027-01-15T08:01:00.000Z"}, 60.0),  # Mastodon: ISO 8601
        ({"Retry-After": "7", "X-RateLimit-Reset-After": "99"}, 7.0),
    ],
)
def test_429_falls_back_to_rate_limit_headers(headers: dict[str, str], expected: float) -> None:
    # NOW is 2027-01-15T08:00:00Z
    assert classify(httpx.Response(429, headers=headers), now=NOW).retry_after == expected


def test_5xx_ignores_rate_limit_headers() -> None:
    response = httpx.Response(503, headers={"X-RateLimit-Reset-After": "2.5"})
    assert classify(response, now=NOW).retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_5xx_and_408_are_transient(status: int) -> None:
    outcome = classify(httpx.Response(status, text="upstream down"))
    assert (outcome.kind, outcome.status) == ("transient", status)
    assert outcome.reason == f"{status} {httpx.codes.get_reason_phrase(status)}: upstream down"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422, 418, 451])
def test_4xx_is_permanent(status: int) -> None:
    outcome = classify(httpx.Response(status, headers={"Retry-After": "5"}))
    assert (outcome.kind, outcome.status, outcome.retry_after) == ("permanent", status, None)


def test_permanent_reason_has_a_body_excerpt() -> None:
    response = httpx.Response(401, json={"error": "The access token is invalid"})
    outcome = classify(response)
    assert outcome.reason == '401 Unauthorized: {"error":"The access token is invalid"}'


def test_body_excerpt_is_one_line_of_at_most_200_characters() -> None:
    outcome = classify(httpx.Response(422, text="bad\n\n  input " + "x" * 500))
    prefix = "422 Unprocessable Entity: "
    assert outcome.reason.startswith(prefix + "bad input xxx")
    assert len(outcome.reason) == len(prefix) + 200
    assert outcome.reason.endswith("x…")


def test_html_body_is_reduced_to_text() -> None:
    html = "<html><body><h1>404 Not Found</h1><hr><center>nginx</center></body></html>"
    response = httpx.Response(404, text=html, headers={"Content-Type": "text/html"})
    assert classify(response).reason == "404 Not Found: 404 Not Found nginx"


def test_request_secrets_never_appear_in_the_reason() -> None:
    token = "T0ken-abcdefghijklmnopqrstuvwxyz"
    bearer = "bearer-secret-0123456789abcdef"
    request = httpx.Request(
        "POST",
        f"https://discord.com/api/webhooks/123/{token}?key=querysecret-0123456789",
        headers={"Authorization": f"Bearer {bearer}"},
    )
    body = f"bad webhook {token}; auth {bearer}; q querysecret-0123456789; pw hunter2"
    response = httpx.Response(401, text=body, request=request)
    outcome = classify(response, secrets=["hunter2", ""])
    assert outcome.reason == (
        "401 Unauthorized: bad webhook [redacted]; auth [redacted]; q [redacted]; pw [redacted]"
    )


def test_short_url_parts_are_left_alone() -> None:
    request = httpx.Request("POST", "https://mastodon.example/api/v1/statuses")
    response = httpx.Response(422, text="Validation failed: Text can't be blank", request=request)
    assert (
        classify(response).reason
        == "422 Unprocessable Entity: Validation failed: Text can't be blank"
    )


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (httpx.ConnectTimeout("timed out"), "ConnectTimeout: timed out"),
        (httpx.ReadTimeout(""), "ReadTimeout"),
        (
            httpx.ConnectError("All connection attempts failed"),
            "ConnectError: All connection attempts failed",
        ),
        (
            httpx.RemoteProtocolError("Server disconnected"),
            "RemoteProtocolError: Server disconnected",
        ),
        (TimeoutError(), "TimeoutError"),
        (ConnectionResetError("reset by peer"), "ConnectionResetError: reset by peer"),
    ],
)
def test_timeouts_and_connection_errors_are_transient(error: Exception, reason: str) -> None:
    outcome = classify(None, error)
    assert (outcome.kind, outcome.status, outcome.retry_after, outcome.reason) == (
        "transient",
        None,
        None,
        reason,
    )


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (OutboundError("plain http is refused for x"), "plain http is refused for x"),
        (httpx.UnsupportedProtocol("bad scheme"), "UnsupportedProtocol: bad scheme"),
        (ValueError("oops"), "ValueError: oops"),
    ],
)
def test_other_errors_are_permanent(error: Exception, reason: str) -> None:
    outcome = classify(None, error)
    assert (outcome.kind, outcome.reason) == ("permanent", reason)


def test_error_message_secrets_are_hidden() -> None:
    token = "T0ken-abcdefghijklmnopqrstuvwxyz"
    request = httpx.Request("POST", f"https://hooks.example/services/{token}")
    error = httpx.ConnectError(f"cannot reach /services/{token}", request=request)
    assert classify(None, error).reason == "ConnectError: cannot reach /services/[redacted]"


def test_classify_needs_something() -> None:
    with pytest.raises(ValueError, match="a response or an error"):
        classify(None)


# ---------------------------------------------------------------- backoff


class Highest(random.Random):
    """A random source that always draws the top of the range."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_doubles_up_to_the_cap() -> None:
    waits = [backoff(attempt, None, rng=Highest()) for attempt in range(1, 10)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_backoff_with_seeded_rng_is_reproducible() -> None:
    assert backoff(3, None, rng=random.Random(7)) == random.Random(7).uniform(60, 120)
    assert backoff(3, None, rng=random.Random(7)) == backoff(3, None, rng=random.Random(7))


def test_backoff_stays_within_bounds_and_jitters() -> None:
    rng = random.Random(42)
    for attempt in range(1, 15):
        ceiling = min(3600, 30 * 2 ** (attempt - 1))
        waits = [backoff(attempt, None, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) == 200


def test_twelve_attempts_keep_trying_for_at_least_two_and_a_half_hours() -> None:
    waits = [backoff(attempt, None, rng=random.Random(attempt)) for attempt in range(1, 12)]
    assert sum(waits) >= 2.5 * 3600


def test_backoff_honours_retry_after() -> None:
    rng = random.Random(1)
    assert backoff(1, 500.0, rng=rng) == 500.0
    assert all(backoff(12, 5.0, rng=rng) >= 5.0 for _ in range(100))
    assert backoff(1, 0.0, rng=Highest()) == 30


def test_backoff_custom_base_and_cap() -> None:
    assert backoff(4, None, base=1, cap=5, rng=Highest()) == 5
    assert backoff(2, None, base=1, cap=5, rng=Highest()) == 2


def test_backoff_huge_attempt_does_not_overflow() -> None:
    assert backoff(10**6, None, rng=Highest()) == 3600


def test_backoff_counts_attempts_from_one() -> None:
    with pytest.raises(ValueError, match="counted from 1"):
        backoff(0, None)


async def test_a_call_refuses_a_private_answer_when_it_connects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from community_crosspost import networks

    asked = fake_dns(monkeypatch, {"hooks.example": ["10.1.2.3"]})
    with pytest.raises(networks.Failed) as info:
        await networks.call("POST", "https://hooks.example/x", frozenset(), json_body={})
    assert info.value.outcome.kind == "permanent"
    assert info.value.outcome.reason == (
        "hooks.example points to 10.1.2.3, which is not a public address; "
        "add the host to the allowed hosts to reach it"
    )
    assert asked == ["hooks.example"]  # looked up once


async def test_check_url_without_resolving_looks_nothing_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = fake_dns(monkeypatch, {})
    checked = await check_url("https://Hooks.Example:443/x", resolve=False)
    assert checked == "https://hooks.example/x" and asked == []
    assert "plain http" in await refused("http://hooks.example/x", resolve=False)
