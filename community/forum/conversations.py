"""Private conversations: threads without a category that only their participants see."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.accounts.models import Member
from community.errors import ServiceError
from community.events import ConversationMessageSent, emit
from community.forum import services
from community.forum.models import ConversationMember, Post, Thread, ThreadWatch

MAX_PARTICIPANTS = 20


async def start(
    db: AsyncSession,
    member: Member,
    *,
    usernames: Any,
    title: Any,
    body: Any,
    site: dict[str, Any],
) -> tuple[Thread, Post]:
    """Start a conversation between ``member`` and the named members; commits."""
    if isinstance(usernames, str):
        usernames = [name for name in usernames.replace(",", " ").split() if name]
    if not isinstance(usernames, list) or not all(isinstance(n, str) for n in usernames):
        raise ServiceError(
            "invalid_usernames", "usernames is a list of usernames.", 422, field="usernames"
        )
    keys = {name.strip().lstrip("@").lower() for name in usernames} - {member.username_key}
    if not keys:
        raise ServiceError(
            "invalid_usernames", "Name at least one other member.", 422, field="usernames"
        )
    if len(keys) > MAX_PARTICIPANTS:
        raise ServiceError(
            "invalid_usernames",
            f"A conversation has at most {MAX_PARTICIPANTS} other members.",
            422,
            field="usernames",
        )
    title = services.check_title(title)
    body = services.check_body(body, site)
    others = list((await db.scalars(select(Member).where(Member.username_key.in_(keys)))).all())
    unknown = keys - {other.username_key for other in others}
    if unknown:
        raise ServiceError(
            "unknown_member",
            f"No member is called {', '.join(sorted(unknown))}.",
            422,
            field="usernames",
        )
    gated_body = body  # gates see what the member wrote; the stored text is rewritten
    title = services.check_title(await plugins.rewrite("title", member, title))
    body = await plugins.rewrite("body", member, body)
    rendered = await services.render_body(db, body)
    thread = await services.new_thread(db, member, None, title)
    participants = [member, *others]
    for person in participants:
        db.add(ConversationMember(thread_id=thread.id, member_id=person.id))
        db.add(ThreadWatch(member_id=person.id, thread_id=thread.id, level="watching"))
    await db.flush()
    verdict = services.checked(
        await plugins.gate(
            "check_post", member=member, thread=thread, body=gated_body, editing=False
        )
    )
    post = await services.add_post(db, member, thread, body, rendered=rendered, held=verdict)
    emit(
        db,
        ConversationMessageSent(thread.id, post.id, member.id, tuple(other.id for other in others)),
    )
    await db.commit()
    return thread, post


async def participants(db: AsyncSession, thread: Thread) -> list[Member]:
    return list(
        (
            await db.scalars(
                select(Member)
                .join(ConversationMember, ConversationMember.member_id == Member.id)
                .where(ConversationMember.thread_id == thread.id)
                .order_by(Member.username_key)
            )
        ).all()
    )
