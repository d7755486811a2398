"""The plugin's pages: admins add, change and test targets in the browser (secrets never
shown back, a webhook's signing secret shown once), moderators approve drafts in the log and
share a thread with the exact previews, and members are kept out."""

from __future__ import annotations

import json
from typing import Any

from community_crosspost import targets
from community_crosspost.models import Delivery, Target
from markupsafe import escape
from sqlalchemy import select

from community.accounts import services
from community.forum import services as forum
from community.testing import browser, make_thread, post_form, sign_in

ADMIN = "/p/crosspost/admin"
LOG = "/p/crosspost/admin/deliveries"


async def _stored(app: Any, target_id: int) -> tuple[Target, dict[str, str]]:
    async with app.state.sessionmaker() as db:
        found = await db.get(Target, target_id)
        assert found is not None
        return found, targets.secrets_of(found, app.state.settings.secret_key)


async def _deliveries(app: Any) -> list[Delivery]:
    async with app.state.sessionmaker() as db:
        return list(await db.scalars(select(Delivery).order_by(Delivery.id)))


async def test_an_admin_adds_a_slack_target_and_its_url_is_never_shown(
    crosspost: Any, app: Any, client: Any, fake: Any
) -> None:
    thread = await make_thread(app, "admin", category="General")
    hook = f"{fake.url}/slack/T000/B000/XXXXsecretpart"
    await sign_in(client, "admin")
    added = await post_form(
        client,
        ADMIN,
        {
            "kind": "slack",
            "name": "Team chat",
            "webhook_url": hook,
            "categories": [str(thread.category_id)],
            "on_mark": "on",
            "enabled": "on",
            "utm_source": "forum",
        },
    )
    assert added.status_code == 200 and str(added.url).endswith(ADMIN)
    assert "Team chat is added." in added.text
    found = (await crosspost.call("GET", "/targets")).json()["targets"]
    assert [(t["name"], t["kind"], t["categories"]) for t in found] == [
        ("Team chat", "slack", [thread.category_id])
    ]
    assert found[0]["config"]["utm"] == {"utm_source": "forum"}
    row = added.text.split(f'id="target-{found[0]["id"]}"')[1].split("</tr>")[0]
    assert "General" in row and "slack" in row and found[0]["secret_hint"] in row
    _, stored = await _stored(app, found[0]["id"])
    assert stored == {"webhook_url": hook}
    for path in (ADMIN, f"{ADMIN}/targets/{found[0]['id']}"):
        page = await client.get(path)
        assert page.status_code == 200
        assert hook not in page.text and "XXXXsecretpart" not in page.text

    # Changing it with the secret left blank keeps the stored one.
    target_page = f"{ADMIN}/targets/{found[0]['id']}"
    saved = await post_form(
        client,
        target_page,
        {"name": "Team chat 2", "webhook_url": "", "enabled": "on", "template": "{title}"},
    )
    assert saved.status_code == 200 and "Saved." in saved.text
    target, stored = await _stored(app, found[0]["id"])
    assert (target.name, target.categories, target.config["template"]) == (
        "Team chat 2",
        [],
        "{title}",
    )
    assert stored == {"webhook_url": hook}


async def test_a_webhook_target_shows_its_signing_secret_once(
    crosspost: Any, app: Any, client: Any, fake: Any
) -> None:
    await sign_in(client, "admin")
    added = await post_form(
        client, ADMIN, {"kind": "webhook", "name": "Receiver", "url": f"{fake.url}/hook"}
    )
    assert added.status_code == 200
    found = (await crosspost.call("GET", "/targets")).json()["targets"]
    _, stored = await _stored(app, found[0]["id"])
    secret = stored["signing_secret"]
    assert secret.startswith("whsec_") and secret in added.text
    assert "The signing secret of Receiver, shown this once" in added.text
    again = await client.get(ADMIN)
    assert again.status_code == 200 and "Receiver" in again.text
    assert secret not in again.text and "whsec_" not in again.text


