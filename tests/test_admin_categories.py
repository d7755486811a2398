"""The admin categories pages and the forum settings on the admin settings page."""

import re

from community.accounts import services as accounts
from community.forum import services as forum
from community.testing import csrf, make_member, post_form, sign_in

MARKER = {"category_form": "1"}


async def admin_client(client, app):
    await make_member(app, "root", "admin")
    await sign_in(client, "root")
    return client


async def make_groups(app, *names):
    async with app.state.sessionmaker() as db:
        for name in names:
            await accounts.create_group(db, name)


async def categories_json(app):
    async with app.state.sessionmaker() as db:
        root = await accounts.member_by_username(db, "root")
        return [forum.category_json(c) for c in await forum.list_categories(db, root)]


async def by_name(app, name):
    found = [c for c in await categories_json(app) if c["name"] == name]
    assert len(found) == 1, found
    return found[0]


async def post_category(client, path, fields, page="/admin/categories"):
    """Post the category form as a browser does: ``fields`` may hold lists (checked boxes)."""
    token = await csrf(client, page)
    return await client.post(path, data={**MARKER, **fields, "_csrf_token": token})


async def test_members_cannot_open_category_pages(client, app):
    await make_member(app, "root", "admin")
    await make_member(app, "bob")
    async with app.state.sessionmaker() as db:
        category = await forum.save_category(db, None, {"name": "General"})
    await sign_in(client, "bob")
    for path in ("/admin/categories", f"/admin/categories/{category.id}"):
        response = await client.get(path)
        assert response.status_code == 403, path
        assert "Only admins" in response.text
    token = await csrf(client, "/settings")
    for path in (
        "/admin/categories",
        f"/admin/categories/{category.id}",
        f"/admin/categories/{category.id}/delete",
    ):
        response = await client.post(path, data={"name": "Taken", "_csrf_token": token})
        assert response.status_code == 403, path
    assert [c["name"] for c in await categories_json(app)] == ["General"]


async def test_categories_tab_and_empty_page(client, app):
    await admin_client(client, app)
    page = await client.get("/admin/categories")
    assert page.status_code == 200
    assert '<a href="/admin/categories" aria-current="page">Categories</a>' in page.text
    assert "No categories yet." in page.text
    assert '<input name="color" type="color" value="#2f5fd0"' in page.text
    members = await client.get("/admin/members")
    assert '<a href="/admin/categories" >Categories</a>' in members.text


async def test_create_with_a_group_restriction_then_clear_it(client, app):
    await admin_client(client, app)
    await make_groups(app, "Makers", "Crew, Inc")
    page = await client.get("/admin/categories")
    for legend in ("Who can see it", "Who can start threads", "Who can reply"):
        assert f"<legend>{legend}</legend>" in page.text
    created = await post_category(
        client,
        "/admin/categories",
        {
            "name": "Workshop",
            "description": "Tools & <things>",
            "color": "#AA3300",
            "position": "2",
            "parent_id": "",
            "read_only": "on",
            "visible_to_groups": "Makers",
            "start_groups": ["Makers", "Crew, Inc"],
        },
    )
    assert created.status_code == 200 and created.url.path == "/admin/categories"
    assert "Created Workshop." in created.text
    assert "Tools &amp; &lt;things&gt;" in created.text
    workshop = await by_name(app, "Workshop")
    assert workshop["slug"] == "workshop" and workshop["color"] == "#aa3300"
    assert workshop["position"] == 2 and workshop["read_only"] is True
    assert workshop["visible_to_groups"] == ["Makers"]
    assert workshop["start_groups"] == ["Crew, Inc", "Makers"]
    assert workshop["reply_groups"] == []
    row = re.search(r'<tr id="category-\d+">.*?</tr>', created.text, re.S).group(0)
    assert 'fill="#aa3300"' in row and "<td>yes</td>" in row
    assert row.count('<span class="tag">Makers</span>') == 2
    assert '<span class="tag">Crew, Inc</span>' in row
    assert '<span class="muted">everyone</span>' in row

    edit_path = f"/admin/categories/{workshop['id']}"
    edit = await client.get(edit_path)
    assert edit.status_code == 200
    assert 'name="name" value="Workshop"' in edit.text
    assert 'type="color" value="#aa3300"' in edit.text
    assert re.search(r'name="read_only" value="on" checked', edit.text)
    assert re.search(r'name="visible_to_groups" value="Makers" checked', edit.text)
    assert re.search(r'name="start_groups" value="Crew, Inc" checked', edit.text)
    assert not re.search(r'name="reply_groups" value="Makers" checked', edit.text)

    # The form as a browser sends it with every box unchecked: only the marker says so.
    saved = await post_category(
        client,
        edit_path,
        {"name": "Workshop", "description": "", "color": "#aa3300", "position": "2"},
        page=edit_path,
    )
    assert saved.status_code == 200 and "Saved Workshop." in saved.text
    workshop = await by_name(app, "Workshop")
    assert workshop["visible_to_groups"] == workshop["start_groups"] == []
    assert workshop["read_only"] is False and workshop["description"] == ""
    assert not re.search(r'value="Makers" checked', saved.text)

    # Without the marker (not this page's form), fields that were not sent stay as they are.
    token = await csrf(client, edit_path)
    await client.post(edit_path, data={"reply_groups": "Crew, Inc", "_csrf_token": token})
    await client.post(edit_path, data={"name": "Workshop 2", "_csrf_token": token})
    workshop = await by_name(app, "Workshop 2")
    assert workshop["reply_groups"] == ["Crew, Inc"] and workshop["color"] == "#aa3300"
    assert workshop["visible_to_groups"] == [] and workshop["position"] == 2


