"""Canned replies: saving with variables checked, most used first, rendering for a member."""

from __future__ import annotations

from typing import Any

import pytest
from community_moderation import canned
from community_moderation.models import AuditEntry, Canned
from sqlalchemy import select, update

from community.errors import ServiceError
from community.testing import api_token, post_form, sign_in

CANNED = "/api/v1/moderation/canned"


async def create(app: Any, client: Any, title: str, body: str, username: str = "mod") -> Any:
    return await client.post(
        CANNED, json={"title": title, "body": body}, headers=await api_token(app, username)
    )


async def test_moderators_save_and_list_canned_replies(app, client, mod):
    made = await create(app, client, "Off topic", "Hi {member}, this belongs elsewhere.")
    assert made.status_code == 201, made.text
    assert made.json()["uses"] == 0
    listed = await client.get(CANNED, headers=await api_token(app, "mod"))
    assert [c["title"] for c in listed.json()["canned"]] == ["Off topic"]
    async with app.state.sessionmaker() as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "canned.create"))
    assert entry is not None and entry.actor_id == mod.id


async def test_an_unknown_variable_is_refused_at_save(app, client, mod):
    response = await create(app, client, "Typo", "Hi {membr}, see {thread_url}.")
    assert response.status_code == 422
    assert response.json()["detail"].startswith("Unknown variable {membr}:")
    assert response.json()["field"] == "body"


async def test_other_bad_input(app, client, mod):
    assert (await create(app, client, "", "Body")).status_code == 422
    assert (await create(app, client, "Title", "   ")).status_code == 422
    assert (await create(app, client, "T" * 201, "Body")).status_code == 422
    assert (await create(app, client, "Same", "One")).status_code == 201
    taken = await create(app, client, "same", "Two")
    assert taken.status_code == 422 and taken.json()["field"] == "title"
    assert (await create(app, client, "Braces", "An empty {} stays as written.")).status_code == 201
    assert (await create(app, client, "Digits", "But {1} is no variable.")).status_code == 422


async def test_members_cannot_use_canned_replies(app, client, member, mod):
    assert (await create(app, client, "Mine", "Body", "member")).status_code == 403
    headers = await api_token(app, "member")
    assert (await client.get(CANNED, headers=headers)).status_code == 403
    await sign_in(client, "member")
    assert (await client.get("/p/moderation/canned")).status_code == 403


async def test_most_used_come_first(app, client, mod):
    for title in ("Rarely", "Often"):
        assert (await create(app, client, title, "Body.")).status_code == 201
    async with app.state.sessionmaker() as db:
        await db.execute(update(Canned).where(Canned.title == "Often").values(uses=5))
        await db.commit()
    listed = await client.get(CANNED, headers=await api_token(app, "mod"))
    assert [c["title"] for c in listed.json()["canned"]] == ["Often", "Rarely"]


async def test_update_and_delete(app, client, mod):
    made = (await create(app, client, "Old", "Body.")).json()
    headers = await api_token(app, "mod")
    changed = await client.put(
        f"{CANNED}/{made['id']}", json={"title": "New", "body": "{moderator}"}, headers=headers
    )
    assert changed.status_code == 200 and changed.json()["title"] == "New"
    assert (await client.delete(f"{CANNED}/{made['id']}", headers=headers)).status_code == 204
    assert (await client.delete(f"{CANNED}/{made['id']}", headers=headers)).status_code == 404


async def test_rendering_fills_the_variables_and_counts_the_use(app, client, member, mod, thread):
    made = await create(
        app, client, "Hello", "Hi {member}, about [{thread_title}]({thread_url}) — {moderator}"
    )
    async with app.state.sessionmaker() as db:
        text = await canned.render_canned(
            db, made.json()["id"], member=member, thread=thread, moderator=mod
        )
        await db.commit()
        assert (await db.get(Canned, made.json()["id"])).uses == 1
        with pytest.raises(ServiceError) as missing:
            await canned.render_canned(db, 999, member=member, moderator=mod)
    assert text == f"Hi member, about [A thread to test with]({thread.url}) — mod"
    assert missing.value.status == 422


async def test_the_page_saves_and_shows_errors(app, client, mod):
    await sign_in(client, "mod")
    page = "/p/moderation/canned"
    bad = await post_form(client, page, {"title": "Oops", "body": "Hi {foo}"})
    assert bad.status_code == 422 and "Unknown variable {foo}" in bad.text
    assert "Hi {foo}" in bad.text  # the form keeps what was written
    good = await post_form(client, page, {"title": "Welcome", "body": "Hi {member}"})
    assert good.status_code == 200 and "Welcome" in good.text
    made = await client.get(CANNED, headers=await api_token(app, "mod"))
    canned_id = made.json()["canned"][0]["id"]
    edited = await post_form(
        client, f"{page}/{canned_id}", {"title": "Welcome!", "body": "Hello {member}"}, page=page
    )
    assert edited.status_code == 200 and "Welcome!" in edited.text
    gone = await post_form(client, f"{page}/{canned_id}/delete", {}, page=page)
    assert gone.status_code == 200 and "No canned replies yet" in gone.text


async def test_the_page_forms_need_their_csrf_token(app, client, mod):
    await sign_in(client, "mod")
    response = await client.post("/p/moderation/canned", data={"title": "X", "body": "Y"})
    assert response.status_code == 403
