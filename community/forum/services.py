"""Forum logic: categories, threads, posts, reactions, bookmarks, reading. No HTTP here.

Every read goes through ``visibility``; content a member may not see is "not found", so its
existence does not leak. Writes commit their own transaction and ``emit`` events.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from anyio import to_thread
from sqlalchemy import (
    Integer,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload, raiseload
from sqlalchemy.orm.attributes import set_committed_value

from community import plugins
from community.accounts.models import Group, Member, brief
from community.accounts.services import MAX_ID
from community.db import utcnow
from community.errors import ServiceError
from community.events import (
    PostApproved,
    PostCreated,
    PostDeleted,
    PostEdited,
    PostHeld,
    PostRestored,
    ReactionAdded,
    ReactionRemoved,
    ThreadChanged,
    ThreadCreated,
    ThreadsMerged,
    ThreadSplit,
    ThreadViewed,
    emit,
)
from community.forum import markup, notify, visibility
from community.forum.models import (
    Bookmark,
    Category,
    CategoryPermission,
    Notification,
    Post,
    PostRevision,
    Reaction,
    Thread,
    ThreadRead,
    ThreadWatch,
)
from community.plugins import Gate

PAGE_SIZE = 20
"""Posts per thread page."""
LIST_SIZE = 30
TITLE_MIN, TITLE_MAX = 3, 200
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
CURSOR_RE = re.compile(r"^(\d{1,20})_(\d{1,10})$")
PIN_VALUES = (None, "category", "global")


def not_found(what: str = "thread") -> ServiceError:
    return ServiceError("not_found", f"No such {what}.", 404)


def check_id(value: Any, what: str) -> int:
    """A database id from a URL or a JSON body; anything else is simply not found."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise not_found(what)
    try:
        number = int(value)
    except ValueError:
        raise not_found(what) from None
    if not 1 <= number <= MAX_ID:
        raise not_found(what)
    return number


def slugify(text: str, fallback: str = "thread", limit: int = 80) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")
    return slug or fallback


def checked(verdict: Gate) -> Gate:
    """A gate's verdict, raising when it rejects: the reason goes back to the author."""
    if verdict.verdict == "reject":
        raise ServiceError(
            "rejected", verdict.reason or "This was not accepted.", 422, field="body"
        )
    return verdict


def check_title(title: Any) -> str:
    """A title of 3 to 200 characters once whitespace is collapsed and invisible control and
    format characters (zero-width spaces, direction marks) are dropped."""
    if isinstance(title, str):
        title = "".join(
            c for c in title if unicodedata.category(c) not in ("Cc", "Cf") or c in "\t\n"
        )
    title = " ".join(title.split()) if isinstance(title, str) else ""
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise ServiceError(
            "invalid_title",
            f"Titles are {TITLE_MIN} to {TITLE_MAX} characters long.",
            422,
            field="title",
        )
    return title


def check_body(body: Any, site: dict[str, Any]) -> str:
    body = body.strip() if isinstance(body, str) else ""
    limit = int(site.get("max_post_length", 32_000))
    if not body:
        raise ServiceError("invalid_body", "Write something first.", 422, field="body")
    if len(body) > limit:
        raise ServiceError(
            "invalid_body",
            f"Posts are at most {limit:,} characters long; this one has {len(body):,}.",
            422,
            field="body",
        )
    if "\x00" in body:
        raise ServiceError(
            "invalid_body", "Posts cannot contain NUL characters.", 422, field="body"
        )
    return body


async def render_body(db: AsyncSession, body: str) -> tuple[str, list[Member]]:
    """The sanitised HTML of ``body`` and the existing members it mentions."""
    # Rendering a hostile 32,000-character post can take a second: keep it off the event loop.
    candidates = sorted(await to_thread.run_sync(markup.mention_candidates, body))[:50]
    mentioned: list[Member] = []
    if candidates:
        mentioned = list(
            (await db.scalars(select(Member).where(Member.username_key.in_(candidates)))).all()
        )
    names = {member.username_key for member in mentioned}
    html = await to_thread.run_sync(markup.render, body, names)
    return html, mentioned


# ---------------------------------------------------------------------------------------------
# Categories


def allowed(member: Member, category: Category, ability: str) -> bool:
    """May ``member`` do ``ability`` ("see", "start", "reply") in ``category``?"""
    if member.is_staff:
        return True
    if ability == "start" and category.read_only:
        return False
    groups = {p.group_id for p in category.permissions if p.ability == ability}
    return not groups or bool(groups & {group.id for group in member.groups})


async def list_categories(db: AsyncSession, member: Member) -> list[Category]:
    """Every category ``member`` may see, parents first, each followed by its children."""
    rows = (
        await db.scalars(
            select(Category)
            .where(visibility.categories(member))
            .order_by(Category.position, Category.name)
        )
    ).all()
    children: dict[int, list[Category]] = {}
    for category in rows:
        if category.parent_id is not None:
            children.setdefault(category.parent_id, []).append(category)
    ordered: list[Category] = []
    for category in rows:
        if category.parent_id is None:
            ordered.append(category)
            ordered.extend(children.get(category.id, []))
    return ordered


async def category_for(db: AsyncSession, member: Member, category_id: Any) -> Category:
    category = await db.scalar(
        select(Category).where(
            Category.id == check_id(category_id, "category"), visibility.categories(member)
        )
    )
    if category is None:
        raise not_found("category")
    return category


async def category_by_slug(db: AsyncSession, member: Member, slug: str) -> Category:
    category = await db.scalar(
        select(Category).where(Category.slug == slug, visibility.categories(member))
    )
    if category is None:
        raise not_found("category")
    return category


async def _groups_named(db: AsyncSession, names: Any, field_name: str) -> list[Group]:
    if names is None:
        return []
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ServiceError(
            f"invalid_{field_name}",
            f"{field_name} is a list of group names.",
            422,
            field=field_name,
        )
    keys = {name.strip().lower() for name in names}
    groups = list((await db.scalars(select(Group).where(Group.name_key.in_(keys)))).all())
    unknown = keys - {group.name_key for group in groups}
    if unknown:
        raise ServiceError(
            "unknown_group",
            f"No group is called {', '.join(sorted(unknown))}.",
            422,
            field=field_name,
        )
    return groups


