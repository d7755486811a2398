"""Full-text search over thread titles and post bodies, as the searching member may see them.

Both backends rank the visible matching posts (a thread's title counts for its first post and
weighs three times a body match; on PostgreSQL, a search without filters ranks the newest
``RANK_WINDOW`` body matches, so a common word costs as much as a rarer one) and return a
page of results with highlighted snippets:

- PostgreSQL: ``websearch_to_tsquery`` (all words required; "quoted phrases", ``or`` and
  ``-word`` work as on web search engines) against GIN indexes: on the stored column
  ``posts.search_vector`` (``to_tsvector('english', body)``, migration 0009) and on the
  expression ``to_tsvector('english', threads.title)`` (migration 0002); ``ts_rank`` for
  ranking and ``ts_headline`` for snippets.
- SQLite: the FTS5 table ``posts_fts(title, body)`` (rowid = posts.id, kept in step by
  triggers), ``bm25`` for ranking and ``snippet`` for snippets. User input never reaches FTS5
  as syntax: each word becomes a double-quoted token, all of them required, the last one
  also matching as a prefix.

Visibility (``community.forum.visibility``) is part of every statement that ranks, limits or
counts, so a member never learns of a result, a count or a snippet they may not see.
Snippets are marked with private-use sentinels in SQL, then HTML-escaped here, and only then
are the sentinels turned into ``<mark>`` tags.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    case,
    func,
    literal_column,
    or_,
    select,
    table,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.models import Member
from community.errors import ServiceError
from community.forum import visibility
from community.forum.models import Category, Post, Thread
from community.forum.services import check_id

MAX_QUERY = 200
MAX_LIMIT = 50
MAX_OFFSET = 1000
MAX_TOTAL = 1000
"""Counts stop here: "1000+ results" is as useful as the exact number and far cheaper."""
MAX_TERMS = 32
RANK_WINDOW = 2000
"""Body matches an unfiltered PostgreSQL search ranks, the newest the member may see: ranking
costs in proportion to the matches (the 12,000 posts of a million that say "release": 55 ms),
the window bounds it for the commonest words."""
TITLE_WEIGHT, BODY_WEIGHT = 3.0, 1.0
START, STOP = "\ue000", "\ue001"
"""Private-use characters that mark matches in raw snippets until they are escaped."""
ELLIPSIS = "…"
SNIPPET_WORDS = 24

ENGLISH = literal_column("'english'::regconfig")
"""A literal (not a bind parameter) so the expressions match the GIN indexes' exactly."""
HEADLINE_OPTIONS = (
    f"StartSel={START}, StopSel={STOP}, MaxWords=35, MinWords=12, "
    f'MaxFragments=2, FragmentDelimiter=" {ELLIPSIS} "'
)
POSTS_FTS = table("posts_fts")
FTS = literal_column("posts_fts")
FTS_ROWID = literal_column("posts_fts.rowid")
WORD_RE = re.compile(r"\w+")


def parse_date(value: str | None, field: str) -> date | None:
    """A date filter from a query string ("2026-11-30"), None when empty; 422 otherwise."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ServiceError(
            "invalid_date", f"{field} is a date like 2026-11-30.", 422, field=field
        ) from None


@dataclass
class SearchResult:
    """One matching post, with its thread's title and a highlighted snippet of its body."""

    thread_id: int
    post_id: int
    post_number: int
    title: str
    snippet_html: str
    """HTML-escaped text with the matches wrapped in ``<mark>…</mark>``."""
    url: str
    author: str | None
    category_id: int | None
    created_at: datetime
    rank: float

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "post_id": self.post_id,
            "post_number": self.post_number,
            "title": self.title,
            "snippet": self.snippet_html,
            "url": self.url,
            "author": self.author,
            "category_id": self.category_id,
            "created_at": self.created_at.isoformat(),
        }


@dataclass
class SearchPage:
    results: list[SearchResult]
    total: int
    """How many results there are in all, counted up to ``MAX_TOTAL``."""
    query: str


