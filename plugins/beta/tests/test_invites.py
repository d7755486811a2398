"""Invite links that enrol into a program: new members registering with one and members
accepting one join it (once each, as capacity allows: a full program puts them on its
waitlist), the admin page and API make, list and revoke them, and bad input is refused."""

from __future__ import annotations

from typing import Any

from community_beta.models import InviteUse, JoinRequest, Participant
from sqlalchemy import func, select

from community.testing import PASSWORD, browser, post_form, settle, sign_in


async def _link(beta: Any, program: dict[str, Any], **fields: Any) -> dict[str, Any]:
    got = await beta.call("POST", f"/programs/{program['id']}/invites", json=fields)
    assert got.status_code == 201, got.text
    return dict(got.json())


async def _participants(app: Any, program: dict[str, Any]) -> dict[str, str]:
    from community.accounts.models import Member

    async with app.state.sessionmaker() as db:
        rows = await db.execute(
            select(Member.username, Participant.via)
            .join(Participant, Participant.member_id == Member.id)
            .where(Participant.program_id == program["id"])
        )
        return dict(rows.all())


async def test_new_and_existing_members_join_through_a_link(beta: Any, app: Any) -> None:
    await beta.member("ada")
    program = await beta.program(status="private_beta", terms="Keep it quiet.")
    link = await _link(beta, program, max_uses=2, note="launch")
    assert link["url"].endswith(f"/invite/{link['token']}")
    assert (link["uses"], link["max_uses"], link["state"]) == (0, 2, "active")
    registered = await beta.client.post(
        "/api/v1/auth/register",
        json={"invite": link["token"], "username": "grace", "password": PASSWORD},
    )
    assert registered.status_code == 201, registered.text
    ada = await beta.member("ada2")
    accepted = await beta.client.post(
        "/api/v1/invites/accept", json={"invite": link["token"]}, headers=ada
    )
    assert accepted.json()["landing"] == f"/p/beta/programs/{program['id']}"
    await settle(app)
    assert await _participants(app, program) == {"grace": "invite", "ada2": "invite"}
    listed = (await beta.call("GET", f"/programs/{program['id']}/invites")).json()["invites"]
    assert [(i["uses"], i["joined"], i["waiting"], i["state"]) for i in listed] == [
        (2, 2, 0, "used")
    ]
    assert "token" not in listed[0] and listed[0]["note"] == "Beta: Private editor (launch)"
    third = await beta.client.post(
        "/api/v1/invites/accept", json={"invite": link["token"]}, headers=await beta.member("ken")
    )
    assert third.status_code == 410 and third.json()["error"] == "invite_used"
    # The participant who joined by link still has to accept the terms to see the program.
    terms = await beta.call(
        "POST", f"/programs/{program['id']}/terms/accept", ada, json={"version": 1}
    )
    assert terms.status_code == 200, terms.text


async def test_a_full_program_puts_the_invitee_on_its_waitlist(beta: Any, app: Any) -> None:
    await beta.member("ada")
    await beta.member("grace")
    program = await beta.program(status="private_beta", capacity=2)
    too_many = await beta.call("POST", f"/programs/{program['id']}/invites", json={"max_uses": 3})
    assert too_many.status_code == 400
    assert too_many.json()["detail"] == (
        "Private editor has 2 of its 2 places left: a link for 3 would overfill it."
    )
    link = await _link(beta, program, max_uses=1)
    await beta.call("POST", f"/programs/{program['id']}/members", json={"usernames": ["ada"]})
    await beta.call("POST", f"/programs/{program['id']}/members", json={"usernames": ["grace"]})
    ken = await beta.member("ken")
    await beta.client.post("/api/v1/invites/accept", json={"invite": link["token"]}, headers=ken)
    await settle(app)
    assert set(await _participants(app, program)) == {"ada", "grace"}
    waiting = (await beta.call("GET", f"/programs/{program['id']}/waitlist")).json()["waiting"]
    assert [w["username"] for w in waiting] == ["ken"]
    listed = (await beta.call("GET", f"/programs/{program['id']}/invites")).json()["invites"]
    assert (listed[0]["joined"], listed[0]["waiting"]) == (0, 1)