async def save_category(
    db: AsyncSession, category: Category | None, data: dict[str, Any]
) -> Category:
    """Create (``category`` None) or change a category from ``data``; commits.

    Keys: name, description, color, position, parent_id, read_only, and the group lists
    visible_to_groups, post_groups (start and reply), start_groups, reply_groups.
    """
    creating = category is None
    if category is None:
        category = Category(description="", color="#2f5fd0", position=0, read_only=False)
        category.permissions = []
    if creating or "name" in data:
        name = data.get("name")
        name = " ".join(name.split()) if isinstance(name, str) else ""
        if not 1 <= len(name) <= 64:
            raise ServiceError(
                "invalid_name", "Category names are 1 to 64 characters.", 422, field="name"
            )
        category.name = name
        if creating or data.get("slug") is None:
            category.slug = await _free_slug(db, slugify(name, "category", 64), category.id)
    if data.get("slug") is not None:
        slug = slugify(str(data["slug"]), "", 64)
        if not slug:
            raise ServiceError("invalid_slug", "Slugs are letters, digits and hyphens.", 422)
        category.slug = await _free_slug(db, slug, category.id)
    if "description" in data:
        description = data["description"] or ""
        if not isinstance(description, str) or len(description) > 1000:
            raise ServiceError(
                "invalid_description", "Descriptions are at most 1,000 characters.", 422
            )
        category.description = description.strip()
    if data.get("color"):
        if not isinstance(data["color"], str) or not COLOR_RE.fullmatch(data["color"]):
            raise ServiceError("invalid_color", "Colours look like #2f5fd0.", 422, field="color")
        category.color = data["color"].lower()
    if "position" in data:
        position = data["position"] or 0
        if isinstance(position, str) and re.fullmatch(r"-?\d{1,9}", position.strip()):
            position = int(position)
        if isinstance(position, bool) or not isinstance(position, int) or abs(position) > 10**9:
            raise ServiceError(
                "invalid_position", "Position is a whole number.", 422, field="position"
            )
        category.position = position
    if "read_only" in data:
        category.read_only = data["read_only"] in (True, "on", "true", "1", 1)
    if "parent_id" in data:
        await _set_parent(db, category, data["parent_id"])
    grants: dict[str, list[Group]] = {}
    if "visible_to_groups" in data:
        grants["see"] = await _groups_named(db, data["visible_to_groups"], "visible_to_groups")
    if "post_groups" in data:
        groups = await _groups_named(db, data["post_groups"], "post_groups")
        grants["start"] = grants["reply"] = groups
    for ability in ("start", "reply"):
        if f"{ability}_groups" in data:
            grants[ability] = await _groups_named(
                db, data[f"{ability}_groups"], f"{ability}_groups"
            )
    if grants:
        kept = [p for p in category.permissions if p.ability not in grants]
        category.permissions = kept + [
            CategoryPermission(group_id=group.id, ability=ability, group=group)
            for ability, groups in grants.items()
            for group in groups
        ]
    if creating:
        db.add(category)
    await db.commit()
    return category


async def _free_slug(db: AsyncSession, slug: str, own_id: int | None) -> str:
    candidate, n = slug, 1
    while True:
        taken = await db.scalar(select(Category.id).where(Category.slug == candidate))
        if taken is None or taken == own_id:
            return candidate
        n += 1
        candidate = f"{slug[:60]}-{n}"


async def _set_parent(db: AsyncSession, category: Category, parent_id: Any) -> None:
    if parent_id in (None, "", 0, "0"):
        category.parent_id = None
        return
    parent = await db.get(Category, check_id(parent_id, "parent category"))
    if parent is None:
        raise ServiceError("unknown_parent", "No such parent category.", 422, field="parent_id")
    if parent.parent_id is not None or parent.id == category.id:
        raise ServiceError(
            "invalid_parent", "Subcategories go one level deep only.", 422, field="parent_id"
        )
    if category.id is not None and await db.scalar(
        select(Category.id).where(Category.parent_id == category.id).limit(1)
    ):
        raise ServiceError(
            "invalid_parent",
            "This category has subcategories of its own, so it cannot become one.",
            422,
            field="parent_id",
        )
    category.parent_id = parent.id


async def delete_category(db: AsyncSession, category: Category) -> None:
    if await db.scalar(select(Thread.id).where(Thread.category_id == category.id).limit(1)):
        raise ServiceError(
            "category_not_empty", "Move or delete this category's threads first.", 409
        )
    if await db.scalar(select(Category.id).where(Category.parent_id == category.id).limit(1)):
        raise ServiceError("category_not_empty", "Delete its subcategories first.", 409)
    await db.delete(category)
    await db.commit()


def category_json(category: Category, with_groups: bool = True) -> dict[str, Any]:
    """The category as JSON; the group lists only ``with_groups`` (admins: group names are
    not every member's business)."""
    body = {
        "id": category.id,
        "name": category.name,
        "slug": category.slug,
        "description": category.description,
        "color": category.color,
        "position": category.position,
        "parent_id": category.parent_id,
        "read_only": category.read_only,
        "url": f"/c/{category.slug}",
    }
    if with_groups:
        body["visible_to_groups"] = [group.name for group in category.groups_for("see")]
        body["start_groups"] = [group.name for group in category.groups_for("start")]
        body["reply_groups"] = [group.name for group in category.groups_for("reply")]
    return body


# ---------------------------------------------------------------------------------------------
# Threads


async def thread_for(
    db: AsyncSession, member: Member, thread_id: Any, *, authorised: bool = False
) -> Thread:
    """The thread if ``member`` may see it (with its category loaded), else 404.
    ``authorised``: the caller already decided ``member`` may act on it, seen or not."""
    seen = true() if authorised else visibility.threads(member)
    thread = await db.scalar(
        select(Thread)
        .where(Thread.id == check_id(thread_id, "thread"), seen)
        .options(joinedload(Thread.category))
    )
    if thread is None:
        raise not_found()
    return thread


async def create_thread(
    db: AsyncSession,
    member: Member,
    *,
    category_id: Any,
    title: Any,
    body: Any,
    site: dict[str, Any],
) -> tuple[Thread, Post]:
    title = check_title(title)
    body = check_body(body, site)
    if category_id in (None, ""):
        raise ServiceError("invalid_category", "Choose a category.", 422, field="category_id")
    try:
        category = await category_for(db, member, category_id)
    except ServiceError:
        raise ServiceError(
            "unknown_category", "No such category.", 422, field="category_id"
        ) from None
    if not allowed(member, category, "start"):
        detail = (
            f"Only moderators start threads in {category.name}."
            if category.read_only
            else f"You cannot start threads in {category.name}."
        )
        raise ServiceError("cannot_start", detail, 403, field="category_id")
    verdict = checked(
        await plugins.gate("check_thread", member=member, category=category, title=title, body=body)
    )
    title = check_title(await plugins.rewrite("title", member, title, category))
    body = await plugins.rewrite("body", member, body, category)
    rendered = await render_body(db, body)
    thread = await new_thread(db, member, category.id, title)
    set_committed_value(thread, "category", category)
    if verdict.verdict == "hold":
        thread.held_at = utcnow()
    post = await add_post(db, member, thread, body, rendered=rendered, held=verdict)
    emit(db, ThreadCreated(thread_id=thread.id, category_id=category.id, author_id=member.id))
    await db.commit()
    return thread, post


async def new_thread(
    db: AsyncSession, member: Member, category_id: int | None, title: str
) -> Thread:
    now = utcnow()
    thread = Thread(
        category_id=category_id,
        title=title,
        slug=slugify(title),
        author_id=member.id,
        created_at=now,
        last_posted_at=now,
        last_poster_id=member.id,
        post_count=0,
        reply_count=0,
        view_count=0,
    )
    db.add(thread)
    await db.flush()
    return thread


