"""The forum JSON API under ``/api/v1/``: categories, threads, posts, reactions, bookmarks,
search, notifications and conversations. Content a member may not see answers 404."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, delete, get, patch, post
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.auth import require_admin
from community.accounts.models import Member
from community.errors import ServiceError
from community.forum import conversations, notify, search, services
from community.forum.models import Post, Thread
from community.forum.routes import rate_limit
from community.forum.services import PostView, ThreadRow


def _base(request: Request[Any, Any, Any]) -> str:
    return request.app.state.settings.base_url


def thread_json(row: ThreadRow, base: str) -> dict[str, Any]:
    thread = row.thread
    return {
        "id": thread.id,
        "title": thread.title,
        "url": base + thread.url,
        "category_id": thread.category_id,
        "author": row.author.username if row.author else None,
        "created_at": thread.created_at.isoformat(),
        "last_posted_at": thread.last_posted_at.isoformat(),
        "last_poster": row.last_poster.username if row.last_poster else None,
        "post_count": thread.post_count,
        "reply_count": thread.reply_count,
        "view_count": thread.view_count,
        "pinned": thread.pinned,
        "locked": thread.locked_at is not None,
        "hidden": thread.hidden_at is not None,
        "unread": row.unread,
    }


def post_json(post: Post, author: Member | None, thread: Thread, base: str) -> dict[str, Any]:
    deleted = post.deleted_at is not None
    return {
        "id": post.id,
        "thread_id": post.thread_id,
        "number": post.number,
        "url": base + thread.post_url(post.number),
        "author": author.username if author else None,
        "html": None if deleted else post.html,
        "reply_to": post.reply_to_number,
        "created_at": post.created_at.isoformat(),
        "edited_at": post.edited_at.isoformat() if post.edited_at else None,
        "deleted": deleted,
        "held": post.held_at is not None,
        "reactions": post.reaction_counts,
    }


async def _post_response(
    request: Request[Any, Any, Any], db: AsyncSession, post: Post, thread: Thread
) -> dict[str, Any]:
    """``post_json`` for a post a service just changed (its author loaded by id)."""
    author = await db.get(Member, post.author_id) if post.author_id else None
    return post_json(post, author, thread, _base(request))


def _view_json(view: PostView, thread: Thread, base: str, staff: bool) -> dict[str, Any]:
    body = post_json(view.post, view.author, thread, base)
    if staff and view.post.deleted_at is not None:
        body["html"] = view.post.html
    body["my_reactions"] = sorted(view.my_reactions)
    body["bookmarked"] = view.bookmarked
    return body


def _limit(value: int | None, default: int, high: int) -> int:
    if value is None:
        return default
    if not 1 <= value <= high:
        raise ServiceError("invalid_limit", f"limit is from 1 to {high}.", 400)
    return value


# ---------------------------------------------------------------------------------------------
# Categories


@get("/categories")
async def list_categories(db: AsyncSession, member: Member) -> Any:
    categories = await services.list_categories(db, member)
    return {"categories": [services.category_json(c, member.is_admin) for c in categories]}


@post("/categories", guards=[require_admin], status_code=201)
async def create_category(db: AsyncSession, data: dict[str, Any]) -> Any:
    category = await services.save_category(db, None, data)
    return services.category_json(category)


@patch("/categories/{category_id:int}", guards=[require_admin])
async def update_category(
    db: AsyncSession, member: Member, category_id: int, data: dict[str, Any]
) -> Any:
    category = await services.category_for(db, member, category_id)
    return services.category_json(await services.save_category(db, category, data))


@delete("/categories/{category_id:int}", guards=[require_admin], status_code=204)
async def delete_category(db: AsyncSession, member: Member, category_id: int) -> None:
    await services.delete_category(db, await services.category_for(db, member, category_id))


# ---------------------------------------------------------------------------------------------
# Threads


@get("/threads")
async def list_threads(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    category_id: int | None = None,
    cursor: str | None = None,
    limit: int | None = None,
    filter: str = "latest",
) -> Any:
    category = (
        await services.category_for(db, member, category_id) if category_id is not None else None
    )
    listing = await services.list_threads(
        db,
        member,
        category=category,
        mode=filter,
        cursor=cursor,
        limit=_limit(limit, services.LIST_SIZE, 100),
    )
    base = _base(request)
    return {
        "pinned": [thread_json(row, base) for row in listing.pinned],
        "threads": [thread_json(row, base) for row in listing.rows],
        "next_cursor": listing.next_cursor,
    }


@post("/threads", status_code=201)
async def create_thread(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: dict[str, Any]
) -> Any:
    await rate_limit(request, "thread", member)
    thread, first = await services.create_thread(
        db,
        member,
        category_id=data.get("category_id"),
        title=data.get("title"),
        body=data.get("body"),
        site=request.state.site,
    )
    base = _base(request)
    return {
        "id": thread.id,
        "title": thread.title,
        "url": base + thread.url,
        "category_id": thread.category_id,
        "first_post": post_json(first, member, thread, base),
    }


async def _thread_json(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, thread: Thread
) -> dict[str, Any]:
    author = await db.get(Member, thread.author_id) if thread.author_id else None
    last_poster = await db.get(Member, thread.last_poster_id) if thread.last_poster_id else None
    read = await services.last_read(db, member, thread)
    row = ThreadRow(thread, thread.category, author, last_poster, read)
    body = thread_json(row, _base(request))
    people = (
        await conversations.participants(db, thread)
        if thread.is_conversation
        else await services.top_posters(db, thread)
    )
    body["participants"] = [m.username for m in people]
    return body


@get("/threads/{thread_id:int}")
async def get_thread(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, thread_id: int
) -> Any:
    thread = await services.thread_for(db, member, thread_id)
    return await _thread_json(request, db, member, thread)


@patch("/threads/{thread_id:int}")
async def moderate_thread(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    thread_id: int,
    data: dict[str, Any],
) -> Any:
    unknown = set(data) - {"pinned", "locked", "hidden", "category_id"}
    if unknown:
        raise ServiceError(
            "unknown_fields",
            "Threads change only pinned, locked, hidden and category_id, "
            f"not {', '.join(sorted(unknown))}.",
            422,
        )
    thread = await services.moderate_thread(db, member, thread_id, data)
    return await _thread_json(request, db, member, thread)


@get("/threads/{thread_id:int}/posts")
async def list_posts(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    thread_id: int,
    after: int = 0,
    limit: int | None = None,
) -> Any:
    thread = await services.thread_for(db, member, thread_id)
    views = await services.posts_after(db, member, thread, after, _limit(limit, 20, 100))
    base = _base(request)
    posts = [_view_json(view, thread, base, member.is_staff) for view in views]
    if views:
        await services.record_view(db, member, thread, views[-1].post.number)
    last = views[-1].post.number if views else after
    return {"posts": posts, "next_after": last if last < thread.post_count else None}


@post("/threads/{thread_id:int}/posts", status_code=201)
async def create_post(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    thread_id: int,
    data: dict[str, Any],
) -> Any:
    await rate_limit(request, "post", member)
    thread, new = await services.reply(
        db, member, thread_id, data.get("body"), request.state.site, data.get("reply_to")
    )
    return post_json(new, member, thread, _base(request))


# ---------------------------------------------------------------------------------------------
# Posts


@patch("/posts/{post_id:int}")
async def edit_post(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    post_id: int,
    data: dict[str, Any],
) -> Any:
    post_, thread = await services.edit_post(
        db, member, post_id, data.get("body"), request.state.site, title=data.get("title")
    )
    return await _post_response(request, db, post_, thread)


@delete("/posts/{post_id:int}", status_code=200)
async def delete_post(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: int
) -> Any:
    post_, thread = await services.delete_post(db, member, post_id)
    return await _post_response(request, db, post_, thread)


@post("/posts/{post_id:int}/restore", status_code=200)
async def restore_post(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: int
) -> Any:
    post_, thread = await services.restore_post(db, member, post_id)
    return await _post_response(request, db, post_, thread)


@post("/posts/{post_id:int}/approve", status_code=200)
async def approve_post(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: int
) -> Any:
    post_, thread = await services.approve_post(db, member, post_id)
    return await _post_response(request, db, post_, thread)


@get("/posts/held")
async def list_held(request: Request[Any, Any, Any], db: AsyncSession, member: Member) -> Any:
    base = _base(request)
    return {
        "posts": [
            {**post_json(post_, author, thread, base), "reason": post_.held_reason}
            for post_, thread, author in await services.held_posts(db, member)
        ]
    }


@get("/posts/{post_id:int}/revisions")
async def list_revisions(db: AsyncSession, member: Member, post_id: int) -> Any:
    post_, rows = await services.revisions(db, member, post_id)
    return {
        "post_id": post_.id,
        "current": {"body": post_.body, "html": post_.html},
        "revisions": [
            {
                "number": revision.number,
                "body": revision.body,
                "html": revision.html,
                "title": revision.title,
                "written_at": revision.created_at.isoformat(),
                "replaced_by": editor.username if editor else None,
            }
            for revision, editor in rows
        ],
    }


@post("/posts/{post_id:int}/reactions", status_code=200)
async def toggle_reaction(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    post_id: int,
    data: dict[str, Any],
) -> Any:
    await rate_limit(request, "react", member)
    post_, added = await services.toggle_reaction(
        db, member, post_id, data.get("emoji"), request.state.site
    )
    return {
        "post_id": post_.id,
        "emoji": data.get("emoji"),
        "added": added,
        "reactions": post_.reaction_counts,
    }


@post("/posts/{post_id:int}/bookmark", status_code=200)
async def toggle_bookmark(db: AsyncSession, member: Member, post_id: int) -> Any:
    return {"post_id": post_id, "bookmarked": await services.toggle_bookmark(db, member, post_id)}


@get("/bookmarks")
async def list_bookmarks(request: Request[Any, Any, Any], db: AsyncSession, member: Member) -> Any:
    base = _base(request)
    return {
        "bookmarks": [
            {
                **post_json(post_, author, thread, base),
                "title": thread.title,
                "bookmarked_at": at.isoformat(),
            }
            for post_, thread, author, at in await services.bookmarks(db, member)
        ]
    }


# ---------------------------------------------------------------------------------------------
# Search, notifications, conversations


@get("/search")
async def search_posts(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    q: str = "",
    category_id: int | None = None,
    author: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Any:
    await rate_limit(request, "search", member)
    page = await search.search(
        db,
        member,
        q,
        category_id=category_id,
        author=author,
        since=search.parse_date(since, "since"),
        until=search.parse_date(until, "until"),
        limit=_limit(limit, 20, 50),
        offset=offset,
    )
    return {
        "query": page.query,
        "total": page.total,
        "results": [result.to_json() for result in page.results],
    }


@get("/notifications")
async def list_notifications(
    db: AsyncSession, member: Member, before: int | None = None, limit: int | None = None
) -> Any:
    items = await notify.list_notifications(db, member, before=before, limit=_limit(limit, 30, 100))
    return {
        "unread": await notify.unread_count(db, member),
        "notifications": [item.to_json() for item in items],
    }


@post("/notifications/read", status_code=200)
async def read_notifications(
    db: AsyncSession, member: Member, data: dict[str, Any] | None = None
) -> Any:
    ids = (data or {}).get("ids")
    if ids is not None and (
        not isinstance(ids, list)
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise ServiceError("invalid_ids", "ids is a list of notification ids.", 422)
    await notify.mark_read(db, member, ids)
    return {"unread": await notify.unread_count(db, member)}


@post("/conversations", status_code=201)
async def start_conversation(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: dict[str, Any]
) -> Any:
    await rate_limit(request, "thread", member)
    thread, first = await conversations.start(
        db,
        member,
        usernames=data.get("usernames"),
        title=data.get("title"),
        body=data.get("body"),
        site=request.state.site,
    )
    base = _base(request)
    return {
        "id": thread.id,
        "title": thread.title,
        "url": base + thread.url,
        "participants": [m.username for m in await conversations.participants(db, thread)],
        "first_post": post_json(first, member, thread, base),
    }


@get("/conversations")
async def list_conversations(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    cursor: str | None = None,
    limit: int | None = None,
) -> Any:
    listing = await services.list_threads(
        db, member, mode="conversations", cursor=cursor, limit=_limit(limit, 30, 100)
    )
    base = _base(request)
    return {
        "conversations": [thread_json(row, base) for row in listing.rows],
        "next_cursor": listing.next_cursor,
    }


router = Router(
    path="/api/v1",
    route_handlers=[
        list_categories,
        create_category,
        update_category,
        delete_category,
        list_threads,
        create_thread,
        get_thread,
        moderate_thread,
        list_posts,
        create_post,
        edit_post,
        delete_post,
        restore_post,
        approve_post,
        list_held,
        list_revisions,
        toggle_reaction,
        toggle_bookmark,
        list_bookmarks,
        search_posts,
        list_notifications,
        read_notifications,
        start_conversation,
        list_conversations,
    ],
    tags=["forum"],
)
