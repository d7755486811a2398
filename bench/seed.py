"""What the benches share: a migrated database in a temporary folder (or the one
``COMMUNITY_DATABASE_URL`` names, which must be empty), one long thread and many short ones
written in bulk, and a signed-in client. Run the benches as files (``python bench/x.py``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select, update

from community import migrate
from community.accounts import services as accounts
from community.accounts.models import Member
from community.db import utcnow
from community.forum import services as forum
from community.forum.models import Post, Thread
from community.plugins import Plugins
from community.settings import Settings, load_settings

PASSWORD = "benchmark-password"


def prepare(plugins: Plugins | None = None) -> Settings:
    """Settings for a temporary folder, migrated for the core and ``plugins`` (default: every
    installed plugin)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    env = {"COMMUNITY_VAR_DIR": str(folder), "COMMUNITY_SECRET_KEY": "b" * 48}
    if url := os.environ.get("COMMUNITY_DATABASE_URL"):
        env["COMMUNITY_DATABASE_URL"] = url
    settings = load_settings(env)
    migrate.upgrade(settings.database_url, plugins=plugins)
    return settings


async def seed(app: Any, posts: int, threads: int) -> Thread:
    """Member alice, one thread of ``posts`` posts and ``threads`` more threads."""
    async with app.state.sessionmaker() as db:
        if await db.scalar(select(func.count()).select_from(Member)):
            raise SystemExit("the database already has members: give the bench an empty one")
        site = await accounts.instance_settings(db, "Bench")
        alice = await accounts.create_member(db, username="alice", password=PASSWORD)
        general = await forum.save_category(db, None, {"name": "General"})
        thread, _ = await forum.create_thread(
            db, alice, category_id=general.id, title="The long one", body="first", site=site
        )
        now = utcnow()
        rows = [
            {
                "thread_id": thread.id,
                "number": n,
                "author_id": alice.id,
                "body": f"post {n}",
                "html": f"<p>post {n}</p>",
                "created_at": now,
                "revision_count": 0,
                "reaction_counts": {},
            }
            for n in range(2, posts + 1)
        ]
        for start in range(0, len(rows), 1000):
            await db.execute(insert(Post), rows[start : start + 1000])
        await db.execute(update(Thread).where(Thread.id == thread.id).values(post_count=posts))
        others = [
            {
                "category_id": general.id,
                "title": f"Thread {n}",
                "slug": f"thread-{n}",
                "author_id": alice.id,
                "created_at": now,
                "last_posted_at": now,
                "last_poster_id": alice.id,
                "post_count": 1,
                "reply_count": 0,
                "view_count": 0,
            }
            for n in range(threads)
        ]
        await db.execute(insert(Thread), others)
        await db.commit()
        return thread


async def signed_in(app: Any) -> httpx.AsyncClient:
    """A client of ``app``, in process, signed in as alice."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
    page = await client.get("/signin")
    token = page.text.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]
    response = await client.post(
        "/signin", data={"username": "alice", "password": PASSWORD, "_csrf_token": token}
    )
    assert response.status_code in (200, 302, 303), response.status_code
    return client