async def add_post(
    db: AsyncSession,
    member: Member,
    thread: Thread,
    body: str,
    reply_to_number: int | None = None,
    rendered: tuple[str, list[Member]] | None = None,
    held: Gate | None = None,
) -> Post:
    """Append a post to ``thread`` (flushes, does not commit): numbering, watching and
    notifications. Callers check permissions first, and may pass ``render_body``'s result
    when they write before this (rendering must not hold the write lock)."""
    html, mentioned = rendered or await render_body(db, body)
    now = utcnow()
    number = await db.scalar(
        update(Thread)
        .where(Thread.id == thread.id)
        .values(
            post_count=Thread.post_count + 1,
            reply_count=Thread.post_count,
            last_posted_at=now,
            last_poster_id=member.id,
        )
        .returning(Thread.post_count)
        .execution_options(synchronize_session=False)
    )
    assert number is not None
    set_committed_value(thread, "post_count", number)
    set_committed_value(thread, "reply_count", number - 1)
    set_committed_value(thread, "last_posted_at", now)
    post = Post(
        thread_id=thread.id,
        number=number,
        author_id=member.id,
        body=body,
        html=html,
        reply_to_number=reply_to_number,
        created_at=now,
        revision_count=0,
        reaction_counts={},
    )
    if held is not None and held.verdict == "hold":
        post.held_at, post.held_reason = now, held.reason
    db.add(post)
    await db.flush()
    await notify.watch_if_unset(db, member.id, thread.id)
    await _read_up_to(db, member.id, thread.id, number)
    if post.held_at is None:  # a held post tells nobody until a moderator approves it
        await notify.after_post(db, thread, post, member, mentioned)
    emit(db, PostCreated(post_id=post.id, thread_id=thread.id, number=number, author_id=member.id))
    return post


async def reply(
    db: AsyncSession,
    member: Member,
    thread_id: Any,
    body: Any,
    site: dict[str, Any],
    reply_to: Any = None,
) -> tuple[Thread, Post]:
    thread = await thread_for(db, member, thread_id)
    body = check_body(body, site)
    if thread.locked_at is not None:
        raise ServiceError("thread_locked", "This thread is locked: no new replies.", 403)
    if thread.category is not None and not allowed(member, thread.category, "reply"):
        raise ServiceError("cannot_reply", f"You cannot reply in {thread.category.name}.", 403)
    reply_to_number = None
    if reply_to not in (None, ""):
        try:
            reply_to_number = int(reply_to)
        except (TypeError, ValueError):
            reply_to_number = 0
        if not 1 <= reply_to_number <= thread.post_count:
            raise ServiceError(
                "invalid_reply_to", "reply_to is not a post number of this thread.", 422
            )
    verdict = checked(
        await plugins.gate("check_post", member=member, thread=thread, body=body, editing=False)
    )
    body = await plugins.rewrite("body", member, body, thread.category)
    post = await add_post(db, member, thread, body, reply_to_number, held=verdict)
    await db.commit()
    return thread, post


def _cursor(thread: Thread) -> str:
    micros = int(thread.last_posted_at.timestamp() * 1_000_000)
    return f"{micros}_{thread.id}"


def parse_cursor(cursor: str) -> tuple[datetime, int]:
    match = CURSOR_RE.fullmatch(cursor)
    if not match:
        raise ServiceError("invalid_cursor", "That cursor is not one this server gave out.", 400)
    micros, thread_id = int(match.group(1)), int(match.group(2))
    if thread_id > MAX_ID:
        raise ServiceError("invalid_cursor", "That cursor is not one this server gave out.", 400)
    try:
        moment = datetime.fromtimestamp(micros / 1_000_000).astimezone()
    except (OverflowError, OSError, ValueError):
        raise ServiceError(
            "invalid_cursor", "That cursor is not one this server gave out.", 400
        ) from None
    return moment, thread_id


@dataclass
class ThreadRow:
    """A thread in a list, with what the list shows beside it."""

    thread: Thread
    category: Category | None
    author: Member | None
    last_poster: Member | None
    last_read_number: int | None

    @property
    def unread(self) -> int:
        if self.last_read_number is None:
            return 0
        return max(0, self.thread.post_count - self.last_read_number)

    @property
    def is_new(self) -> bool:
        return self.last_read_number is None

    @property
    def url(self) -> str:
        """Where a click takes the member: their first unread post, or the start."""
        if self.last_read_number and self.unread:
            return self.thread.post_url(self.last_read_number + 1)
        return self.thread.url


@dataclass
class ThreadList:
    rows: list[ThreadRow]
    pinned: list[ThreadRow] = field(default_factory=list)
    next_cursor: str | None = None


LIST_MODES = ("latest", "unread", "new", "conversations")


async def list_threads(
    db: AsyncSession,
    member: Member,
    *,
    category: Category | None = None,
    mode: str = "latest",
    cursor: str | None = None,
    limit: int = LIST_SIZE,
) -> ThreadList:
    """Threads ``member`` may see, newest activity first, ``limit`` at a time (keyset paging).

    The first page of "latest" also returns the pinned threads (global ones everywhere, the
    category's own on its page) separately, to show above the rest.
    """
    if mode not in LIST_MODES:
        raise ServiceError("invalid_filter", f"Lists are one of: {', '.join(LIST_MODES)}.", 400)
    limit = max(1, min(int(limit), 100))
    author, last_poster = aliased(Member), aliased(Member)
    read = aliased(ThreadRead)
    query = (
        select(Thread, Category, author, last_poster, read.last_read_number)
        .outerjoin(Category, Category.id == Thread.category_id)
        .outerjoin(author, author.id == Thread.author_id)
        .outerjoin(last_poster, last_poster.id == Thread.last_poster_id)
        .outerjoin(read, and_(read.thread_id == Thread.id, read.member_id == member.id))
        .where(visibility.threads(member))
        .options(*brief(author, last_poster), raiseload(Category.permissions))
    )
    if mode == "conversations":
        query = query.where(Thread.category_id.is_(None))
    else:
        query = query.where(Thread.category_id.is_not(None))
    if category is not None:
        family = select(Category.id).where(
            or_(Category.id == category.id, Category.parent_id == category.id)
        )
        query = query.where(Thread.category_id.in_(family))
    if mode == "unread":
        query = query.where(read.last_read_number < Thread.post_count)
    elif mode == "new":
        since = member.previous_visit_at or member.created_at
        query = query.where(read.member_id.is_(None), Thread.created_at > since)
    pinned_rows: list[ThreadRow] = []
    pin_scope = None
    if mode == "latest":
        pin_scope = (
            Thread.pinned.is_not(None) if category is not None else Thread.pinned == "global"
        )
    if pin_scope is not None and cursor is None:
        result = await db.execute(
            query.where(pin_scope).order_by(Thread.last_posted_at.desc()).limit(20)
        )
        pinned_rows = [ThreadRow(*row) for row in result.all()]
    if pin_scope is not None:
        query = query.where(or_(Thread.pinned.is_(None), ~pin_scope))
    if cursor:
        moment, last_id = parse_cursor(cursor)
        query = query.where(
            or_(
                Thread.last_posted_at < moment,
                and_(Thread.last_posted_at == moment, Thread.id < last_id),
            )
        )
    result = await db.execute(
        query.order_by(Thread.last_posted_at.desc(), Thread.id.desc()).limit(limit + 1)
    )
    rows = [ThreadRow(*row) for row in result.all()]
    next_cursor = _cursor(rows[limit - 1].thread) if len(rows) > limit else None
    return ThreadList(rows=rows[:limit], pinned=pinned_rows, next_cursor=next_cursor)


