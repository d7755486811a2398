"""The plugin's gates: silenced members first, then categories that approve every post,
watched words (block, approve), spam heuristics and pre-approval; the strictest verdict
wins. And the rewrite of censored and replaced words."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_object_session

from community import plugins
from community.forum import conversations
from community.plugins import Gate
from community_moderation import categories, penalties, spam, threads, words


async def check_post(member: Any, thread: Any, body: str, editing: bool) -> Gate | None:
    """A reply, a private message (new or not) or an edited post."""
    private = thread.category_id is None
    # A new conversation's title is new too (replies' and edits' titles are not shown here).
    title = thread.title if private and not editing and not thread.post_count else ""
    async with plugins.session() as db:
        refusal = await _silenced(db, member, thread if private else None)
        if refusal is None:
            refusal = await threads.slow_mode(db, member, thread, editing)
        if refusal is not None:
            return refusal
        held = None if editing else await categories.approve_all(db, member, thread.category_id)
        return strictest(
            [
                *([held] if held else []),
                *await _words(db, [title, body], thread.category_id),
                *await spam.check(
                    db,
                    member,
                    body,
                    title=title,
                    editing=editing,
                    private=private,
                    settings=plugins.settings("moderation"),
                ),
            ]
        )


async def check_thread(member: Any, category: Any, title: str, body: str) -> Gate | None:
    """A new thread: its title and first post."""
    async with plugins.session() as db:
        refusal = await _silenced(db, member, None)
        if refusal is not None:
            return refusal
        held = await categories.approve_all(db, member, category.id)
        return strictest(
            [
                *([held] if held else []),
                *await _words(db, [title, body], category.id),
                *await spam.check(
                    db,
                    member,
                    body,
                    title=title,
                    editing=False,
                    private=False,
                    settings=plugins.settings("moderation"),
                ),
            ]
        )


async def rewrite_text(text: str, category: Any) -> str | None:
    """Censored words masked, replaced words replaced, in a title or a body: the site-wide
    words and ``category``'s."""
    if not text:
        return None
    async with plugins.session() as db:
        listed = await words.words_for(db, category.id if category is not None else None)
        return words.rewrite(listed, text)


def strictest(verdicts: list[Gate]) -> Gate | None:
    """The strictest verdict (the first of equals), None when there is none."""
    return max(verdicts, key=lambda verdict: verdict.strictness) if verdicts else None


async def _words(db: AsyncSession, texts: list[str], category_id: int | None) -> list[Gate]:
    """A block or approve verdict for each watched word found in ``texts``."""
    listed = [word for word in await words.words_for(db, category_id) if word.action in GATED]
    if not listed:
        return []
    found = words.first_per_word([m for text in texts if text for m in words.find(listed, text)])
    return [GATED[match.action](match.word.pattern) for match in found]


GATED = {
    "block": lambda pattern: Gate.reject(f"“{pattern}” is not allowed here."),
    "approve": lambda pattern: Gate.hold(f"It mentions “{pattern}”: a moderator reviews it first."),
}


async def _silenced(db: AsyncSession, member: Any, conversation: Any) -> Gate | None:
    """Refuse a silenced member's post, except a private message to moderators only."""
    penalty = await penalties.silenced(db, member.id)
    if penalty is None:
        return None
    if conversation is not None and await _only_moderators(db, member, conversation):
        return None
    until = f" until {penalty.ends_at:%Y-%m-%d %H:%M} UTC" if penalty.ends_at else ""
    message = f" {penalty.message}" if penalty.message else ""
    return Gate.reject(
        f"You are silenced{until}: you can read, and message moderators, but not post.{message}"
    )


async def _only_moderators(db: AsyncSession, member: Any, conversation: Any) -> bool:
    """Whether everyone else in ``conversation`` is a moderator. A new conversation's members
    are not committed yet: read them through the writer's own session."""
    reader = async_object_session(conversation) or db
    others = [
        p for p in await conversations.participants(reader, conversation) if p.id != member.id
    ]
    return bool(others) and all(other.is_staff for other in others)