async def search(
    db: AsyncSession,
    member: Member,
    q: str,
    *,
    category_id: int | None = None,
    author: str | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    limit: int = 20,
    offset: int = 0,
) -> SearchPage:
    """The page of posts ``member`` may see that match ``q`` and the filters, best first.

    ``category_id`` includes its subcategories; ``author`` is a username (any case; unknown
    names find nothing); ``since`` and ``until`` bound the post's creation time, a date
    meaning the whole of that day (UTC).
    """
    query = check_query(q)
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, min(int(offset), MAX_OFFSET))
    empty = SearchPage([], 0, query)
    filters = _filters(category_id, author, since, until)
    if filters is None:
        return empty
    visible = [visibility.threads(member), visibility.posts(member)]
    if _dialect(db) == "postgresql":
        plan = _postgresql(query, None if filters else RANK_WINDOW, visible)
    else:
        fts_query = fts5_query(query)
        if not fts_query:
            return empty
        plan = _sqlite(fts_query)
    matches = plan.matches.where(*visible, *filters)
    total = await db.scalar(select(func.count()).select_from(matches.limit(MAX_TOTAL).subquery()))
    if not total or offset >= total:
        return SearchPage([], total or 0, query)
    page = (
        matches.add_columns(plan.rank.label("rank"))
        .order_by(plan.rank.desc(), Post.id.desc())
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    rows = await db.execute(_decorated(page, plan))
    return SearchPage([_result(row) for row in rows.all()], total, query)


def check_query(q: Any) -> str:
    """``q`` stripped (and rid of NUL characters), or a 422 when empty or too long."""
    query = q.replace("\x00", "").strip() if isinstance(q, str) else ""
    if not query:
        raise ServiceError("invalid_query", "Type something to search for.", 422, field="q")
    if len(query) > MAX_QUERY:
        raise ServiceError(
            "invalid_query", f"Searches are at most {MAX_QUERY} characters.", 422, field="q"
        )
    return query


def fts5_query(query: str) -> str:
    """``query`` as safe FTS5 syntax: every word a quoted token (all required), the last one
    also matching as a prefix when the query ends in it; "" when no word is left."""
    words = WORD_RE.findall(query)[:MAX_TERMS]
    if not words:
        return ""
    terms = [f'"{word}"' for word in words]
    if WORD_RE.search(query[-1]):
        terms[-1] += "*"
    return " ".join(terms)


def highlight(raw: str) -> str:
    """A raw snippet with sentinels as safe HTML: escaped text, sentinels as balanced
    ``<mark>`` tags (stray sentinels in the text itself are dropped)."""
    parts: list[str] = []
    open_mark = False
    for piece in re.split(f"([{START}{STOP}])", raw):
        if piece == START:
            if not open_mark:
                parts.append("<mark>")
            open_mark = True
        elif piece == STOP:
            if open_mark:
                parts.append("</mark>")
            open_mark = False
        else:
            parts.append(html.escape(piece))
    if open_mark:
        parts.append("</mark>")
    return "".join(parts)


def _dialect(db: AsyncSession) -> str:
    return db.get_bind().dialect.name


def _filters(
    category_id: Any,
    author: str | None,
    since: date | datetime | None,
    until: date | datetime | None,
) -> list[ColumnElement[bool]] | None:
    """The filter conditions on Post and Thread, or None when they can match nothing."""
    conditions: list[ColumnElement[bool]] = []
    if category_id not in (None, ""):
        try:
            wanted = check_id(category_id, "category")
        except ServiceError:
            return None
        family = select(Category.id).where(or_(Category.id == wanted, Category.parent_id == wanted))
        conditions.append(Thread.category_id.in_(family))
    if author is not None and (username := author.strip().lstrip("@").lower()):
        by = select(Member.id).where(Member.username_key == username).scalar_subquery()
        conditions.append(Post.author_id == by)
    if since is not None:
        conditions.append(Post.created_at >= _moment(since))
    if until is not None:
        if isinstance(until, datetime):
            conditions.append(Post.created_at <= _moment(until))
        else:
            conditions.append(Post.created_at < _moment(until + timedelta(days=1)))
    return conditions


def _moment(value: date | datetime) -> datetime:
    """An aware datetime: dates start at midnight UTC, naive datetimes are taken as UTC."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(), UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass
class _Plan:
    """How one backend finds, ranks and quotes matches."""

    matches: Select[Any]
    """The ids of matching posts, with Post and Thread joined for conditions."""
    rank: ColumnElement[float]
    """Higher is better; computed in the SELECT over ``matches``."""
    snippet: ColumnElement[str]
    """The raw snippet of the post's body, matches between ``START`` and ``STOP``."""
    fts_query: str | None = None
    """SQLite: ``snippet()`` needs ``posts_fts`` matched in its own SELECT."""


def _postgresql(query: str, window: int | None, visible: list[ColumnElement[bool]]) -> _Plan:
    """Body matches (the newest ``window`` the member may see, when given: a window over
    everyone's posts would return fewer results when recent matches are private, and its
    count would tell of them) and first posts of title matches, each found through its GIN
    index; a post's body vector is stored (``posts.search_vector``, migration 0009), so
    ranking does not parse each again."""
    tsquery = func.websearch_to_tsquery(ENGLISH, query)
    body_vector = literal_column("posts.search_vector")
    title_vector = func.to_tsvector(ENGLISH, Thread.title)
    body = select(Post.id.label("post_id")).where(body_vector.op("@@")(tsquery))
    if window is not None:
        body = (
            body.join(Thread, Thread.id == Post.thread_id)
            .where(*visible)
            .order_by(Post.id.desc())
            .limit(window)
        )
    hits = union(
        body,
        select(Post.id.label("post_id"))
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.number == 1, title_vector.op("@@")(tsquery)),
    ).subquery("hits")
    matches = (
        select(Post.id.label("post_id"))
        .join(hits, hits.c.post_id == Post.id)
        .join(Thread, Thread.id == Post.thread_id)
    )
    title_rank = case((Post.number == 1, func.ts_rank(title_vector, tsquery)), else_=0.0)
    rank = TITLE_WEIGHT * title_rank + BODY_WEIGHT * func.ts_rank(body_vector, tsquery)
    snippet = func.ts_headline(ENGLISH, Post.body, tsquery, HEADLINE_OPTIONS)
    return _Plan(matches, rank, snippet)


