"""The most engaging threads and the members who contribute most, in the period.

A thread is active in the period when it got a post (its opening post or a reply) or a reaction
then; it ranks by engagement: replies + reactions + distinct participants (members who posted
in it) of the period, ties going to the one with more views, then the newer. Views come from
``analytics_thread_views`` (``views``). A member contributes by posting, and by giving or
receiving reactions. Both count only shown posts of threads the viewer may see, and with
``exclude_staff`` nothing by (or to) moderators, admins or suspended members. Members are named
on purpose: no MIN_SEGMENT here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, case, func, literal, select, union_all

from community.accounts.models import Member
from community.forum.models import Post, Reaction, Thread
from community_analytics.metrics import counted, live_post, shown
from community_analytics.models import ThreadView
from community_analytics.reports import (
    Definition,
    Query,
    Report,
    Series,
    both,
    current,
    plural,
    trend,
)

TOP = 10
"""Threads and members listed."""


def _counted(grouped: Any, *columns: Any) -> Any:
    """``grouped`` (one row per thing, with its ``now`` and ``before`` rows) and ``columns``,
    each row also carrying how many things had rows in the period and in the one before."""
    return select(
        grouped,
        *columns,
        func.sum(case((grouped.c.now > 0, 1), else_=0)).over().label("total"),
        func.sum(case((grouped.c.before > 0, 1), else_=0)).over().label("previous"),
    )


async def _leaders(
    query: Query, ranked: Any, statement: Any, *order: Any
) -> tuple[int, int, list[Any]]:
    """Things active in the period and in the one before, and the rows of the ``TOP`` of the
    period ranked by ``order``: ``ranked`` is a ``_counted`` subquery, ``statement`` selects
    from it."""
    found = list(
        await query.db.execute(
            statement.order_by(case((ranked.c.now > 0, 0), else_=1), *order).limit(TOP)
        )
    )
    total, previous = (int(found[0].total), int(found[0].previous)) if found else (0, 0)
    return total, previous, [row for row in found if row.now]


def _sentence(total: int, previous: int, days: int, counted: str, lead: str) -> str:
    """ "12 threads active in these 30 days, up 20% on the previous 30 days; <lead>." """
    moved = trend(total, previous, days)
    return f"{counted} in these {days} days{f', {moved}' if moved else ''}; {lead}."


# -- threads ---------------------------------------------------------------------------------


def _thread_rows(query: Query) -> Any:
    """One row per post and reaction of the period and the one before that counts: (thread,
    now, reply, reaction, poster)."""
    scope = query.scope
    begin, since, end = both(query)
    posts = (
        select(
            Post.thread_id.label("thread_id"),
            current(Post.created_at, since).label("now"),
            case((Post.number > 1, 1), else_=0).label("reply"),
            literal(0).label("reaction"),
            Post.author_id.label("poster"),
        )
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.created_at >= begin, Post.created_at < end, *live_post(), *shown(scope))
        .where(*counted(Post.author_id, scope))
    )
    reactions = (
        select(
            Post.thread_id,
            current(Reaction.created_at, since),
            literal(0),
            literal(1),
            literal(None, Integer()),
        )
        .select_from(Reaction)
        .join(Post, Post.id == Reaction.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Reaction.created_at >= begin, Reaction.created_at < end)
        .where(*live_post(), *shown(scope), *counted(Reaction.member_id, scope))
    )
    return union_all(posts, reactions).cte("thread_rows")


async def threads(query: Query) -> tuple[int, int, list[dict[str, Any]]]:
    """Threads active in the period and in the one before, and the ``TOP`` most engaging of
    the period with their figures: one pass over both periods' rows."""
    rows = _thread_rows(query)
    now = rows.c.now
    sums = (
        select(
            rows.c.thread_id,
            func.sum(rows.c.reply * now).label("replies"),
            func.sum(rows.c.reaction * now).label("reactions"),
            func.sum(now).label("now"),
            func.sum(1 - now).label("before"),
        )
        .group_by(rows.c.thread_id)
        .subquery()
    )
    # Distinct pairs first, then a count: hashed, where count(DISTINCT) would sort every row.
    pairs = (
        select(rows.c.thread_id, rows.c.poster)
        .where(now == 1, rows.c.poster.is_not(None))
        .distinct()
        .subquery()
    )
    people = (
        select(pairs.c.thread_id, func.count().label("participants"))
        .group_by(pairs.c.thread_id)
        .subquery()
    )
    grouped = (
        select(sums, func.coalesce(people.c.participants, 0).label("participants"))
        .outerjoin(people, people.c.thread_id == sums.c.thread_id)
        .subquery()
    )
    seen = (
        select(ThreadView.thread_id, func.sum(ThreadView.views).label("views"))
        .where(ThreadView.day >= query.period.start, ThreadView.day <= query.period.end)
        .group_by(ThreadView.thread_id)
        .subquery()
    )
    views = func.coalesce(seen.c.views, 0)
    ranked = (
        _counted(grouped, views.label("views"))
        .outerjoin(seen, seen.c.thread_id == grouped.c.thread_id)
        .subquery()
    )
    score = ranked.c.replies + ranked.c.reactions + ranked.c.participants
    total, previous, found = await _leaders(
        query,
        ranked,
        select(ranked, Thread.title, Thread.slug, Thread.category_id).join(
            Thread, Thread.id == ranked.c.thread_id
        ),
        score.desc(),
        ranked.c.views.desc(),
        ranked.c.thread_id.desc(),
    )
    top = [
        {
            "id": row.thread_id,
            "title": row.title,
            "url": Thread(id=row.thread_id, slug=row.slug).url,
            "category": query.names.get(row.category_id, ""),
            "replies": int(row.replies or 0),
            "reactions": int(row.reactions or 0),
            "participants": int(row.participants or 0),
            "views": int(row.views or 0),
        }
        for row in found
    ]
    return total, previous, top


