"""The audit log's views: filters, newest first, keyset pages, CSV export, the API, moderator
action counts, and that only moderators read it and nobody changes it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from community_moderation import audit, audit_views
from litestar import Litestar

from community.accounts.models import Member
from community.db import utcnow
from community.testing import api_token, browser, sign_in


async def record(
    app: Litestar,
    actor: Member | None,
    action: str,
    target_type: str = "member",
    *,
    at: datetime | None = None,
    reason: str = "",
    after: dict[str, Any] | None = None,
) -> int:
    async with app.state.sessionmaker() as db:
        entry = audit.record(db, actor, action, target_type, 7, after=after, reason=reason)
        if at is not None:
            entry.at = at
        await db.commit()
        return entry.id


@pytest.fixture
async def log(app: Litestar, member: Member, mod: Member, admin: Member) -> dict[str, int]:
    """Five entries: three by mod (two on 2026-01-10), one by admin, one automatic."""
    day = datetime(2026, 1, 10, 12, tzinfo=UTC)
    return {
        "warn": await record(app, mod, "penalty.warn", at=day, reason="Rude"),
        "hide": await record(app, mod, "post.hide", "post", at=day + timedelta(hours=1)),
        "silence": await record(app, None, "penalty.silence", at=day + timedelta(days=1)),
        "words": await record(app, admin, "word.add", "word", at=day + timedelta(days=2)),
        "lift": await record(app, mod, "penalty.lift", at=day + timedelta(days=3)),
    }


async def api_get(app: Litestar, query: str, username: str = "mod") -> Any:
    headers = await api_token(app, username)
    async with browser(app) as client:
        return await client.get(f"/api/v1/moderation/audit-log{query}", headers=headers)


async def test_filters_narrow_the_log_newest_first(app, log):
    async def ids(query: str) -> list[int]:
        response = await api_get(app, query)
        assert response.status_code == 200, response.text
        return [entry["id"] for entry in response.json()["entries"]]

    assert await ids("") == [log["lift"], log["words"], log["silence"], log["hide"], log["warn"]]
    assert await ids("?actor=mod") == [log["lift"], log["hide"], log["warn"]]
    assert await ids("?actor=MOD&action=penalty") == [log["lift"], log["warn"]]
    assert await ids("?action=penalty.warn") == [log["warn"]]
    assert await ids("?action=penal") == []  # a prefix is a whole part of the name
    assert await ids("?target_type=post") == [log["hide"]]
    assert await ids("?date_from=2026-01-11&date_to=2026-01-12") == [log["words"], log["silence"]]
    assert await ids("?actor=nobody") == []


async def test_pages_go_back_by_id(app, log):
    first = (await api_get(app, "?limit=2")).json()
    assert [e["id"] for e in first["entries"]] == [log["lift"], log["words"]]
    assert first["next_before_id"] == log["words"]
    second = (await api_get(app, f"?limit=2&before_id={first['next_before_id']}")).json()
    assert [e["id"] for e in second["entries"]] == [log["silence"], log["hide"]]
    last = (await api_get(app, f"?limit=2&before_id={second['next_before_id']}")).json()
    assert [e["id"] for e in last["entries"]] == [log["warn"]]
    assert last["next_before_id"] is None


async def test_entries_say_who_what_and_when(app, log):
    entries = {e["id"]: e for e in (await api_get(app, "")).json()["entries"]}
    warn, automatic = entries[log["warn"]], entries[log["silence"]]
    assert (warn["actor"], warn["action"], warn["target_type"], warn["target_id"]) == (
        "mod",
        "penalty.warn",
        "member",
        7,
    )
    assert warn["reason"] == "Rude" and warn["at"].startswith("2026-01-10T12:00")
    assert automatic["actor"] is None


async def test_bad_filters_are_clear_errors(app, log):
    assert (await api_get(app, "?date_from=yesterday")).status_code == 422
    assert (await api_get(app, "?date_from=2026-02-01&date_to=2026-01-01")).status_code == 422
    assert (await api_get(app, "?limit=0")).status_code == 422
    assert (await api_get(app, "?before_id=-3")).status_code == 422
    assert (await api_get(app, "?before_id=x")).status_code == 400


async def test_the_page_filters_and_links_older_entries(app, log):
    async with browser(app) as client:
        await sign_in(client, "mod")
        page = await client.get("/p/moderation/audit?actor=mod&action=penalty")
        assert page.status_code == 200
        assert "penalty.warn" in page.text and "word.add" not in page.text
        assert "audit.csv?actor=mod&amp;action=penalty" in page.text
        for number in range(audit_views.PAGE_SIZE):
            await record(app, None, "post.hold", "post", reason=f"entry {number}")
        first = await client.get("/p/moderation/audit")
        assert "Older entries" in first.text and "word.add" not in first.text
        older = await client.get(f"/p/moderation/audit?before_id={log['lift'] + 1}")
        assert "word.add" in older.text
        bad = await client.get("/p/moderation/audit?date_to=31/12/2026")
        assert bad.status_code == 422 and "is not a date" in bad.text


async def test_csv_export_with_the_same_filters(app, log, mod):
    await record(app, mod, "post.edit", "post", reason="=HYPERLINK(1)", after={"a": "b"})
    async with browser(app) as client:
        await sign_in(client, "mod")
        response = await client.get("/p/moderation/audit.csv?target_type=post")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    table = list(csv.reader(io.StringIO(response.text)))
    assert table[0] == list(audit_views.CSV_COLUMNS)
    assert [row[3] for row in table[1:]] == ["post.edit", "post.hide"]
    edited = dict(zip(table[0], table[1], strict=True))
    assert edited["actor"] == "mod" and edited["reason"] == "'=HYPERLINK(1)"
    assert edited["after"] == '{"a": "b"}'


async def test_moderator_action_counts_for_analytics(app, log):
    async with app.state.sessionmaker() as db:
        counts = await audit_views.moderator_actions(db, datetime(2026, 1, 1, tzinfo=UTC))
        recent = await audit_views.moderator_actions(db, datetime(2026, 1, 12, tzinfo=UTC))
        none = await audit_views.moderator_actions(db, utcnow())
    assert counts == {"mod": 3, "admin": 1}
    assert recent == {"mod": 1, "admin": 1}
    assert none == {}


async def test_only_moderators_read_the_log_and_nobody_changes_it(app, log, member):
    assert (await api_get(app, "", "member")).status_code == 403
    async with browser(app) as client:
        await sign_in(client, "member")
        assert (await client.get("/p/moderation/audit")).status_code == 403
        assert (await client.get("/p/moderation/audit.csv")).status_code == 403
    headers = await api_token(app, "admin")
    async with browser(app) as client:
        for method in ("DELETE", "PUT", "PATCH"):
            response = await client.request(method, "/api/v1/moderation/audit-log", headers=headers)
            assert response.status_code == 405, method
