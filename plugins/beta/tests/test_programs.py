"""Programs: what an admin makes and changes through the API and the admin pages, and the
clear 400 for each thing that does not fit."""

from __future__ import annotations

from typing import Any

import pytest

from community.testing import make_thread, post_form, sign_in


async def test_an_admin_creates_a_program_and_reads_it_back(beta: Any, app: Any) -> None:
    lab = await make_thread(app, "admin", category="Editor lab")
    made = await beta.program(
        name="Private editor",
        description="The new editor, before anyone else.",
        categories=[lab.category_id],
        flags=["new-editor"],
        terms="Keep it to yourself.",
        capacity=50,
        waitlist_open=True,
        questions=["What do you write most?"],
    )
    assert made["slug"] == "private-editor"
    assert made["status"] == "draft"
    assert made["terms_version"] == 1
    assert made["categories"] == [{"id": lab.category_id, "name": "Editor lab"}]
    assert made["participants"] == 0 and made["waiting"] == 0
    listed = (await beta.call("GET", "/programs")).json()["programs"]
    assert [p["id"] for p in listed] == [made["id"]]
    one = (await beta.call("GET", f"/programs/{made['id']}")).json()
    assert one["flags"] == ["new-editor"] and one["capacity"] == 50


async def test_editing_the_terms_makes_a_new_version(beta: Any) -> None:
    made = await beta.program(terms="Version one.")
    path = f"/programs/{made['id']}"
    same = await beta.call("PATCH", path, json={"terms": "Version one.", "description": "x"})
    assert same.json()["terms_version"] == 1
    changed = await beta.call("PATCH", path, json={"terms": "Version two."})
    assert changed.status_code == 200
    assert changed.json()["terms_version"] == 2
    assert (await beta.program(name="No terms"))["terms_version"] == 0


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"name": ""}, "invalid_name", "needs a name"),
        ({"description": "x"}, "invalid_name", "needs a name"),
        ({"name": "A", "status": "beta"}, "invalid_status", "status is one of draft"),
        ({"name": "A", "capacity": 0}, "invalid_capacity", "from 1 to"),
        ({"name": "A", "capacity": "many"}, "invalid_capacity", "whole number"),
        ({"name": "A", "slug": "Not A Slug"}, "invalid_slug", "lower-case"),
        ({"name": "A", "flags": ["New Editor"]}, "invalid_flags", "not a flag key"),
        ({"name": "A", "categories": [999999]}, "unknown_category", "999999"),
        ({"name": "A", "categories": "x"}, "invalid_categories", "category ids"),
        ({"name": "A", "categories": [2**63]}, "unknown_category", str(2**63)),
        ({"name": "A\x00"}, "invalid_name", "NUL"),
        ({"name": "A", "questions": ["Why\x00?"]}, "invalid_questions", "NUL"),
        ({"name": "A", "open_groups": ["nobody"]}, "unknown_group", "nobody"),
        ({"name": "A", "waitlist_open": "maybe"}, "invalid_waitlist_open", "true or false"),
        ({"name": "A", "questions": ["?"] * 11}, "invalid_questions", "at most 10"),
        ({"name": "A", "colour": "red"}, "invalid_body", "Unknown fields: colour"),
    ],
)
async def test_bad_programs_are_refused_saying_why(
    beta: Any, body: dict[str, Any], code: str, words: str
) -> None:
    got = await beta.call("POST", "/programs", json=body)
    assert got.status_code == 400, got.text
    assert got.json()["error"] == code
    assert words in got.json()["detail"]


async def test_a_category_belongs_to_one_program_and_slugs_are_unique(beta: Any, app: Any) -> None:
    lab = await make_thread(app, "admin", category="Lab")
    first = await beta.program(name="First", categories=[lab.category_id])
    got = await beta.call(
        "POST", "/programs", json={"name": "Second", "categories": [lab.category_id]}
    )
    assert got.status_code == 400
    assert got.json()["detail"] == (
        "Lab is already gated by the program First; a category belongs to at most one program."
    )
    again = await beta.call(
        "PATCH", f"/programs/{first['id']}", json={"categories": [lab.category_id]}
    )
    assert again.status_code == 200  # its own category is no clash
    clash = await beta.call("POST", "/programs", json={"name": "First"})
    assert clash.status_code == 400 and clash.json()["error"] == "slug_taken"


async def test_an_archived_program_is_not_graduated(beta: Any) -> None:
    made = await beta.program(status="archived")
    got = await beta.call("PATCH", f"/programs/{made['id']}", json={"status": "graduated"})
    assert got.status_code == 400
    assert "archived program cannot be opened or graduated" in got.json()["detail"]
    assert (
        await beta.call("PATCH", f"/programs/{made['id']}", json={"status": "private_beta"})
    ).status_code == 200


async def test_members_know_only_programs_open_to_them(beta: Any) -> None:
    headers = await beta.member("ada")
    draft = await beta.program(name="Draft", waitlist_open=True)
    closed = await beta.program(name="Closed", status="private_beta")
    open_ = await beta.program(name="Open", status="private_beta", waitlist_open=True)
    listed = (await beta.call("GET", "/programs", headers)).json()["programs"]
    assert [p["name"] for p in listed] == ["Open"]
    assert "categories" not in listed[0] and "participants" not in listed[0]
    for hidden in (draft, closed):
        assert (await beta.call("GET", f"/programs/{hidden['id']}", headers)).status_code == 404
    for missing in ("/programs/999999", "/programs/99999999999999999999"):
        assert (await beta.call("GET", missing)).status_code == 404
    assert (await beta.call("GET", f"/programs/{open_['id']}", headers)).status_code == 200
    refused = await beta.call("POST", "/programs", headers, json={"name": "Mine"})
    assert refused.status_code == 403
    patch = await beta.call("PATCH", f"/programs/{open_['id']}", headers, json={"name": "X"})
    assert patch.status_code == 403


async def test_admins_manage_programs_on_the_admin_pages(beta: Any, app: Any, client: Any) -> None:
    lab = await make_thread(app, "admin", category="Lab")
    await sign_in(client, "admin")
    page = await client.get("/p/beta/admin")
    assert page.status_code == 200 and "New program" in page.text
    made = await post_form(
        client,
        "/p/beta/admin",
        {
            "name": "Lab program",
            "status": "private_beta",
            "categories": str(lab.category_id),
            "terms": "Be kind.",
            "capacity": "",
            "questions": "Why?\nHow often?",
        },
    )
    assert made.status_code == 200 and "Participants (0)" in made.text
    program = (await beta.call("GET", "/programs")).json()["programs"][0]
    assert program["categories"] == [{"id": lab.category_id, "name": "Lab"}]
    assert program["questions"] == ["Why?", "How often?"] and program["capacity"] is None
    path = f"/p/beta/admin/programs/{program['id']}"
    refused = await post_form(client, path, {"name": "Lab program", "status": "nope"})
    assert refused.status_code == 400 and "status is one of" in refused.text
    saved = await post_form(
        client, path, {"name": "Lab program", "status": "private_beta", "terms": "Be kinder."}
    )
    assert "Saved." in saved.text and "Terms version 2" in saved.text
    listing = await client.get("/p/beta/admin")
    assert "Lab program" in listing.text and "version 2" in listing.text


async def test_the_admin_pages_are_for_admins(beta: Any, client: Any) -> None:
    await beta.member("ada")
    await sign_in(client, "ada")
    assert (await client.get("/p/beta/admin")).status_code == 403
    assert (await client.get("/p/beta/admin/flags")).status_code == 403
