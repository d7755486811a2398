"""Split chosen replies of a thread into a new thread, or merge a thread into another, from the
thread's tools page and the API; each audited. The core's ``split_thread`` and
``merge_threads`` move the posts; this module decides who may, reads the forms and keeps the
moderation inbox's items with their posts."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, post
from litestar.response import Redirect
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from community.accounts.auth import undo
from community.accounts.models import Member, brief
from community.accounts.routes import Form, text
from community.errors import ServiceError
from community.forum import services
from community.forum.models import Post, Thread
from community_moderation import audit, threads
from community_moderation.access import is_moderator, moderates_category, require_moderation
from community_moderation.models import Item

LISTED = 200
"""Replies listed with a checkbox on the tools page; later ones are chosen by number."""
EXCERPT = 80
MAX_RANGE = services.MAX_MOVED
THREAD_PATH_RES = (
    re.compile(r"^/t/[^/]+/(\d{1,20})(?:/\d{1,20})?/?$"),  # /t/slug/42 and /t/slug/42/7
    re.compile(r"^/t/(\d{1,20})/?$"),
)
API_FIELDS = {"split": {"post_ids", "title", "category_id"}, "merge": {"target_thread_id"}}


# ---------------------------------------------------------------------------------------------
# Reading what was asked


def target_id(value: Any) -> Any:
    """A thread id from a number, or from a thread's address (its page or one of its posts);
    anything else is passed on for the core to refuse."""
    if isinstance(value, str):
        value = value.strip()
        path = urlsplit(value).path if "/" in value else ""
        for pattern in THREAD_PATH_RES:
            match = pattern.match(path)
            if match:
                return match.group(1)
    return value


def parse_numbers(value: str) -> list[int]:
    """Post numbers from "5, 9-12 14": whole numbers and ranges, at most ``MAX_RANGE``."""
    numbers: list[int] = []
    for part in (p for p in re.split(r"[\s,]+", value) if p):
        match = re.fullmatch(r"(\d{1,9})(?:-(\d{1,9}))?", part)
        if not match:
            raise ServiceError(
                "invalid_posts",
                f"Post numbers are whole numbers or ranges like 5-9, not {part[:20]!r}.",
                422,
                field="numbers",
            )
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first or last - first + len(numbers) >= MAX_RANGE:
            raise ServiceError(
                "invalid_posts",
                f"Ranges go from low to high, {MAX_RANGE:,} posts at most.",
                422,
                field="numbers",
            )
        numbers.extend(range(first, last + 1))
    return numbers


async def ids_of_numbers(db: AsyncSession, thread: Thread, numbers: list[int]) -> list[int]:
    found = dict(
        (
            await db.execute(
                select(Post.number, Post.id).where(
                    Post.thread_id == thread.id, Post.number.in_(numbers)
                )
            )
        ).all()
    )
    missing = [n for n in numbers if n not in found]
    if missing:
        shown = ", ".join(str(n) for n in missing[:10])
        raise ServiceError(
            "invalid_posts", f"This thread has no post numbered {shown}.", 422, field="numbers"
        )
    return [found[n] for n in numbers]


async def form_post_ids(db: AsyncSession, thread: Thread, data: Form) -> list[Any]:
    """The ticked posts and the numbers typed in, as post ids (ticked first)."""
    ticked = data.get("post_ids", [])
    ticked = ticked if isinstance(ticked, list) else [ticked]
    typed = await ids_of_numbers(db, thread, parse_numbers(text(data, "numbers")))
    return [*ticked, *(post_id for post_id in typed if str(post_id) not in ticked)]


def check_fields(data: Any, action: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ServiceError("invalid_body", "Send a JSON object.", 422)
    unknown = sorted(set(data) - API_FIELDS[action])
    if unknown:
        raise ServiceError("invalid_body", f"Unknown fields: {', '.join(unknown)}.", 422)
    return data


# ---------------------------------------------------------------------------------------------
# Splitting and merging


async def _may_use(db: AsyncSession, member: Member, category_id: int | None, what: str) -> None:
    """Staff anywhere; a category's moderators only into categories they moderate."""
    if not await moderates_category(db, member, category_id):
        raise ServiceError("forbidden", f"You can {what} only in categories you moderate.", 403)


async def split(
    db: AsyncSession, member: Member, thread_id: Any, post_ids: Any, title: Any, category_id: Any
) -> Thread:
    """Move the chosen replies into a new thread (commits, audited)."""
    source = await threads.thread_in_scope(db, member, thread_id)
    if not is_moderator(member) and category_id not in (None, ""):
        try:
            wanted = services.check_id(category_id, "category")
        except ServiceError:
            wanted = None
        await _may_use(db, member, wanted, "start the new thread")
    entry = audit.record(
        db,
        member,
        "thread.split",
        "thread",
        source.id,
        before={"thread_id": source.id, "post_count": source.post_count},
    )
    new = await services.split_thread(
        db, member, source.id, post_ids, title, category_id, authorised=True
    )
    moved = list((await db.scalars(select(Post.id).where(Post.thread_id == new.id))).all())
    entry.before = {**entry.before, "post_ids": moved}
    entry.after = {
        "thread_id": new.id,
        "title": new.title,
        "category_id": new.category_id,
        "post_count": new.post_count,
        "source_post_count": source.post_count,
    }
    await _items_follow(db, Item.post_id.in_(moved), new.id)
    await db.commit()
    return new


