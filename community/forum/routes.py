"""Forum pages: lists, threads, posting, reactions, bookmarks, notifications, conversations,
search, profiles, feeds and the live stream. Every page works without JavaScript; with htmx
the same handlers answer with fragments (``HX-Request``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.channels import ChannelsPlugin
from litestar.response import Redirect, ServerSentEvent, Template
from sqlalchemy.ext.asyncio import AsyncSession

from community import live, plugins
from community.accounts.auth import undo
from community.accounts.models import Member
from community.accounts.routes import PUBLIC, Form, text
from community.accounts.routes import _settings_page as settings_page
from community.accounts.services import instance_settings
from community.errors import ServiceError
from community.forum import conversations, feeds, markup, notify, search, services, visibility
from community.forum.models import Thread
from community.web import render

# ---------------------------------------------------------------------------------------------
# Helpers


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def see_other(url: str) -> Redirect:
    return Redirect(url, status_code=303)


async def rate_limit(request: Request[Any, Any, Any], name: str, member: Member) -> None:
    """Count one ``name`` action of ``member`` (see ``community.ratelimit.LIMITS``)."""
    await request.app.state.limiter.hit(name, str(member.id))


def _int_arg(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


async def _list_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    *,
    mode: str,
    cursor: str | None,
    category: Any = None,
) -> Template:
    listing = await services.list_threads(db, member, category=category, mode=mode, cursor=cursor)
    base = f"/c/{category.slug}" if category is not None else ("/" if mode == "latest" else "")
    more_url = None
    if listing.next_cursor:
        path = base if mode == "latest" or category is not None else f"/{mode}"
        more_url = f"{path}?cursor={listing.next_cursor}"
    if is_htmx(request) and cursor:
        return render(request, "forum/_thread_rows.html", listing=listing, more_url=more_url)
    context: dict[str, Any] = {
        "listing": listing,
        "more_url": more_url,
        "mode": mode,
        "category": category,
        "counts": await services.list_counts(db, member),
        "categories": await services.list_categories(db, member),
    }
    if category is not None:
        context["watch_level"] = await notify.category_level(db, member, category.id)
        context["can_start"] = services.allowed(member, category, "start")
    return render(request, "forum/home.html", **context)


# ---------------------------------------------------------------------------------------------
# Lists


@get("/", name="home")
async def home(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, cursor: str | None = None
) -> Template:
    return await _list_page(request, db, member, mode="latest", cursor=cursor)


@get("/unread")
async def unread(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, cursor: str | None = None
) -> Template:
    return await _list_page(request, db, member, mode="unread", cursor=cursor)


@get("/new")
async def new_threads(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, cursor: str | None = None
) -> Template:
    return await _list_page(request, db, member, mode="new", cursor=cursor)


@get("/categories")
async def categories_page(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member
) -> Template:
    return render(
        request, "forum/categories.html", categories=await services.list_categories(db, member)
    )


@get("/categories.css")
async def category_colors(db: AsyncSession, member: Member) -> Response[str]:
    """Each category's colour as a CSS class (the CSP allows no inline styles)."""
    rules = [
        f".cat-{c.id} {{ --cat: {c.color}; }}"
        for c in await services.list_categories(db, member)
        if services.COLOR_RE.fullmatch(c.color)
    ]
    return Response(
        "\n".join(rules) + "\n",
        media_type="text/css",
        headers={"Cache-Control": "private, max-age=60"},
    )


@get("/c/{slug:str}")
async def category_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    slug: str,
    cursor: str | None = None,
) -> Template:
    category = await services.category_by_slug(db, member, slug)
    return await _list_page(request, db, member, mode="latest", cursor=cursor, category=category)


@post("/c/{slug:str}/watch", status_code=200)
async def watch_category(db: AsyncSession, member: Member, slug: str, data: Form) -> Redirect:
    category = await services.category_by_slug(db, member, slug)
    await notify.set_category_watch(db, member, category.id, text(data, "level"))
    return see_other(f"/c/{category.slug}")


# ---------------------------------------------------------------------------------------------
# Starting threads and conversations