async def test_restricted_category_hides_from_members_not_in_the_group(client, app):
    await admin_client(client, app)
    await make_groups(app, "Makers")
    await make_member(app, "bob")
    await post_category(
        client, "/admin/categories", {"name": "Secret", "visible_to_groups": ["Makers"]}
    )
    await post_category(client, "/admin/categories", {"name": "Open"})
    async with app.state.sessionmaker() as db:
        bob = await accounts.member_by_username(db, "bob")
        assert [c.name for c in await forum.list_categories(db, bob)] == ["Open"]
        await accounts.add_to_group(db, await accounts.group_by_name(db, "Makers"), bob)
        assert {c.name for c in await forum.list_categories(db, bob)} == {"Open", "Secret"}


async def test_parents_are_followed_by_their_indented_children(client, app):
    await admin_client(client, app)
    await post_category(client, "/admin/categories", {"name": "Zeta", "position": "1"})
    await post_category(client, "/admin/categories", {"name": "Alpha", "position": "2"})
    zeta = await by_name(app, "Zeta")
    child = await post_category(
        client,
        "/admin/categories",
        {"name": "Zeta kids", "position": "9", "parent_id": str(zeta["id"])},
    )
    assert child.status_code == 200
    assert (await by_name(app, "Zeta kids"))["parent_id"] == zeta["id"]
    page = (await client.get("/admin/categories")).text
    rows = re.findall(
        r'<tr id="category-\d+">\s*<td( class="depth-1")?>.*?>([^<>]+)</a>', page, re.S
    )
    assert rows == [("", "Zeta"), (' class="depth-1"', "Zeta kids"), ("", "Alpha")]
    assert "in Zeta" in page
    # Only top-level categories are offered as parents.
    select = re.search(r'<select name="parent_id".*?</select>', page, re.S).group(0)
    assert ">Zeta</option>" in select and ">Alpha</option>" in select
    assert "Zeta kids" not in select
    # A category is not offered as its own parent.
    edit = (await client.get(f"/admin/categories/{zeta['id']}")).text
    select = re.search(r'<select name="parent_id".*?</select>', edit, re.S).group(0)
    assert ">Zeta</option>" not in select and ">Alpha</option>" in select
    kid = await by_name(app, "Zeta kids")
    kid_edit = (await client.get(f"/admin/categories/{kid['id']}")).text
    assert f'<option value="{zeta["id"]}" selected>Zeta</option>' in kid_edit
    # A parent cannot itself become a subcategory.
    alpha = await by_name(app, "Alpha")
    refused = await post_category(
        client,
        f"/admin/categories/{zeta['id']}",
        {"name": "Zeta renamed", "parent_id": str(alpha["id"])},
        page=f"/admin/categories/{zeta['id']}",
    )
    assert refused.status_code == 422
    assert "This category has subcategories of its own" in refused.text
    # Nothing of the refused change stuck, not even the name that was valid.
    assert (await by_name(app, "Zeta"))["parent_id"] is None
    assert "<h2>Category Zeta <span" in refused.text
    assert 'value="Zeta renamed"' in refused.text  # the input is kept for another try