async def merge(db: AsyncSession, member: Member, thread_id: Any, target: Any) -> Thread:
    """Move every post of the thread to the end of ``target`` (commits, audited)."""
    source = await threads.thread_in_scope(db, member, thread_id)
    target = target_id(target)
    if not is_moderator(member):
        try:
            found = await services.thread_for(db, member, target)
        except ServiceError:
            found = None
        if found is not None:
            await _may_use(db, member, found.category_id, "merge threads")
    before = {"thread_id": source.id, "title": source.title, "post_count": source.post_count}
    # The inbox's items on the source's posts go with them (the source is deleted with its
    # rows): moved in the core's transaction.
    try:
        target_row = services.check_id(target, "thread")
    except ServiceError:
        target_row = None
    if target_row is not None:
        await _items_follow(db, Item.thread_id == source.id, target_row)
    entry = audit.record(db, member, "thread.merge", "thread", source.id, before=before)
    merged = await services.merge_threads(db, member, source.id, target, authorised=True)
    entry.after = {
        "thread_id": merged.id,
        "title": merged.title,
        "post_count": merged.post_count,
    }
    await db.commit()
    return merged


async def _items_follow(db: AsyncSession, condition: Any, thread_id: int) -> None:
    await db.execute(
        update(Item)
        .where(condition)
        .values(thread_id=thread_id)
        .execution_options(synchronize_session=False)
    )


def thread_json(thread: Thread) -> dict[str, Any]:
    return {
        "id": thread.id,
        "title": thread.title,
        "url": thread.url,
        "category_id": thread.category_id,
        "author_id": thread.author_id,
        "created_at": thread.created_at.isoformat(),
        "last_posted_at": thread.last_posted_at.isoformat(),
        "post_count": thread.post_count,
        "reply_count": thread.reply_count,
    }


# ---------------------------------------------------------------------------------------------
# The tools page


async def choices(db: AsyncSession, thread: Thread) -> dict[str, Any]:
    """The replies the split form lists: number, id, author, excerpt."""
    author = aliased(Member)
    rows = await db.execute(
        select(Post, author)
        .outerjoin(author, author.id == Post.author_id)
        .where(Post.thread_id == thread.id, Post.number > 1)
        .order_by(Post.number)
        .limit(LISTED + 1)
        .options(*brief(author))
    )
    listed = [
        {
            "id": post.id,
            "number": post.number,
            "author": writer.username if writer else "(gone)",
            "excerpt": excerpt(post.body),
            "deleted": post.deleted_at is not None,
        }
        for post, writer in rows.all()
    ]
    return {"split_posts": listed[:LISTED], "split_more": len(listed) > LISTED}


def excerpt(body: str) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1] + "…"


async def _again(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, thread_id: int, error: Any
) -> Any:
    await undo(db, member)
    thread = await threads.thread_in_scope(db, member, thread_id)
    return await threads._tools_page(request, db, thread, error.status, error.detail)


@post("/threads/{thread_id:int}/split", guards=[require_moderation])
async def split_from_form(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, thread_id: int, data: Form
) -> Any:
    source = await threads.thread_in_scope(db, member, thread_id)
    try:
        post_ids = await form_post_ids(db, source, data)
        new = await split(
            db, member, thread_id, post_ids, text(data, "title"), text(data, "category_id")
        )
    except ServiceError as error:
        return await _again(request, db, member, thread_id, error)
    return Redirect(new.url, status_code=303)


@post("/threads/{thread_id:int}/merge", guards=[require_moderation])
async def merge_from_form(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, thread_id: int, data: Form
) -> Any:
    await threads.thread_in_scope(db, member, thread_id)
    try:
        target = await merge(db, member, thread_id, text(data, "target_thread_id"))
    except ServiceError as error:
        return await _again(request, db, member, thread_id, error)
    return Redirect(target.url, status_code=303)


# ---------------------------------------------------------------------------------------------
# API


@post("/threads/{thread_id:int}/split", guards=[require_moderation], status_code=201)
async def split_api(db: AsyncSession, member: Member, thread_id: int, data: Any) -> dict[str, Any]:
    """{"post_ids": [7, 8], "title": "...", "category_id": 3 (optional)} -> the new thread."""
    await threads.thread_in_scope(db, member, thread_id)  # 404 before 422
    body = check_fields(data, "split")
    new = await split(
        db, member, thread_id, body.get("post_ids"), body.get("title"), body.get("category_id")
    )
    return thread_json(new)


@post("/threads/{thread_id:int}/merge", guards=[require_moderation], status_code=200)
async def merge_api(db: AsyncSession, member: Member, thread_id: int, data: Any) -> dict[str, Any]:
    """{"target_thread_id": 42} -> the target thread, now holding the posts."""
    await threads.thread_in_scope(db, member, thread_id)  # 404 before 422
    body = check_fields(data, "merge")
    if "target_thread_id" not in body:
        raise ServiceError(
            "invalid_target", "Say which thread: target_thread_id.", 422, field="target_thread_id"
        )
    return thread_json(await merge(db, member, thread_id, body["target_thread_id"]))


routes: list[Any] = [split_from_form, merge_from_form]
api_routes: list[Any] = [split_api, merge_api]
