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

from sqlalchemy import case, func, select

from community.accounts.models import Member
from community.forum.models import Post, Thread
from community_analytics.activity import member_rows, thread_rows
from community_analytics.metrics import counted, live_post
from community_analytics.models import ThreadView
from community_analytics.reports import (
    Definition,
    Query,
    Report,
    Series,
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


async def threads(query: Query) -> tuple[int, int, list[dict[str, Any]]]:
    """Threads active in the period and in the one before, and the ``TOP`` most engaging of
    the period with their figures.

    Replies and reactions add up across days, distinct participants do not: they are counted
    from the posts, and only for the candidates, the threads whose replies + reactions + posts
    reach the ``TOP``-th best replies + reactions (the others cannot rank, since a thread has
    no more participants than posts)."""
    rows = await thread_rows(query)
    now = rows.c.now
    sums = (
        select(
            rows.c.thread_id,
            func.sum(rows.c.replies * now).label("replies"),
            func.sum(rows.c.reactions * now).label("reactions"),
            func.sum(rows.c.posts * now).label("posts"),
            func.max(now).label("now"),
            func.max(1 - now).label("before"),
        )
        .group_by(rows.c.thread_id)
        .cte("thread_sums")
    )
    known = sums.c.replies + sums.c.reactions
    floor = (
        select(known.label("known")).where(sums.c.now == 1).order_by(known.desc()).limit(TOP)
    ).subquery()
    threshold = select(func.coalesce(func.min(floor.c.known), 0)).scalar_subquery()
    total = select(func.count()).where(sums.c.now == 1).scalar_subquery()
    previous = select(func.count()).where(sums.c.before == 1).scalar_subquery()
    found = list(
        await query.db.execute(
            select(sums, total.label("total"), previous.label("previous")).where(
                sums.c.now == 1, known + sums.c.posts >= threshold
            )
        )
    )
    if not found:
        counts = (await query.db.execute(select(total, previous))).one()
        return int(counts[0]), int(counts[1]), []
    ids = [row.thread_id for row in found]
    people = await _participants(query, ids)
    views = await _views(query, ids)
    ranked = sorted(
        found,
        key=lambda row: (
            -(row.replies + row.reactions + people.get(row.thread_id, 0)),
            -views.get(row.thread_id, 0),
            -row.thread_id,
        ),
    )[:TOP]
    titles = {
        row.id: row
        for row in await query.db.execute(
            select(Thread.id, Thread.title, Thread.slug, Thread.category_id).where(
                Thread.id.in_([row.thread_id for row in ranked])
            )
        )
    }
    top = [
        {
            "id": row.thread_id,
            "title": titles[row.thread_id].title,
            "url": Thread(id=row.thread_id, slug=titles[row.thread_id].slug).url,
            "category": query.names.get(titles[row.thread_id].category_id, ""),
            "replies": int(row.replies or 0),
            "reactions": int(row.reactions or 0),
            "participants": people.get(row.thread_id, 0),
            "views": views.get(row.thread_id, 0),
        }
        for row in ranked
    ]
    return int(found[0].total), int(found[0].previous), top


async def _participants(query: Query, ids: list[int]) -> dict[int, int]:
    """Per thread of ``ids``: the members who posted in it in the period and count."""
    since, end = query.period.span(query.scope.tz)
    pairs = (
        select(Post.thread_id, Post.author_id)
        .where(Post.thread_id.in_(ids), Post.created_at >= since, Post.created_at < end)
        .where(*live_post(), Post.author_id.is_not(None), *counted(Post.author_id, query.scope))
        .distinct()
        .subquery()
    )
    return dict(
        (thread_id, int(count))
        for thread_id, count in await query.db.execute(
            select(pairs.c.thread_id, func.count()).group_by(pairs.c.thread_id)
        )
    )


async def _views(query: Query, ids: list[int]) -> dict[int, int]:
    """Per thread of ``ids``: its views in the period."""
    return dict(
        (thread_id, int(views or 0))
        for thread_id, views in await query.db.execute(
            select(ThreadView.thread_id, func.sum(ThreadView.views))
            .where(
                ThreadView.thread_id.in_(ids),
                ThreadView.day >= query.period.start,
                ThreadView.day <= query.period.end,
            )
            .group_by(ThreadView.thread_id)
        )
    )


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


async def contributors(query: Query) -> tuple[int, int, list[dict[str, Any]]]:
    """Members who contributed in the period and in the one before, and the ``TOP`` who did
    most in the period: one pass over both periods' rows."""
    rows = await member_rows(query)
    now = rows.c.now
    contributed = rows.c.posts + rows.c.received + rows.c.given > 0
    grouped = (
        select(
            rows.c.member_id,
            func.sum(rows.c.posts * now).label("posts"),
            func.sum(rows.c.received * now).label("received"),
            func.sum(rows.c.given * now).label("given"),
            func.sum(now).label("now"),
            func.sum(1 - now).label("before"),
        )
        .where(rows.c.member_id.is_not(None), contributed)
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
