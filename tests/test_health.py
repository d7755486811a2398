import asyncio
import json

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend

from community.app import create_app
from community.settings import load_settings
from community.testing import browser, make_member, sign_in


async def test_healthz_reports_database_and_redis(client, app):
    response = await client.get("/healthz")
    assert response.status_code == 200
    expected_redis = "ok" if app.state.redis is not None else "embedded"
    assert response.json() == {"status": "ok", "database": "ok", "redis": expected_redis}


async def test_healthz_is_503_naming_the_database_when_it_is_unreachable(env):
    broken = load_settings({**env, "COMMUNITY_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    app = create_app(broken)
    async with browser(app) as client:
        response = await client.get("/healthz")
    await app.state.engine.dispose()
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    assert response.json()["status"] == "error"


async def test_security_headers_on_every_page(client):
    response = await client.get("/signin")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_static_files_are_public_and_the_schema_is_for_members(client, app):
    assert (await client.get("/static/htmx.min.js")).status_code == 200
    assert (await client.get("/schema/openapi.json")).url.path == "/signin"
    await make_member(app, "reader")
    await sign_in(client, "reader")
    schema = (await client.get("/schema/openapi.json")).json()
    for path in ("/healthz", "/api/v1/auth/register", "/api/v1/invites", "/api/v1/groups"):
        assert path in schema["paths"], path


async def test_pubsub_goes_through_the_configured_backend(app):
    channels = app.plugins.get(ChannelsPlugin)
    expected = RedisChannelsPubSubBackend if app.state.redis else MemoryChannelsBackend
    assert isinstance(channels._backend, expected)
    async with channels.start_subscription(["probe"]) as subscriber:  # the fixture started it
        channels.publish({"hello": "world"}, "probe")
        async with asyncio.timeout(5):
            async for event in subscriber.iter_events():
                assert json.loads(event) == {"hello": "world"}
                break
