"""The moderators' inbox: one queue of open and claimed items, each with the context to
decide (the post, its thread, the author's history, the flags), and the actions on them.

Every action names the item's ``version`` as the moderator saw it; the change is one
``UPDATE ... WHERE id = ? AND version = ? AND state <> 'handled'``, so when two moderators
act at once exactly one wins and the other is told "Someone else handled this item" (409).
A claimed item is worked by its claimer: others get 409 until they claim it over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.response import Redirect, Response, Template
from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from community import plugins
from community.accounts.auth import undo
from community.accounts.models import Member
from community.accounts.routes import Form, text
from community.accounts.services import MAX_ID
from community.db import utcnow
from community.errors import ServiceError
from community.events import PostApproved, emit
from community.forum import conversations, services
from community.forum.models import Category, Post, Thread
from community.web import render
from community_moderation import audit, canned, flags, penalties, wellbeing
from community_moderation.access import in_moderated, is_moderator, require_moderation
from community_moderation.events import ItemReviewed
from community_moderation.live import announce
from community_moderation.models import CLAIMED, HANDLED, OPEN, Appeal, Flag, Item, Penalty

KINDS = ("flag", "held", "appeal", "unanswered", "watched")
KIND_LABELS = {
    "flag": "Flagged",
    "held": "Held for approval",
    "appeal": "Appeal",
    "unanswered": "Unanswered",
    "watched": "Watched word",
}
ACTIONS = (
    "claim",
    "unclaim",
    "approve",
    "reject",
    "hide",
    "delete",
    "ignore",
    "silence",
    "suspend",
)
CLAIMING = ("claim", "unclaim")
APPEAL_OUTCOMES = {"approve": "lift", "reject": "uphold", "ignore": "uphold"}
"""On an appeal item: approving the appeal lifts the penalty, rejecting it upholds it."""
NEEDS_REASON = ("silence", "suspend")
ORDERS = ("newest", "oldest")
BLURRED = ("inappropriate", "harassment")
"""Flag reasons whose posts are blurred until the moderator chooses to look."""
QUEUE_SIZE = 100
BACK_RE = re.compile(r"\?[A-Za-z0-9_=&%+.-]{0,300}")
"""The filters a form returns to after an action: a query string we wrote."""


# ---------------------------------------------------------------------------------------------
# Items


async def open_item(
    db: AsyncSession,
    kind: str,
    *,
    post: Post | None = None,
    thread: Thread | None = None,
    member_id: int | None = None,
    category_id: int | None = None,
    reason: str = "",
    score: float = 0.0,
) -> Item:
    """Put something in the inbox (flushes, no commit), or return the open or claimed item of
    that kind already there for the same post. Moderators' pages hear of it on commit."""
    if kind not in KINDS:
        raise ValueError(f"unknown inbox item kind {kind!r}")
    if post is not None:
        existing = await db.scalar(
            select(Item).where(
                Item.kind == kind, Item.post_id == post.id, Item.state.in_((OPEN, CLAIMED))
            )
        )
        if existing is not None:
            announce(db)  # a new flag changes its score
            return existing
    if member_id is None and post is not None:
        member_id = post.author_id
    if category_id is None and thread is not None:
        category_id = thread.category_id
    item = Item(
        kind=kind,
        state=OPEN,
        post_id=post.id if post is not None else None,
        thread_id=thread.id if thread is not None else (post.thread_id if post else None),
        member_id=member_id,
        category_id=category_id,
        reason=reason,
        score=score,
        version=1,
        created_at=utcnow(),
    )
    db.add(item)
    await db.flush()
    announce(db)
    return item


def _scope(member: Member) -> Any:
    """The open items ``member`` moderates: every one for the staff, those of their
    categories for a category moderator (appeals and private messages have none)."""
    return and_(Item.state.in_((OPEN, CLAIMED)), in_moderated(member, Item.category_id))


async def open_count(db: AsyncSession, member: Member) -> int:
    """How many items wait for ``member`` (0 for members who do not moderate)."""
    if member is None or not (is_moderator(member) or member.groups):
        return 0
    return await db.scalar(select(func.count()).select_from(Item).where(_scope(member))) or 0