async def test_invalid_input_shows_the_message_and_keeps_the_input(client, app):
    await admin_client(client, app)
    await make_groups(app, "Makers")
    bad_colour = await post_category(
        client,
        "/admin/categories",
        {"name": "Paint <shop>", "color": "red", "start_groups": ["Makers"]},
    )
    assert bad_colour.status_code == 422
    assert "Colours look like #2f5fd0." in bad_colour.text
    assert 'value="Paint &lt;shop&gt;"' in bad_colour.text
    assert re.search(r'name="start_groups" value="Makers" checked', bad_colour.text)
    no_name = await post_category(client, "/admin/categories", {"name": "   "})
    assert no_name.status_code == 422
    assert "Category names are 1 to 64 characters." in no_name.text
    unknown = await post_category(
        client, "/admin/categories", {"name": "X", "reply_groups": ["Ghosts"]}
    )
    assert unknown.status_code == 422 and "No group is called ghosts." in unknown.text
    assert await categories_json(app) == []

    await post_category(client, "/admin/categories", {"name": "Paint", "color": "#123456"})
    paint = await by_name(app, "Paint")
    path = f"/admin/categories/{paint['id']}"
    bad_edit = await post_category(client, path, {"name": "Paint 2", "color": "#12345"}, page=path)
    assert bad_edit.status_code == 422 and "Colours look like #2f5fd0." in bad_edit.text
    assert (await by_name(app, "Paint"))["color"] == "#123456"
    assert "<h2>Category Paint <span" in bad_edit.text and 'value="Paint 2"' in bad_edit.text
    assert (await client.get("/admin/categories/999999")).status_code == 404


async def test_delete_an_empty_category_but_not_one_with_threads(client, app):
    await admin_client(client, app)
    await post_category(client, "/admin/categories", {"name": "Empty"})
    await post_category(client, "/admin/categories", {"name": "Busy"})
    empty, busy = await by_name(app, "Empty"), await by_name(app, "Busy")
    async with app.state.sessionmaker() as db:
        root = await accounts.member_by_username(db, "root")
        await forum.create_thread(
            db,
            root,
            category_id=busy["id"],
            title="Hello there",
            body="The first post.",
            site=await accounts.instance_settings(db, "Testers"),
        )
    path = f"/admin/categories/{busy['id']}"
    refused = await post_form(client, f"{path}/delete", {}, path)
    assert refused.status_code == 409
    assert "Move or delete this category&#39;s threads first." in refused.text
    assert 'name="name" value="Busy"' in refused.text
    empty_path = f"/admin/categories/{empty['id']}"
    deleted = await post_form(client, f"{empty_path}/delete", {}, empty_path)
    assert deleted.status_code == 200 and "Deleted Empty." in deleted.text
    assert [c["name"] for c in await categories_json(app)] == ["Busy"]
    assert (await client.get(empty_path)).status_code == 404


async def test_settings_save_the_forum_settings(client, app):
    await admin_client(client, app)
    page = await client.get("/admin/settings")
    assert 'name="edit_window_minutes"' in page.text and 'value="1440"' in page.text
    assert 'name="max_post_length"' in page.text and 'value="32000"' in page.text
    assert 'name="reactions" value="👍 ❤️ 😂 🎉 🤔 👀"' in page.text
    saved = await post_form(
        client,
        "/admin/settings",
        {
            "name": "Testers",
            "invite_policy": "admins",
            "invite_quota": "5",
            "edit_window_minutes": "30",
            "max_post_length": "5000",
            "reactions": " 👍  🚀 ",
        },
        "/admin/settings",
    )
    assert saved.status_code == 200 and "Settings saved." in saved.text
    assert 'value="30"' in saved.text and 'name="reactions" value="👍 🚀"' in saved.text
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
    assert site["edit_window_minutes"] == 30
    assert site["max_post_length"] == 5000
    assert site["reactions"] == ["👍", "🚀"]

    for fields, message in (
        ({"edit_window_minutes": "-1"}, "edit_window_minutes must be a whole number"),
        ({"max_post_length": "10"}, "max_post_length must be a whole number from 100"),
        ({"reactions": "👍 👍"}, "Reactions are 1 to 12 different emoji"),
        ({"reactions": "abc"}, "Reactions are 1 to 12 different emoji"),
        ({"reactions": ""}, "Reactions are 1 to 12 different emoji"),
    ):
        bad = await post_form(client, "/admin/settings", fields, "/admin/settings")
        assert bad.status_code == 422 and message in bad.text, fields
    # A refused form changes nothing, not even its valid fields.
    await post_form(
        client,
        "/admin/settings",
        {"edit_window_minutes": "60", "reactions": "nope"},
        "/admin/settings",
    )
    async with app.state.sessionmaker() as db:
        site = await accounts.instance_settings(db, "Testers")
    assert site["edit_window_minutes"] == 30 and site["reactions"] == ["👍", "🚀"]
