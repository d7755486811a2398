"""Participants: admins add members and whole groups, members leave, the waitlist (asking
with answers, admitting chosen members or the next N, each told), capacity, and the terms
each participant accepts."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from community.forum.models import ConversationMember, Post, Thread
from community.jobs import JobRunner
from community.testing import post_form, sign_in


async def _messages_to(app: Any, username: str) -> list[tuple[str, str]]:
    """(title, body) of the private conversations ``username`` is in."""
    from community.accounts.models import Member

    async with app.state.sessionmaker() as db:
        rows = await db.execute(
            select(Thread.title, Post.body)
            .join(ConversationMember, ConversationMember.thread_id == Thread.id)
            .join(Member, Member.id == ConversationMember.member_id)
            .join(Post, (Post.thread_id == Thread.id) & (Post.number == 1))
            .where(Member.username_key == username, Thread.category_id.is_(None))
        )
        return [(title, body) for title, body in rows]


async def _told(app: Any, username: str, within: float = 10) -> list[tuple[str, str]]:
    """Run due jobs (with Redis they wait for a worker) until ``username`` was written to."""
    runner = JobRunner(app.state.sessionmaker, app.state.jobs, app.state.settings)
    deadline = asyncio.get_running_loop().time() + within
    while not (found := await _messages_to(app, username)):
        await runner.run_next()
        assert asyncio.get_running_loop().time() < deadline, f"{username} was never told"
        await asyncio.sleep(0.05)
    return found


async def test_admins_add_members_and_whole_groups(beta: Any, app: Any) -> None:
    for name in ("ada", "grace", "linus", "ken"):
        await beta.member(name)
    await beta.group("testers", "grace", "linus")
    program = await beta.program(status="private_beta")
    path = f"/programs/{program['id']}/members"
    got = await beta.call("POST", path, json={"usernames": ["Ada", "grace"], "groups": ["Testers"]})
    assert got.status_code == 200, got.text
    assert sorted(got.json()["added"]) == ["ada", "grace", "linus"]
    again = await beta.call("POST", path, json={"usernames": ["ada"]})
    assert again.json() == {"added": [], "participants": 3}
    listed = (await beta.call("GET", path)).json()["members"]
    assert {(p["username"], p["via"]) for p in listed} == {
        ("ada", "admin"),
        ("grace", "admin"),
        ("linus", "group"),
    }
    unknown = await beta.call("POST", path, json={"usernames": ["nobody"], "groups": []})
    assert unknown.status_code == 400 and unknown.json()["detail"] == "No member is called nobody."
    empty = await beta.call("POST", path, json={})
    assert empty.status_code == 400 and "at least one" in empty.json()["detail"]
    assert [title for title, _ in await _told(app, "ada")] == ["Welcome to Private editor"]


async def test_capacity_holds_for_every_way_in(beta: Any) -> None:
    for name in ("ada", "grace", "linus"):
        await beta.member(name)
    program = await beta.program(status="private_beta", capacity=2, waitlist_open=True)
    path = f"/programs/{program['id']}"
    full = await beta.call("POST", f"{path}/members", json={"usernames": ["ada", "grace", "linus"]})
    assert full.status_code == 400
    assert full.json()["detail"] == (
        "Private editor has 2 of its 2 places left: 3 more cannot join."
    )
    assert (
        await beta.call("POST", f"{path}/members", json={"usernames": ["ada", "grace"]})
    ).status_code == 200
    asked = await beta.call(
        "POST", f"{path}/waitlist", await beta.member("ken"), json={"answers": []}
    )
    assert asked.status_code == 201
    admitted = await beta.call("POST", f"{path}/admit", json={"count": 1})
    assert admitted.status_code == 400
    assert admitted.json()["detail"] == ("Private editor is full: all 2 places are taken.")
    lower = await beta.call("PATCH", path, json={"capacity": 1})
    assert lower.status_code == 400 and "already has 2 participants" in lower.json()["detail"]


async def test_the_waitlist_in_request_order_and_admitting(beta: Any, app: Any) -> None:
    headers = {name: await beta.member(name) for name in ("ada", "grace", "linus", "ken")}
    program = await beta.program(
        status="private_beta", waitlist_open=True, questions=["Why?", "Which browser?"]
    )
    path = f"/programs/{program['id']}"
    missing = await beta.call(
        "POST", f"{path}/waitlist", headers["ada"], json={"answers": ["To help"]}
    )
    assert missing.status_code == 400
    assert (
        missing.json()["detail"]
        == "Answer every question: Private editor asks 2 and 1 were answered."
    )
    nul = await beta.call(
        "POST", f"{path}/waitlist", headers["ada"], json={"answers": ["To\x00help", "Firefox"]}
    )
    assert nul.status_code == 400 and "NUL" in nul.json()["detail"]
    for name in ("grace", "ada", "linus", "ken"):
        asked = await beta.call(
            "POST", f"{path}/waitlist", headers[name], json={"answers": [f"{name}!", "Firefox"]}
        )
        assert asked.status_code == 201, asked.text
    twice = await beta.call(
        "POST", f"{path}/waitlist", headers["ada"], json={"answers": ["a", "b"]}
    )
    assert twice.status_code == 400 and "already on the waitlist" in twice.json()["detail"]
    waiting = (await beta.call("GET", f"{path}/waitlist")).json()["waiting"]
    assert [w["username"] for w in waiting] == ["grace", "ada", "linus", "ken"]
    assert waiting[0]["answers"] == ["grace!", "Firefox"]
    ranked = await beta.call("GET", f"{path}/waitlist", params={"order": "engagement"})
    assert ranked.status_code == 400 and "request date" in ranked.json()["detail"]

    stranger = await beta.call("POST", f"{path}/admit", json={"usernames": ["admin"]})
    assert stranger.status_code == 400
    assert stranger.json()["detail"] == "admin is not on the waitlist of Private editor."
    chosen = await beta.call("POST", f"{path}/admit", json={"usernames": ["linus"]})
    assert chosen.json()["admitted"] == ["linus"]
    nextn = await beta.call("POST", f"{path}/admit", json={"count": 2})
    assert nextn.json() == {"admitted": ["grace", "ada"], "participants": 3}
    left = (await beta.call("GET", f"{path}/waitlist")).json()["waiting"]
    assert [w["username"] for w in left] == ["ken"]
    nul = await beta.call("POST", f"{path}/admit", json={"usernames": ["k\x00en"]})
    assert nul.status_code == 400 and "NUL" in nul.json()["detail"]
    both = await beta.call("POST", f"{path}/admit", json={"count": 1, "usernames": ["ken"]})
    assert both.status_code == 400
    for bad in ({"count": 0}, {"count": "two"}, {"count": True}):
        assert (await beta.call("POST", f"{path}/admit", json=bad)).json()[
            "error"
        ] == "invalid_count"
    for name in ("linus", "grace", "ada"):
        ((title, body),) = await _told(app, name)
        assert title == "Welcome to Private editor"
        assert f"/p/beta/programs/{program['id']}" in body
    assert await _messages_to(app, "ken") == []
    inside = await beta.call(
        "POST", f"{path}/waitlist", headers["ada"], json={"answers": ["a", "b"]}
    )
    assert inside.status_code == 400 and "already in" in inside.json()["detail"]


async def test_requests_only_where_the_waitlist_is_open(beta: Any) -> None:
    headers = await beta.member("ada")
    closed = await beta.program(name="Closed", status="private_beta")
    draft = await beta.program(name="Draft", waitlist_open=True)
    got = await beta.call(
        "POST", f"/programs/{closed['id']}/waitlist", headers, json={"answers": []}
    )
    assert got.status_code == 404  # members do not know of it
    got = await beta.call(
        "POST", f"/programs/{draft['id']}/waitlist", headers, json={"answers": []}
    )
    assert got.status_code == 404
    admin_asks = await beta.call("POST", f"/programs/{closed['id']}/waitlist", json={"answers": []})
    assert admin_asks.status_code == 400
    assert admin_asks.json()["detail"] == "Closed is not taking requests to join."


async def test_members_leave_by_choice(beta: Any) -> None:
    headers = await beta.member("ada")
    program = await beta.program(status="private_beta")
    path = f"/programs/{program['id']}"
    await beta.call("POST", f"{path}/members", json={"usernames": ["ada"]})
    assert (await beta.call("GET", path, headers)).json()["me"]["accepted_version"] == 0
    assert (await beta.call("POST", f"{path}/leave", headers)).json() == {"left": True}
    assert (await beta.call("GET", path, headers)).status_code == 404
    assert (await beta.call("POST", f"{path}/leave")).json()[
        "detail"
    ] == "You are not in Private editor."


async def test_accepting_the_current_terms_only(beta: Any) -> None:
    headers = await beta.member("ada")
    await beta.member("grace")
    program = await beta.program(status="private_beta", terms="One.")
    path = f"/programs/{program['id']}"
    outsider = await beta.call("POST", f"{path}/terms/accept", json={"version": 1})
    assert outsider.status_code == 400 and outsider.json()["error"] == "not_participant"
    await beta.call("POST", f"{path}/members", json={"usernames": ["ada", "grace"]})
    await beta.call("PATCH", path, json={"terms": "Two."})
    old = await beta.call("POST", f"{path}/terms/accept", headers, json={"version": 1})
    assert old.status_code == 400
    assert old.json()["detail"] == (
        "Version 1 is not the current terms of Private editor: read and accept version 2."
    )
    for bad in ({}, {"version": "two"}, {"version": 3}):
        got = await beta.call("POST", f"{path}/terms/accept", headers, json=bad)
        assert got.status_code == 400, bad
    ok = await beta.call("POST", f"{path}/terms/accept", headers, json={"version": 2})
    assert ok.status_code == 200 and ok.json()["version"] == 2
    members = (await beta.call("GET", f"{path}/members")).json()
    assert members["accepted"] == 1 and members["participants"] == 2
    records = (await beta.call("GET", f"{path}/acceptances")).json()["acceptances"]
    assert [(r["username"], r["version"]) for r in records] == [("ada", 2)]
    await beta.call("PATCH", path, json={"terms": "Three."})
    assert (await beta.call("GET", f"{path}/members")).json()["accepted"] == 0
    none = await beta.program(name="No terms", status="private_beta")
    await beta.call("POST", f"/programs/{none['id']}/members", json={"usernames": ["ada"]})
    got = await beta.call(
        "POST", f"/programs/{none['id']}/terms/accept", headers, json={"version": 0}
    )
    assert got.status_code == 400 and got.json()["detail"] == "No terms has no terms to accept."


async def test_the_pages_to_accept_leave_ask_and_admit(beta: Any, client: Any) -> None:
    await beta.member("ada")
    program = await beta.program(
        status="private_beta", terms="Be kind.", waitlist_open=True, questions=["Why?"]
    )
    await sign_in(client, "ada")
    page = f"/p/beta/programs/{program['id']}"
    asked = await post_form(client, f"{page}/waitlist", {"answer-0": "I write a lot."}, page=page)
    assert "You are on the waitlist" in asked.text
    await sign_in(client, "admin")
    admin_page = f"/p/beta/admin/programs/{program['id']}"
    assert "I write a lot." in (await client.get(admin_page)).text
    admitted = await post_form(client, f"{admin_page}/admit", {"username": "ada"}, page=admin_page)
    assert "Admitted ada." in admitted.text
    refused = await post_form(client, f"{admin_page}/admit", {"count": "1"}, page=admin_page)
    assert refused.status_code == 400 and "Nobody is on the waitlist" in refused.text
    await sign_in(client, "ada")
    accepted = await post_form(client, f"{page}/accept", {"version": "1"}, page=page)
    assert "You accepted these terms." in accepted.text
    left = await post_form(client, f"{page}/leave", {}, page=page)
    assert "You left Private editor." in left.text