async def list_counts(db: AsyncSession, member: Member) -> dict[str, int]:
    """How many threads are unread and new for ``member`` (the tabs' badges). Unread starts
    from the member's own reading marks and new from threads since their previous visit, so
    neither reads the whole forum."""
    visible = and_(visibility.threads(member), Thread.category_id.is_not(None))
    unread = await db.scalar(
        select(func.count())
        .select_from(ThreadRead)
        .join(Thread, Thread.id == ThreadRead.thread_id)
        .where(
            ThreadRead.member_id == member.id,
            ThreadRead.last_read_number < Thread.post_count,
            visible,
        )
    )
    read = aliased(ThreadRead)
    since = member.previous_visit_at or member.created_at
    new = await db.scalar(
        select(func.count())
        .select_from(Thread)
        .outerjoin(read, and_(read.thread_id == Thread.id, read.member_id == member.id))
        .where(Thread.created_at > since, read.member_id.is_(None), visible)
    )
    return {"unread": unread or 0, "new": new or 0}


async def moderate_thread(
    db: AsyncSession,
    member: Member,
    thread_id: Any,
    changes: dict[str, Any],
    *,
    authorised: bool = False,
) -> Thread:
    """Pin, lock, hide or move a thread (moderators and admins; ``authorised``: anyone a
    plugin's own rule allowed, such as a category's moderators, the thread seen or not)."""
    thread = await thread_for(db, member, thread_id, authorised=authorised)
    if not (member.is_staff or authorised):
        raise ServiceError("forbidden", "Only moderators pin, lock, hide and move threads.", 403)
    if thread.is_conversation and {"pinned", "category_id"} & changes.keys():
        raise ServiceError("invalid_change", "Private conversations are not pinned or moved.", 422)
    now = utcnow()
    if "pinned" in changes:
        pinned = changes["pinned"]
        if pinned is True:
            pinned = "category"
        elif pinned in (False, "", "none"):
            pinned = None
        if not (pinned is None or isinstance(pinned, str)) or pinned not in PIN_VALUES:
            raise ServiceError(
                "invalid_pinned", 'pinned is false, true, "category" or "global".', 422
            )
        if pinned != thread.pinned:
            thread.pinned = pinned
            emit(db, ThreadChanged(thread.id, member.id, "pinned", pinned))
    for flag, column in (("locked", "locked_at"), ("hidden", "hidden_at")):
        if flag in changes:
            value = changes[flag]
            if not isinstance(value, bool):
                raise ServiceError(f"invalid_{flag}", f"{flag} is true or false.", 422)
            if value != (getattr(thread, column) is not None):
                setattr(thread, column, now if value else None)
                emit(db, ThreadChanged(thread.id, member.id, flag, value))
    if "category_id" in changes:
        try:
            target = await db.get(Category, check_id(changes["category_id"], "category"))
        except ServiceError:
            target = None
        if target is None:
            raise ServiceError("unknown_category", "No such category.", 422, field="category_id")
    if "category_id" in changes and target.id != thread.category_id:
        thread.category_id = target.id
        set_committed_value(thread, "category", target)
        emit(db, ThreadChanged(thread.id, member.id, "moved", target.id))
    await db.commit()
    return thread


# ---------------------------------------------------------------------------------------------
# Splitting and merging threads

MAX_MOVED = 1000
"""Posts one split may move."""
ID_CHUNK = 300
"""Posts renumbered per statement (keeps under every backend's parameter limit)."""


def check_post_ids(value: Any, what: str = "post_ids") -> list[int]:
    """A non-empty list of distinct ids (numbers or digit strings), in the order given."""
    if isinstance(value, str):
        value = [part for part in re.split(r"[\s,]+", value) if part]
    if not isinstance(value, list | tuple) or not value:
        raise ServiceError("invalid_posts", "Choose at least one post to move.", 422, field=what)
    if len(value) > MAX_MOVED:
        raise ServiceError(
            "invalid_posts", f"Move at most {MAX_MOVED:,} posts at a time.", 422, field=what
        )
    ids: list[int] = []
    for item in value:
        try:
            number = check_id(item, "post")
        except ServiceError:
            raise ServiceError(
                "invalid_posts",
                f"{what} holds whole numbers only, not {item!r:.40}.",
                422,
                field=what,
            ) from None
        if number not in ids:
            ids.append(number)
    return ids


def _may_move(member: Member, authorised: bool, what: str) -> None:
    if not (member.is_staff or authorised):
        raise ServiceError("forbidden", f"Only moderators {what} threads.", 403)


def _not_conversation(thread: Thread, what: str) -> None:
    if thread.is_conversation:
        raise ServiceError("invalid_change", f"Private conversations cannot be {what}.", 422)


async def _lock_threads(db: AsyncSession, *thread_ids: int) -> None:
    """Hold the threads' rows (in id order) so no reply is numbered while posts move."""
    await db.execute(
        select(Thread.id)
        .where(Thread.id.in_(sorted(thread_ids)))
        .order_by(Thread.id)
        .with_for_update()
    )


async def _thread_posts(db: AsyncSession, thread_id: int) -> list[Any]:
    rows = await db.execute(
        select(
            Post.id,
            Post.number,
            Post.reply_to_number,
            Post.created_at,
            Post.held_at,
            Post.deleted_at,
        )
        .where(Post.thread_id == thread_id)
        .order_by(Post.number)
    )
    return list(rows.all())


async def _renumber(
    db: AsyncSession,
    thread_id: int,
    posts: list[Any],
    first: int,
    staying: dict[int, int] | None = None,
) -> None:
    """Put ``posts`` (rows of ``_thread_posts``, in their new order) in ``thread_id`` numbered
    from ``first``. A reply keeps pointing at its post when that post is among them or in
    ``staying`` (numbers that do not change), and points nowhere otherwise. Two steps (every
    number made negative first) so the unique (thread, number) index never sees two posts
    with one number."""
    new_numbers = dict(staying or {})
    new_numbers.update({row.number: first + i for i, row in enumerate(posts)})
    for start in range(0, len(posts), ID_CHUNK):
        chunk = [row.id for row in posts[start : start + ID_CHUNK]]
        await db.execute(
            update(Post)
            .where(Post.id.in_(chunk))
            .values(thread_id=thread_id, number=-Post.id)
            .execution_options(synchronize_session=False)
        )
    for start in range(0, len(posts), ID_CHUNK):
        chunk = posts[start : start + ID_CHUNK]
        numbers = case(*((Post.id == row.id, first + start + i) for i, row in enumerate(chunk)))
        replies = (
            case(
                *(
                    (Post.id == row.id, new_numbers.get(row.reply_to_number))
                    for row in chunk
                    if row.reply_to_number is not None
                ),
                else_=None,
            )
            if any(row.reply_to_number is not None for row in chunk)
            else None
        )
        await db.execute(
            update(Post)
            .where(Post.id.in_([row.id for row in chunk]))
            .values(number=cast(numbers, Integer), reply_to_number=cast(replies, Integer))
            .execution_options(synchronize_session=False)
        )


