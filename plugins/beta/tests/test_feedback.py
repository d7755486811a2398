"""The feedback board: participants who accepted the terms send bugs, ideas and praise to a
running program and read the whole board; admins triage each item and its author is told
by a private message (a notification); bad input is a 400 saying what is wrong."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import delete, select

from community.accounts.models import Member
from community.forum.models import Notification, Post, Thread
from community.jobs import JobRunner, OutboxJob
from community.testing import make_thread, post_form, sign_in


async def _board(beta: Any, app: Any) -> dict[str, Any]:
    """ada and linus take part and accepted the terms, grace takes part without accepting,
    ken is nobody in particular. General is open to all; Lab is gated by another program
    that only ken is in. Returns the headers, the program and both threads."""
    headers = {name: await beta.member(name) for name in ("ada", "linus", "grace", "ken")}
    general = await make_thread(app, "ken", title="Editor crashes on paste", category="General")
    lab = await make_thread(app, "admin", title="Secret lab notes", category="Lab")
    other = await beta.program(name="Lab", status="private_beta", categories=[lab.category_id])
    await beta.call("POST", f"/programs/{other['id']}/members", json={"usernames": ["ken"]})
    program = await beta.program(status="private_beta", terms="Be kind.")
    path = f"/programs/{program['id']}"
    added = await beta.call(
        "POST", f"{path}/members", json={"usernames": ["ada", "linus", "grace"]}
    )
    assert added.status_code == 200, added.text
    for name in ("ada", "linus"):
        accepted = await beta.call(
            "POST", f"{path}/terms/accept", headers[name], json={"version": 1}
        )
        assert accepted.status_code == 200, accepted.text
    return {
        "headers": headers,
        "program": program,
        "path": path,
        "general": general,
        "lab": lab,
    }


async def _inbox(app: Any, username: str) -> list[tuple[str, str, str]]:
    """(kind, thread title, first post body) of ``username``'s notifications about their
    feedback (the welcome messages are left out)."""
    async with app.state.sessionmaker() as db:
        rows = await db.execute(
            select(Notification.kind, Thread.title, Post.body)
            .join(Member, Member.id == Notification.member_id)
            .join(Thread, Thread.id == Notification.thread_id)
            .join(Post, (Post.thread_id == Thread.id) & (Post.number == 1))
            .where(Member.username_key == username, Thread.title.like("Your feedback%"))
            .order_by(Notification.id)
        )
        return [(kind, title, body) for kind, title, body in rows]


async def _told(app: Any, username: str, within: float = 10) -> list[tuple[str, str, str]]:
    """Run due jobs (with Redis they wait for a worker) until ``username`` has a notification."""
    runner = JobRunner(app.state.sessionmaker, app.state.jobs, app.state.settings)
    deadline = asyncio.get_running_loop().time() + within
    while not (found := await _inbox(app, username)):
        await runner.run_next()
        assert asyncio.get_running_loop().time() < deadline, f"{username} was never told"
        await asyncio.sleep(0.05)
    return found


async def _status_jobs(app: Any) -> int:
    """How many ``beta.feedback_status`` jobs were queued."""
    async with app.state.sessionmaker() as db:
        found = await db.scalars(
            select(OutboxJob.id).where(OutboxJob.name == "beta.feedback_status")
        )
        return len(found.all())


async def test_participants_send_and_share_the_board(beta: Any, app: Any) -> None:
    s = await _board(beta, app)
    ada, linus = s["headers"]["ada"], s["headers"]["linus"]
    sent = await beta.call(
        "POST",
        f"{s['path']}/feedback",
        ada,
        json={
            "kind": "bug",
            "severity": "high",
            "title": "  Paste  loses formatting ",
            "body": "Paste a table: it comes out flat.",
            "thread_id": s["general"].id,
        },
    )
    assert sent.status_code == 201, sent.text
    item = sent.json()
    assert item["kind"] == "bug" and item["severity"] == "high" and item["status"] == "new"
    assert item["title"] == "Paste loses formatting" and item["author"] == "ada"
    assert item["thread"] == {
        "id": s["general"].id,
        "title": "Editor crashes on paste",
        "url": s["general"].url,
    }
    idea = await beta.call(
        "POST", f"{s['path']}/feedback", linus, json={"kind": "Idea", "title": "Dark mode"}
    )
    assert idea.status_code == 201, idea.text
    assert idea.json()["severity"] == "normal" and idea.json()["body"] == ""
    praise = await beta.call(
        "POST",
        f"{s['path']}/feedback",
        linus,
        json={"kind": "praise", "title": "Fast!", "thread_id": ""},
    )
    assert praise.status_code == 201, praise.text

    for reader in (ada, linus, beta.admin_headers):
        board = (await beta.call("GET", f"{s['path']}/feedback", reader)).json()
        assert [f["title"] for f in board["feedback"]] == [
            "Fast!",
            "Dark mode",
            "Paste loses formatting",
        ]
        assert board["counts"] == {
            "total": 3,
            "status": {"new": 3, "acknowledged": 0, "planned": 0, "done": 0, "declined": 0},
            "kind": {"bug": 1, "idea": 1, "praise": 1},
        }
    bugs = (await beta.call("GET", f"{s['path']}/feedback", ada, params={"kind": "bug"})).json()
    assert [f["title"] for f in bugs["feedback"]] == ["Paste loses formatting"]
    new = await beta.call("GET", f"{s['path']}/feedback", ada, params={"status": "new"})
    assert len(new.json()["feedback"]) == 3
    for params, detail in (
        ({"status": "open"}, "status is one of new, acknowledged, planned, done, declined."),
        ({"kind": "rant"}, "kind is one of bug, idea, praise."),
    ):
        got = await beta.call("GET", f"{s['path']}/feedback", ada, params=params)
        assert got.status_code == 400 and got.json()["detail"] == detail

    # Those who have not accepted the terms, and outsiders, do not read it.
    grace = await beta.call("GET", f"{s['path']}/feedback", s["headers"]["grace"])
    assert grace.status_code == 403 and "accepted its terms" in grace.json()["detail"]
    ken = await beta.call("GET", f"{s['path']}/feedback", s["headers"]["ken"])
    assert ken.status_code == 404


async def test_who_may_send(beta: Any, app: Any) -> None:
    s = await _board(beta, app)
    body = {"kind": "idea", "title": "Keyboard shortcuts"}
    outsider = await beta.call("POST", f"{s['path']}/feedback", s["headers"]["ken"], json=body)
    assert outsider.status_code == 404 and outsider.json()["detail"] == "No such program."
    unaccepted = await beta.call("POST", f"{s['path']}/feedback", s["headers"]["grace"], json=body)
    assert unaccepted.status_code == 400
    assert unaccepted.json() == {
        "error": "terms_not_accepted",
        "detail": "Accept the current terms of Private editor (version 1) before sending feedback.",
    }
    admin = await beta.call("POST", f"{s['path']}/feedback", json=body)
    assert admin.status_code == 400 and admin.json()["detail"] == "You are not in Private editor."
    # New terms: ada must accept them again first.
    await beta.call("PATCH", s["path"], json={"terms": "Be kinder."})
    again = await beta.call("POST", f"{s['path']}/feedback", s["headers"]["ada"], json=body)
    assert again.status_code == 400 and "(version 2)" in again.json()["detail"]
    await beta.call("POST", f"{s['path']}/terms/accept", s["headers"]["ada"], json={"version": 2})
    ok = await beta.call("POST", f"{s['path']}/feedback", s["headers"]["ada"], json=body)
    assert ok.status_code == 201, ok.text
    for status, detail in (
        ("archived", "Private editor is archived: its feedback is read-only."),
        ("graduated", "Private editor has graduated: it takes no more feedback."),
    ):
        if status == "graduated":
            await beta.call("PATCH", s["path"], json={"status": "private_beta"})
        changed = await beta.call("PATCH", s["path"], json={"status": status})
        assert changed.status_code == 200, changed.text
        refused = await beta.call("POST", f"{s['path']}/feedback", s["headers"]["ada"], json=body)
        assert refused.status_code == 400 and refused.json()["detail"] == detail
        # The board stays readable.
        board = await beta.call("GET", f"{s['path']}/feedback", s["headers"]["ada"])
        assert [f["title"] for f in board.json()["feedback"]] == ["Keyboard shortcuts"]


async def test_bad_feedback_is_a_clear_400(beta: Any, app: Any) -> None:
    s = await _board(beta, app)
    ada = s["headers"]["ada"]
    cases = [
        ({"kind": "rant", "title": "Meh"}, "kind is one of bug, idea, praise."),
        ({"title": "No kind"}, "kind is one of bug, idea, praise."),
        (
            {"kind": "bug", "severity": "urgent", "title": "Crash"},
            "severity is one of low, normal, high, critical.",
        ),
        ({"kind": "bug", "title": "   "}, "A title is 3 to 150 characters long; this one has 0."),
        ({"kind": "bug"}, "title is text."),
        (
            {"kind": "bug", "title": "x" * 151},
            "A title is 3 to 150 characters long; this one has 151.",
        ),
        ({"kind": "bug", "title": "Nul\x00"}, "title cannot contain NUL characters."),
        (
            {"kind": "bug", "title": "Long", "body": "y" * 10_001},
            "body is at most 10,000 characters; this one has 10,001.",
        ),
        ({"kind": "bug", "title": "Crash", "body": 12}, "body is text."),
        ({"kind": "bug", "title": "Crash", "thread_id": 999_999}, "No such thread."),
        ({"kind": "bug", "title": "Crash", "thread_id": "abc"}, "No such thread."),
        ({"kind": "bug", "title": "Crash", "thread_id": 10**30}, "No such thread."),
        ({"kind": "bug", "title": "Crash", "thread_id": s["lab"].id}, "No such thread."),
        ({"kind": "bug", "title": "Crash", "status": "done"}, "Unknown fields: status."),
    ]
    for body, detail in cases:
        got = await beta.call("POST", f"{s['path']}/feedback", ada, json=body)
        assert got.status_code == 400, (body, got.text)
        assert got.json()["detail"] == detail, body
    listed = await beta.call("GET", f"{s['path']}/feedback", ada)
    assert listed.json()["feedback"] == []


async def test_admins_triage_and_the_author_is_told(beta: Any, app: Any) -> None:
    s = await _board(beta, app)
    ada = s["headers"]["ada"]
    sent = await beta.call(
        "POST", f"{s['path']}/feedback", ada, json={"kind": "bug", "title": "Paste breaks"}
    )
    item_id = sent.json()["id"]
    for who in (ada, s["headers"]["ken"]):
        refused = await beta.call("PATCH", f"/feedback/{item_id}", who, json={"status": "done"})
        assert refused.status_code == 403
    for body, detail in (
        ({"status": "fixed"}, "status is one of new, acknowledged, planned, done, declined."),
        ({}, 'Send {"status": "..."}.'),
        ({"status": "done", "title": "x"}, 'Send {"status": "..."}.'),
    ):
        got = await beta.call("PATCH", f"/feedback/{item_id}", json=body)
        assert got.status_code == 400 and got.json()["detail"] == detail
    missing = await beta.call("PATCH", "/feedback/999999", json={"status": "done"})
    assert missing.status_code == 404 and missing.json()["detail"] == "No such feedback."

    planned = await beta.call("PATCH", f"/feedback/{item_id}", json={"status": "planned"})
    assert planned.status_code == 200, planned.text
    assert planned.json()["status"] == "planned"
    ((kind, title, body),) = await _told(app, "ada")
    assert kind == "message"
    assert title == "Your feedback is planned: Paste breaks"
    assert "(status: planned)" in body and f"/p/beta/programs/{s['program']['id']}" in body
    board = (await beta.call("GET", f"{s['path']}/feedback", ada)).json()
    assert board["feedback"][0]["status"] == "planned"
    assert board["counts"]["status"]["planned"] == 1 and board["counts"]["status"]["new"] == 0
    # The same status again changes nothing and tells nobody again.
    same = await beta.call("PATCH", f"/feedback/{item_id}", json={"status": "planned"})
    assert same.status_code == 200
    assert await _status_jobs(app) == 1


async def test_an_admin_triaging_their_own_feedback_is_not_told(beta: Any, app: Any) -> None:
    s = await _board(beta, app)
    await beta.call("POST", f"{s['path']}/members", json={"usernames": ["admin"]})
    await beta.call("POST", f"{s['path']}/terms/accept", json={"version": 1})
    sent = await beta.call("POST", f"{s['path']}/feedback", json={"kind": "idea", "title": "Mine"})
    assert sent.status_code == 201, sent.text
    done = await beta.call("PATCH", f"/feedback/{sent.json()['id']}", json={"status": "done"})
    assert done.status_code == 200
    assert await _status_jobs(app) == 0


async def test_the_board_and_triage_pages(beta: Any, app: Any, client: Any) -> None:
    s = await _board(beta, app)
    page = f"/p/beta/programs/{s['program']['id']}"
    await sign_in(client, "ada")
    shown = await client.get(page)
    assert shown.status_code == 200 and "Send feedback" in shown.text
    sent = await post_form(
        client,
        f"{page}/feedback",
        {
            "kind": "bug",
            "severity": "critical",
            "title": "<script>alert(1)</script>",
            "body": "Steps & more",
            "thread_id": str(s["general"].id),
        },
        page=page,
    )
    assert sent.status_code == 200, sent.text
    assert "Thank you: your feedback is on the board." in sent.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in sent.text
    assert "<script>alert(1)</script>" not in sent.text
    assert "Editor crashes on paste" in sent.text and "bug: 1" in sent.text
    refused = await post_form(
        client, f"{page}/feedback", {"kind": "idea", "title": "", "body": "Kept"}, page=page
    )
    assert refused.status_code == 400
    assert "A title is 3 to 150 characters long; this one has 0." in refused.text
    assert ">Kept</textarea>" in refused.text
    hidden = await post_form(
        client,
        f"{page}/feedback",
        {"kind": "idea", "title": "Lab", "thread_id": str(s["lab"].id)},
        page=page,
    )
    assert hidden.status_code == 400 and "No such thread." in hidden.text
    assert "Secret lab notes" not in hidden.text

    await sign_in(client, "grace")  # in the program, terms not accepted: no board
    assert 'id="feedback"' not in (await client.get(page)).text
    await sign_in(client, "ken")
    assert (await client.get(page)).status_code == 404
    assert (
        await client.get(f"/p/beta/admin/programs/{s['program']['id']}/feedback")
    ).status_code == 403

    await sign_in(client, "admin")
    triage = f"/p/beta/admin/programs/{s['program']['id']}/feedback"
    listed = await client.get(triage)
    assert listed.status_code == 200 and "&lt;script&gt;" in listed.text
    item_id = (await beta.call("GET", f"{s['path']}/feedback")).json()["feedback"][0]["id"]
    changed = await post_form(
        client, f"{triage}/{item_id}", {"status": "acknowledged"}, page=triage
    )
    assert changed.status_code == 200, changed.text
    assert "acknowledged." in changed.text and "acknowledged: 1" in changed.text
    bad = await post_form(client, f"{triage}/{item_id}", {"status": "nope"}, page=triage)
    assert bad.status_code == 400 and "status is one of" in bad.text
    elsewhere = await post_form(
        client, f"/p/beta/admin/programs/999/feedback/{item_id}", {"status": "done"}, page=triage
    )
    assert elsewhere.status_code == 404
    ((kind, title, _),) = await _told(app, "ada")
    assert kind == "message" and title.startswith("Your feedback was acknowledged: <script>")


async def test_feedback_outlives_its_author(beta: Any, app: Any) -> None:
    s = await _board(beta, app)
    sent = await beta.call(
        "POST",
        f"{s['path']}/feedback",
        s["headers"]["ada"],
        json={"kind": "praise", "title": "Nice"},
    )
    assert sent.status_code == 201, sent.text
    async with app.state.sessionmaker() as db:
        await db.execute(delete(Member).where(Member.username_key == "ada"))
        await db.commit()
    (item,) = (await beta.call("GET", f"{s['path']}/feedback")).json()["feedback"]
    assert item["title"] == "Nice" and item["author"] is None
    done = await beta.call("PATCH", f"/feedback/{item['id']}", json={"status": "done"})
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert await _status_jobs(app) == 0