def _sqlite(fts_query: str) -> _Plan:
    """Matches through the FTS5 table, ranked by bm25 (negated: lower is better there)."""
    matches = (
        select(Post.id.label("post_id"))
        .select_from(POSTS_FTS)
        .join(Post, Post.id == FTS_ROWID)
        .join(Thread, Thread.id == Post.thread_id)
        .where(FTS.match(fts_query))
    )
    rank = -func.bm25(FTS, TITLE_WEIGHT, BODY_WEIGHT)
    snippet = func.snippet(FTS, 1, START, STOP, ELLIPSIS, SNIPPET_WORDS)
    return _Plan(matches, rank, snippet, fts_query)


def _decorated(page: Any, plan: _Plan) -> Select[Any]:
    """The rows of one ranked ``page`` of post ids with what a result shows, snippets
    included (taken only for this page)."""
    query = (
        select(
            page.c.rank,
            Post.id,
            Post.number,
            Post.created_at,
            Thread.id.label("thread_id"),
            Thread.title,
            Thread.slug,
            Thread.category_id,
            Member.username,
            plan.snippet.label("snippet"),
        )
        .select_from(page)
        .join(Post, Post.id == page.c.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .outerjoin(Member, Member.id == Post.author_id)
        .order_by(page.c.rank.desc(), Post.id.desc())
    )
    if plan.fts_query is not None:
        query = query.join(POSTS_FTS, Post.id == FTS_ROWID).where(FTS.match(plan.fts_query))
    return query


def _result(row: Any) -> SearchResult:
    thread = Thread(id=row.thread_id, slug=row.slug)
    return SearchResult(
        thread_id=row.thread_id,
        post_id=row.id,
        post_number=row.number,
        title=row.title,
        snippet_html=highlight(row.snippet or ""),
        url=thread.post_url(row.number),
        author=row.username,
        category_id=row.category_id,
        created_at=row.created_at,
        rank=float(row.rank or 0.0),
    )
