"""Graduation: the preview of a move to public beta or graduated (what becomes visible and
to how many more members) through the API and the program's admin page, which changes
nothing until the admin confirms."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from community.accounts import services
from community.forum import services as forum
from community.testing import SITE_NAME, make_thread, post_form, sign_in

HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


async def _reply(app: Any, username: str, thread_id: int, body: str) -> int:
    async with app.state.sessionmaker() as db:
        author = await services.member_by_username(db, username)
        site = await services.instance_settings(db, SITE_NAME)
        _, post = await forum.reply(db, author, thread_id, body, site)
        return post.id


async def _delete(app: Any, username: str, post_id: int) -> None:
    async with app.state.sessionmaker() as db:
        member = await services.member_by_username(db, username)
        await forum.delete_post(db, member, post_id)


async def _lab(beta: Any, app: Any) -> dict[str, Any]:
    """A private beta gating Lab (2 threads, one with a reply: 3 posts) and Lab-2 (1 thread;
    a deleted reply does not count): 3 threads, 4 posts. ada (terms accepted) and linus (not
    yet) take part; testers are ada, grace and ken; mia and bob are outside. General is not
    gated. Members who are not admins: 6; seeing the categories now: ada."""
    headers = {n: await beta.member(n) for n in ("ada", "linus", "grace", "ken", "mia", "bob")}
    await beta.group("testers", "ada", "grace", "ken")
    first = await make_thread(app, "admin", title="Lab notes", category="Lab")
    await make_thread(app, "admin", title="More notes", category="Lab")
    other = await make_thread(app, "admin", title="Second lab", category="Lab-2")
    await make_thread(app, "admin", title="Hello", category="General")
    await _reply(app, "admin", first.id, "A reply in Lab.")
    await _delete(app, "admin", await _reply(app, "admin", other.id, "Gone."))
    program = await beta.program(
        status="private_beta",
        terms="Be kind.",
        categories=[first.category_id, other.category_id],
    )
    path = f"/programs/{program['id']}"
    added = await beta.call("POST", f"{path}/members", json={"usernames": ["ada", "linus"]})
    assert added.status_code == 200, added.text
    accepted = await beta.call("POST", f"{path}/terms/accept", headers["ada"], json={"version": 1})
    assert accepted.status_code == 200, accepted.text
    return {"program": program, "path": path, "headers": headers}


@pytest.mark.parametrize(
    ("query", "groups", "members"),
    [
        ("status=graduated", [], 5),
        ("status=public_beta&groups=Testers", ["testers"], 2),
        ("status=public_beta", [], 5),
        ("status=public_beta&groups=", [], 5),
    ],
)
async def test_the_preview_says_what_opens_and_to_how_many(
    beta: Any, app: Any, query: str, groups: list[str], members: int
) -> None:
    lab = await _lab(beta, app)
    before = (await beta.call("GET", lab["path"])).json()
    got = await beta.call("GET", f"{lab['path']}/graduation?{query}")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["categories"] == ["Lab", "Lab-2"]
    assert (body["threads"], body["posts"], body["members"]) == (3, 4, members)
    assert body["open_groups"] == groups and body["from"] == "private_beta"
    after = (await beta.call("GET", lab["path"])).json()
    del before["stats"], after["stats"]
    assert after == before  # nothing changed: status, groups, updated_at


async def test_the_preview_counts_only_members_who_do_not_see_yet(beta: Any, app: Any) -> None:
    lab = await _lab(beta, app)
    opened = await beta.call(
        "PATCH", lab["path"], json={"status": "public_beta", "open_groups": ["testers"]}
    )
    assert opened.status_code == 200, opened.text
    # ada, grace and ken see it already: graduating opens it to linus, mia and bob.
    body = (await beta.call("GET", f"{lab['path']}/graduation?status=graduated")).json()
    assert body["members"] == 3 and body["from"] == "public_beta"
    # A draft opens to nobody but admins: a public beta to testers reaches ada, grace, ken.
    await beta.call("PATCH", lab["path"], json={"status": "draft"})
    body = (
        await beta.call("GET", f"{lab['path']}/graduation?status=public_beta&groups=testers")
    ).json()
    assert body["members"] == 3
    empty = await beta.program(name="Empty", status="private_beta")
    body = (await beta.call("GET", f"/programs/{empty['id']}/graduation?status=graduated")).json()
    assert body == {**body, "categories": [], "threads": 0, "posts": 0, "members": 0}


@pytest.mark.parametrize(
    ("query", "code", "words"),
    [
        ("", "invalid_status", "public_beta or graduated"),
        ("status=archived", "invalid_status", "public_beta or graduated"),
        ("status=public_beta&groups=testers,nope", "unknown_group", "No group is called nope"),
    ],
)
async def test_bad_input_is_a_400_saying_why(
    beta: Any, app: Any, query: str, code: str, words: str
) -> None:
    lab = await _lab(beta, app)
    got = await beta.call("GET", f"{lab['path']}/graduation?{query}")
    assert got.status_code == 400, got.text
    assert got.json()["error"] == code and words in got.json()["detail"]


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [("archived", "archived", "archived program cannot"), ("graduated", "graduated", "already")],
)
async def test_an_archived_or_graduated_program_has_no_preview(
    beta: Any, status: str, code: str, words: str
) -> None:
    program = await beta.program(status=status)
    got = await beta.call("GET", f"/programs/{program['id']}/graduation?status=graduated")
    assert got.status_code == 400, got.text
    assert got.json()["error"] == code and words in got.json()["detail"]


async def test_members_get_no_preview(beta: Any, app: Any, client: Any) -> None:
    lab = await _lab(beta, app)
    for name in ("ada", "mia"):
        got = await beta.call(
            "GET", f"{lab['path']}/graduation?status=graduated", lab["headers"][name]
        )
        assert got.status_code in (403, 404)


async def test_the_admin_page_previews_then_confirms(beta: Any, app: Any, client: Any) -> None:
    lab = await _lab(beta, app)
    page = f"/p/beta/admin/programs/{lab['program']['id']}"
    await sign_in(client, "admin")
    form = {
        "name": "Private editor",
        "status": "public_beta",
        "open_groups": "testers",
        "terms": "Be kind.",
        "categories": [str(c["id"]) for c in lab["program"]["categories"]],
        "description": "Now with tables.",
    }
    shown = await post_form(client, page, form)
    assert shown.status_code == 200, shown.text
    assert "Lab and Lab-2 (3 threads, 4 posts) will become visible to 2 more members." in shown.text
    assert ">Confirm<" in shown.text
    still = (await beta.call("GET", lab["path"])).json()
    assert still["status"] == "private_beta" and still["open_groups"] == []
    assert still["description"] == ""

    confirm: dict[str, Any] = {}
    for name, value in HIDDEN_RE.findall(shown.text):
        if name != "_csrf_token":
            confirm.setdefault(name, []).append(html.unescape(value))
    assert confirm["confirm"] == ["yes"] and confirm["status"] == ["public_beta"]
    done = await post_form(client, page, confirm)
    assert done.status_code == 200, done.text
    assert "Saved." in done.text
    now = (await beta.call("GET", lab["path"])).json()
    assert now["status"] == "public_beta" and now["open_groups"] == ["testers"]
    assert now["description"] == "Now with tables."
    assert [c["name"] for c in now["categories"]] == ["Lab", "Lab-2"]
    assert now["terms_version"] == 1

    # A refused move shows the program's page with the reason, and changes nothing.
    refused = await post_form(client, page, {**form, "open_groups": "nope"})
    assert refused.status_code == 400
    assert "No group is called nope" in refused.text


async def test_members_cannot_open_the_preview_page(beta: Any, app: Any, client: Any) -> None:
    lab = await _lab(beta, app)
    await sign_in(client, "ada")
    page = f"/p/beta/admin/programs/{lab['program']['id']}"
    got = await post_form(client, page, {"status": "graduated"}, page="/")
    assert got.status_code in (403, 404)
    assert (await beta.call("GET", lab["path"])).json()["status"] == "private_beta"