async def test_send_test_shows_the_sentence(crosspost: Any, client: Any, fake: Any) -> None:
    made = await crosspost.target(kind="slack", webhook_url=f"{fake.url}/slack")
    await sign_in(client, "admin")
    page = f"{ADMIN}/targets/{made['id']}"
    tested = await post_form(client, f"{page}/test", {}, page)
    assert tested.status_code == 200 and str(tested.url).endswith(page)
    assert "The test message was accepted by Slack." in tested.text
    assert [(s.method, s.path) for s in fake.seen] == [("POST", "/slack")]
    assert fake.seen[0].json()["text"].endswith(": shares will appear here.")


async def test_a_moderator_approves_a_draft_from_the_log(
    crosspost: Any, app: Any, client: Any, fake: Any, moderator: Any
) -> None:
    thread = await make_thread(app, "admin", title="Spring meetup", category="General")
    made = await crosspost.target(kind="slack", webhook_url=f"{fake.url}/slack", approval=True)
    shared = await crosspost.call(
        "POST", f"/threads/{thread.id}/share", json={"targets": [made["id"]]}
    )
    assert shared.status_code == 201
    preview = await crosspost.call(
        "GET", f"/targets/{made['id']}/preview", params={"thread_id": thread.id}
    )
    await sign_in(client, "mod")
    page = await client.get(LOG)
    assert page.status_code == 200
    drafts = page.text.split('id="drafts"')[1].split("</section>")[0]
    assert str(escape(preview.json()["text"])) in drafts
    assert "Spring meetup" in drafts and "Waiting for approval (1)" in drafts
    [delivery] = await _deliveries(app)
    assert delivery.status == "draft"
    approved = await post_form(
        client, f"/p/crosspost/deliveries/{delivery.id}/approve", {"back": LOG}, LOG
    )
    assert approved.status_code == 200 and str(approved.url).endswith(LOG)
    assert "Approved: the share is scheduled." in approved.text
    assert "Waiting for approval (0)" in approved.text
    assert [d.status for d in await _deliveries(app)] == ["scheduled"]
    again = await post_form(
        client, f"/p/crosspost/deliveries/{delivery.id}/approve", {"back": LOG}, LOG
    )
    assert "This share is scheduled, not waiting for approval." in again.text
    await crosspost.run_jobs()
    assert [d.status for d in await _deliveries(app)] == ["sent"]
    assert [(s.method, s.path) for s in fake.seen] == [("POST", "/slack")]


async def test_the_share_page_shows_the_previews_and_shares(
    crosspost: Any, app: Any, client: Any, fake: Any, moderator: Any
) -> None:
    thread = await make_thread(app, "admin", title="Rust & Python", category="General")
    slack = await crosspost.target(kind="slack", name="Chat", webhook_url=f"{fake.url}/slack")
    toot = await crosspost.target(
        kind="mastodon", name="Toots", instance_url=fake.url, access_token="token-123456"
    )
    await crosspost.target(kind="slack", name="Off", webhook_url=f"{fake.url}/off", enabled=False)
    await sign_in(client, "mod")
    page_path = f"/p/crosspost/threads/{thread.id}/share"
    page = await client.get(page_path)
    assert page.status_code == 200
    for made in (slack, toot):
        expected = (
            await crosspost.call(
                "GET", f"/targets/{made['id']}/preview", params={"thread_id": thread.id}
            )
        ).json()
        section = page.text.split(f'id="share-target-{made["id"]}"')[1].split("</section>")[0]
        assert str(escape(expected["text"])) in section
        if made["kind"] == "slack":
            shown = json.dumps(expected["payload"], indent=2, ensure_ascii=False)
            assert str(escape(shown)) in section and "<details>" in section
        else:
            assert "<details>" not in section
    assert "Off" not in page.text  # a disabled target is not offered
    assert "Times are in UTC" in page.text

    shared = await post_form(client, page_path, {"targets": [str(slack["id"])], "when": "now"})
    assert shared.status_code == 200 and "Shared to 1 target." in shared.text
    assert [(d.target_id, d.status, d.reason) for d in await _deliveries(app)] == [
        (slack["id"], "scheduled", "manual")
    ]
    await crosspost.run_jobs()
    assert [s.path for s in fake.seen] == ["/slack"]

    none = await post_form(client, page_path, {"when": "now"})
    assert none.status_code == 400 and "Choose at least one target." in none.text
    later = await post_form(
        client,
        page_path,
        {"targets": [str(toot["id"])], "when": "at", "at": "2099-01-01T09:00"},
    )
    assert later.status_code == 400
    assert "Shares are scheduled at most a year ahead." in later.text
    assert 'value="2099-01-01T09:00"' in later.text


