"""Links followed into the community: a page opened through a link tagged with ``utm_source``
(a cross-post's link back, a newsletter's) is told to plugins as ``LinkFollowed``, whether the
visitor is a member or is on the way to the sign-in page, so analytics can count the clicks.

Each client address is counted at most ``LIMITS["campaign_ip"]`` times a minute (more are not
told), so nobody fills the counts by reloading or inventing campaigns.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from litestar.types import Scope
from sqlalchemy.ext.asyncio import AsyncSession

from community.db import utcnow
from community.errors import ServiceError
from community.events import LinkFollowed, emit
from community.ratelimit import RateLimiter

MAX_LENGTH = 100
"""Tags are cut to this many characters."""


async def note(scope: Scope, db: AsyncSession, limiter: RateLimiter, member: Any) -> None:
    """Tell plugins about a page opened through a tagged link (a GET of a page, not the API),
    and commit."""
    query = scope.get("query_string", b"")
    if b"utm_source=" not in query or scope["method"] != "GET":
        return
    if scope["path"].startswith("/api/"):
        return
    tags = parse_qs(query.decode("latin-1"), max_num_fields=20)
    source = _tag(tags, "utm_source")
    if not source:
        return
    client = scope.get("client")
    try:
        await limiter.hit("campaign_ip", client[0] if client else "unknown")
    except ServiceError:
        return
    thread_id = scope.get("path_params", {}).get("thread_id")
    followed = LinkFollowed(
        path=scope["path"][:500],
        source=source,
        medium=_tag(tags, "utm_medium"),
        campaign=_tag(tags, "utm_campaign"),
        thread_id=thread_id if scope["path"].startswith("/t/") else None,
        member_id=member.id if member is not None else None,
        at=utcnow().isoformat(),
    )
    emit(db, followed)
    await db.commit()


def _tag(tags: dict[str, list[str]], name: str) -> str:
    """The first value of ``name``, without control characters, trimmed and cut short."""
    value = (tags.get(name) or [""])[0]
    return "".join(c for c in value if c.isprintable()).strip()[:MAX_LENGTH]
