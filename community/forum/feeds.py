"""Atom feeds for a private forum: feed readers cannot sign in, so each member has one secret
feed token (stored hashed, like API tokens) that goes in their feed URLs. No HTTP here.

The feed is built with ElementTree, never by pasting text together: titles, names and post
bodies are member text, and ElementTree escapes them, so they cannot add elements. Characters
that XML 1.0 forbids (control characters, lone surrogates) are removed from every text first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.models import Member
from community.accounts.security import hash_token, new_token
from community.db import utcnow
from community.forum import visibility
from community.forum.models import Category, FeedToken, Post, Thread

FEED_TOKEN_PREFIX = "cft_"
FEED_TOKEN_RE = re.compile(r"cft_[A-Za-z0-9_-]{32,64}")
"""The prefix and the URL-safe base64 of ``security.TOKEN_BYTES`` random bytes (32 characters
today; a little room for longer ones). Checked before any database look-up."""
FEED_SIZE = 30
FEED_MAX = 100
ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_CONTENT_TYPE = "application/atom+xml; charset=utf-8"

_XML_NS = "http://www.w3.org/XML/1998/namespace"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# ---------------------------------------------------------------------------------------------
# Tokens


async def create_feed_token(db: AsyncSession, member: Member) -> str:
    """A new feed token for ``member``, replacing any earlier one (whose URLs stop working);
    commits. Returns the token itself, which is shown once and never stored."""
    token, token_hash = new_token(FEED_TOKEN_PREFIX)
    values = {"token_hash": token_hash, "created_at": utcnow()}
    replace = update(FeedToken).where(FeedToken.member_id == member.id).values(**values)
    changed = await db.execute(replace)
    if changed.rowcount == 0:
        try:
            async with db.begin_nested():
                await db.execute(insert(FeedToken).values(member_id=member.id, **values))
        except IntegrityError:
            # Another request created one at the same moment: this newer one replaces it.
            await db.execute(replace)
    await db.commit()
    return token


async def revoke_feed_token(db: AsyncSession, member: Member) -> None:
    """Remove ``member``'s feed token (their feed URLs stop working); commits."""
    await db.execute(delete(FeedToken).where(FeedToken.member_id == member.id))
    await db.commit()


async def has_feed_token(db: AsyncSession, member: Member) -> bool:
    found = await db.scalar(select(FeedToken.member_id).where(FeedToken.member_id == member.id))
    return found is not None


async def member_for_feed_token(db: AsyncSession, token: str) -> Member | None:
    """The member whose feed token this is; None when it is malformed, unknown, or its member
    is suspended."""
    if not isinstance(token, str) or not FEED_TOKEN_RE.fullmatch(token):
        return None
    member = await db.scalar(
        select(Member)
        .join(FeedToken, FeedToken.member_id == Member.id)
        .where(FeedToken.token_hash == hash_token(token))
    )
    if member is None or member.is_suspended():
        return None
    return member


# ---------------------------------------------------------------------------------------------
# Entries


@dataclass(frozen=True)
class FeedEntry:
    """A thread as a feed shows it: its first post, who wrote it and where."""

    thread: Thread
    post: Post
    author_username: str | None
    """None when the author's account is gone."""
    author_name: str | None
    category_name: str


async def latest_entries(
    db: AsyncSession, member: Member, category: Category | None = None, limit: int = FEED_SIZE
) -> list[FeedEntry]:
    """The newest threads ``member`` may see (by when they were started), optionally only in
    ``category`` and its subcategories; private conversations never appear. A thread whose
    first post is deleted is left out, for staff too."""
    limit = max(1, min(int(limit), FEED_MAX))
    query = (
        select(Thread, Post, Member, Category)
        .join(Category, Category.id == Thread.category_id)
        .join(
            Post,
            and_(Post.thread_id == Thread.id, Post.number == 1, Post.deleted_at.is_(None)),
        )
        .outerjoin(Member, Member.id == Post.author_id)
        .where(
            Thread.category_id.is_not(None),
            visibility.threads(member),
            visibility.posts(member),
            Thread.hidden_at.is_(None),  # feeds travel to aggregators: never moderated threads
        )
    )
    if category is not None:
        family = select(Category.id).where(
            or_(Category.id == category.id, Category.parent_id == category.id)
        )
        query = query.where(Thread.category_id.in_(family))
    rows = await db.execute(query.order_by(Thread.created_at.desc(), Thread.id.desc()).limit(limit))
    return [
        FeedEntry(
            thread=thread,
            post=post,
            author_username=author.username if author else None,
            author_name=author.display_name if author else None,
            category_name=in_category.name,
        )
        for thread, post, author, in_category in rows.all()
    ]


# ---------------------------------------------------------------------------------------------
# Atom


def xml_text(value: object) -> str:
    """``value`` as text with every character XML 1.0 forbids removed."""
    return _NOT_XML.sub("", str(value))


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _feed_id(feed_url: str) -> str:
    """The feed's permanent id: its URL without the query, fragment or any feed token, so the
    secret does not travel in ids that aggregators keep and share."""
    parts = urlsplit(feed_url)
    segments = [s for s in parts.path.split("/") if not s.startswith(FEED_TOKEN_PREFIX)]
    return urlunsplit((parts.scheme, parts.netloc, "/".join(segments), "", ""))


def _entry_id(site_url: str, thread: Thread) -> str:
    """A tag: URI that survives title changes (the thread URL holds the slug)."""
    host = urlsplit(site_url).hostname or "localhost"
    return f"tag:{host},{thread.created_at:%Y-%m-%d}:thread:{thread.id}"


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {key: xml_text(value) for key, value in attrib.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def atom(
    *,
    title: str,
    feed_url: str,
    site_url: str,
    entries: list[FeedEntry],
    updated: datetime,
) -> str:
    """An Atom 1.0 document (RFC 4287) of ``entries``; ``feed_url`` is the feed's own URL and
    ``site_url`` the forum's absolute base URL. Serve it as ``ATOM_CONTENT_TYPE``."""
    base = site_url.rstrip("/")
    # Unqualified tags under a literal default namespace declaration: ElementTree's own
    # default_namespace option refuses unqualified attributes (rel, href...) on Python 3.11.
    feed = ET.Element("feed", {"xmlns": ATOM_NS, f"{{{_XML_NS}}}base": xml_text(base + "/")})
    _add(feed, "id", _feed_id(feed_url))
    _add(feed, "title", title)
    _add(feed, "updated", _timestamp(updated))
    _add(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    _add(feed, "link", rel="alternate", type="text/html", href=base + "/")
    for item in entries:
        thread, post = item.thread, item.post
        entry = _add(feed, "entry")
        _add(entry, "id", _entry_id(base, thread))
        _add(entry, "title", thread.title)
        _add(entry, "link", rel="alternate", type="text/html", href=base + thread.url)
        _add(entry, "published", _timestamp(post.created_at))
        _add(entry, "updated", _timestamp(post.edited_at or post.created_at))
        author = _add(entry, "author")
        _add(author, "name", item.author_name or item.author_username or "Former member")
        if item.author_username:
            _add(author, "uri", f"{base}/u/{item.author_username.lower()}")
        _add(entry, "category", term=item.category_name)
        _add(entry, "content", post.html, type="html")
    body = ET.tostring(feed, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n"