async def _recount(db: AsyncSession, thread: Thread) -> None:
    """Counts and last post as ``add_post`` keeps them: every post, deleted and held ones too,
    has a number; the last post is the latest written."""
    count = await db.scalar(select(func.count()).where(Post.thread_id == thread.id)) or 0
    last = (
        await db.execute(
            select(Post.created_at, Post.author_id)
            .where(Post.thread_id == thread.id)
            .order_by(Post.created_at.desc(), Post.number.desc())
            .limit(1)
        )
    ).first()
    thread.post_count, thread.reply_count = count, max(0, count - 1)
    if last is not None:
        thread.last_posted_at, thread.last_poster_id = last.created_at, last.author_id


async def _search_titles(db: AsyncSession, post_ids: list[int]) -> None:
    """SQLite's search table holds the title beside each thread's first post: set it for
    posts that became first posts and clear it for the others (PostgreSQL joins the thread)."""
    if db.get_bind().dialect.name != "sqlite":
        return
    for start in range(0, len(post_ids), ID_CHUNK):
        chunk = post_ids[start : start + ID_CHUNK]
        marks = ", ".join(f":p{i}" for i in range(len(chunk)))
        await db.execute(
            text(
                "UPDATE posts_fts SET title = coalesce((SELECT threads.title FROM posts"
                " JOIN threads ON threads.id = posts.thread_id"
                " WHERE posts.id = posts_fts.rowid AND posts.number = 1), '')"
                f" WHERE rowid IN ({marks})"
            ),
            {f"p{i}": post_id for i, post_id in enumerate(chunk)},
        )


async def _watch_from(db: AsyncSession, thread_id: int, rows: Any) -> None:
    """Add watches on ``thread_id`` from ``rows`` (a select of member id and level) for
    members who have not chosen a level there."""
    rows = rows.subquery()
    chosen = aliased(ThreadWatch)
    await db.execute(
        insert(ThreadWatch).from_select(
            ["member_id", "thread_id", "level"],
            select(rows.c.member_id, literal(thread_id), rows.c.level)
            .distinct()
            .where(
                ~select(chosen.member_id)
                .where(chosen.thread_id == thread_id, chosen.member_id == rows.c.member_id)
                .exists()
            ),
        )
    )


async def split_thread(
    db: AsyncSession,
    member: Member,
    thread_id: Any,
    post_ids: Any,
    title: Any,
    category_id: Any = None,
    *,
    by_number: bool = False,
    authorised: bool = False,
) -> Thread:
    """Move the chosen replies of a thread into a new thread (moderators; commits).

    ``post_ids`` are post ids, or post numbers in the thread with ``by_number``. The opening
    post stays. The new thread takes ``title``, ``category_id`` (default: the source's), the
    first moved post's author and time; moved posts are numbered 1, 2, 3... in their order
    and the source's remaining posts close up. Readers keep their place in both threads."""
    source = await thread_for(db, member, thread_id, authorised=authorised)
    _may_move(member, authorised, "split")
    _not_conversation(source, "split")
    chosen = check_post_ids(post_ids)
    title = check_title(title)
    category = source.category
    if category_id not in (None, ""):
        try:
            category = await category_for(db, member, category_id)
        except ServiceError:
            raise ServiceError(
                "unknown_category", "No such category.", 422, field="category_id"
            ) from None
    await _lock_threads(db, source.id)
    posts = await _thread_posts(db, source.id)
    key = "number" if by_number else "id"
    picked = {getattr(row, key) for row in posts} & set(chosen)
    if len(picked) != len(chosen):
        stray = ", ".join(str(n) for n in chosen if n not in picked)
        kind = "numbers" if by_number else "ids"
        raise ServiceError(
            "invalid_posts", f"Not posts of this thread: {kind} {stray}.", 422, field="post_ids"
        )
    moved = [row for row in posts if getattr(row, key) in picked]
    kept = [row for row in posts if getattr(row, key) not in picked]
    if moved[0].number == 1:
        raise ServiceError(
            "invalid_posts",
            "The opening post stays in its thread: choose replies only.",
            422,
            field="post_ids",
        )
    assert category is not None  # not a conversation
    thread = await _new_split_thread(db, category, title, moved[0])
    await _split_reads(db, source.id, thread.id, [row.id for row in moved], moved[0].number)
    await _renumber(db, thread.id, moved, 1)
    first_moved = moved[0].number
    before = {row.number: row.number for row in kept if row.number < first_moved}
    after = [row for row in kept if row.number > first_moved]
    await _renumber(db, source.id, after, first_moved, before)
    moved_ids = [row.id for row in moved]
    await db.execute(
        update(Notification)
        .where(Notification.post_id.in_(moved_ids))
        .values(thread_id=thread.id)
        .execution_options(synchronize_session=False)
    )
    authors = select(Post.author_id.label("member_id"), literal("watching").label("level"))
    await _watch_from(
        db, thread.id, authors.where(Post.thread_id == thread.id, Post.author_id.is_not(None))
    )
    await _recount(db, source)
    await _recount(db, thread)
    await _search_titles(db, moved_ids)
    emit(db, ThreadSplit(source.id, thread.id, member.id, tuple(moved_ids)))
    await db.commit()
    return thread


async def _new_split_thread(db: AsyncSession, category: Category, title: str, first: Any) -> Thread:
    author_id = await db.scalar(select(Post.author_id).where(Post.id == first.id))
    thread = Thread(
        category_id=category.id,
        title=title,
        slug=slugify(title),
        author_id=author_id,
        created_at=first.created_at,
        last_posted_at=first.created_at,
        last_poster_id=author_id,
        post_count=0,
        reply_count=0,
        view_count=0,
        # As if the thread had been started with this post: held with it, and hidden when it
        # is deleted (``restore_post`` then shows the thread again).
        held_at=first.held_at,
        hidden_at=first.deleted_at,
    )
    db.add(thread)
    await db.flush()
    set_committed_value(thread, "category", category)
    return thread


async def _split_reads(
    db: AsyncSession, source_id: int, thread_id: int, moved_ids: list[int], first_number: int
) -> None:
    """A member who had read past the moved posts has read them in the new thread too; in the
    source their mark moves back by the posts that left before it."""

    def read_among(condition: Any, reads: Any) -> Any:
        return (
            select(func.count())
            .select_from(Post)
            .where(Post.thread_id == source_id, Post.number <= reads.last_read_number, condition)
            .scalar_subquery()
        )

    reads = aliased(ThreadRead)
    await db.execute(
        insert(ThreadRead).from_select(
            ["member_id", "thread_id", "last_read_number", "read_at"],
            select(
                reads.member_id,
                literal(thread_id),
                read_among(Post.id.in_(moved_ids), reads),
                reads.read_at,
            ).where(reads.thread_id == source_id, reads.last_read_number >= first_number),
        )
    )
    await db.execute(
        update(ThreadRead)
        .where(ThreadRead.thread_id == source_id, ThreadRead.last_read_number >= first_number)
        .values(last_read_number=read_among(Post.id.not_in(moved_ids), ThreadRead))
        .execution_options(synchronize_session=False)
    )


