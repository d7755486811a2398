"""Moderators' marks against members: a flag on one of their posts, a warning, a penalty. Read
from events by name, so the moderation plugin's (``PostFlagged``, ``MemberWarned``) count when
it is installed and enabled, without this plugin importing it; the core's ``MemberPenalised``
(a suspension, or the moderation plugin's silences) counts always. The invite reports show
each inviter's invitees' marks."""

from __future__ import annotations

from sqlalchemy import select

from community import plugins
from community.db import utcnow
from community.events import Event
from community.forum.models import Post
from community_analytics.models import Mark

KINDS: dict[str, str] = {
    "PostFlagged": "flag",
    "MemberWarned": "warning",
    "MemberPenalised": "penalty",
}
"""The events that mark a member, and the kind of mark each makes."""

MODERATION = "moderation"
"""The plugin whose events make flags and warnings."""


def moderated() -> bool:
    """Whether the moderation plugin is enabled here, so that flags and warnings are heard."""
    return plugins.enabled(MODERATION)


async def record(event: Event) -> None:
    """Store the mark ``event`` makes: a flag is against the flagged post's author (none for
    a post whose author's account is gone)."""
    kind = KINDS.get(event.name)
    if kind is None:
        return
    async with plugins.session() as db:
        if kind == "flag":
            post_id = getattr(event, "post_id", None)
            member_id = await db.scalar(select(Post.author_id).where(Post.id == post_id))
        else:
            member_id = getattr(event, "member_id", None)
        if member_id is None:
            return
        db.add(Mark(member_id=member_id, kind=kind, at=utcnow()))
        await db.commit()