def _compose(
    request: Request[Any, Any, Any],
    *,
    kind: str,
    status_code: int = 200,
    values: dict[str, Any] | None = None,
    error: ServiceError | None = None,
    **context: Any,
) -> Template:
    errors = {}
    if error is not None:
        errors[error.extra.get("field", "form")] = error.detail
    return render(
        request,
        "forum/compose.html",
        status_code=status_code,
        kind=kind,
        values=values or {},
        errors=errors,
        **context,
    )


@get("/new-thread")
async def new_thread_page(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, category: str | None = None
) -> Template:
    choices = [
        c
        for c in await services.list_categories(db, member)
        if services.allowed(member, c, "start")
    ]
    selected = next((c.id for c in choices if c.slug == category), None)
    return _compose(request, kind="thread", categories=choices, values={"category_id": selected})


@post("/new-thread", status_code=200)
async def create_thread(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: Form
) -> Template | Redirect:
    values = {key: text(data, key) for key in ("category_id", "title", "body")}
    try:
        await rate_limit(request, "thread", member)
        thread, _ = await services.create_thread(
            db,
            member,
            category_id=values["category_id"],
            title=values["title"],
            body=values["body"],
            site=request.state.site,
        )
    except ServiceError as error:
        await undo(db, member)
        choices = [
            c
            for c in await services.list_categories(db, member)
            if services.allowed(member, c, "start")
        ]
        values["category_id"] = _int_arg(values["category_id"]) or None
        return _compose(
            request,
            kind="thread",
            status_code=error.status,
            values=values,
            error=error,
            categories=choices,
        )
    return see_other(thread.url)


@get("/messages")
async def inbox(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, cursor: str | None = None
) -> Template:
    listing = await services.list_threads(db, member, mode="conversations", cursor=cursor)
    more_url = f"/messages?cursor={listing.next_cursor}" if listing.next_cursor else None
    if is_htmx(request) and cursor:
        return render(request, "forum/_thread_rows.html", listing=listing, more_url=more_url)
    return render(request, "forum/messages.html", listing=listing, more_url=more_url)


@get("/messages/new")
async def new_conversation_page(request: Request[Any, Any, Any], to: str | None = None) -> Template:
    return _compose(request, kind="conversation", values={"usernames": to or ""})


@post("/messages/new", status_code=200)
async def create_conversation(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: Form
) -> Template | Redirect:
    values = {key: text(data, key) for key in ("usernames", "title", "body")}
    try:
        await rate_limit(request, "thread", member)
        thread, _ = await conversations.start(
            db,
            member,
            usernames=values["usernames"],
            title=values["title"],
            body=values["body"],
            site=request.state.site,
        )
    except ServiceError as error:
        await undo(db, member)
        return _compose(
            request, kind="conversation", status_code=error.status, values=values, error=error
        )
    return see_other(thread.url)


# ---------------------------------------------------------------------------------------------
# Reading a thread


def _can_reply(member: Member, thread: Thread) -> bool:
    return thread.locked_at is None and (
        thread.category is None or services.allowed(member, thread.category, "reply")
    )


async def _thread_context(
    db: AsyncSession, member: Member, thread: Thread, page: int, site: dict[str, Any]
) -> dict[str, Any]:
    posts = await services.thread_page(db, member, thread, page, site)
    context: dict[str, Any] = {
        "thread": thread,
        "posts": posts,
        "page": page,
        "pages": services.page_count(thread),
        "watch_level": await notify.thread_level(db, member, thread),
        "participants": [],
        "can_reply": _can_reply(member, thread),
    }
    if thread.is_conversation:
        context["participants"] = await conversations.participants(db, thread)
    else:
        context["participants"] = await services.top_posters(db, thread)
        if member.is_staff:
            context["all_categories"] = await services.list_categories(db, member)
    return context