async def threads_report(query: Query) -> Report:
    period = query.period
    total, previous, top = await threads(query)
    return Report(
        name="top_threads",
        title="Top threads",
        labels=[t["title"] for t in top],
        series=[
            Series("Replies", [t["replies"] for t in top]),
            Series("Reactions", [t["reactions"] for t in top]),
            Series("Participants", [t["participants"] for t in top]),
            Series("Views", [t["views"] for t in top]),
        ],
        total=total,
        previous_total=previous,
        summary=_threads_sentence(total, previous, period.days, top),
        figures={"threads": top},
        chart="bar",
        label="thread",
    )


def _threads_sentence(total: int, previous: int, days: int, top: list[dict[str, Any]]) -> str:
    if not total:
        return f"No thread had a post or a reaction in these {days} days."
    first = top[0]
    lead = (
        f"“{first['title']}” led with {plural(first['replies'], 'reply', 'replies')}, "
        f"{plural(first['reactions'], 'reaction')} and "
        f"{plural(first['participants'], 'participant')}"
    )
    return _sentence(total, previous, days, f"{plural(total, 'thread')} active", lead)


# -- contributors ----------------------------------------------------------------------------


def _member_rows(query: Query) -> Any:
    """One row per contribution of the period and the one before: (member, now, post,
    received, given)."""
    scope = query.scope
    begin, since, end = both(query)
    posts = (
        select(
            Post.author_id.label("member_id"),
            current(Post.created_at, since).label("now"),
            literal(1).label("posts"),
            literal(0).label("received"),
            literal(0).label("given"),
        )
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.created_at >= begin, Post.created_at < end, *live_post(), *shown(scope))
    )
    # Read once (a CTE used twice), counted for the one who reacted and the one who posted.
    reactions = (
        select(
            Reaction.member_id.label("giver"),
            Post.author_id.label("author"),
            current(Reaction.created_at, since).label("now"),
        )
        .join(Post, Post.id == Reaction.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Reaction.created_at >= begin, Reaction.created_at < end)
        .where(*live_post(), *shown(scope), *counted(Reaction.member_id, scope))
        .cte("counted_reactions")
    )
    found = union_all(
        posts,
        select(reactions.c.author, reactions.c.now, literal(0), literal(1), literal(0)),
        select(reactions.c.giver, reactions.c.now, literal(0), literal(0), literal(1)),
    )
    return found.subquery()


async def contributors(query: Query) -> tuple[int, int, list[dict[str, Any]]]:
    """Members who contributed in the period and in the one before, and the ``TOP`` who did
    most in the period: one pass over both periods' rows."""
    rows = _member_rows(query)
    now = rows.c.now
    grouped = (
        select(
            rows.c.member_id,
            func.sum(rows.c.posts * now).label("posts"),
            func.sum(rows.c.received * now).label("received"),
            func.sum(rows.c.given * now).label("given"),
            func.sum(now).label("now"),
            func.sum(1 - now).label("before"),
        )
        .where(rows.c.member_id.is_not(None), *counted(rows.c.member_id, query.scope))
        .group_by(rows.c.member_id)
        .subquery()
    )
    ranked = _counted(grouped).subquery()
    score = ranked.c.posts + ranked.c.received + ranked.c.given
    total, previous, found = await _leaders(
        query,
        ranked,
        select(ranked, Member.username, Member.display_name).join(
            Member, Member.id == ranked.c.member_id
        ),
        score.desc(),
        ranked.c.posts.desc(),
        ranked.c.member_id,
    )
    top = [
        {
            "id": row.member_id,
            "username": row.username,
            "name": row.display_name or row.username,
            "url": f"/u/{row.username}",
            "posts": int(row.posts or 0),
            "reactions_received": int(row.received or 0),
            "reactions_given": int(row.given or 0),
        }
        for row in found
    ]
    return total, previous, top


async def contributors_report(query: Query) -> Report:
    period = query.period
    total, previous, top = await contributors(query)
    return Report(
        name="contributors",
        title="Top contributors",
        labels=[m["name"] for m in top],
        series=[
            Series("Posts", [m["posts"] for m in top]),
            Series("Reactions received", [m["reactions_received"] for m in top]),
            Series("Reactions given", [m["reactions_given"] for m in top]),
        ],
        total=total,
        previous_total=previous,
        summary=_contributors_sentence(total, previous, period.days, top),
        figures={"members": top},
        chart="bar",
        label="member",
    )


def _contributors_sentence(total: int, previous: int, days: int, top: list[dict[str, Any]]) -> str:
    if not total:
        return f"Nobody posted or reacted in these {days} days."
    first = top[0]
    lead = (
        f"{first['name']} contributed most ({plural(first['posts'], 'post')}, "
        f"{plural(first['reactions_received'], 'reaction')} received)"
    )
    return _sentence(total, previous, days, f"{plural(total, 'member')} posted or reacted", lead)


REPORTS = [
    Definition(
        "top_threads",
        "Top threads",
        f"The {TOP} threads with most replies, reactions and participants in the period; "
        "the total counts threads with a post or a reaction.",
        threads_report,
    ),
    Definition(
        "contributors",
        "Top contributors",
        f"The {TOP} members who posted and reacted most, and got most reactions; the total "
        "counts members who posted or reacted.",
        contributors_report,
    ),
]
