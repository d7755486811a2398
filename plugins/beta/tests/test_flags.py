"""Feature flags: targeting by program, group and sticky percentage, the kill switch, the
API, and a change reaching another process's cache within a second."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest
from community_beta import clock, flags

from community import plugins
from community.accounts.services import instance_settings, member_by_username


def someone(member_id: int, *group_ids: int) -> Any:
    """A member as flags see one: an id and groups."""
    return SimpleNamespace(id=member_id, groups=[SimpleNamespace(id=g) for g in group_ids])


async def _on(app: Any, key: str, ids: range) -> set[int]:
    async with app.state.sessionmaker() as db:
        return {i for i in ids if await flags.feature_enabled(someone(i), key, db)}


async def test_a_rollout_is_sticky_and_raising_it_only_adds(beta: Any, app: Any) -> None:
    ids = range(1, 2001)
    got = await beta.call("PUT", "/flags/new-editor", json={"rollout": 30})
    assert got.status_code == 200 and got.json()["rollout"] == 30
    at30 = await _on(app, "new-editor", ids)
    assert 0.25 < len(at30) / len(ids) < 0.35
    assert await _on(app, "new-editor", ids) == at30  # the same members, every time
    fresh = flags.Cache()  # another process: same answers
    async with app.state.sessionmaker() as db:
        await fresh.refresh(db)
    assert {i for i in ids if fresh.enabled(someone(i), "new-editor")} == at30
    await beta.call("PUT", "/flags/new-editor", json={"rollout": 60})
    at60 = await _on(app, "new-editor", ids)
    assert at30 < at60 and 0.55 < len(at60) / len(ids) < 0.65
    assert await _on(app, "other-flag", ids) == set()  # unknown flags are off
    await beta.call("PUT", "/flags/new-editor", json={"rollout": 100})
    assert await _on(app, "new-editor", ids) == set(ids)
    await beta.call("PUT", "/flags/new-editor", json={"rollout": 0})
    assert await _on(app, "new-editor", ids) == set()


async def test_participants_and_groups_get_a_flag_and_the_kill_switch_stops_it(
    beta: Any, app: Any
) -> None:
    headers = {name: await beta.member(name) for name in ("ada", "grace", "linus", "ken")}
    await beta.group("testers", "linus")
    program = await beta.program(status="private_beta", flags=["new-editor"], terms="Shh.")
    path = f"/programs/{program['id']}"
    await beta.call("POST", f"{path}/members", json={"usernames": ["ada", "grace"]})
    await beta.call("POST", f"{path}/terms/accept", headers["ada"], json={"version": 1})

    async def who() -> set[str]:
        found = set()
        for name, member_headers in headers.items():
            mine = await beta.call("GET", "/me/flags", member_headers)
            if "new-editor" in mine.json()["on"]:
                found.add(name)
        return found

    assert await who() == {"ada"}  # grace has not accepted the terms
    await beta.call("PUT", "/flags/new-editor", json={"groups": ["testers"]})
    assert await who() == {"ada", "linus"}
    async with app.state.sessionmaker() as db:
        linus = await member_by_username(db, "linus")
        assert await flags.feature_enabled(linus, "new-editor", db)
    killed = await beta.call("PUT", "/flags/new-editor", json={"killed": True, "rollout": 100})
    assert killed.json()["killed"] is True
    assert await who() == set()
    await beta.call("PUT", "/flags/new-editor", json={"killed": False, "rollout": 0})
    assert await who() == {"ada", "linus"}
    await beta.call("PATCH", path, json={"status": "archived"})
    assert await who() == {"linus"}  # an archived program's flags are off


async def test_a_change_reaches_another_process_within_a_second(beta: Any, app: Any) -> None:
    await beta.call("PUT", "/flags/dark-mode", json={"rollout": 0})
    other = flags.Cache()
    async with app.state.sessionmaker() as db:
        await other.refresh(db)
        assert not other.enabled(someone(7), "dark-mode")
        await beta.call("PUT", "/flags/dark-mode", json={"rollout": 100})
        other.commits = clock.commits  # it did not hear of this process's commit
        await other.refresh(db)
        assert not other.enabled(someone(7), "dark-mode")  # it looked less than 1 s ago
        await asyncio.sleep(flags.RECHECK_SECONDS)
        await other.refresh(db)
        assert other.enabled(someone(7), "dark-mode")


async def test_every_process_hears_a_change_at_once(beta: Any, app: Any) -> None:
    """A change is published on the plugin's channel: each process's listener has its
    snapshot compare the revision on the next answer, without waiting out its second."""
    await beta.call("PUT", "/flags/dark-mode", json={"rollout": 0})
    async with app.state.sessionmaker() as db:
        site = await instance_settings(db, app.state.settings.name)
        await flags.feature_enabled(someone(7), "dark-mode", db)
    flags.cache.checked, flags.cache.commits = time.monotonic(), clock.commits
    assert not flags.cache.stale(time.monotonic())
    with plugins.activated(app.state.plugins, site):
        plugins.publish("beta", clock.CHANNEL, "ticked")  # as another process's commit does
    for _ in range(50):  # half a second: less than the once-a-second check
        await asyncio.sleep(0.01)
        if flags.cache.stale(time.monotonic()):
            break
    assert flags.cache.checked == float("-inf"), "the change was not heard"


async def test_the_cores_feature_enabled_answers_from_the_snapshot(beta: Any, app: Any) -> None:
    """Other plugins and templates ask the core (``plugins.feature_enabled``), which asks
    this plugin without waiting: a stale snapshot is refreshed in the background."""
    await beta.call("PUT", "/flags/dark-mode", json={"rollout": 100})
    flags.cache = flags.Cache()  # a process that has not loaded the flags yet
    async with app.state.sessionmaker() as db:
        site = await instance_settings(db, app.state.settings.name)
    with plugins.activated(app.state.plugins, site):
        assert plugins.feature_enabled(someone(7), "dark-mode") is False  # not loaded yet
        for _ in range(100):
            await asyncio.sleep(0.01)
            if plugins.feature_enabled(someone(7), "dark-mode"):
                break
        assert plugins.feature_enabled(someone(7), "dark-mode") is True
        assert plugins.feature_enabled(someone(7), "no-such-flag") is False


@pytest.mark.parametrize(
    ("key", "body", "code", "words"),
    [
        ("new-editor", {"rollout": 101}, "invalid_rollout", "from 0 to 100, not 101"),
        ("new-editor", {"rollout": -1}, "invalid_rollout", "from 0 to 100, not -1"),
        ("new-editor", {"rollout": "half"}, "invalid_rollout", "from 0 to 100"),
        ("new-editor", {"rollout": 12.5}, "invalid_rollout", "whole percentage"),
        ("new-editor", {"killed": "yes"}, "invalid_killed", "true or false"),
        ("new-editor", {"groups": ["nobody"]}, "unknown_group", "nobody"),
        ("new-editor", {"share": 3}, "invalid_body", "Unknown fields: share"),
        ("new-editor", {"description": "a\x00b"}, "invalid_description", "NUL"),
        ("new-editor", {"groups": ["te\x00sters"]}, "invalid_groups", "NUL"),
        ("New Editor", {"rollout": 3}, "invalid_key", "lower-case"),
    ],
)
async def test_bad_flags_are_refused_saying_why(
    beta: Any, key: str, body: dict[str, Any], code: str, words: str
) -> None:
    got = await beta.call("PUT", f"/flags/{key}", json=body)
    assert got.status_code == 400, got.text
    assert got.json()["error"] == code and words in got.json()["detail"]


async def test_flags_are_for_admins_to_read_and_set(beta: Any) -> None:
    headers = await beta.member("ada")
    assert (await beta.call("GET", "/flags/new-editor")).status_code == 404
    await beta.program(name="Editor", flags=["new-editor"])
    made = await beta.call("PUT", "/flags/new-editor", json={"description": "The new editor."})
    assert made.json()["programs"] == ["Editor"]
    assert (await beta.call("GET", "/flags/new-editor")).json()["description"] == "The new editor."
    assert [f["key"] for f in (await beta.call("GET", "/flags")).json()["flags"]] == ["new-editor"]
    assert (await beta.call("PUT", "/flags/x", headers, json={"rollout": 1})).status_code == 403
    assert (await beta.call("GET", "/flags/new-editor", headers)).status_code == 403


async def test_the_flags_page(beta: Any, client: Any) -> None:
    from community.testing import post_form, sign_in

    await sign_in(client, "admin")
    saved = await post_form(client, "/p/beta/admin/flags", {"key": "dark-mode", "rollout": "25"})
    assert saved.status_code == 200 and "dark-mode" in saved.text and "25%" in saved.text
    refused = await post_form(client, "/p/beta/admin/flags", {"key": "dark-mode", "rollout": "250"})
    assert refused.status_code == 400 and "from 0 to 100, not 250" in refused.text
