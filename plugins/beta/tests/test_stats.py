"""A program's figures for its admins (the program's admin page and ``stats`` in the API):
participants, terms accepted, the waitlist, participants active this week, feedback by
status and the shown posts in its gated categories; members never get them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from community.accounts import services
from community.db import utcnow
from community.forum import services as forum
from community.forum.models import Post, Reaction, Thread
from community.testing import SITE_NAME, make_thread, sign_in

EIGHT_DAYS_AGO = timedelta(days=8)


async def _reply(app: Any, username: str, thread_id: int, body: str) -> int:
    async with app.state.sessionmaker() as db:
        author = await services.member_by_username(db, username)
        site = await services.instance_settings(db, SITE_NAME)
        _, post = await forum.reply(db, author, thread_id, body, site)
        return post.id


async def _react(app: Any, username: str, post_id: int) -> None:
    async with app.state.sessionmaker() as db:
        member = await services.member_by_username(db, username)
        site = await services.instance_settings(db, SITE_NAME)
        _, added = await forum.toggle_reaction(db, member, post_id, site["reactions"][0], site)
        assert added


async def _delete(app: Any, username: str, post_id: int) -> None:
    async with app.state.sessionmaker() as db:
        member = await services.member_by_username(db, username)
        await forum.delete_post(db, member, post_id)


async def _change(app: Any, statement: Any) -> None:
    async with app.state.sessionmaker() as db:
        await db.execute(statement)
        await db.commit()


async def _activity(beta: Any, app: Any) -> dict[str, Any]:
    """A private beta gating Lab, with ada and linus (terms accepted) and grace (not yet)
    taking part, mia on the waitlist and ken outside it; the admin triaged two of three
    feedback items.

    Shown posts in Lab: the admin's opening post and ada's reply (this week), linus's reply
    8 days ago; not shown: ada's deleted reply and a thread held for review.
    Active this week: ada (posted, and reacted), grace (reacted in General). Not active:
    linus (his post is 8 days old; he reacted 8 days ago, and this week to a post deleted
    since, and posted in General and deleted it), ken and the admin (not participants)."""
    headers = {name: await beta.member(name) for name in ("ada", "linus", "grace", "ken", "mia")}
    lab = await make_thread(app, "admin", title="Lab notes", category="Lab")
    general = await make_thread(app, "ken", title="Hello", category="General")
    program = await beta.program(
        status="private_beta",
        terms="Be kind.",
        categories=[lab.category_id],
        waitlist_open=True,
        questions=["Why?"],
    )
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
    asked = await beta.call("POST", f"{path}/waitlist", headers["mia"], json={"answers": ["I"]})
    assert asked.status_code == 201, asked.text

    await _reply(app, "ada", lab.id, "This week, in the lab.")
    gone = await _reply(app, "ada", lab.id, "Posted and deleted.")
    await _delete(app, "ada", gone)
    old = await _reply(app, "linus", lab.id, "Eight days ago.")
    await _change(
        app, update(Post).where(Post.id == old).values(created_at=utcnow() - EIGHT_DAYS_AGO)
    )
    held = await make_thread(app, "admin", title="Held for review", category="Lab")
    await _change(app, update(Thread).where(Thread.id == held.id).values(held_at=utcnow()))

    kens = await _reply(app, "ken", general.id, "Ken talks a lot.")
    await _react(app, "ken", kens)
    await _react(app, "grace", kens)
    await _react(app, "ada", kens)
    await _react(app, "linus", old)  # reacted 8 days ago
    await _change(
        app,
        update(Reaction)
        .where(Reaction.post_id == old)
        .values(created_at=utcnow() - EIGHT_DAYS_AGO),
    )
    doomed = await _reply(app, "ken", general.id, "Soon deleted.")
    await _react(app, "linus", doomed)
    await _delete(app, "ken", doomed)
    mine = await _reply(app, "linus", general.id, "Linus changed his mind.")
    await _delete(app, "linus", mine)

    ids = []
    for name, kind in (("ada", "bug"), ("ada", "idea"), ("linus", "praise")):
        sent = await beta.call(
            "POST", f"{path}/feedback", headers[name], json={"kind": kind, "title": f"A {kind}"}
        )
        assert sent.status_code == 201, sent.text
        ids.append(sent.json()["id"])
    for item_id, status in zip(ids, ("planned", "done"), strict=False):
        triaged = await beta.call("PATCH", f"/feedback/{item_id}", json={"status": status})
        assert triaged.status_code == 200, triaged.text
    return {"headers": headers, "program": program, "path": path}


EXPECTED = {
    "participants": 3,
    "accepted_terms": 2,
    "waiting": 1,
    "active_this_week": 2,
    "feedback": {
        "total": 3,
        "status": {"new": 1, "acknowledged": 0, "planned": 1, "done": 1, "declined": 0},
        "kind": {"bug": 1, "idea": 1, "praise": 1},
    },
    "posts": {"total": 3, "this_week": 2},
}


async def test_admins_get_every_figure(beta: Any, app: Any) -> None:
    s = await _activity(beta, app)
    got = await beta.call("GET", s["path"])
    assert got.status_code == 200, got.text
    stats = got.json()["stats"]
    since = stats.pop("since")
    assert stats == EXPECTED
    assert since[:10] == (utcnow() - timedelta(days=7)).date().isoformat()


async def test_figures_of_a_quiet_program(beta: Any) -> None:
    program = await beta.program()
    stats = (await beta.call("GET", f"/programs/{program['id']}")).json()["stats"]
    stats.pop("since")
    assert stats == {
        "participants": 0,
        "accepted_terms": 0,
        "waiting": 0,
        "active_this_week": 0,
        "feedback": {
            "total": 0,
            "status": {"new": 0, "acknowledged": 0, "planned": 0, "done": 0, "declined": 0},
            "kind": {"bug": 0, "idea": 0, "praise": 0},
        },
        "posts": {"total": 0, "this_week": 0},
    }


async def test_members_and_outsiders_get_no_figures(beta: Any, app: Any) -> None:
    s = await _activity(beta, app)
    ada = await beta.call("GET", s["path"], s["headers"]["ada"])
    assert ada.status_code == 200, ada.text
    assert "stats" not in ada.json() and "participants" not in ada.json()
    listed = await beta.call("GET", "/programs")
    assert all("stats" not in p for p in listed.json()["programs"])
    ken = await beta.call("GET", s["path"], s["headers"]["ken"])  # open to requests
    assert ken.status_code == 200 and "stats" not in ken.json()


async def test_the_admin_page_shows_the_figures(beta: Any, app: Any, client: Any) -> None:
    s = await _activity(beta, app)
    page = f"/p/beta/admin/programs/{s['program']['id']}"
    await sign_in(client, "admin")
    got = await client.get(page)
    assert got.status_code == 200, got.text
    for label, figure in (
        ("Participants", 3),
        ("Accepted the current terms", 2),
        ("On the waitlist", 1),
        ("Active this week", 2),
        ("Posts in its categories", 3),
        ("Posts this week", 2),
        ("Feedback", 3),
        ("Feedback new", 1),
        ("Feedback acknowledged", 0),
        ("Feedback planned", 1),
        ("Feedback done", 1),
        ("Feedback declined", 0),
    ):
        assert f'<th scope="row">{label}</th><td>{figure}</td>' in got.text, label

    for name in ("ada", "ken"):
        await sign_in(client, name)
        assert (await client.get(page)).status_code == 403
        member_page = await client.get(f"/p/beta/programs/{s['program']['id']}")
        assert 'id="stats"' not in member_page.text and "Active this week" not in member_page.text