# ---------------------------------------------------------------------------------------------
# The queue


@dataclass
class Filters:
    kind: str | None = None
    category_id: int | None = None
    older_than_hours: int | None = None
    order: str = "newest"

    def query_string(self) -> str:
        pairs = {
            "kind": self.kind,
            "category_id": self.category_id,
            "older_than_hours": self.older_than_hours,
            "order": None if self.order == "newest" else self.order,
        }
        return urlencode({k: v for k, v in pairs.items() if v is not None})


def _whole(value: Any, name: str, high: int, code: str = "invalid_filter") -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= high:
        raise ServiceError(code, f"{name} is a whole number from 0 to {high}.", 422)
    return number


def parse_filters(
    kind: Any = None, category_id: Any = None, older_than_hours: Any = None, order: Any = None
) -> Filters:
    """Filters from a query string, or 422 naming the bad one."""
    if kind in ("", None):
        kind = None
    elif kind not in KINDS:
        raise ServiceError("invalid_filter", f"kind is one of: {', '.join(KINDS)}.", 422)
    if order in ("", None):
        order = "newest"
    elif order not in ORDERS:
        raise ServiceError("invalid_filter", "order is newest or oldest.", 422)
    return Filters(
        kind=kind,
        category_id=_whole(category_id, "category_id", MAX_ID),
        older_than_hours=_whole(older_than_hours, "older_than_hours", 24 * 365 * 10),
        order=order,
    )


@dataclass
class History:
    """What the inbox shows about an author."""

    member: Member
    penalties: int = 0
    flags_agreed: int = 0
    flags_judged: int = 0


@dataclass
class ItemView:
    item: Item
    post: Post | None
    thread: Thread | None
    author: History | None
    claimed_by: Member | None
    flags: list[tuple[Flag, Member | None, tuple[int, int]]] = field(default_factory=list)

    @property
    def blurred(self) -> list[str]:
        """Why the post is blurred (flagged as inappropriate or harassment), else empty."""
        return sorted({f.reason.replace("_", "-") for f, _, _ in self.flags if f.reason in BLURRED})

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.item.kind, self.item.kind)


async def list_items(
    db: AsyncSession, moderator: Member, filters: Filters, limit: int = QUEUE_SIZE
) -> list[ItemView]:
    """The open and claimed items with their context. Moderators read posts here whatever
    the member-facing visibility (held, hidden, private messages flagged by a participant):
    that is what the inbox is for, and only moderators reach it."""
    author = aliased(Member)
    claimer = aliased(Member)
    query = (
        select(Item, Post, Thread, author, claimer)
        .outerjoin(Post, Post.id == Item.post_id)
        .outerjoin(Thread, Thread.id == Item.thread_id)
        .outerjoin(author, author.id == Item.member_id)
        .outerjoin(claimer, claimer.id == Item.claimed_by_id)
        .where(_scope(moderator))
    )
    if filters.kind:
        query = query.where(Item.kind == filters.kind)
    if filters.category_id is not None:
        query = query.where(Item.category_id == filters.category_id)
    if filters.older_than_hours is not None:
        query = query.where(Item.created_at <= utcnow() - timedelta(hours=filters.older_than_hours))
    newest = filters.order == "newest"
    query = query.order_by(
        Item.created_at.desc() if newest else Item.created_at,
        Item.id.desc() if newest else Item.id,
    ).limit(limit)
    rows = (await db.execute(query)).all()
    views = [
        ItemView(item, post_, thread, History(member) if member else None, claimed)
        for item, post_, thread, member, claimed in rows
    ]
    await _add_histories(db, [v.author for v in views if v.author is not None])
    await _add_flags(db, views)
    return views


async def _add_histories(db: AsyncSession, histories: list[History]) -> None:
    ids = list({h.member.id for h in histories})
    if not ids:
        return
    counts = dict(
        (
            await db.execute(
                select(Penalty.member_id, func.count())
                .where(Penalty.member_id.in_(ids))
                .group_by(Penalty.member_id)
            )
        ).all()
    )
    record = await flags.flag_record(db, ids)
    for history in histories:
        history.penalties = counts.get(history.member.id, 0)
        history.flags_agreed, history.flags_judged = record.get(history.member.id, (0, 0))


