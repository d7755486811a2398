"""What the plugin does on its own: after each post it files held posts and watched words in
the inbox; every quarter hour it finds threads nobody answered; it puts an inbox link with a
count in moderators' navigation and a flag link under posts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy import and_, exists, select

from community import plugins
from community.db import utcnow
from community.events import Event, PostCreated, PostEdited
from community.forum.models import Post, Thread
from community.jobs import Job, JobContext, Schedule
from community.web.slots import Slot
from community_moderation import flags, inbox, live, threads, words
from community_moderation.access import is_moderator
from community_moderation.models import Item

UNANSWERED_BATCH = 200


# -- after each post --------------------------------------------------------------------------


async def track_event(event: Event) -> None:
    """File a held post in the inbox, and act on watched words set to flag or notify."""
    if not isinstance(event, PostCreated | PostEdited):
        return
    async with plugins.session() as db:
        found = (
            await db.execute(
                select(Post, Thread)
                .join(Thread, Thread.id == Post.thread_id)
                .where(Post.id == event.post_id, Post.deleted_at.is_(None))
            )
        ).first()
        if found is None:
            return
        post, thread = found
        # A moderator's edit of a held post is made from its inbox item: no second item.
        by_author = not isinstance(event, PostEdited) or event.editor_id == post.author_id
        if post.held_at is not None and by_author:
            await inbox.open_item(
                db,
                "held",
                post=post,
                thread=thread,
                member_id=post.author_id,
                category_id=thread.category_id,
                reason=post.held_reason or "Held for review.",
            )
        texts = [thread.title, post.body] if post.number == 1 else [post.body]
        matches = [m for text in texts for m in await words.scan(db, text, thread.category_id)]
        for match in {m.word.id: m for m in reversed(matches)}.values():  # once per word
            if match.action == "flag":
                await flags.system_flag(db, post, thread, f"Watched word: {match.word.pattern}")
            elif match.action == "notify":
                await inbox.open_item(
                    db,
                    "watched",
                    post=post,
                    thread=thread,
                    member_id=post.author_id,
                    category_id=thread.category_id,
                    reason=f"Mentions “{match.word.pattern}”.",
                )
        await db.commit()


# -- threads nobody answered ------------------------------------------------------------------


async def file_unanswered(ctx: JobContext) -> None:
    """Threads with no reply for ``unanswered_hours`` get an inbox item (once each)."""
    hours = plugins.settings("moderation").unanswered_hours
    before = utcnow() - timedelta(hours=hours)
    filed = exists().where(and_(Item.thread_id == Thread.id, Item.kind == "unanswered"))
    threads = await ctx.db.scalars(
        select(Thread)
        .where(
            Thread.category_id.is_not(None),
            Thread.reply_count == 0,
            Thread.created_at < before,
            Thread.held_at.is_(None),
            Thread.hidden_at.is_(None),
            ~filed,
        )
        .order_by(Thread.created_at)
        .limit(UNANSWERED_BATCH)
    )
    for thread in threads:
        await inbox.open_item(
            ctx.db,
            "unanswered",
            thread=thread,
            member_id=thread.author_id,
            category_id=thread.category_id,
            reason=f"No reply in {hours} hours.",
        )
    await ctx.db.commit()


JOBS = [
    Job("unanswered", file_unanswered, retries=2),
    Job("close_threads", threads.close_due, retries=2),
]
SCHEDULES = [
    Schedule("unanswered", job="unanswered", cron="*/15 * * * *"),
    Schedule("close_threads", job="close_threads", cron="* * * * *"),
]


# -- slots -----------------------------------------------------------------------------------


def inbox_link() -> str:
    # The count comes from inbox.badge, asked again whenever the inbox changes (and every
    # few minutes, should the live stream drop).
    return (
        '<a href="/p/moderation/" class="moderation-inbox">Inbox <span '
        'hx-get="/p/moderation/badge" hx-swap="innerHTML" '
        f'hx-trigger="load, sse:{live.EVENT}, every 300s"></span></a>'
    )


def _lazy_link(slot: Slot, thread: Any) -> str | None:
    """For a member in a group, perhaps a category's moderator: slots cannot ask the database,
    so the page asks (categories.py answers with the link, or nothing)."""
    if slot is Slot.nav:
        return '<span hx-get="/p/moderation/nav" hx-trigger="load" hx-swap="outerHTML"></span>'
    if slot is Slot.thread_header and thread is not None:
        lazy = Markup(
            '<span hx-get="/p/moderation/threads/{}/link" hx-trigger="load" hx-swap="outerHTML">'
            "</span>"
        )
        return str(lazy.format(thread.id))
    return None


def render_slot(slot: Slot, context: dict[str, Any]) -> str | None:
    member = context.get("member")
    if slot is Slot.nav and is_moderator(member):
        return inbox_link()
    if member is not None and not is_moderator(member) and member.groups:
        lazy = _lazy_link(slot, context.get("thread"))
        if lazy is not None:
            return lazy
    if slot is Slot.settings and member is not None:
        return '<p><a href="/p/moderation/my-penalties" class="my-penalties">My penalties</a></p>'
    person = getattr(context.get("profile"), "member", None)
    if slot is Slot.profile and member is not None and getattr(person, "id", None) == member.id:
        return '<a href="/p/moderation/my-penalties" class="my-penalties">My penalties</a>'
    thread = context.get("thread")
    if slot is Slot.thread_header and is_moderator(member) and thread is not None:
        # Slots get no CSRF token: the form lives on the tools page.
        link = Markup('<a href="/p/moderation/threads/{}" class="thread-tools">Thread tools</a>')
        return str(link.format(thread.id))
    post = context.get("post")
    if slot is Slot.post_footer and member is not None and post is not None:
        mine = post.author_id == member.id
        # Once per post on a thread page: an f-string of an integer id, not Markup.format.
        return (
            None
            if mine
            else f'<a href="/p/moderation/flag/{int(post.id)}" class="flag-link">Flag</a>'
        )
    return None
