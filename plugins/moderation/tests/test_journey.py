"""The issue's whole story, through the API as the people in it would use it: a spammer a member
invited is held, a moderator sees it with the inviter's record and rejects it with a canned
reason, a second attempt escalates the spammer to a silence, a watched word hidden with a
zero-width space is still caught, and every step is in the audit log."""

from __future__ import annotations

from typing import Any

from community.accounts import services as accounts
from community.testing import (
    api_token,
    browser,
    make_invite,
    make_member,
    make_thread,
    settle,
    sign_in,
)

API = "/api/v1/moderation"
LINKS = "Cheap pills at https://a.example/1 https://b.example/2 and https://c.example/3"


async def test_a_spammer_is_held_rejected_and_silenced_and_every_step_is_audited(app):
    alice = await make_member(app, "alice")
    await make_member(app, "mod", "moderator")
    general = await make_thread(app, "alice", title="Welcome, everyone")
    async with app.state.sessionmaker() as db:
        await accounts.update_instance_settings(db, {"invite_policy": "members"})
    invite = await make_invite(app, alice)
    mod = await api_token(app, "mod")
    async with browser(app) as client:
        joined = await client.post(
            "/api/v1/auth/register",
            json={"invite": invite, "username": "spammer", "password": "correct horse battery"},
        )
        assert joined.status_code == 201, joined.text
        spammer = {"Authorization": f"Bearer {joined.json()['token']}"}

        async def attempt() -> dict[str, Any]:
            posted = await client.post(
                f"/api/v1/threads/{general.id}/posts", json={"body": LINKS}, headers=spammer
            )
            assert posted.status_code == 201, posted.text
            assert posted.json()["held"] is True
            await settle(app)
            queue = (await client.get(f"{API}/queue", headers=mod)).json()["items"]
            (item,) = [i for i in queue if i["post_id"] == posted.json()["id"]]
            assert item["kind"] == "held" and item["member"] == "spammer"
            assert "links" in item["reason"]
            return item

        # 1. Held: three links in a new member's first post.
        first = await attempt()
        others = await client.get(
            f"/api/v1/threads/{general.id}/posts", headers=await api_token(app, "alice")
        )
        assert "Cheap pills" not in others.text  # invisible to everyone else

        # 2. The moderator sees it in the inbox with the inviter's record.
        await sign_in(client, "mod")
        page = await client.get("/p/moderation/")
        assert page.status_code == 200
        assert "spammer" in page.text and "alice" in page.text and "Cheap pills" in page.text

        # 3. Rejected with a canned reason.
        canned = await client.post(
            f"{API}/canned",
            json={"title": "Spam", "body": "Sorry {member}, no advertising here."},
            headers=mod,
        )
        assert canned.status_code == 201, canned.text
        rejected = await client.post(
            f"{API}/queue/{first['id']}/reject",
            json={"version": first["version"], "canned_id": canned.json()["id"]},
            headers=mod,
        )
        assert rejected.status_code == 200, rejected.text
        again = await client.post(
            f"{API}/queue/{first['id']}/reject", json={"version": first["version"]}, headers=mod
        )
        assert again.status_code == 409  # already handled

        # 4. The second attempt is held and rejected too: the points silence the spammer.
        second = await attempt()
        rejected = await client.post(
            f"{API}/queue/{second['id']}/reject",
            json={"version": second["version"], "reason": "Spam again."},
            headers=mod,
        )
        assert rejected.status_code == 200, rejected.text
        silenced = await client.post(
            f"/api/v1/threads/{general.id}/posts", json={"body": "hello?"}, headers=spammer
        )
        assert silenced.status_code == 422 and "silenced" in silenced.json()["detail"]
        penalties = (await client.get(f"{API}/penalties?username=spammer", headers=mod)).json()
        kinds = [p["kind"] for p in penalties["penalties"]]
        assert "silence" in kinds

        # 5. A watched word with a zero-width space inside is still caught.
        word = await client.post(
            f"{API}/watched-words", json={"pattern": "casino", "action": "block"}, headers=mod
        )
        assert word.status_code == 201, word.text
        sneaky = await client.post(
            f"/api/v1/threads/{general.id}/posts",
            json={"body": "Try my ca\u200bsino tonight"},
            headers=await api_token(app, "alice"),
        )
        assert sneaky.status_code == 422 and "casino" in sneaky.json()["detail"]

        # 6. Every step is in the audit log.
        log = (await client.get(f"{API}/audit-log?limit=200", headers=mod)).json()["entries"]
        actions = {entry["action"] for entry in log}
        assert {"item.reject", "penalty.points", "penalty.silence"} <= actions, actions
        assert any(a.startswith("canned.") for a in actions), actions
        assert any(a.startswith("word.") for a in actions), actions