async def test_a_thread_not_open_to_everyone_shows_the_reason(
    crosspost: Any, app: Any, client: Any, fake: Any
) -> None:
    async with app.state.sessionmaker() as db:
        await services.create_group(db, "staffers")
        await forum.save_category(
            db, None, {"name": "Back room", "visible_to_groups": ["staffers"]}
        )
    thread = await make_thread(app, "admin", category="Back room")
    await crosspost.target(kind="slack", webhook_url=f"{fake.url}/slack")
    await sign_in(client, "admin")
    page = await client.get(f"/p/crosspost/threads/{thread.id}/share")
    assert page.status_code == 200
    assert "This thread is not open to every member" in page.text
    assert 'name="targets"' not in page.text


async def test_members_are_kept_out(
    crosspost: Any, app: Any, client: Any, fake: Any, member: Any
) -> None:
    thread = await make_thread(app, "admin", category="General")
    made = await crosspost.target(kind="slack", webhook_url=f"{fake.url}/slack")
    await sign_in(client, "member")
    for path in (
        ADMIN,
        f"{ADMIN}/targets/{made['id']}",
        LOG,
        f"/p/crosspost/threads/{thread.id}/share",
    ):
        got = await client.get(path)
        assert got.status_code == 403, path
    tested = await client.post(f"{ADMIN}/targets/{made['id']}/test")
    assert tested.status_code in (403, 404)
    assert fake.seen == []
    async with browser(app) as admin:
        await sign_in(admin, "admin")
        missing = await admin.get(f"{ADMIN}/targets/999")
        assert missing.status_code == 404


async def test_a_form_without_a_name_keeps_its_values(
    crosspost: Any, app: Any, client: Any, fake: Any
) -> None:
    thread = await make_thread(app, "admin", category="General")
    hook = f"{fake.url}/slack/secret-path"
    await sign_in(client, "admin")
    refused = await post_form(
        client,
        ADMIN,
        {
            "kind": "slack",
            "name": "",
            "webhook_url": hook,
            "categories": [str(thread.category_id)],
            "approval": "on",
            "template": "New: {title}",
            "utm_campaign": "spring",
        },
    )
    assert refused.status_code == 400
    assert "A slack target needs name." in refused.text
    assert '<option value="slack" selected>' in refused.text
    assert f'value="{thread.category_id}" checked' in refused.text
    assert 'name="approval" value="on" checked' in refused.text
    assert "New: {title}</textarea>" in refused.text
    assert 'name="utm_campaign" value="spring"' in refused.text
    assert hook not in refused.text  # secrets are typed again, never put back in a page
    assert (await crosspost.call("GET", "/targets")).json()["targets"] == []


async def test_the_share_link_is_in_the_thread_header_for_staff_only(
    crosspost: Any, app: Any, client: Any, member: Any, moderator: Any
) -> None:
    thread = await make_thread(app, "member", category="General")
    link = f'href="/p/crosspost/threads/{thread.id}/share"'
    await sign_in(client, "mod")
    assert link in (await client.get(thread.url)).text
    async with browser(app) as other:
        await sign_in(other, "member")
        page = await other.get(thread.url)
        assert page.status_code == 200 and link not in page.text


async def test_a_target_needing_attention_says_why_and_its_dead_share_is_retried(
    crosspost: Any, app: Any, client: Any, fake: Any
) -> None:
    thread = await make_thread(app, "admin", category="General")
    made = await crosspost.target(kind="slack", name="Chat", webhook_url=f"{fake.url}/slack")
    await crosspost.call("POST", f"/threads/{thread.id}/share", json={"targets": [made["id"]]})
    async with app.state.sessionmaker() as db:
        target = await db.get(Target, made["id"])
        assert target is not None
        target.status, target.attention = "needs_attention", "Slack answered 404: no_service."
        delivery = await db.scalar(select(Delivery))
        assert delivery is not None
        delivery.status, delivery.attempts, delivery.last_error = "dead", 1, "404 no_service"
        await db.commit()
    await sign_in(client, "admin")
    listed = await client.get(ADMIN)
    row = listed.text.split(f'id="target-{made["id"]}"')[1].split("</tr>")[0]
    assert "Needs attention</strong>: Slack answered 404: no_service." in row
    page_path = f"{ADMIN}/targets/{made['id']}"
    page = await client.get(page_path)
    assert "<strong>Needs attention:</strong> Slack answered 404: no_service." in page.text
    log_row = page.text.split(f'id="delivery-{delivery.id}"')[1].split("</tr>")[0]
    assert "404 no_service" in log_row and ">Retry</button>" in log_row
    retried = await post_form(
        client, f"/p/crosspost/deliveries/{delivery.id}/retry", {"back": page_path}, page_path
    )
    assert retried.status_code == 200 and str(retried.url).endswith(page_path)
    assert "Retrying now." in retried.text
    assert [(d.status, d.attempts) for d in await _deliveries(app)] == [("scheduled", 0)]