async def merge_threads(
    db: AsyncSession,
    member: Member,
    source_id: Any,
    target_id: Any,
    *,
    authorised: bool = False,
) -> Thread:
    """Move every post of one thread to the end of another, oldest first, and delete the
    emptied thread (moderators; commits). Its watchers watch the target unless they chose a
    level there; notifications follow their posts. Returns the target."""
    source = await thread_for(db, member, source_id, authorised=authorised)
    _may_move(member, authorised, "merge")
    try:
        target = await thread_for(db, member, target_id)
    except ServiceError:
        raise ServiceError(
            "unknown_target", "No such thread to merge into.", 422, field="target_thread_id"
        ) from None
    if target.id == source.id:
        raise ServiceError(
            "invalid_target",
            "A thread cannot be merged into itself.",
            422,
            field="target_thread_id",
        )
    _not_conversation(source, "merged")
    _not_conversation(target, "merged into")
    await _lock_threads(db, source.id, target.id)
    posts = sorted(await _thread_posts(db, source.id), key=lambda row: (row.created_at, row.number))
    last = await db.scalar(select(func.max(Post.number)).where(Post.thread_id == target.id))
    await _renumber(db, target.id, posts, (last or 0) + 1)
    await db.execute(
        update(Notification)
        .where(Notification.thread_id == source.id)
        .values(thread_id=target.id)
        .execution_options(synchronize_session=False)
    )
    await _watch_from(
        db,
        target.id,
        select(ThreadWatch.member_id, ThreadWatch.level).where(ThreadWatch.thread_id == source.id),
    )
    await _recount(db, target)
    await _search_titles(db, [row.id for row in posts])
    db.expunge(source)
    await db.execute(delete(Thread).where(Thread.id == source.id))
    emit(db, ThreadsMerged(source.id, target.id, member.id))
    await db.commit()
    return target


# ---------------------------------------------------------------------------------------------
# Reading a thread


@dataclass
class PostView:
    """A post as a page shows it."""

    post: Post
    author: Member | None
    my_reactions: set[str] = field(default_factory=set)
    reactors: dict[str, list[str]] = field(default_factory=dict)
    bookmarked: bool = False
    can_edit: bool = False


def page_count(thread: Thread) -> int:
    return max(1, math.ceil(thread.post_count / PAGE_SIZE))


def page_of(number: int) -> int:
    return max(1, math.ceil(number / PAGE_SIZE))


async def posts_between(
    db: AsyncSession,
    member: Member,
    thread: Thread,
    first: int,
    last: int,
    site: dict[str, Any] | None = None,
) -> list[PostView]:
    """Posts numbered ``first``..``last`` with what the page shows beside each, in two queries
    whatever their number: the posts, their authors and the member's bookmarks; then up to ten
    names per reaction, and the member's own reactions."""
    bookmarked = (
        exists().where(Bookmark.post_id == Post.id, Bookmark.member_id == member.id).label("mark")
    )
    result = await db.execute(
        select(Post, Member, bookmarked)
        .outerjoin(Member, Member.id == Post.author_id)
        .where(
            Post.thread_id == thread.id,
            Post.number.between(first, last),
            visibility.held_posts(member),
        )
        .order_by(Post.number)
        # No more rows than numbers in the range ((thread, number) is unique): without the
        # limit PostgreSQL guesses thousands of rows in a long thread and hashes every member.
        .limit(last - first + 1)
        .options(*brief(Member))
    )
    views = [
        PostView(
            post,
            author,
            bookmarked=mark,
            can_edit=site is not None and may_edit(member, post, site),
        )
        for post, author, mark in result.all()
    ]
    if not views:
        return views
    by_id = {view.post.id: view for view in views}
    # The posts' reactions by who made them, first ten names per emoji, and the member's own
    # wherever they rank. By the posts' ids: PostgreSQL guesses a range in a long thread at
    # thousands of posts and would join every reaction.
    ranked = (
        select(
            Reaction.post_id,
            Reaction.emoji,
            Reaction.member_id,
            Member.username,
            func.row_number()
            .over(
                partition_by=(Reaction.post_id, Reaction.emoji),
                order_by=Reaction.created_at,
            )
            .label("rank"),
        )
        .join(Member, Member.id == Reaction.member_id)
        .where(Reaction.post_id.in_(list(by_id)))
        .subquery()
    )
    names = await db.execute(
        select(
            ranked.c.post_id, ranked.c.emoji, ranked.c.member_id, ranked.c.rank, ranked.c.username
        )
        .where(or_(ranked.c.rank <= 10, ranked.c.member_id == member.id))
        .order_by(ranked.c.post_id, ranked.c.emoji, ranked.c.rank)
    )
    for post_id, emoji, member_id, rank, username in names.all():
        view = by_id[post_id]
        if member_id == member.id:
            view.my_reactions.add(emoji)
        if rank <= 10:
            view.reactors.setdefault(emoji, []).append(username)
    return views


async def thread_page(
    db: AsyncSession,
    member: Member,
    thread: Thread,
    page: int,
    site: dict[str, Any] | None = None,
) -> list[PostView]:
    """One page of ``thread``: the index on (thread, number) makes page 500 cost as page 1."""
    page = max(1, page)
    first = (page - 1) * PAGE_SIZE + 1
    return await posts_between(db, member, thread, first, first + PAGE_SIZE - 1, site)


async def posts_after(
    db: AsyncSession,
    member: Member,
    thread: Thread,
    after: int,
    limit: int = 50,
    site: dict[str, Any] | None = None,
) -> list[PostView]:
    after = max(0, min(after, thread.post_count))
    last = after + max(1, min(limit, 100))
    return await posts_between(db, member, thread, after + 1, last, site)


PARTICIPANT_WINDOW = 500
"""Participants are counted over a thread's latest posts, so a thread page costs the same
however long the thread grows (the (thread, number) index bounds the scan)."""


async def top_posters(db: AsyncSession, thread: Thread, limit: int = 8) -> list[Member]:
    """The members who wrote most of ``thread``'s latest posts, most first (participants)."""
    rows = await db.execute(
        select(Member)
        .join(Post, Post.author_id == Member.id)
        .where(
            Post.thread_id == thread.id,
            Post.number > thread.post_count - PARTICIPANT_WINDOW,
            Post.deleted_at.is_(None),
        )
        .group_by(Member.id)
        .order_by(func.count().desc(), func.min(Post.number))
        .limit(limit)
        .options(*brief(Member))
    )
    return list(rows.scalars().all())


async def last_read(db: AsyncSession, member: Member, thread: Thread) -> int:
    return (
        await db.scalar(
            select(ThreadRead.last_read_number).where(
                ThreadRead.member_id == member.id, ThreadRead.thread_id == thread.id
            )
        )
        or 0
    )


async def record_view(db: AsyncSession, member: Member, thread: Thread, up_to: int) -> None:
    """The member read ``thread`` up to post ``up_to``: move their mark forward, count a view
    once per member per hour, and commit."""
    row = await db.get(ThreadRead, (member.id, thread.id))
    now = utcnow()
    if row is None or now - row.read_at > timedelta(hours=1):
        if row is not None:
            row.read_at = now
        await db.execute(
            update(Thread)
            .where(Thread.id == thread.id)
            .values(view_count=Thread.view_count + 1)
            .execution_options(synchronize_session=False)
        )
        emit(db, ThreadViewed(thread_id=thread.id, member_id=member.id))
    await _read_up_to(db, member.id, thread.id, up_to, row)
    await notify.mark_thread_read(db, member, thread, up_to)
    await db.commit()