@get("/t/{slug:str}/{thread_id:int}")
async def thread_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    slug: str,
    thread_id: int,
    page: int | None = None,
) -> Template | Redirect:
    thread = await services.thread_for(db, member, thread_id)
    if page is None:
        read = await services.last_read(db, member, thread)
        if 0 < read < thread.post_count:
            return see_other(f"{thread.post_url(read + 1)}")
        page = 1
    if slug != thread.slug:
        return see_other(f"{thread.url}?page={page}")
    page = max(1, min(page, services.page_count(thread)))
    site = request.state.site
    context = await _thread_context(db, member, thread, page, site)
    context["reactions"] = site["reactions"]
    if is_htmx(request) and request.headers.get("hx-target") == "more-posts":
        await _mark_seen(db, member, thread, context["posts"])
        return render(request, "forum/_post_page.html", **context)
    await _mark_seen(db, member, thread, context["posts"])
    return render(request, "forum/thread.html", live_thread=thread.id, **context)


async def _mark_seen(db: AsyncSession, member: Member, thread: Thread, posts: list[Any]) -> None:
    if posts:
        await services.record_view(db, member, thread, posts[-1].post.number)


@get("/t/{slug:str}/{thread_id:int}/{number:int}")
async def post_permalink(
    db: AsyncSession, member: Member, slug: str, thread_id: int, number: int
) -> Redirect:
    thread = await services.thread_for(db, member, thread_id)
    number = max(1, min(number, max(1, thread.post_count)))
    return see_other(f"{thread.url}?page={services.page_of(number)}#p{number}")


@get("/t/{thread_id:int}/posts")
async def posts_after(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    thread_id: int,
    after: int = 0,
) -> Template:
    """New posts since ``after`` (the live stream asks for these), with the next sentinel."""
    thread = await services.thread_for(db, member, thread_id)
    posts = await services.posts_after(db, member, thread, after, site=request.state.site)
    await _mark_seen(db, member, thread, posts)
    last = posts[-1].post.number if posts else after
    return render(
        request,
        "forum/_new_posts.html",
        thread=thread,
        posts=posts,
        after=last,
        reactions=request.state.site["reactions"],
        can_reply=_can_reply(member, thread),
    )


@post("/t/{thread_id:int}/reply", status_code=200)
async def reply(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, thread_id: int, data: Form
) -> Template | Redirect:
    values = {key: text(data, key) for key in ("body", "reply_to")}
    try:
        await rate_limit(request, "post", member)
        thread, new_post = await services.reply(
            db, member, thread_id, values["body"], request.state.site, values["reply_to"] or None
        )
    except ServiceError as error:
        await undo(db, member)
        if error.status == 404:
            raise
        thread = await services.thread_for(db, member, thread_id)
        if is_htmx(request):
            # 422 is the one error status htmx swaps in (see base.html): the form shows it.
            return render(
                request,
                "forum/_composer.html",
                status_code=422,
                thread=thread,
                values=values,
                errors={"body": error.detail},
            )
        return _compose(
            request,
            kind="reply",
            status_code=error.status,
            values=values,
            error=error,
            thread=thread,
        )
    if is_htmx(request):
        # The composer comes back empty; "posted" makes the page fetch the new posts at once,
        # and the live stream brings them to everyone else.
        page = render(request, "forum/_composer.html", thread=thread, values={}, errors={})
        page.headers["HX-Trigger"] = "posted"
        return page
    return see_other(thread.post_url(new_post.number))


@get("/t/{thread_id:int}/reply")
async def reply_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    thread_id: int,
    to: int | None = None,
    quote: int | None = None,
) -> Template:
    """The composer on its own page: replying to or quoting a post without JavaScript."""
    thread = await services.thread_for(db, member, thread_id)
    values: dict[str, Any] = {"reply_to": to or "", "body": ""}
    if quote is not None:
        quoted, quoted_thread = await services.post_for(db, member, quote)
        author = await db.get(Member, quoted.author_id) if quoted.author_id else None
        values["body"] = markup.quote(
            author.username if author else "someone",
            quoted_thread.post_url(quoted.number),
            quoted.body,
        )
        if quoted_thread.id == thread.id:
            values["reply_to"] = quoted.number
    if is_htmx(request):
        return render(request, "forum/_composer.html", thread=thread, values=values, errors={})
    return _compose(request, kind="reply", values=values, thread=thread)


