"""Targets: admins make them through the API; secrets are sealed and never shown back; a
category private to some groups is refused as a rule; URLs must be https to a public
address unless the host is allowed; "send test" says whether a target works."""

from __future__ import annotations

from typing import Any

import pytest
from community_crosspost.models import Target
from sqlalchemy import select

from community.accounts import services
from community.forum import services as forum
from community.testing import make_thread


async def _private_category(app: Any) -> int:
    async with app.state.sessionmaker() as db:
        await services.create_group(db, "staffers")
        made = await forum.save_category(
            db, None, {"name": "Back room", "visible_to_groups": ["staffers"]}
        )
        return made.id


async def test_secrets_are_sealed_and_never_shown(crosspost: Any, app: Any, fake: Any) -> None:
    token = "mastodon-token-0123456789"
    made = await crosspost.target(kind="mastodon", instance_url=fake.url, access_token=token)
    assert made["secret_hint"] == "••••6789"
    assert made["config"]["instance_url"] == fake.url
    for body in (made, (await crosspost.call("GET", "/targets")).json()):
        assert token not in str(body)
    async with app.state.sessionmaker() as db:
        stored = await db.scalar(select(Target))
    assert token not in stored.secret and stored.secret
    webhook = await crosspost.target(kind="webhook", url=f"{fake.url}/hook")
    assert webhook["signing_secret"].startswith("whsec_")
    shown = (await crosspost.call("GET", f"/targets/{webhook['id']}")).json()
    assert "signing_secret" not in shown and webhook["signing_secret"] not in str(shown)


async def test_rules_take_only_categories_open_to_everyone(crosspost: Any, app: Any) -> None:
    thread = await make_thread(app, "admin", category="General")
    private = await _private_category(app)
    hook = "https://discord.example/api/webhooks/1/x"
    got = await crosspost.call(
        "POST",
        "/targets",
        json={"name": "Chat", "kind": "discord", "webhook_url": hook, "categories": [private]},
    )
    # The host does not resolve here; the category is refused first either way.
    assert got.status_code == 400
    assert got.json()["error"] in ("private_category", "invalid_webhook_url")
    made = await crosspost.target(
        kind="slack", webhook_url="http://127.0.0.1:9/x", categories=[thread.category_id]
    )
    assert made["categories"] == [thread.category_id]
    refused = await crosspost.call(
        "PATCH", f"/targets/{made['id']}", json={"categories": [private]}
    )
    assert refused.status_code == 400
    assert refused.json()["detail"] == (
        "Back room is not open to every member: its threads are never shared."
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"kind": "fax"}, "invalid_kind"),
        ({"kind": "slack"}, "missing_fields"),
        ({"kind": "slack", "webhook_url": "http://hooks.example/x"}, "invalid_webhook_url"),
        ({"kind": "slack", "webhook_url": "https://10.0.0.7/x"}, "invalid_webhook_url"),
        ({"kind": "slack", "webhook_url": "https://[::1]/x"}, "invalid_webhook_url"),
        (
            {"kind": "mastodon", "instance_url": "http://127.0.0.1:9", "access_token": ""},
            "invalid_access_token",
        ),
        ({"kind": "mastodon"}, "missing_fields"),
        ({"kind": "slack", "webhook_url": "http://127.0.0.1:9/x", "colour": 1}, "invalid_body"),
        (
            {"kind": "slack", "webhook_url": "http://127.0.0.1:9/x", "categories": [2**40]},
            "unknown_category",
        ),
        (
            {"kind": "slack", "webhook_url": "http://127.0.0.1:9/x", "template": "{nope}"},
            "invalid_template",
        ),
        (
            {"kind": "slack", "webhook_url": "http://127.0.0.1:9/x", "utm": {"x": "1"}},
            "invalid_utm",
        ),
        ({"kind": "bluesky", "handle": "no spaces!", "app_password": "x"}, "invalid_handle"),
        (
            {
                "kind": "mastodon",
                "instance_url": "http://127.0.0.1:9",
                "access_token": "t",
                "char_limit": 5,
            },
            "invalid_char_limit",
        ),
    ],
)
async def test_bad_targets_are_refused_saying_why(
    crosspost: Any, body: dict[str, Any], code: str
) -> None:
    got = await crosspost.call("POST", "/targets", json={"name": "Bad", **body})
    assert got.status_code == 400, got.text
    assert got.json()["error"] == code, got.text


async def test_members_cannot_see_or_make_targets(crosspost: Any, app: Any) -> None:
    from community.testing import api_token, make_member

    await make_member(app, "ada")
    ada = await api_token(app, "ada")
    assert (await crosspost.call("GET", "/targets", ada)).status_code == 403
    got = await crosspost.call("POST", "/targets", ada, json={"kind": "slack"})
    assert got.status_code == 403


async def test_send_test_says_whether_a_target_works(crosspost: Any, fake: Any) -> None:
    fake.answers["/api/v1/accounts/verify_credentials"] = [(200, {}, {"acct": "brand"})]
    fake.answers["/api/v2/instance"] = [
        (200, {}, {"configuration": {"statuses": {"max_characters": 1000}}})
    ]
    made = await crosspost.target(kind="mastodon", instance_url=fake.url, access_token="t" * 20)
    got = await crosspost.call("POST", f"/targets/{made['id']}/test")
    assert got.json() == {"ok": True, "detail": "Connected as @brand."}
    assert fake.seen[0].headers["authorization"] == "Bearer " + "t" * 20
    shown = (await crosspost.call("GET", f"/targets/{made['id']}")).json()
    assert shown["config"]["char_limit"] == 1000
    fake.answers["/hook"] = [(401, {}, {"error": "bad token"})]
    hook = await crosspost.target(kind="slack", webhook_url=f"{fake.url}/hook")
    failed = (await crosspost.call("POST", f"/targets/{hook['id']}/test")).json()
    assert failed["ok"] is False and failed["detail"].startswith("401")


async def test_a_new_instance_forgets_the_old_ones_token(
    crosspost: Any, app: Any, fake: Any
) -> None:
    from community_crosspost import targets

    made = await crosspost.target(kind="mastodon", instance_url=fake.url, access_token="t" * 20)
    moved = await crosspost.call(
        "PATCH", f"/targets/{made['id']}", json={"instance_url": "http://127.0.0.1:9"}
    )
    assert moved.status_code == 200 and moved.json()["secret_hint"] == ""
    async with app.state.sessionmaker() as db:
        stored = await db.get(Target, made["id"])
        assert "access_token" not in targets.secrets_of(stored, app.state.settings.secret_key)
    renamed = await crosspost.call("PATCH", f"/targets/{made['id']}", json={"name": "Same"})
    assert renamed.status_code == 200