async def _read_up_to(
    db: AsyncSession, member_id: int, thread_id: int, number: int, row: ThreadRead | None = None
) -> None:
    row = row or await db.get(ThreadRead, (member_id, thread_id))
    if row is None:
        db.add(
            ThreadRead(
                member_id=member_id, thread_id=thread_id, last_read_number=number, read_at=utcnow()
            )
        )
        try:
            async with db.begin_nested():
                await db.flush()
        except IntegrityError:
            pass  # read twice at once: the other request wrote the row
        return
    if number > row.last_read_number:  # else nothing to write (a page read again)
        row.last_read_number = number
        row.read_at = utcnow()


# ---------------------------------------------------------------------------------------------
# Posts


async def post_for(
    db: AsyncSession,
    member: Member,
    post_id: Any,
    *,
    deleted: bool = False,
    authorised: bool = False,
) -> tuple[Post, Thread]:
    """A post in a thread ``member`` may see; deleted posts only for staff, or with
    ``deleted`` (the caller then checks who may act on it). ``authorised``: the caller
    already decided ``member`` may act on it, seen or not."""
    seen = true() if authorised else visibility.threads(member)
    query = (
        select(Post, Thread)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.id == check_id(post_id, "post"), seen)
        .options(joinedload(Thread.category))
    )
    if not (deleted or authorised):
        query = query.where(visibility.posts(member))
    row = (await db.execute(query)).first()
    if row is None:
        raise not_found("post")
    return row[0], row[1]


async def post_by_number(db: AsyncSession, thread: Thread, number: int) -> Post | None:
    return await db.scalar(select(Post).where(Post.thread_id == thread.id, Post.number == number))


def may_edit(member: Member, post: Post, site: dict[str, Any]) -> bool:
    if member.is_staff:
        return True
    if post.author_id != member.id or post.deleted_at is not None:
        return False
    window = timedelta(minutes=int(site.get("edit_window_minutes", 1440)))
    return utcnow() - post.created_at <= window


async def edit_post(
    db: AsyncSession,
    member: Member,
    post_id: Any,
    body: Any,
    site: dict[str, Any],
    title: Any = None,
    *,
    authorised: bool = False,
) -> tuple[Post, Thread]:
    """Change a post (and, for the first post, its thread's title), keeping the old version.
    ``authorised``: the caller (a plugin) has checked that ``member`` moderates this post."""
    post, thread = await post_for(db, member, post_id, authorised=authorised)
    if post.author_id != member.id and not (member.is_staff or authorised):
        raise ServiceError("forbidden", "Only the author and moderators edit a post.", 403)
    if not (authorised or may_edit(member, post, site)):
        minutes = int(site.get("edit_window_minutes", 1440))
        raise ServiceError(
            "edit_window_passed",
            f"Posts can be edited for {minutes} minutes after they are written.",
            403,
        )
    body = check_body(body, site)
    new_title = check_title(title) if title not in (None, "") and post.number == 1 else None
    title_changed = new_title is not None and new_title != thread.title
    if body == post.body and not title_changed:
        return post, thread
    verdict = checked(
        await plugins.gate("check_post", member=member, thread=thread, body=body, editing=True)
    )
    body = await plugins.rewrite("body", member, body, thread.category)
    if new_title is not None:
        new_title = check_title(await plugins.rewrite("title", member, new_title, thread.category))
        title_changed = new_title != thread.title
    html, mentioned = await render_body(db, body)  # before any write: no lock held meanwhile
    db.add(
        PostRevision(
            post_id=post.id,
            number=post.revision_count + 1,
            body=post.body,
            html=post.html,
            title=thread.title if post.number == 1 else None,
            editor_id=member.id,
            created_at=post.edited_at or post.created_at,
        )
    )
    old_mentions = markup.mention_candidates(post.body)
    post.body, post.html = body, html
    post.edited_at = utcnow()
    if verdict.verdict == "hold":
        post.held_at, post.held_reason = post.edited_at, verdict.reason
    post.revision_count += 1
    if title_changed:
        assert new_title is not None
        thread.title, thread.slug = new_title, slugify(new_title)
    newly = [m for m in mentioned if m.username_key not in old_mentions]
    await notify.mentions(db, thread, post, member, newly)
    emit(db, PostEdited(post_id=post.id, thread_id=thread.id, editor_id=member.id))
    await db.commit()
    return post, thread


async def revisions(db: AsyncSession, member: Member, post_id: Any) -> tuple[Post, list[Any]]:
    """Earlier versions of a post, newest first (the author and moderators only)."""
    post, _ = await post_for(db, member, post_id)
    if post.author_id != member.id and not member.is_staff:
        raise ServiceError("forbidden", "Only the author and moderators see earlier versions.", 403)
    editor = aliased(Member)
    rows = await db.execute(
        select(PostRevision, editor)
        .outerjoin(editor, editor.id == PostRevision.editor_id)
        .where(PostRevision.post_id == post.id)
        .order_by(PostRevision.number.desc())
    )
    return post, list(rows.all())


async def approve_post(
    db: AsyncSession, member: Member, post_id: Any, *, authorised: bool = False
) -> tuple[Post, Thread]:
    """Release a post (and, for an opening post, its thread) held for review: moderators only
    (or ``authorised`` by a plugin's rule). Notifications and live pages hear of it now, as if
    it had just been written."""
    post, thread = await post_for(db, member, post_id, authorised=authorised)
    if not (member.is_staff or authorised):
        raise ServiceError("forbidden", "Only moderators approve posts.", 403)
    if post.held_at is None:
        return post, thread
    post.held_at, post.held_reason = None, None
    if post.number == 1:
        thread.held_at = None
    author = await db.get(Member, post.author_id) if post.author_id else None
    if author is not None:
        _, mentioned = await render_body(db, post.body)
        await notify.after_post(db, thread, post, author, mentioned)
    emit(db, PostApproved(post_id=post.id, thread_id=thread.id, actor_id=member.id))
    emit(db, PostCreated(post.id, thread.id, post.number, post.author_id or member.id))
    await db.commit()
    return post, thread


async def hold_post(
    db: AsyncSession, post: Post, thread: Thread, reason: str, actor: Member | None = None
) -> bool:
    """Take a shown post back for review (an opening post takes its thread): its author and
    moderators still see it, nobody else until ``approve_post``. For plugins acting on their
    own rules (``actor`` None) or for a moderator; the caller checks who may, and commits.
    False when the post was already held or deleted."""
    if post.held_at is not None or post.deleted_at is not None:
        return False
    post.held_at, post.held_reason = utcnow(), reason
    if post.number == 1:
        thread.held_at = post.held_at
    emit(db, PostHeld(post.id, thread.id, actor.id if actor else None, reason))
    return True


