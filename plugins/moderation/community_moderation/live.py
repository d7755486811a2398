"""The live inbox: moderators' pages listen to one channel, and every change to an inbox item
tells them; the queue and the header badge then fetch themselves again (scoped to what each
moderator moderates)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community_moderation.access import moderates_anything

INBOX = "inbox"
EVENT = "moderation-inbox"
"""What pages hear: ``hx-trigger="sse:moderation-inbox"``."""


async def live_channels(member: Any) -> list[str] | None:
    """Everyone who moderates anything hears the one inbox channel; what they then fetch is
    scoped to what they moderate."""
    async with plugins.session() as db:
        return [INBOX] if await moderates_anything(db, member) else None


def announce(db: AsyncSession) -> None:
    """Tell moderators' pages that the inbox changed, once ``db``'s transaction commits."""
    plugins.publish("moderation", INBOX, "inbox", db=db)