async def test_a_moderator_marks_a_thread_from_its_share_page(
    crosspost: Any, app: Any, fake: Any, moderator: Any
) -> None:
    await crosspost.target(
        name="Brand chat", kind="slack", webhook_url=f"{fake.url}/a", on_mark=True
    )
    thread = await make_thread(app, "admin", title="Mark me", category="General")
    page = f"/p/crosspost/threads/{thread.id}/share"
    async with browser(app) as client:
        await sign_in(client, "mod")
        shown = await client.get(page)
        assert "Mark for sharing" in shown.text and "(Brand chat)" in shown.text
        marked = await post_form(client, f"/p/crosspost/threads/{thread.id}/mark", {}, page)
        assert "Marked for sharing: 1 target will get it." in marked.text
        again = await post_form(client, f"/p/crosspost/threads/{thread.id}/mark", {}, page)
        assert again.status_code == 400 and "has not had this one already" in again.text


async def test_an_admin_connects_mastodon_with_oauth(crosspost: Any, app: Any, fake: Any) -> None:
    from urllib.parse import parse_qs, urlsplit

    fake.answers["/api/v1/apps"] = [(200, {}, {"client_id": "cid-1", "client_secret": "csec-1"})]
    fake.answers["/oauth/token"] = [(200, {}, {"access_token": "oauth-token-abcd9876"})]
    fake.answers["/api/v1/accounts/verify_credentials"] = [(200, {}, {"acct": "brand"})]
    made = await crosspost.target(kind="mastodon", instance_url=fake.url)
    page = f"/p/crosspost/admin/targets/{made['id']}"
    async with browser(app) as client:
        await sign_in(client, "admin")
        assert "Connect with Mastodon" in (await client.get(page)).text
        client.follow_redirects = False
        gone = await post_form(client, f"{page}/connect", {}, page)
        assert gone.status_code == 303
        authorize = urlsplit(gone.headers["location"])
        assert f"{authorize.scheme}://{authorize.netloc}" == fake.url
        assert authorize.path == "/oauth/authorize"
        query = parse_qs(authorize.query)
        assert query["client_id"] == ["cid-1"] and query["response_type"] == ["code"]
        assert query["redirect_uri"][0].endswith("/p/crosspost/oauth/mastodon/callback")
        forged = await client.get(
            "/p/crosspost/oauth/mastodon/callback", params={"code": "x", "state": "forged"}
        )
        assert forged.headers["location"] == "/p/crosspost/admin"  # and the state is used up
        gone = await post_form(client, f"{page}/connect", {}, page)
        state = parse_qs(urlsplit(gone.headers["location"]).query)["state"][0]
        back = await client.get(
            "/p/crosspost/oauth/mastodon/callback", params={"code": "the-code", "state": state}
        )
        assert back.headers["location"] == page
        client.follow_redirects = True
        shown = (await client.get(page)).text
        assert "is connected to Mastodon" in shown and "••••9876" in shown
    apps = [s for s in fake.seen if s.path == "/api/v1/apps"]
    assert len(apps) == 1  # registered once, reused on the second connect
    token = next(s for s in fake.seen if s.path == "/oauth/token").json()
    assert (token["code"], token["client_secret"]) == ("the-code", "csec-1")
    tested = (await crosspost.call("POST", f"/targets/{made['id']}/test")).json()
    assert tested == {"ok": True, "detail": "Connected as @brand."}
    assert fake.seen[-2].headers["authorization"] == "Bearer oauth-token-abcd9876"
