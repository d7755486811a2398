"""The floor: what our stack allows for a thread page. A bare Litestar app on uvicorn that reads
a thread and 20 of its posts with their authors from the same database (SQLAlchemy async, the
same driver and engine settings) and renders them with Jinja into a page of the same shape; no
sessions, plugins, permissions or live updates. ``bench/load.py`` serves it beside the forum
and reports the forum's figures as a ratio to it.

    COMMUNITY_DATABASE_URL=postgresql+asyncpg://... uvicorn --factory bench.floor:create_app
"""

from __future__ import annotations

import os
from typing import Any

from jinja2 import Environment, select_autoescape
from litestar import Litestar, MediaType, Response, get
from sqlalchemy import text

from community.db import UTCDateTime, create_engine

PAGE = Environment(autoescape=select_autoescape(default=True)).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ thread.title }}</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><header><nav><a href="/">Home</a> <a href="/categories">Categories</a></nav></header>
<main><h1>{{ thread.title }}</h1>
{% for post in posts %}
<article id="post-{{ post.number }}" class="post">
  <header><a href="/u/{{ post.username }}">{{ post.display_name or post.username }}</a>
  <time datetime="{{ post.created_at.isoformat() }}">
  {{- post.created_at.strftime("%d %b %Y") }}</time></header>
  <div class="body">{{ post.html | safe }}</div>
</article>
{% endfor %}
</main></body></html>"""
)

THREAD = text("SELECT id, title FROM threads WHERE id = :id")
POSTS = text(
    "SELECT p.number, p.html, p.created_at, m.username, m.display_name "
    "FROM posts p LEFT JOIN members m ON m.id = p.author_id "
    "WHERE p.thread_id = :id ORDER BY p.number LIMIT 20"
).columns(created_at=UTCDateTime())  # SQLite hands back text without the column's type


def create_app() -> Litestar:
    engine = create_engine(os.environ["COMMUNITY_DATABASE_URL"])  # the forum's engine settings

    @get("/t/{thread_id:int}", media_type=MediaType.HTML)
    async def thread_page(thread_id: int) -> Response[Any]:
        async with engine.connect() as db:
            thread = (await db.execute(THREAD, {"id": thread_id})).one_or_none()
            if thread is None:
                return Response("Not found", status_code=404, media_type=MediaType.TEXT)
            posts = (await db.execute(POSTS, {"id": thread_id})).all()
        return Response(PAGE.render(thread=thread, posts=posts), media_type=MediaType.HTML)

    async def close() -> None:
        await engine.dispose()

    return Litestar([thread_page], on_shutdown=[close])