async def _add_flags(db: AsyncSession, views: list[ItemView]) -> None:
    by_id = {view.item.id: view for view in views}
    if not by_id:
        return
    rows = (
        await db.execute(
            select(Flag, Member)
            .outerjoin(Member, Member.id == Flag.flagger_id)
            .where(Flag.item_id.in_(list(by_id)))
            .order_by(Flag.created_at)
        )
    ).all()
    record = await flags.flag_record(db, list({flag.flagger_id for flag, _ in rows}))
    for flag, flagger in rows:
        by_id[flag.item_id].flags.append((flag, flagger, record.get(flag.flagger_id, (0, 0))))


def item_json(item: Item, member: Member | None, claimed_by: Member | None) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "state": item.state,
        "version": item.version,
        "post_id": item.post_id,
        "thread_id": item.thread_id,
        "category_id": item.category_id,
        "member": member.username if member else None,
        "reason": item.reason,
        "score": item.score,
        "created_at": item.created_at.isoformat(),
        "claimed_by": claimed_by.username if claimed_by else None,
        "resolution": item.resolution,
    }


def view_json(view: ItemView) -> dict[str, Any]:
    body = item_json(view.item, view.author.member if view.author else None, view.claimed_by)
    body["thread_title"] = view.thread.title if view.thread else None
    body["flags"] = [
        {
            "flagger": flagger.username if flagger else None,
            "reason": flag.reason,
            "note": flag.note,
            "weight": flag.weight,
        }
        for flag, flagger, _ in view.flags
    ]
    return body


# ---------------------------------------------------------------------------------------------
# Actions


@dataclass
class Decision:
    """What the moderator sent with an action."""

    action: str
    version: int
    reason: str = ""
    canned_id: int | None = None
    until: datetime | None = None


def handled_elsewhere() -> ServiceError:
    return ServiceError("conflict", "Someone else handled this item.", 409)


def parse_version(version: Any) -> int:
    if isinstance(version, str) and version.strip().isdigit():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ServiceError(
            "invalid_version", "Send the item's version as you saw it.", 422, field="version"
        )
    return version


def parse_decision(action: Any, data: dict[str, Any]) -> Decision:
    if action not in ACTIONS:
        raise ServiceError("invalid_action", f"Actions are: {', '.join(ACTIONS)}.", 422)
    version = parse_version(data.get("version"))
    reason = data.get("reason") or ""
    if not isinstance(reason, str) or len(reason) > 2000:
        raise ServiceError(
            "invalid_reason", "A reason is text of at most 2,000 characters.", 422, field="reason"
        )
    reason = reason.strip()
    if action in NEEDS_REASON and not reason:
        raise ServiceError("reason_required", f"Say why you {action} the author.", 422)
    canned_id = _whole(data.get("canned_id"), "canned_id", MAX_ID, "invalid_canned_id")
    return Decision(action, version, reason, canned_id, _until(data.get("until")))