async def held_posts(db: AsyncSession, member: Member, limit: int = 100) -> list[Any]:
    """Posts waiting for review, oldest first (moderators): (post, thread, author)."""
    if not member.is_staff:
        raise ServiceError("forbidden", "Only moderators review held posts.", 403)
    author = aliased(Member)
    rows = await db.execute(
        select(Post, Thread, author)
        .join(Thread, Thread.id == Post.thread_id)
        .outerjoin(author, author.id == Post.author_id)
        .where(Post.held_at.is_not(None), Post.deleted_at.is_(None), visibility.threads(member))
        .order_by(Post.held_at)
        .limit(limit)
        .options(*brief(author))
    )
    return list(rows.all())


async def delete_post(
    db: AsyncSession, member: Member, post_id: Any, *, authorised: bool = False
) -> tuple[Post, Thread]:
    """Soft-delete a post (its author, staff, or ``authorised`` by a plugin's rule). Deleting
    the first post hides the thread, unless a member deletes their own opening post after
    others replied: then the replies stay readable and only the opening post goes."""
    post, thread = await post_for(db, member, post_id, authorised=authorised)
    moderating = member.is_staff or authorised
    if post.author_id != member.id and not moderating:
        raise ServiceError("forbidden", "Only the author and moderators delete a post.", 403)
    now = utcnow()
    post.deleted_at, post.deleted_by_id = now, member.id
    if post.number == 1 and thread.hidden_at is None:
        others_replied = await db.scalar(
            select(Post.id)
            .where(
                Post.thread_id == thread.id,
                Post.number > 1,
                Post.author_id != member.id,
                Post.deleted_at.is_(None),
            )
            .limit(1)
        )
        if moderating or not others_replied:
            thread.hidden_at = now
            emit(db, ThreadChanged(thread.id, member.id, "hidden", True))
    emit(db, PostDeleted(post_id=post.id, thread_id=thread.id, actor_id=member.id))
    await db.commit()
    return post, thread


async def restore_post(db: AsyncSession, member: Member, post_id: Any) -> tuple[Post, Thread]:
    """Undo a delete: staff, or the author of a post they deleted themselves."""
    post, thread = await post_for(db, member, post_id, deleted=True)
    if post.deleted_at is None:
        return post, thread
    if not member.is_staff and post.deleted_by_id != member.id:
        raise not_found("post")
    hidden_with_it = post.number == 1 and thread.hidden_at == post.deleted_at
    post.deleted_at, post.deleted_by_id = None, None
    if hidden_with_it and member.is_staff:  # a thread a moderator hid on its own stays hidden
        thread.hidden_at = None
        emit(db, ThreadChanged(thread.id, member.id, "hidden", False))
    emit(db, PostRestored(post_id=post.id, thread_id=thread.id, actor_id=member.id))
    await db.commit()
    return post, thread


# ---------------------------------------------------------------------------------------------
# Reactions and bookmarks


async def toggle_reaction(
    db: AsyncSession, member: Member, post_id: Any, emoji: Any, site: dict[str, Any]
) -> tuple[Post, bool]:
    """Add ``emoji`` from ``member`` to the post, or take it back; True when added."""
    choices = site.get("reactions") or []
    if not isinstance(emoji, str) or emoji not in choices:
        raise ServiceError(
            "unknown_emoji", f"Reactions are one of: {' '.join(choices)}.", 422, field="emoji"
        )
    post, thread = await post_for(db, member, post_id)
    if post.deleted_at is not None:
        raise ServiceError("post_deleted", "This post is deleted.", 409)
    # One toggle at a time per post (a row lock; SQLite has one writer anyway), so the counts
    # kept on the post never lose an update.
    await db.execute(select(Post.id).where(Post.id == post.id).with_for_update())
    removed = await db.execute(
        delete(Reaction).where(
            Reaction.post_id == post.id, Reaction.member_id == member.id, Reaction.emoji == emoji
        )
    )
    added = not removed.rowcount  # type: ignore[attr-defined]
    if added:
        await db.execute(
            insert(Reaction).values(
                post_id=post.id, member_id=member.id, emoji=emoji, created_at=utcnow()
            )
        )
        emit(db, ReactionAdded(post.id, thread.id, member.id, emoji))
        if post.author_id is not None and post.author_id != member.id:
            await notify.send(
                db, [post.author_id], "reaction", member, thread, post, {"emoji": emoji}
            )
    else:
        emit(db, ReactionRemoved(post.id, thread.id, member.id, emoji))
    await db.flush()
    counts = await db.execute(
        select(Reaction.emoji, func.count())
        .where(Reaction.post_id == post.id)
        .group_by(Reaction.emoji)
    )
    post.reaction_counts = {e: n for e, n in counts.all()}
    await db.commit()
    return post, added


async def toggle_bookmark(db: AsyncSession, member: Member, post_id: Any) -> bool:
    """Bookmark a post or remove the bookmark; True when now bookmarked."""
    post, _ = await post_for(db, member, post_id)
    existing = await db.get(Bookmark, (member.id, post.id))
    if existing is not None:
        await db.delete(existing)
        await db.commit()
        return False
    db.add(Bookmark(member_id=member.id, post_id=post.id, created_at=utcnow()))
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
    return True


async def bookmarks(db: AsyncSession, member: Member, limit: int = 100) -> list[Any]:
    """The member's bookmarked posts they may still see: (post, thread, author, bookmark)."""
    author = aliased(Member)
    rows = await db.execute(
        select(Post, Thread, author, Bookmark.created_at)
        .join(Bookmark, and_(Bookmark.post_id == Post.id, Bookmark.member_id == member.id))
        .join(Thread, Thread.id == Post.thread_id)
        .outerjoin(author, author.id == Post.author_id)
        .where(visibility.threads(member), visibility.posts(member))
        .options(*brief(author))
        .order_by(Bookmark.created_at.desc())
        .limit(limit)
    )
    return list(rows.all())


# ---------------------------------------------------------------------------------------------
# Profiles


@dataclass
class Profile:
    member: Member
    posts: list[Any]
    thread_count: int
    post_count: int
    reactions_received: int
    reactions_given: int


async def profile(db: AsyncSession, viewer: Member, username: str) -> Profile:
    """A member's page as ``viewer`` sees it: counts and recent posts only from what the viewer
    may see."""
    member = await db.scalar(select(Member).where(Member.username_key == username.lower()))
    if member is None:
        raise not_found("member")
    visible = and_(visibility.threads(viewer), visibility.posts(viewer), Post.deleted_at.is_(None))
    recent = await db.execute(
        select(Post, Thread)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.author_id == member.id, visible)
        .order_by(Post.created_at.desc())
        .limit(20)
    )
    posts = list(recent.all())
    post_count = await db.scalar(
        select(func.count())
        .select_from(Post)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.author_id == member.id, visible)
    )
    thread_count = await db.scalar(
        select(func.count())
        .select_from(Post)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.author_id == member.id, Post.number == 1, visible)
    )
    received = await db.scalar(
        select(func.count())
        .select_from(Reaction)
        .join(Post, Post.id == Reaction.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.author_id == member.id, visible)
    )
    given = await db.scalar(
        select(func.count())
        .select_from(Reaction)
        .join(Post, Post.id == Reaction.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Reaction.member_id == member.id, visible)
    )
    return Profile(member, posts, thread_count or 0, post_count or 0, received or 0, given or 0)
