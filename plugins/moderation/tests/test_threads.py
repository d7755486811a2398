"""Thread tools: slow mode and the close timer, from the tools page and the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from community_moderation.models import AuditEntry, ThreadSettings
from sqlalchemy import select, update

from community.db import utcnow
from community.forum.models import Post, Thread
from community.testing import api_token, make_member, post_form, run_job, sign_in

API = "/api/v1/moderation/threads"


async def reply(
    client: Any, app: Any, username: str, thread: Thread, body: str = "Hi there."
) -> Any:
    return await client.post(
        f"/api/v1/threads/{thread.id}/posts",
        json={"body": body},
        headers=await api_token(app, username),
    )


async def backdate_posts(app: Any, thread: Thread, seconds: float) -> None:
    async with app.state.sessionmaker() as db:
        await db.execute(
            update(Post)
            .where(Post.thread_id == thread.id)
            .values(created_at=utcnow() - timedelta(seconds=seconds))
        )
        await db.commit()


async def audit_actions(app: Any) -> list[tuple[int | None, str, int | None]]:
    async with app.state.sessionmaker() as db:
        rows = await db.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(e.actor_id, e.action, e.target_id) for e in rows]


async def test_slow_mode_refuses_a_quick_second_post(app, client, member, mod, thread) -> None:
    headers = await api_token(app, "mod")
    response = await client.post(f"{API}/{thread.id}", json={"slow_seconds": 60}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["slow_seconds"] == 60
    # The member wrote the thread's first post just now.
    refused = await reply(client, app, member.username, thread)
    assert refused.status_code in (403, 422), refused.text
    assert "Slow mode: you can post here again in" in refused.text
    assert "60 seconds" in refused.text or "59 seconds" in refused.text
    await backdate_posts(app, thread, 61)
    allowed = await reply(client, app, member.username, thread)
    assert allowed.status_code == 201, allowed.text
    again = await reply(client, app, member.username, thread)
    assert "Slow mode" in again.text


async def test_slow_mode_exempts_staff_and_turns_off(app, client, member, mod, thread) -> None:
    headers = await api_token(app, "mod")
    await client.post(f"{API}/{thread.id}", json={"slow_seconds": 600}, headers=headers)
    for _ in range(2):
        response = await reply(client, app, "mod", thread)
        assert response.status_code == 201, response.text
    response = await client.post(f"{API}/{thread.id}", json={"slow_seconds": 0}, headers=headers)
    assert response.json()["slow_seconds"] == 0
    response = await reply(client, app, member.username, thread)
    assert response.status_code == 201, response.text


async def test_close_timer_locks_once_and_is_audited(app, client, member, mod, thread) -> None:
    headers = await api_token(app, "mod")
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    response = await client.post(f"{API}/{thread.id}", json={"close_at": soon}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["close_at"] is not None
    await run_job(app, "moderation.close_threads")
    async with app.state.sessionmaker() as db:
        assert (await db.get(Thread, thread.id)).locked_at is None  # not due yet
        await db.execute(
            update(ThreadSettings)
            .where(ThreadSettings.thread_id == thread.id)
            .values(close_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()
    await run_job(app, "moderation.close_threads")
    await run_job(app, "moderation.close_threads")
    async with app.state.sessionmaker() as db:
        assert (await db.get(Thread, thread.id)).locked_at is not None
        assert (await db.get(ThreadSettings, thread.id)).close_at is None
    actions = await audit_actions(app)
    assert (mod.id, "thread.close_timer", thread.id) in actions
    assert actions.count((None, "thread.close", thread.id)) == 1
    refused = await reply(client, app, member.username, thread)
    assert refused.status_code == 403


async def test_close_timer_without_its_moderator_is_dropped(app, client, member, thread) -> None:
    gone = await make_member(app, "gone", "moderator")
    headers = await api_token(app, "gone")
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    await client.post(f"{API}/{thread.id}", json={"close_at": soon}, headers=headers)
    async with app.state.sessionmaker() as db:
        await db.execute(
            update(ThreadSettings)
            .where(ThreadSettings.thread_id == thread.id)
            .values(close_at=utcnow() - timedelta(seconds=1), set_by_id=None)
        )
        await db.commit()
    job = await run_job(app, "moderation.close_threads")
    assert job.state == "done"
    async with app.state.sessionmaker() as db:
        assert (await db.get(Thread, thread.id)).locked_at is None
        assert (await db.get(ThreadSettings, thread.id)).close_at is None
    assert gone.id


async def test_bad_settings_are_422_with_reasons(app, client, mod, thread) -> None:
    headers = await api_token(app, "mod")
    past = (utcnow() - timedelta(hours=1)).isoformat()
    response = await client.post(f"{API}/{thread.id}", json={"close_at": past}, headers=headers)
    assert response.status_code == 422
    assert "past" in response.json()["detail"]
    response = await client.post(
        f"{API}/{thread.id}",
        json={"close_at": "next tuesday", "slow_seconds": -5, "colour": "red"},
        headers=headers,
    )
    assert response.status_code == 422
    assert len(response.json()["reasons"]) == 3
    response = await client.post(f"{API}/{thread.id}", json={"slow_seconds": True}, headers=headers)
    assert response.status_code == 422
    response = await client.post(f"{API}/999999", json={"slow_seconds": 5}, headers=headers)
    assert response.status_code == 404


async def test_members_are_refused(app, client, member, thread) -> None:
    headers = await api_token(app, member.username)
    response = await client.post(f"{API}/{thread.id}", json={"slow_seconds": 5}, headers=headers)
    assert response.status_code == 403
    response = await client.get(f"{API}/{thread.id}", headers=headers)
    assert response.status_code == 403
    await sign_in(client, member.username)
    page = await client.get(f"/p/moderation/threads/{thread.id}")
    assert page.status_code == 403
    assert "Thread tools" not in (await client.get(thread.url)).text


async def test_tools_page_form(app, client, member, mod, thread) -> None:
    await sign_in(client, "mod")
    page = await client.get(thread.url)
    assert f"/p/moderation/threads/{thread.id}" in page.text
    path = f"/p/moderation/threads/{thread.id}"
    response = await post_form(client, path, {"slow_seconds": "30", "close_days": "7"})
    assert response.history and response.history[0].status_code == 303, response.text
    assert "one post per member every 30 seconds" in response.text
    got = await client.get(f"{API}/{thread.id}", headers=await api_token(app, "mod"))
    body = got.json()
    assert body["slow_seconds"] == 30
    assert body["close_at"] is not None
    bad = await post_form(client, path, {"slow_seconds": "lots", "close_hours": "x"})
    assert bad.status_code == 422
    assert 'role="alert"' in bad.text
    assert "slow_seconds is a whole number" in bad.text
