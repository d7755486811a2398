"""Spam heuristics, local only: limits on new members' links and mentions, duplicate posts,
a per-member posting rate, a first post written too soon after joining, and pre-approval of a
new member's first posts. Each check answers a Gate or None; gates.py combines them."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.db import utcnow
from community.errors import ServiceError
from community.forum.models import Post
from community.plugins import Gate
from community_moderation.words import normalise

COMMON_TLDS = (
    "com|net|org|info|biz|io|co|me|ru|cn|xyz|top|online|site|shop|store|club|app|dev|ly|gg|tk"
    "|ml|ga|cf|gq|uk|de|fr|nl|eu|us|ca|au|in|br|pl|it|es|su|cc|tv|pw|live|link|click|win|vip"
)
LINK_RE = re.compile(
    r"https?://[^\s<>()\[\]]+"  # a URL (also inside a Markdown link or an autolink)
    r"|(?<![\w@./-])www\.[^\s<>()\[\]]+"  # www.example.com
    # a bare domain with a path, or a bare domain under a common top-level domain (not an
    # e-mail address: no @ before it)
    rf"|(?<![\w@./-])(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+"
    rf"(?:[a-z]{{2,24}}/[^\s<>()\[\]]*|(?:{COMMON_TLDS})(?![\w.-]*@)\b)",
    re.IGNORECASE,
)
MENTION_RE = re.compile(r"(?<!\w)@([A-Za-z0-9_-]{3,32})(?![\w@-])")
"""As the core writes a mention: an @name not glued to a word (so not an e-mail address)."""
RECENT_POSTS = 50
"""Posts within the duplicate window compared with a new one, at most."""


def count_links(text: str) -> int:
    return sum(1 for _ in LINK_RE.finditer(text))


def count_mentions(text: str) -> int:
    return len({name.lower() for name in MENTION_RE.findall(text)})


@functools.lru_cache(maxsize=4096)
def same_text(text: str) -> str:
    """What two posts compare equal by: normalised, whitespace collapsed. (Cached: the
    duplicate check compares a member's recent posts with each new one.)"""
    return " ".join(normalise(text).split())


@dataclass(frozen=True)
class Standing:
    """What the checks know of the author: when they joined and how many posts they have."""

    member_id: int
    joined_at: datetime
    posts: int
    """Their posts not deleted, held ones included."""
    group_names: frozenset[str]

    def age(self) -> timedelta:
        return utcnow() - self.joined_at

    def is_new(self, settings: Any) -> bool:
        return (
            self.age() < timedelta(days=settings.new_member_days)
            or self.posts < settings.new_member_posts
        )


async def standing(db: AsyncSession, member: Any) -> Standing:
    posts = await db.scalar(
        select(func.count(Post.id)).where(Post.author_id == member.id, Post.deleted_at.is_(None))
    )
    return Standing(
        member_id=member.id,
        joined_at=member.approved_at or member.created_at,
        posts=posts or 0,
        group_names=frozenset(group.name.casefold() for group in member.groups),
    )


# ---------------------------------------------------------------------------------------------
# The checks


def too_many_links(text: str, settings: Any) -> Gate | None:
    limit = settings.new_member_links
    if count_links(text) > limit:
        return Gate.hold(f"New members may post at most {_links(limit)} at a time.")
    return None


def _links(n: int) -> str:
    return "1 link" if n == 1 else f"{n} links"


def too_many_mentions(text: str, settings: Any) -> Gate | None:
    limit = settings.new_member_mentions
    if count_mentions(text) > limit:
        people = "1 member" if limit == 1 else f"{limit} members"
        return Gate.hold(f"New members may mention at most {people} at a time.")
    return None


async def duplicate(db: AsyncSession, who: Standing, body: str, settings: Any) -> Gate | None:
    """Hold a post whose text the member already posted within the window."""
    since = utcnow() - timedelta(minutes=settings.duplicate_minutes)
    recent = await db.scalars(
        select(Post.body)
        .where(Post.author_id == who.member_id, Post.created_at >= since)
        .where(Post.deleted_at.is_(None))
        .order_by(Post.created_at.desc())
        .limit(RECENT_POSTS)
    )
    wanted = same_text(body)
    if wanted and any(same_text(earlier) == wanted for earlier in recent):
        return Gate.hold(
            f"The same text was posted less than {settings.duplicate_minutes} minutes ago."
        )
    return None


async def too_fast(member_id: int, settings: Any) -> Gate | None:
    """Refuse a post past the member's rate (shared by every process through Redis)."""
    try:
        await plugins.rate_limit("moderation.posts", str(member_id), settings.posts_per_minute, 60)
    except ServiceError as error:
        wait = error.extra.get("retry_after")
        if wait is None:
            return Gate.reject(error.detail)
        seconds = "1 second" if wait == 1 else f"{wait} seconds"
        return Gate.reject(f"You are posting too fast. Try again in {seconds}.")
    return None


def first_post_too_soon(who: Standing, settings: Any) -> Gate | None:
    if who.posts == 0 and who.age() < timedelta(seconds=settings.first_post_seconds):
        return Gate.hold("A first post written this soon after joining waits for a moderator.")
    return None


def needs_approval(who: Standing, settings: Any) -> Gate | None:
    """Pre-approval: a member's first posts wait for a moderator, except in bypass groups."""
    bypass = {name.strip().casefold() for name in settings.bypass_groups.split(",")} - {""}
    if who.group_names & bypass:
        return None
    if who.posts < settings.approve_first_posts:
        return Gate.hold("A new member's first posts are approved by a moderator.")
    return None


async def check(
    db: AsyncSession,
    member: Any,
    body: str,
    *,
    title: str = "",
    editing: bool,
    private: bool,
    settings: Any,
) -> list[Gate]:
    """Every spam and pre-approval verdict on a post by ``member`` (staff are exempt).
    Editing: only what the text holds (links, mentions). Private messages: no pre-approval."""
    if member.is_staff:
        return []
    who = await standing(db, member)
    text = f"{title}\n{body}" if title else body
    verdicts: list[Gate | None] = []
    if who.is_new(settings):
        verdicts += [too_many_links(text, settings), too_many_mentions(text, settings)]
    if not editing:
        verdicts += [
            await too_fast(member.id, settings),
            await duplicate(db, who, body, settings),
            first_post_too_soon(who, settings),
        ]
        if not private:
            verdicts.append(needs_approval(who, settings))
    return [verdict for verdict in verdicts if verdict is not None]
