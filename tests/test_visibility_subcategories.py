"""A category a plugin hides (hook ``visible_categories``) hides its subcategories and their
threads too, from members and moderators alike."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar

from community import plugins as plugin_api
from community.accounts import services as accounts
from community.forum import services as forum
from community.testing import browser, enable_plugin, make_member, sign_in
from tests.plugins import hello


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [hello]


async def _hidden_family(app: Litestar) -> tuple[Any, Any]:
    """ "Classified lab" (hidden by the hello plugin's word) and its subcategory "Bench",
    which holds the thread "Bench notes"."""
    await make_member(app, "alice")
    await make_member(app, "mod", "moderator")
    await enable_plugin(app, "hello")
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
        alice = await accounts.member_by_username(db, "alice")
        await forum.save_category(db, None, {"name": "General"})
        lab = await forum.save_category(db, None, {"name": "Classified lab"})
        bench = await forum.save_category(db, None, {"name": "Bench", "parent_id": lab.id})
        thread, _ = await forum.create_thread(
            db, alice, category_id=bench.id, title="Bench notes", body="ocelot", site=site
        )
        await plugin_api.save_settings(
            db,
            app.state.plugins,
            "hello",
            {"greeting": "Hi", "times": "1", "hidden_word": "Classified"},
        )
    return bench, thread


@pytest.mark.parametrize("username", ["alice", "mod"])
async def test_a_subcategory_of_a_hidden_category_is_hidden(app, username):
    bench, thread = await _hidden_family(app)
    async with browser(app) as client:
        await sign_in(client, username)
        listed = await client.get("/categories")
        assert "General" in listed.text and "Bench" not in listed.text
        assert "Bench notes" not in (await client.get("/")).text
        assert (await client.get(f"/c/{bench.slug}")).status_code == 404
        assert (await client.get(thread.url)).status_code == 404
        assert "Bench notes" not in (await client.get("/search?q=ocelot")).text
    await enable_plugin(app, "hello", False)
    async with browser(app) as client:
        await sign_in(client, username)
        assert "Bench" in (await client.get("/categories")).text
        assert (await client.get(thread.url)).status_code == 200