@post("/preview", status_code=200)
async def preview(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: Form
) -> Response[str]:
    await rate_limit(request, "preview", member)
    limit = int(request.state.site.get("max_post_length", 32_000))
    html, _ = await services.render_body(db, text(data, "body")[:limit])
    return Response(html or '<p class="muted">Nothing to preview yet.</p>', media_type="text/html")


@post("/t/{thread_id:int}/watch", status_code=200)
async def watch_thread(db: AsyncSession, member: Member, thread_id: int, data: Form) -> Redirect:
    thread = await services.thread_for(db, member, thread_id)
    await notify.set_thread_watch(db, member, thread, text(data, "level"))
    return see_other(thread.url + "?page=1")


@post("/t/{thread_id:int}/moderate", status_code=200)
async def moderate(db: AsyncSession, member: Member, thread_id: int, data: Form) -> Redirect:
    action = text(data, "action")
    changes: dict[str, Any] = {
        "pin": {"pinned": "category"},
        "pin_globally": {"pinned": "global"},
        "unpin": {"pinned": None},
        "lock": {"locked": True},
        "unlock": {"locked": False},
        "hide": {"hidden": True},
        "unhide": {"hidden": False},
        "move": {"category_id": text(data, "category_id")},
    }.get(action, {})
    if not changes:
        raise ServiceError("invalid_action", "Unknown moderation action.", 400)
    thread = await services.moderate_thread(db, member, thread_id, changes)
    return see_other(thread.url + "?page=1")


# ---------------------------------------------------------------------------------------------
# Posts: one post as a fragment, edit, delete, restore, revisions, reactions, bookmarks


async def _post_fragment(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: Any
) -> Template:
    post_, thread = await services.post_for(db, member, post_id, deleted=True)
    views = await services.posts_between(
        db, member, thread, post_.number, post_.number, request.state.site
    )
    return render(
        request,
        "forum/_post.html",
        view=views[0],
        thread=thread,
        can_reply=_can_reply(member, thread),
        reactions=request.state.site["reactions"],
    )


@get("/posts/{post_id:int}")
async def post_fragment(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: int
) -> Template | Redirect:
    if not is_htmx(request):
        post_, thread = await services.post_for(db, member, post_id, deleted=True)
        return see_other(thread.post_url(post_.number))
    return await _post_fragment(request, db, member, post_id)


@get("/posts/{post_id:int}/edit")
async def edit_page(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: int
) -> Template:
    post_, thread = await services.post_for(db, member, post_id)
    if not services.may_edit(member, post_, request.state.site):
        raise ServiceError("forbidden", "You cannot edit this post.", 403)
    values = {"body": post_.body, "title": thread.title if post_.number == 1 else None}
    template = "forum/_edit_form.html" if is_htmx(request) else "forum/edit.html"
    return render(request, template, post=post_, thread=thread, values=values, errors={})


@post("/posts/{post_id:int}/edit", status_code=200)
async def edit_post(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: int, data: Form
) -> Template | Redirect:
    values = {"body": text(data, "body"), "title": text(data, "title") or None}
    try:
        post_, thread = await services.edit_post(
            db, member, post_id, values["body"], request.state.site, title=values["title"]
        )
    except ServiceError as error:
        await undo(db, member)
        if error.status == 404:
            raise
        post_, thread = await services.post_for(db, member, post_id)
        template = "forum/_edit_form.html" if is_htmx(request) else "forum/edit.html"
        return render(
            request,
            template,
            status_code=422 if is_htmx(request) else error.status,
            post=post_,
            thread=thread,
            values=values,
            errors={error.extra.get("field", "body"): error.detail},
        )
    if is_htmx(request):
        return await _post_fragment(request, db, member, post_.id)
    return see_other(thread.post_url(post_.number))


@post("/posts/{post_id:int}/delete", status_code=200)
async def delete_post(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: int
) -> Template | Redirect:
    post_, thread = await services.delete_post(db, member, post_id)
    if post_.number == 1:
        return see_other(f"/c/{thread.category.slug}" if thread.category else "/messages")
    if is_htmx(request):
        return await _post_fragment(request, db, member, post_.id)
    return see_other(thread.post_url(post_.number))