def _until(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ServiceError(
            "invalid_until", "until is a date and time like 2030-01-31T12:00:00Z.", 422
        )
    return moment if moment.tzinfo else moment.astimezone()


async def act(
    db: AsyncSession,
    moderator: Member,
    item_id: Any,
    decision: Decision,
    site: dict[str, Any],
) -> Item:
    """Do ``decision`` on the item (commits): 404 unknown item, 409 when it changed, was
    handled, or is claimed by another moderator."""
    item = await db.scalar(
        select(Item).where(
            Item.id == services.check_id(item_id, "item"),
            in_moderated(moderator, Item.category_id),
        )
    )
    if item is None:
        raise services.not_found("item")
    _check_current(item, moderator, decision)
    before = {"state": item.state, "version": item.version, "claimed_by_id": item.claimed_by_id}
    await _advance(db, item, moderator, decision)
    announce(db)
    await db.refresh(item)
    after = {"state": item.state, "version": item.version, "resolution": item.resolution}
    audit.record(
        db,
        moderator,
        f"item.{decision.action}",
        "item",
        item.id,
        before=before,
        after=after,
        reason=decision.reason,
    )
    seconds = max(0.0, (utcnow() - item.created_at).total_seconds())
    emit(db, ItemReviewed(item.id, item.kind, decision.action, moderator.id, seconds))
    if decision.action not in CLAIMING:
        if item.kind == "flag":
            await flags.settle(db, item, decision.action, moderator)
        await _apply(db, moderator, item, decision, site)
    await db.commit()
    await db.refresh(item)
    return item


def _check_current(item: Item, moderator: Member, decision: Decision) -> None:
    if item.state == HANDLED or item.version != decision.version:
        raise handled_elsewhere()
    claimed_by_other = item.state == CLAIMED and item.claimed_by_id != moderator.id
    if claimed_by_other and decision.action != "claim":
        raise ServiceError(
            "claimed", "Another moderator claimed this item: claim it over to act on it.", 409
        )


async def _advance(db: AsyncSession, item: Item, moderator: Member, decision: Decision) -> None:
    """Move the item on, if nobody else did since the moderator looked."""
    values: dict[str, Any] = {"version": Item.version + 1}
    if decision.action == "claim":
        values.update(state=CLAIMED, claimed_by_id=moderator.id)
    elif decision.action == "unclaim":
        values.update(state=OPEN, claimed_by_id=None)
    elif decision.action != "edit":  # an edit leaves the item open; its version moves on
        values.update(
            state=HANDLED,
            handled_by_id=moderator.id,
            handled_at=utcnow(),
            resolution=decision.action,
        )
    result = await db.execute(
        update(Item)
        .where(Item.id == item.id, Item.version == decision.version, Item.state != HANDLED)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise handled_elsewhere()


async def _apply(
    db: AsyncSession, moderator: Member, item: Item, decision: Decision, site: dict[str, Any]
) -> None:
    """What the resolution does to the post and its author. Core services that commit run
    last, so the item's change commits with theirs."""
    post_ = await db.get(Post, item.post_id) if item.post_id else None
    thread = await db.get(Thread, item.thread_id) if item.thread_id else None
    author = await db.get(Member, item.member_id) if item.member_id else None
    action = decision.action
    if item.kind == "appeal" and action in APPEAL_OUTCOMES:
        await _decide_appeal(db, moderator, item, APPEAL_OUTCOMES[action], decision.reason)
    elif action in ("silence", "suspend"):
        if author is None:
            raise ServiceError("no_member", "This item is about no member.", 422)
        await penalties.penalise(
            db, author, action, decision.reason, actor=moderator, until=decision.until
        )
    elif post_ is None or thread is None:
        return
    elif action == "approve":
        await _approve(db, moderator, post_, thread)
    elif action == "hide":
        await services.hold_post(
            db, post_, thread, decision.reason or "Hidden by a moderator.", actor=moderator
        )
    elif action == "delete":
        await _delete(db, moderator, post_, thread)
    elif action == "reject":
        await _reject(db, moderator, post_, thread, author, decision, site)


async def _decide_appeal(
    db: AsyncSession, moderator: Member, item: Item, outcome: str, reason: str
) -> None:
    """Appeal items carry the appeal's text, not its id: find the undecided appeal by both."""
    appeal = await db.scalar(
        select(Appeal).where(
            Appeal.member_id == item.member_id,
            Appeal.text == item.reason,
            Appeal.outcome.is_(None),
        )
    )
    if appeal is not None:
        await penalties.decide_appeal(db, appeal.penalty_id, moderator, outcome, reason)


async def _approve(db: AsyncSession, moderator: Member, post_: Post, thread: Thread) -> None:
    if thread.is_conversation:
        # The core's approve_post reads the post as the moderator sees it, and moderators are
        # not participants of private conversations: release the hold here instead.
        post_.held_at, post_.held_reason = None, None
        if post_.number == 1:
            thread.held_at = None
        emit(db, PostApproved(post_id=post_.id, thread_id=thread.id, actor_id=moderator.id))
        return
    await services.approve_post(db, moderator, post_.id, authorised=True)  # act() checked


async def _delete(db: AsyncSession, moderator: Member, post_: Post, thread: Thread) -> None:
    if thread.is_conversation:
        # As in _approve: the core cannot delete a private message for a non-participant, so
        # the message is held (hidden from the other participants) instead.
        await services.hold_post(db, post_, thread, "Removed by a moderator.", actor=moderator)
        return
    await services.delete_post(db, moderator, post_.id, authorised=True)  # act() checked


async def _reject(
    db: AsyncSession,
    moderator: Member,
    post_: Post,
    thread: Thread,
    author: Member | None,
    decision: Decision,
    site: dict[str, Any],
) -> None:
    """Delete the post, count penalty points against its author and send them the reason."""
    message = decision.reason
    if decision.canned_id is not None and author is not None:
        message = await canned.render_canned(
            db, decision.canned_id, member=author, thread=thread, moderator=moderator
        )
    title = thread.title
    if author is not None:
        settings = plugins.settings("moderation")
        reason = decision.reason or f"Post rejected in “{title}”"
        await penalties.add_points(db, author, settings.reject_points, reason, actor=moderator)
    await _delete(db, moderator, post_, thread)
    if author is not None and message:
        await conversations.start(
            db,
            moderator,
            usernames=[author.username],
            title=f"About your post in “{title}”"[:200],
            body=message,
            site=site,
        )


# ---------------------------------------------------------------------------------------------
# Editing the post


async def edit(
    db: AsyncSession, moderator: Member, item_id: Any, data: dict[str, Any], site: dict[str, Any]
) -> Item:
    """Edit the item's post (and its thread's title, for a first post) through the core's
    edit, which keeps the earlier version; audited. The item stays open, but its version
    moves on, so nobody approves a text they did not see. Commits; 409 as for actions."""
    version = parse_version(data.get("version"))
    item = await db.scalar(
        select(Item).where(
            Item.id == services.check_id(item_id, "item"),
            in_moderated(moderator, Item.category_id),
        )
    )
    if item is None:
        raise services.not_found("item")
    _check_current(item, moderator, Decision("edit", version))
    post_, thread = await _editable(db, item)
    before, after = _edit_change(post_, thread, data, site)
    await _advance(db, item, moderator, Decision("edit", version))
    audit.record(
        db,
        moderator,
        "post.edit",
        "post",
        post_.id,
        before=before,
        after={**after, "item_id": item.id},
    )
    announce(db)
    await services.edit_post(
        db, moderator, post_.id, after["body"], site, after.get("title"), authorised=True
    )
    await db.refresh(item)
    return item


async def _editable(db: AsyncSession, item: Item) -> tuple[Post, Thread]:
    post_ = await db.get(Post, item.post_id) if item.post_id else None
    thread = await db.get(Thread, post_.thread_id) if post_ is not None else None
    if post_ is None or thread is None:
        raise ServiceError("no_post", "This item is about no post to edit.", 422)
    if post_.deleted_at is not None:
        raise ServiceError("deleted", "The post is deleted.", 422)
    if thread.is_conversation:
        raise ServiceError(
            "private", "Moderators do not edit private messages: hide or delete it instead.", 422
        )
    return post_, thread


def _edit_change(
    post_: Post, thread: Thread, data: dict[str, Any], site: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """The post's text before and after (with the title, for a first post), or 422."""
    body = services.check_body(data.get("body"), site)
    title = data.get("title")
    if title not in (None, "") and post_.number != 1:
        raise ServiceError(
            "invalid_title", "Only a thread's first post has a title.", 422, field="title"
        )
    before, after = {"body": post_.body}, {"body": body}
    if post_.number == 1:
        before["title"] = thread.title
        after["title"] = services.check_title(title) if title not in (None, "") else thread.title
    if after == before:
        raise ServiceError("unchanged", "The post is unchanged.", 422)
    return before, after


# ---------------------------------------------------------------------------------------------
# Pages


async def _categories(db: AsyncSession, member: Member) -> list[Category]:
    """The categories to filter by: those ``member`` moderates."""
    query = select(Category).where(in_moderated(member, Category.id)).order_by(Category.name)
    return list((await db.scalars(query)).all())


async def _inbox_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    filters: Filters,
    status_code: int = 200,
    error: str | None = None,
) -> Template:
    return render(
        request,
        "moderation/inbox.html",
        status_code=status_code,
        views=await list_items(db, member, filters),
        filters=filters,
        kinds=KIND_LABELS,
        categories=await _categories(db, member),
        canned_replies=await canned.list_canned(db),
        error=error,
        me_away=await wellbeing.is_away(db, member),
        reviews=await plugins.review_items(db, member),
    )


@get("/", guards=[require_moderation])
async def inbox_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    kind: str | None = None,
    category_id: str | None = None,
    older_than_hours: str | None = None,
    order: str | None = None,
) -> Template:
    try:
        filters = parse_filters(kind, category_id, older_than_hours, order)
    except ServiceError as error:
        return await _inbox_page(request, db, member, Filters(), error.status, error.detail)
    return await _inbox_page(request, db, member, filters)


@get("/queue", guards=[require_moderation])
async def queue_fragment(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    kind: str | None = None,
    category_id: str | None = None,
    older_than_hours: str | None = None,
    order: str | None = None,
) -> Template:
    """The queue alone, for the page's polling."""
    filters = parse_filters(kind, category_id, older_than_hours, order)
    return render(
        request,
        "moderation/_item_list.html",
        views=await list_items(db, member, filters),
        filters=filters,
        canned_replies=await canned.list_canned(db),
    )


@get("/badge", guards=[require_moderation])
async def badge(db: AsyncSession, member: Member) -> Response[str]:
    """The header badge: how many items wait (empty when none)."""
    count = await open_count(db, member)
    html = f'<span class="badge" id="moderation-badge">{count}</span>' if count else ""
    return Response(html, media_type="text/html")


@post("/items/{item_id:int}/{action:str}", guards=[require_moderation])
async def act_from_form(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    item_id: int,
    action: str,
    data: Form,
) -> Any:
    fields = {key: text(data, key) for key in ("version", "reason", "canned_id", "until")}
    back = text(data, "back")
    back = back if BACK_RE.fullmatch(back) else ""
    try:
        await act(db, member, item_id, parse_decision(action, fields), request.state.site)
    except ServiceError as error:
        await undo(db, member)
        return await _inbox_page(request, db, member, Filters(), error.status, error.detail)
    return Redirect(f"/p/moderation/{back}", status_code=303)


@post("/items/{item_id:int}/edit", guards=[require_moderation])
async def edit_from_form(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, item_id: int, data: Form
) -> Any:
    fields = {key: text(data, key) for key in ("version", "body", "title")}
    back = text(data, "back")
    back = back if BACK_RE.fullmatch(back) else ""
    try:
        await edit(db, member, item_id, fields, request.state.site)
    except ServiceError as error:
        await undo(db, member)
        return await _inbox_page(request, db, member, Filters(), error.status, error.detail)
    return Redirect(f"/p/moderation/{back}#item-{item_id}", status_code=303)


# ---------------------------------------------------------------------------------------------
# API


@get("/queue", guards=[require_moderation])
async def queue_api(
    db: AsyncSession,
    member: Member,
    kind: str | None = None,
    category_id: str | None = None,
    older_than_hours: str | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    filters = parse_filters(kind, category_id, older_than_hours, order)
    return {"items": [view_json(view) for view in await list_items(db, member, filters)]}


@post("/queue/{item_id:int}/{action:str}", guards=[require_moderation], status_code=200)
async def act_api(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    item_id: int,
    action: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    decision = parse_decision(action, data)
    item = await act(db, member, item_id, decision, request.state.site)
    subject = await db.get(Member, item.member_id) if item.member_id else None
    claimer = await db.get(Member, item.claimed_by_id) if item.claimed_by_id else None
    return item_json(item, subject, claimer)


@post("/queue/{item_id:int}/edit", guards=[require_moderation], status_code=200)
async def edit_api(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    item_id: int,
    data: dict[str, Any],
) -> dict[str, Any]:
    """``{"version", "body", "title"?}``: the item, still open, with its new version."""
    item = await edit(db, member, item_id, data, request.state.site)
    subject = await db.get(Member, item.member_id) if item.member_id else None
    claimer = await db.get(Member, item.claimed_by_id) if item.claimed_by_id else None
    return item_json(item, subject, claimer)


routes: list[Any] = [inbox_page, queue_fragment, badge, act_from_form, edit_from_form]
api_routes: list[Any] = [queue_api, act_api, edit_api]