async def test_landing_on_the_program_acts_on_the_link_once(
    beta: Any, app: Any, client: Any
) -> None:
    """The browser lands on the program's page; whichever of the event and the page comes
    first enrols, and leaving later is not undone by opening the page again."""
    program = await beta.program(status="private_beta", terms="Be kind.")
    link = await _link(beta, program)
    async with browser(app) as newcomer:
        page = await newcomer.get(f"/invite/{link['token']}")
        assert "You will also join the beta program Private editor." in page.text
        landed = await post_form(
            newcomer,
            f"/invite/{link['token']}",
            {"username": "bob", "password": PASSWORD, "password_confirm": PASSWORD},
        )
        assert landed.url.path == f"/p/beta/programs/{program['id']}"
        assert "Be kind." in landed.text
        await settle(app)
        left = await post_form(
            newcomer, f"/p/beta/programs/{program['id']}/leave", {}, page=landed.url.path
        )
        assert left.url.path == "/"  # the program is private: its page is gone for them
        again = await newcomer.get(f"/p/beta/programs/{program['id']}")
        assert again.status_code == 404
    async with app.state.sessionmaker() as db:
        uses = await db.scalar(select(func.count()).select_from(InviteUse))
    assert uses == 1
    assert await _participants(app, program) == {}


async def test_a_signed_in_member_accepts_on_the_page(beta: Any, app: Any, client: Any) -> None:
    await beta.member("ada")
    program = await beta.program(status="private_beta")
    link = await _link(beta, program)
    await sign_in(client, "ada")
    page = await client.get(f"/invite/{link['token']}")
    assert "Accept this invite" in page.text and "Private editor" in page.text
    landed = await post_form(
        client, f"/invite/{link['token']}/accept", {}, page=f"/invite/{link['token']}"
    )
    assert landed.url.path == f"/p/beta/programs/{program['id']}"
    await settle(app)
    assert await _participants(app, program) == {"ada": "invite"}


async def test_admins_make_and_revoke_links_on_the_program_page(beta: Any, client: Any) -> None:
    program = await beta.program(status="private_beta")
    await sign_in(client, "admin")
    admin_page = f"/p/beta/admin/programs/{program['id']}"
    made = await post_form(
        client, f"{admin_page}/invites", {"max_uses": "5", "expires_in_days": "3"}, admin_page
    )
    assert made.status_code == 200 and "shown this once" in made.text
    assert "0 / 5" in made.text
    bad = await post_form(client, f"{admin_page}/invites", {"max_uses": "0"}, admin_page)
    assert bad.status_code == 400 and "max_uses is a whole number from 1 to 500." in bad.text
    listed = (await beta.call("GET", f"/programs/{program['id']}/invites")).json()["invites"]
    revoked = await post_form(
        client, f"{admin_page}/invites/{listed[0]['id']}/revoke", {}, admin_page
    )
    assert "The invite link is revoked." in revoked.text and ">revoked" in revoked.text
    other = await beta.program(name="Other", status="private_beta")
    wrong = await beta.call("POST", f"/programs/{other['id']}/invites/{listed[0]['id']}/revoke")
    assert wrong.status_code == 404
    huge = await beta.call("POST", f"/programs/{program['id']}/invites/{2**63}/revoke")
    assert huge.status_code == 404


async def test_bad_links_are_refused(beta: Any, app: Any) -> None:
    draft = await beta.program(name="Draft one")
    got = await beta.call("POST", f"/programs/{draft['id']}/invites", json={})
    assert got.status_code == 400 and got.json()["error"] == "program_draft"
    archived = await beta.program(name="Old one", status="archived")
    got = await beta.call("POST", f"/programs/{archived['id']}/invites", json={})
    assert got.status_code == 400 and got.json()["error"] == "program_closed"
    program = await beta.program(status="private_beta")
    path = f"/programs/{program['id']}/invites"
    for body, code in [
        ({"max_uses": "many"}, "invalid_max_uses"),
        ({"max_uses": True}, "invalid_max_uses"),
        ({"email": 5}, "invalid_email"),
        ({"note": "a\x00b"}, "invalid_note"),
        ({"colour": "red"}, "invalid_body"),
    ]:
        got = await beta.call("POST", path, json=body)
        assert got.status_code == 400 and got.json()["error"] == code, (body, got.text)
    expiry = await beta.call("POST", path, json={"expires_in_days": "soon"})
    assert expiry.status_code == 422 and expiry.json()["error"] == "invalid_expires"
    member = await beta.member("ada")
    assert (await beta.call("POST", path, member, json={})).status_code == 403
    assert (await beta.call("GET", path, member)).status_code == 403
    # A program closed after the link was made takes nobody, and nobody waits either.
    link = await _link(beta, program)
    await beta.call("PATCH", f"/programs/{program['id']}", json={"status": "archived"})
    await beta.client.post("/api/v1/invites/accept", json={"invite": link["token"]}, headers=member)
    await settle(app)
    assert await _participants(app, program) == {}
    async with app.state.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(JoinRequest)) == 0
        assert await db.scalar(select(InviteUse.outcome)) == "closed"