@post("/posts/{post_id:int}/approve", status_code=200)
async def approve_post(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: int
) -> Template | Redirect:
    post_, thread = await services.approve_post(db, member, post_id)
    if is_htmx(request):
        return await _post_fragment(request, db, member, post_.id)
    return see_other(thread.post_url(post_.number))


@post("/posts/{post_id:int}/restore", status_code=200)
async def restore_post(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: int
) -> Template | Redirect:
    post_, thread = await services.restore_post(db, member, post_id)
    if is_htmx(request):
        return await _post_fragment(request, db, member, post_.id)
    return see_other(thread.post_url(post_.number))


@get("/posts/{post_id:int}/revisions")
async def revisions_page(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: int
) -> Template:
    post_, rows = await services.revisions(db, member, post_id)
    _, thread = await services.post_for(db, member, post_id)
    return render(request, "forum/revisions.html", post=post_, thread=thread, revisions=rows)


@post("/posts/{post_id:int}/react", status_code=200)
async def react(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: int, data: Form
) -> Template | Redirect:
    await rate_limit(request, "react", member)
    post_, _ = await services.toggle_reaction(
        db, member, post_id, text(data, "emoji"), request.state.site
    )
    if is_htmx(request):
        return await _post_fragment(request, db, member, post_.id)
    _, thread = await services.post_for(db, member, post_id)
    return see_other(thread.post_url(post_.number))


@post("/posts/{post_id:int}/bookmark", status_code=200)
async def bookmark(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, post_id: int
) -> Template | Redirect:
    await services.toggle_bookmark(db, member, post_id)
    if is_htmx(request):
        return await _post_fragment(request, db, member, post_id)
    post_, thread = await services.post_for(db, member, post_id)
    return see_other(thread.post_url(post_.number))


@get("/bookmarks")
async def bookmarks_page(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member
) -> Template:
    return render(request, "forum/bookmarks.html", rows=await services.bookmarks(db, member))


# ---------------------------------------------------------------------------------------------
# Notifications


@get("/notifications")
async def notifications_page(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, before: int | None = None
) -> Template:
    items = await notify.list_notifications(db, member, before=before)
    more_url = f"/notifications?before={items[-1].notification.id}" if len(items) == 30 else None
    return render(request, "forum/notifications.html", items=items, more_url=more_url)


@get("/notifications/badge")
async def notification_badge(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member
) -> Template:
    return render(request, "forum/_badge.html", unread=await notify.unread_count(db, member))


@post("/notifications/read", status_code=200)
async def read_notifications(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: Form
) -> Redirect:
    raw = text(data, "id")
    ids = None if not raw else [_int_arg(raw, -1)]
    await notify.mark_read(db, member, ids)
    return see_other("/notifications")


# ---------------------------------------------------------------------------------------------
# Search, profiles


@get("/search")
async def search_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    q: str = "",
    category: str = "",
    author: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
) -> Template:
    categories = await services.list_categories(db, member)
    filters = {"q": q, "category": category, "author": author, "since": since, "until": until}
    result, error = None, None
    if q.strip():
        await rate_limit(request, "search", member)
        try:
            page = max(1, min(page, 50))
            result = await search.search(
                db,
                member,
                q,
                category_id=_int_arg(category) or None,
                author=author.strip().lstrip("@") or None,
                since=search.parse_date(since, "since"),
                until=search.parse_date(until, "until"),
                limit=20,
                offset=(page - 1) * 20,
            )
        except ServiceError as exc:
            error = exc.detail
    return render(
        request,
        "forum/search.html",
        status_code=422 if error else 200,
        result=result,
        error=error,
        filters=filters,
        categories=categories,
        page=page,
    )


@get("/u/{username:str}")
async def profile_page(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, username: str
) -> Template:
    found = await services.profile(db, member, username)
    return render(request, "forum/profile.html", profile=found)


# ---------------------------------------------------------------------------------------------
# Feeds (token in the URL: feed readers cannot sign in) and the feed token on the settings page


@get("/feeds/{token:str}/latest.atom", opt=PUBLIC)
async def latest_feed(
    request: Request[Any, Any, Any], db: AsyncSession, token: str
) -> Response[str]:
    return await _feed(request, db, token, None)


