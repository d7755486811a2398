"""Gated categories, by program status: who sees their threads (lists, thread pages,
search) and who finds nothing. The visibility condition is SQL inside the core's queries."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from community import plugins
from community.accounts.services import instance_settings
from community.forum import visibility
from community.forum.models import Thread
from community.testing import make_thread

SEES = {
    # status: (open groups, who sees the gated thread among the members)
    "draft": ([], {"admin"}),
    "private_beta": ([], {"admin", "ada"}),
    "public_beta": ([], {"admin", "ada", "grace", "linus", "ken"}),
    "graduated": ([], {"admin", "ada", "grace", "linus", "ken"}),
    "archived": ([], {"admin", "ada"}),
}


async def _forum(
    beta: Any, app: Any, status: str, open_groups: list[str]
) -> tuple[dict[str, Any], Any]:
    """ada took part and accepted the terms, grace took part without accepting, linus is in
    the group "testers", ken is nobody in particular; one thread in the gated category Lab
    and one in General."""
    headers = {"admin": beta.admin_headers}
    for name in ("ada", "grace", "linus", "ken"):
        headers[name] = await beta.member(name)
    await beta.group("testers", "linus")
    await make_thread(app, "ken", title="Hello everyone", category="General")
    secret = await make_thread(app, "admin", title="Secret editor plans", category="Lab")
    program = await beta.program(
        status="private_beta",
        categories=[secret.category_id],
        terms="Shh.",
    )
    path = f"/programs/{program['id']}"
    await beta.call("POST", f"{path}/members", json={"usernames": ["ada", "grace"]})
    await beta.call("POST", f"{path}/terms/accept", headers["ada"], json={"version": 1})
    changed = await beta.call("PATCH", path, json={"status": status, "open_groups": open_groups})
    assert changed.status_code == 200, changed.text
    return headers, secret


async def _titles(beta: Any, headers: dict[str, str]) -> set[str]:
    got = await beta.call("GET", "/threads", headers)
    return {t["title"] for t in got.json()["threads"]}


@pytest.mark.parametrize(
    ("status", "open_groups", "seers"),
    [
        *[(status, groups, seers) for status, (groups, seers) in SEES.items()],
        ("public_beta", ["testers"], {"admin", "ada", "linus"}),
    ],
)
async def test_who_sees_a_gated_category(
    beta: Any, app: Any, status: str, open_groups: list[str], seers: set[str]
) -> None:
    headers, secret = await _forum(beta, app, status, open_groups)
    for name, member_headers in headers.items():

        async def api(path: str, member_headers: dict[str, str] = member_headers) -> Any:
            return await beta.client.get(f"/api/v1{path}", headers=member_headers)

        listed = {t["title"] for t in (await api("/threads")).json()["threads"]}
        assert "Hello everyone" in listed
        sees = name in seers
        assert ("Secret editor plans" in listed) is sees, (status, name)
        page = await api(f"/threads/{secret.id}")
        assert page.status_code == (200 if sees else 404), (status, name)
        found = (await api("/search?q=plans")).json()
        assert (found["total"] > 0) is sees, (status, name)


async def test_a_new_terms_version_closes_the_gate_until_accepted(beta: Any, app: Any) -> None:
    headers, secret = await _forum(beta, app, "private_beta", [])
    program = (await beta.call("GET", "/programs")).json()["programs"][0]
    path = f"/programs/{program['id']}"
    await beta.call("PATCH", path, json={"terms": "Shh, version two."})
    page = await beta.client.get(f"/api/v1/threads/{secret.id}", headers=headers["ada"])
    assert page.status_code == 404
    await beta.call("POST", f"{path}/terms/accept", headers["ada"], json={"version": 2})
    page = await beta.client.get(f"/api/v1/threads/{secret.id}", headers=headers["ada"])
    assert page.status_code == 200
    await beta.call("POST", f"{path}/leave", headers["ada"])
    page = await beta.client.get(f"/api/v1/threads/{secret.id}", headers=headers["ada"])
    assert page.status_code == 404


@pytest.mark.parametrize(
    ("status", "open_groups", "seen"),
    [
        ("private_beta", [], False),
        ("public_beta", ["testers"], False),
        ("archived", [], False),
        ("public_beta", [], True),
        ("graduated", [], True),
    ],
)
async def test_the_ordinary_member_sees_only_what_everyone_sees(
    beta: Any, app: Any, status: str, open_groups: list[str], seen: bool
) -> None:
    await _forum(beta, app, status, open_groups)
    async with app.state.sessionmaker() as db:
        site = await instance_settings(db, app.state.settings.name)
        with plugins.activated(app.state.plugins, site):
            nobody = plugins.ordinary_member()
            titles = set(await db.scalars(select(Thread.title).where(visibility.threads(nobody))))
    assert "Hello everyone" in titles
    assert ("Secret editor plans" in titles) is seen


async def test_private_conversations_are_left_alone(beta: Any, app: Any) -> None:
    headers, _ = await _forum(beta, app, "draft", [])
    sent = await beta.client.post(
        "/api/v1/conversations",
        json={"usernames": ["ada"], "title": "A word", "body": "Hello Ada."},
        headers=headers["ken"],
    )
    assert sent.status_code == 201, sent.text
    mine = await beta.client.get("/api/v1/conversations", headers=headers["ada"])
    assert "A word" in [c["title"] for c in mine.json()["conversations"]]


async def test_outsiders_cannot_write_in_a_gated_category(beta: Any, app: Any) -> None:
    headers, secret = await _forum(beta, app, "private_beta", [])
    new = {"category_id": secret.category_id, "title": "Sneaking in", "body": "Hello?"}
    for name, status in (("ken", 422), ("grace", 422), ("ada", 201), ("admin", 201)):
        got = await beta.client.post("/api/v1/threads", json=new, headers=headers[name])
        assert got.status_code == status, (name, got.text)
        if status == 422:
            assert got.json()["detail"] == "No such category."
    reply = {"body": "A reply."}
    outsider = await beta.client.post(
        f"/api/v1/threads/{secret.id}/posts", json=reply, headers=headers["ken"]
    )
    assert outsider.status_code == 404


async def test_an_archived_program_is_read_only(beta: Any, app: Any) -> None:
    headers, secret = await _forum(beta, app, "archived", [])
    ada = headers["ada"]
    assert (await beta.client.get(f"/api/v1/threads/{secret.id}", headers=ada)).status_code == 200
    reply = await beta.client.post(
        f"/api/v1/threads/{secret.id}/posts", json={"body": "Still here?"}, headers=ada
    )
    assert reply.status_code == 422
    assert reply.json()["detail"] == "Private editor is archived: its categories are read-only."
    new = {"category_id": secret.category_id, "title": "One more", "body": "Hello?"}
    assert (await beta.client.post("/api/v1/threads", json=new, headers=ada)).status_code == 422
    by_admin = await beta.client.post(
        f"/api/v1/threads/{secret.id}/posts",
        json={"body": "Closing words."},
        headers=headers["admin"],
    )
    assert by_admin.status_code == 201


async def test_an_outsider_does_not_see_the_gated_category_at_all(beta: Any, app: Any) -> None:
    """Not even its name in the category list, nor its page, nor a place to post."""
    headers, secret = await _forum(beta, app, "private_beta", [])

    async def names(who: str) -> set[str]:
        got = await beta.client.get("/api/v1/categories", headers=headers[who])
        assert got.status_code == 200, got.text
        return {c["name"] for c in got.json()["categories"]}

    assert "Lab" in await names("ada") and "Lab" in await names("admin")
    for outsider in ("ken", "grace", "linus"):
        assert await names(outsider) == {"General"}
    started = await beta.client.post(
        "/api/v1/threads",
        json={"category_id": secret.category_id, "title": "Hello lab", "body": "Knock knock"},
        headers=headers["ken"],
    )
    assert started.status_code in (400, 404, 422), started.text
    assert "categor" in started.text.lower() and "Lab" not in started.text