@get("/feeds/{token:str}/c/{name:str}", opt=PUBLIC)
async def category_feed(
    request: Request[Any, Any, Any], db: AsyncSession, token: str, name: str
) -> Response[str]:
    """``/feeds/<token>/c/<category-slug>.atom``."""
    if not name.endswith(".atom"):
        raise ServiceError("not_found", "No such feed.", 404)
    return await _feed(request, db, token, name.removesuffix(".atom"))


async def _feed(
    request: Request[Any, Any, Any], db: AsyncSession, token: str, slug: str | None
) -> Response[str]:
    member = await feeds.member_for_feed_token(db, token)
    if member is None:
        raise ServiceError("not_found", "No such feed.", 404)
    category = await services.category_by_slug(db, member, slug) if slug else None
    entries = await feeds.latest_entries(db, member, category)
    base = request.app.state.settings.base_url
    site = request.state.site
    title = f"{site['name']}: {category.name}" if category else f"{site['name']}: latest"
    updated = max(
        (e.post.edited_at or e.post.created_at for e in entries), default=member.created_at
    )
    document = feeds.atom(
        title=title,
        feed_url=f"{base}{request.url.path}",
        site_url=f"{base}/c/{category.slug}" if category else f"{base}/",
        entries=entries,
        updated=updated,
    )
    return Response(document, media_type="application/atom+xml; charset=utf-8")


@post("/settings/feed", status_code=200)
async def create_feed_token(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member
) -> Template:
    token = await feeds.create_feed_token(db, member)
    base = request.app.state.settings.base_url
    return await settings_page(request, db, member, feed_url=f"{base}/feeds/{token}/latest.atom")


@post("/settings/feed/delete", status_code=200)
async def revoke_feed_token(db: AsyncSession, member: Member) -> Redirect:
    await feeds.revoke_feed_token(db, member)
    return see_other("/settings#feeds")


# ---------------------------------------------------------------------------------------------
# The live stream


@get("/live")
async def live_stream(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    channels: ChannelsPlugin,
    thread: int | None = None,
) -> ServerSentEvent:
    """Server-sent events for the member's badge, the channels enabled plugins name for them
    (hook ``live_channels``) and, with ``thread``, that thread's posts."""
    state = request.app.state
    names = [live.member_channel(state.namespace, member.id)]
    if thread is not None:
        found = await services.thread_for(db, member, thread)
        names.append(live.thread_channel(state.namespace, found.id))
    plugin_channels = await plugins.live_channels(member)
    names.extend(plugin_channels)
    member_id, epoch = member.id, member.session_epoch

    async def still_allowed() -> bool:
        """The member is still signed in, not suspended, still sees the thread, and the
        plugins still name the same channels (else the page reconnects and hears the new)."""
        async with state.sessionmaker() as check:
            current = await check.get(Member, member_id)
            if current is None or current.is_suspended() or current.session_epoch != epoch:
                return False
            # The plugins enabled and the categories seen when the stream opened may be hours
            # old: both again.
            site = await instance_settings(check, state.settings.name)
            with plugins.activated(state.plugins, site):
                if thread is not None:
                    try:
                        async with visibility.resolving(check, current):
                            await services.thread_for(check, current, thread)
                    except ServiceError:
                        return False
                return await plugins.live_channels(current) == plugin_channels

    await db.close()  # the stream may stay open for hours: give the connection back
    return ServerSentEvent(live.stream(channels, names, still_allowed=still_allowed))


routes = [
    home,
    unread,
    new_threads,
    categories_page,
    category_colors,
    category_page,
    watch_category,
    new_thread_page,
    create_thread,
    inbox,
    new_conversation_page,
    create_conversation,
    thread_page,
    post_permalink,
    posts_after,
    reply,
    reply_page,
    preview,
    watch_thread,
    moderate,
    post_fragment,
    edit_page,
    edit_post,
    delete_post,
    restore_post,
    approve_post,
    revisions_page,
    react,
    bookmark,
    bookmarks_page,
    notifications_page,
    notification_badge,
    read_notifications,
    search_page,
    profile_page,
    latest_feed,
    category_feed,
    create_feed_token,
    revoke_feed_token,
    live_stream,
]
