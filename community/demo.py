"""Demo data: a year in the life of an invite-only community, written in bulk.

``populate`` fills a migrated database with members joining over the year (each invited by an
earlier member, so invites form a tree), threads in categories, replies from other members at
realistic delays, and reactions. Activity grows over the year and follows a weekly and daily
rhythm. Everything the core keeps counted (a thread's post and reply counts, last post and
poster, a post's reaction counts, an invite's uses) is written consistent with the rows. On
PostgreSQL rows go in through ``COPY``; elsewhere through batched ``INSERT``s.

The same ``seed`` and ``now`` give the same rows (password hashes aside: Argon2 salts them).
Enabled plugins then fill their own tables through the ``populate_demo`` hook.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import JSON, Table, bindparam, func, select, text, update
from sqlalchemy import insert as sql_insert
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.models import Invite, Member
from community.accounts.security import hash_password
from community.accounts.services import instance_settings
from community.db import utcnow
from community.forum.models import Category, Post, Reaction, Thread
from community.forum.services import slugify
from community.plugins import Plugins, activated


@dataclass(frozen=True)
class Size:
    members: int
    threads: int
    posts: int


SIZES = {
    "small": Size(50, 500, 5_000),
    "medium": Size(1_000, 10_000, 100_000),
    "large": Size(10_000, 100_000, 1_000_000),
}
PASSWORD = "demo-password"
"""Every demo member's password, so that anyone trying the demo can sign in as anyone."""
DAYS = 365
DAY = 86_400.0
HOUR = 3_600.0
CHUNK = 5_000
"""Rows per INSERT statement where COPY is not available."""

WEEKDAY = (1.0, 1.05, 1.05, 1.0, 0.85, 0.5, 0.6)
"""How busy each weekday is (Monday first), relative to a Monday."""
HOURS = (
    0.25, 0.12, 0.06, 0.04, 0.04, 0.08, 0.25, 0.55, 0.9, 1.0, 1.0, 0.95,
    0.85, 0.95, 1.0, 0.95, 0.9, 0.85, 0.8, 0.9, 1.0, 0.9, 0.7, 0.45,
)  # fmt: skip
"""How busy each hour of the day is (UTC), relative to the busiest."""

CATEGORIES = [
    # name, description, weight, words the posts there talk about
    ("Announcements", "News from the team.", 0.4, "release roadmap update launch meetup"),
    ("General", "Anything about the community.", 3.0, "community idea question welcome people"),
    (
        "Help & support",
        "Stuck? Ask here.",
        3.0,
        "error install upgrade postgres backup login configuration",
    ),
    (
        "Product feedback",
        "What works, what doesn't.",
        2.0,
        "feature design search notifications editor mobile",
    ),
    ("Show and tell", "Things you made.", 1.5, "project photo prototype garden workshop"),
    ("Events", "Meetups, calls and workshops.", 0.8, "meetup call workshop schedule venue"),
    ("Off-topic", "Everything else.", 1.8, "coffee books music hiking weekend recipe"),
]
MEGATHREAD = "Introduce yourself!"
"""A long-running thread holding a tenth of all posts: 100,000 in the large demo (page 5,000
of it is a benchmark)."""

FIRST_NAMES = (
    "ada", "alan", "ana", "ben", "bea", "carl", "chloe", "dan", "dana", "eli", "emma", "finn",
    "gia", "hana", "ivan", "ines", "jack", "jade", "kai", "kim", "leo", "lea", "mark", "maya",
    "nina", "noah", "omar", "olga", "paul", "pia", "quinn", "rosa", "sam", "sara", "tom", "tara",
    "uma", "victor", "vera", "will", "wren", "xavi", "yara", "zoe", "zeno",
)  # fmt: skip
LAST_NAMES = (
    "adams", "baker", "costa", "diaz", "evans", "fischer", "garcia", "hughes", "ito",
    "jensen", "kowalski", "lopez", "moreau", "nakamura", "olsen", "perez", "quist", "rossi",
    "silva", "tanaka", "ueda", "vogel", "wagner", "xu", "young", "zimmer",
)  # fmt: skip
OPENERS = (
    "Has anyone tried {a} with {b}?",
    "I have been thinking about {a} and {b} lately.",
    "Quick question about {a}: how do you handle {b}?",
    "Here is what I learned about {a} this week.",
    "Sharing my notes on {a}, {b} and a bit of {c}.",
    "What is the best way to approach {a}?",
    "Thanks for the tips on {a}, it made {b} much easier.",
    "I disagree a little: {a} matters more than {b}.",
    "Good point about {a}. In my experience {b} helps too.",
    "We tried {a} last month and {b} was the hard part.",
    "Does {a} still work after the {b} change?",
    "+1, {a} would be great, especially with {c}.",
)
FILLERS = (
    "It took a while to get right.",
    "Happy to share more details if useful.",
    "The documentation was a good start.",
    "I would love to hear other opinions.",
    "Next step is to write it up properly.",
    "Curious whether others saw the same.",
    "That was my experience anyway.",
    "Let me know if you want the config.",
)
COMMON_WORDS = (
    "time", "people", "forum", "thread", "reply", "weekend", "experience", "team", "tools",
)  # fmt: skip
TITLES = (
    "{A} and {b}: what works?",
    "Question about {a}",
    "My {a} setup",
    "Tips for {a} with {b}",
    "Ideas for better {a}",
    "{A} after the update",
    "Anyone into {a}?",
    "Notes from the {a} {b}",
)


@dataclass
class Summary:
    """What ``populate`` wrote."""

    members: int = 0
    threads: int = 0
    posts: int = 0
    reactions: int = 0
    invites: int = 0
    categories: int = 0
    admin: str | None = None
    """A demo member made admin (the database had none), to sign in with."""
    since: datetime = field(default_factory=utcnow)
    now: datetime = field(default_factory=utcnow)


# ---------------------------------------------------------------------------------------------
# Writing rows in bulk


async def write(db: AsyncSession, table: Table, columns: Sequence[str], rows: list[tuple]) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``table`` in bulk: ``COPY`` on
    PostgreSQL, batched INSERTs elsewhere. Datetimes are timezone-aware; JSON columns take
    Python values. Within the session's transaction."""
    if not rows:
        return
    if db.get_bind().dialect.name == "postgresql":
        json_at = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
        if json_at:
            rows = [_dumped(row, json_at) for row in rows]
        connection = await db.connection()
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(
            table.name, records=rows, columns=list(columns)
        )
        return
    statement = sql_insert(table)
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        await db.execute(statement, [dict(zip(columns, row, strict=True)) for row in chunk])


def _dumped(row: tuple, positions: list[int]) -> tuple:
    values = list(row)
    for i in positions:
        values[i] = json.dumps(values[i])
    return tuple(values)


async def set_aside_indexes(db: AsyncSession, tables: Sequence[str]) -> list[str]:
    """On PostgreSQL, drop the indexes of ``tables`` that no constraint needs (search's GIN
    indexes among them) and return the statements that make them again: building an index once
    over a million rows is several times faster than keeping it up to date row by row. Inside
    the transaction, so nobody sees the tables without them."""
    if db.get_bind().dialect.name != "postgresql":
        return []
    found = await db.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = current_schema() AND i.tablename = ANY(:tables) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = "
            "(quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)"
        ),
        {"tables": list(tables)},
    )
    statements = []
    for name, definition in found:
        await db.execute(text(f'DROP INDEX "{name}"'))
        statements.append(definition)
    return statements


async def next_id(db: AsyncSession, model: Any) -> int:
    return (await db.scalar(select(func.max(model.id))) or 0) + 1


async def fix_sequences(db: AsyncSession, tables: Iterable[str]) -> None:
    """After rows written with their ids, PostgreSQL's sequences continue past them."""
    if db.get_bind().dialect.name != "postgresql":
        return
    for name in tables:
        await db.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
            )
        )


def moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# ---------------------------------------------------------------------------------------------
# When and who


class Clock:
    """Moments over the year: later days busier (the community grows), weekdays busier than
    weekends, and a daily rhythm by hour."""

    def __init__(self, rng: random.Random, since: float, end: float) -> None:
        self.rng, self.since, self.end = rng, since, end
        start = moment(since)
        weights = []
        for d in range(DAYS):
            growth = 0.2 + (d / (DAYS - 1)) ** 1.3
            weights.append(growth * WEEKDAY[(start + timedelta(days=d)).weekday()])
        self.day_weights = cumulative(weights)
        self.hour_weights = cumulative(HOURS)

    def at(self, low: float = 0.0) -> float:
        """A random moment (epoch seconds) in the year, from ``low`` on (and a couple of minutes
        before the end at the latest)."""
        latest = self.end - 120
        found = low
        for _ in range(50):
            found = self._sample()
            if low <= found <= latest:
                return found
        return min(max(low, found), latest)

    def _sample(self) -> float:
        rng = self.rng
        day = bisect.bisect(self.day_weights, rng.random() * self.day_weights[-1])
        day_start = self.since + min(day, DAYS - 1) * DAY
        hour = bisect.bisect(self.hour_weights, rng.random() * self.hour_weights[-1])
        # Whole days from the year's start, then UTC hours of that day.
        midnight = day_start - day_start % DAY
        return midnight + min(hour, 23) * HOUR + rng.random() * HOUR

    def awake(self, seconds: float) -> float:
        """``seconds``, or often a little later when it falls in the small hours."""
        hour = int(seconds % DAY // HOUR)
        if 1 <= hour <= 5 and self.rng.random() < 0.7:
            return seconds + (7 - hour) * HOUR + self.rng.random() * 4 * HOUR
        return seconds


def cumulative(weights: Iterable[float]) -> list[float]:
    """Running totals of ``weights``, for weighted picks with ``bisect``."""
    total, found = 0.0, []
    for weight in weights:
        total += weight
        found.append(total)
    return found


@dataclass
class People:
    """Members in the order they joined, and picking one who is around at a given moment,
    the keen ones more often."""

    rng: random.Random
    joined: list[float]
    left: list[float]
    """When they stopped coming (infinity for those who stay)."""
    keen: list[float]
    """Cumulative activity weights, in joining order."""

    def pick(self, at: float, not_: int = -1) -> int:
        """A member (their index) who had joined by ``at`` and not left, weighted by keenness,
        other than ``not_`` when possible."""
        count = bisect.bisect(self.joined, at)
        if count == 0:
            return 0
        top = self.keen[count - 1]
        found = 0
        for _ in range(12):
            found = bisect.bisect(self.keen, self.rng.random() * top, 0, count - 1)
            if self.left[found] > at and found != not_:
                return found
        return found


# ---------------------------------------------------------------------------------------------
# Text


class Writer:
    """Titles and bodies from each category's vocabulary, so search finds topical posts."""

    def __init__(self, rng: random.Random, vocabularies: list[str]) -> None:
        self.rng = rng
        self.pools: list[list[str]] = []
        for words in vocabularies:
            topic = words.split() + list(COMMON_WORDS)
            pool = []
            for _ in range(300):
                a, b, c = rng.sample(topic, 3)
                pool.append(rng.choice(OPENERS).format(a=a, b=b, c=c))
            pool += FILLERS
            self.pools.append(pool)
        self.topics = [words.split() for words in vocabularies]

    def title(self, category: int, number: int) -> str:
        a, b = self.rng.sample(self.topics[category] + list(COMMON_WORDS), 2)
        title = self.rng.choice(TITLES).format(a=a, b=b, A=a.capitalize())
        return f"{title} ({number})" if self.rng.random() < 0.3 else title

    def body(self, category: int) -> tuple[str, str]:
        """Markdown and its HTML: one or two short paragraphs."""
        pool, rng = self.pools[category], self.rng
        sentences = rng.choices(pool, k=1 + int(rng.expovariate(0.7)) % 6)
        cut = max(1, len(sentences) // 2) if len(sentences) > 2 else len(sentences)
        paragraphs = [" ".join(sentences[:cut]), " ".join(sentences[cut:])]
        paragraphs = [p for p in paragraphs if p]
        html = "\n".join(f"<p>{escape(p, quote=False)}</p>" for p in paragraphs)
        return "\n\n".join(paragraphs), html


# ---------------------------------------------------------------------------------------------
# The generator


async def populate(
    db: AsyncSession,
    size: Size,
    seed: int = 1,
    now: datetime | None = None,
    site_name: str = "community",
    say: Callable[[str], None] | None = None,
) -> Summary:
    """Write ``size``'s demo data over the year before ``now`` (default: now) and commit;
    ``say`` hears how far it got."""
    started = time.perf_counter()

    def progress(what: str) -> None:
        if say is not None:
            say(f"{time.perf_counter() - started:6.0f} s  {what}")

    rng = random.Random(seed)
    now = (now or utcnow()).replace(microsecond=0)
    end = now.timestamp()
    since = end - DAYS * DAY
    summary = Summary(since=moment(since), now=now)
    site = await instance_settings(db, site_name)
    emoji = list(site.get("reactions") or ["👍"])
    clock = Clock(rng, since, end)

    categories = await _categories(db, summary)
    crowd = await _members(db, rng, clock, size, since, end, summary)
    await _invites(db, rng, crowd, clock, end, summary)
    progress(f"{summary.members:,} members, {summary.invites:,} invites")
    writer = Writer(rng, [c[3] for c in CATEGORIES])
    rebuild = []
    if not await db.scalar(select(func.count()).select_from(Post)):
        rebuild = await set_aside_indexes(db, ["threads", "posts", "reactions"])
    last_seen = await _threads_and_posts(
        db, rng, clock, writer, size, crowd, categories, emoji, end, summary, progress
    )
    if rebuild:
        await db.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        for statement in rebuild:
            await db.execute(text(statement))
        progress(f"{len(rebuild)} indexes made again (search among them)")
    members = Member.__table__
    await db.execute(
        update(members)
        .where(members.c.id == bindparam("member"))
        .values(last_seen_at=bindparam("seen")),
        [{"member": crowd.ids[i], "seen": moment(at)} for i, at in sorted(last_seen.items())],
    )
    await fix_sequences(db, ["categories", "members", "invites", "threads", "posts"])
    await db.commit()
    await analyze(db)
    progress("committed and analysed")
    return summary


async def analyze(db: AsyncSession) -> None:
    """Fresh planner statistics: until autovacuum gets round to a table that grew by a million
    rows, PostgreSQL plans its queries as if it were empty."""
    await db.execute(text("ANALYZE"))
    await db.commit()


async def _categories(db: AsyncSession, summary: Summary) -> list[int]:
    """The demo's categories (those already there by slug are used as they are)."""
    existing = {slug: id_ for slug, id_ in await db.execute(select(Category.slug, Category.id))}
    first = await next_id(db, Category)
    position = await db.scalar(select(func.max(Category.position))) or 0
    ids, rows = [], []
    for name, description, _, _ in CATEGORIES:
        slug = slugify(name)
        if slug in existing:
            ids.append(existing[slug])
            continue
        ids.append(first + len(rows))
        position += 1
        rows.append(
            (ids[-1], name, slug, description, "#2f5fd0", position, None, name == "Announcements")
        )
    columns = (
        "id", "name", "slug", "description", "color", "position", "parent_id", "read_only",
        "created_at",
    )  # fmt: skip
    await write(db, Category.__table__, columns, [(*row, summary.since) for row in rows])
    summary.categories = len(rows)
    return ids


@dataclass
class Crowd:
    """The demo's members, by index in joining order."""

    people: People
    ids: list[int]
    staff: list[int]
    inviter: list[int | None]
    invited_at: list[float]
    reach: list[float]
    """Cumulative weights of who invites (a few members invite many)."""


async def _members(
    db: AsyncSession,
    rng: random.Random,
    clock: Clock,
    size: Size,
    since: float,
    end: float,
    summary: Summary,
) -> Crowd:
    """Members joining over the year, a few founders first, each later one invited by someone
    who joined before them; some stop coming after a while."""
    count = size.members
    founders = min(count, max(3, count // 50))
    joined = sorted(since + rng.random() * 2 * DAY for _ in range(founders))
    joined += sorted(clock.at(since + 3 * DAY) for _ in range(count - founders))
    left, keen, reach = [], [], []
    for i in range(count):
        stays = i < founders or rng.random() < 0.6
        left.append(math.inf if stays else joined[i] + rng.expovariate(1 / (75 * DAY)))
        weight = 0.03 if rng.random() < 0.4 else min(40.0, rng.paretovariate(1.3))
        keen.append(weight * (3 if i < founders else 1))
        reach.append(min(60.0, rng.paretovariate(1.1)))
    people = People(rng, joined, left, cumulative(keen))
    reach = cumulative(reach)
    inviters = People(rng, joined, [math.inf] * count, reach)
    inviter: list[int | None] = [None] * founders
    invited_at = [joined[i] for i in range(founders)]
    for i in range(founders, count):
        at = max(joined[0] + 60, joined[i] - rng.uniform(0.05, 3) * DAY)
        inviter.append(inviters.pick(at, not_=i))
        invited_at.append(min(at, joined[i] - 1))

    has_admin = await db.scalar(select(func.count()).where(Member.role == "admin"))
    taken = set(await db.scalars(select(Member.username_key)))
    first = await next_id(db, Member)
    ids = [first + i for i in range(count)]
    password_hash = await hash_password(PASSWORD)
    suspended = set(rng.sample(range(founders, count), min(count - founders, max(1, count // 200))))
    rows = []
    for i in range(count):
        first_name, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        username = f"{first_name}_{last_name}"
        while username.lower() in taken:
            username = f"{first_name}_{last_name}{rng.randint(2, 9999)}"
        taken.add(username.lower())
        role = "member"
        if i == 0 and not has_admin:
            role, summary.admin = "admin", username
        elif i < 3:
            role = "moderator"
        at = moment(joined[i])
        banned = i in suspended
        rows.append(
            (
                ids[i],
                username,
                username.lower(),
                f"{first_name.capitalize()} {last_name.capitalize()}",
                f"{username.lower()}@example.com",
                password_hash,
                role,
                moment(end + 30 * DAY) if banned else None,
                "Demo: posted spam." if banned else None,
                0,
                at,
                at,
                None,
                at,
                None,
                "",
                ids[inviter[i]] if inviter[i] is not None else None,  # type: ignore[index]
                None,
            )
        )
    columns = (
        "id", "username", "username_key", "display_name", "email", "password_hash", "role",
        "suspended_until", "suspended_reason", "session_epoch", "created_at", "approved_at",
        "pending_reason", "last_seen_at", "previous_visit_at", "bio", "invited_by_id",
        "invite_id",
    )  # fmt: skip
    await write(db, Member.__table__, columns, rows)
    summary.members = count
    return Crowd(people, ids, list(range(min(3, count))), inviter, invited_at, reach)


async def _invites(
    db: AsyncSession,
    rng: random.Random,
    crowd: Crowd,
    clock: Clock,
    end: float,
    summary: Summary,
) -> None:
    """One used invite per invited member, and as many again that nobody redeemed (some
    revoked, the recent ones still open), with ids in the order they were made."""
    people = crowd.people
    made = []  # created at, creator index, redeemed by index or None
    for i, inviter in enumerate(crowd.inviter):
        if inviter is not None:
            made.append((crowd.invited_at[i], inviter, i))
    inviters = People(rng, people.joined, [math.inf] * len(people.joined), crowd.reach)
    for _ in range(len(made) // 2 + 1):
        at = clock.at(people.joined[0] + 60)
        made.append((at, inviters.pick(at), None))
    made.sort(key=lambda m: (m[0], m[1], -1 if m[2] is None else m[2]))
    first = await next_id(db, Invite)
    rows, invite_of = [], []
    for n, (at, creator, redeemed_by) in enumerate(made):
        revoked = redeemed_by is None and rng.random() < 0.1
        rows.append(
            (
                first + n,
                hashlib.sha256(f"{first + n}:{rng.getrandbits(128)}".encode()).hexdigest(),
                crowd.ids[creator],
                moment(at),
                1,
                0 if redeemed_by is None else 1,
                moment(at + 7 * DAY),
                moment(min(end, at + rng.uniform(0.1, 5) * DAY)) if revoked else None,
                None,
                None,
                None,
                "member",
            )
        )
        if redeemed_by is not None:
            invite_of.append({"member": crowd.ids[redeemed_by], "invite": first + n})
    columns = (
        "id", "token_hash", "created_by_id", "created_at", "max_uses", "uses", "expires_at",
        "revoked_at", "note", "email", "domain", "role",
    )  # fmt: skip
    await write(db, Invite.__table__, columns, rows)
    members = Member.__table__
    if invite_of:
        await db.execute(
            update(members)
            .where(members.c.id == bindparam("member"))
            .values(invite_id=bindparam("invite")),
            invite_of,
        )
    summary.invites = len(rows)


async def _threads_and_posts(
    db: AsyncSession,
    rng: random.Random,
    clock: Clock,
    writer: Writer,
    size: Size,
    crowd: Crowd,
    categories: list[int],
    emoji: list[str],
    end: float,
    summary: Summary,
    progress: Callable[[str], None],
) -> dict[int, float]:
    """Threads, their replies and the reactions to them; returns each member's last activity
    (member index -> epoch seconds)."""
    people, staff = crowd.people, crowd.staff
    start = people.joined[0] + 60
    category_weights = cumulative(c[2] for c in CATEGORIES)
    general = 1
    # (created at, category index, author index, title); the megathread first.
    opened = [(start + HOUR, general, 0, MEGATHREAD)]
    for n in range(1, size.threads):
        at = clock.at(start)
        category = bisect.bisect(category_weights, rng.random() * category_weights[-1])
        if category == 0:
            joined = bisect.bisect(people.joined, at)
            author = rng.choice([s for s in staff if s < max(1, joined)])
        else:
            author = people.pick(at)
        opened.append((at, category, author, writer.title(category, n)))
    opened.sort(key=lambda t: t[0])

    replies = _reply_counts(rng, opened, size.posts - size.threads, end)
    first_thread = await next_id(db, Thread)
    first_post = await next_id(db, Post)
    posts: list[tuple[float, int, int, int, int | None, bool]] = []
    # (at, thread index, number, author index, reply to number, deleted)
    threads = []
    pinned_announcement = False
    for k, (at, category, author, title) in enumerate(opened):
        times = _reply_times(rng, clock, at, replies[k], end, title == MEGATHREAD)
        posts.append((at, k, 1, author, None, False))
        participants, last = [author], author
        for number, when in enumerate(times, start=2):
            if len(participants) > 1 and rng.random() < 0.4:
                poster = rng.choice(participants)
                if poster == last:
                    poster = people.pick(when, not_=last)
            else:
                poster = people.pick(when, not_=last)
            if poster not in participants:
                participants.append(poster)
            reply_to = rng.randint(1, number - 1) if rng.random() < 0.25 else None
            posts.append((when, k, number, poster, reply_to, rng.random() < 0.004))
            last = poster
        last_at = times[-1] if times else at
        pinned = None
        if title == MEGATHREAD:
            pinned = "category"
        elif category == 0 and not pinned_announcement:
            pinned, pinned_announcement = "global", True
        locked = replies[k] > 3 and rng.random() < 0.005
        views = int((replies[k] + 1) * rng.uniform(4, 12)) + rng.randint(3, 30)
        threads.append(
            (
                first_thread + k,
                categories[category],
                title,
                slugify(title),
                crowd.ids[author],
                moment(at),
                moment(last_at),
                crowd.ids[last],
                replies[k] + 1,
                replies[k],
                views,
                pinned,
                moment(min(end, last_at + DAY)) if locked else None,
                None,
                None,
            )
        )
    columns = (
        "id", "category_id", "title", "slug", "author_id", "created_at", "last_posted_at",
        "last_poster_id", "post_count", "reply_count", "view_count", "pinned", "locked_at",
        "hidden_at", "held_at",
    )  # fmt: skip
    await write(db, Thread.__table__, columns, threads)
    summary.threads = len(threads)
    progress(f"{summary.threads:,} threads")
    del threads

    posts.sort(key=lambda p: (p[0], p[1], p[2]))
    last_seen: dict[int, float] = {}
    emoji_weights = cumulative(1 / (n + 1) for n in range(len(emoji)))
    post_columns = (
        "id", "thread_id", "number", "author_id", "body", "html", "reply_to_number",
        "created_at", "edited_at", "revision_count", "deleted_at", "deleted_by_id", "held_at",
        "held_reason", "reaction_counts",
    )  # fmt: skip
    reaction_columns = ("post_id", "member_id", "emoji", "created_at")
    batch = 50_000
    for offset in range(0, len(posts), batch):
        rows, reactions = [], []
        for n, (at, k, number, author, reply_to, deleted) in enumerate(
            posts[offset : offset + batch], start=offset
        ):
            post_id = first_post + n
            body, html = writer.body(opened[k][1])
            counts: dict[str, int] = {}
            if not deleted:
                given = set()
                for _ in range(min(10, int(rng.expovariate(0.9)))):
                    when = min(end - 1, at + rng.lognormvariate(math.log(HOUR), 1.5))
                    member = people.pick(when, not_=author)
                    chosen = emoji[bisect.bisect(emoji_weights, rng.random() * emoji_weights[-1])]
                    if member == author or (member, chosen) in given:
                        continue
                    given.add((member, chosen))
                    counts[chosen] = counts.get(chosen, 0) + 1
                    reactions.append((post_id, crowd.ids[member], chosen, moment(when)))
                    if when > last_seen.get(member, 0):
                        last_seen[member] = when
            if at > last_seen.get(author, 0):
                last_seen[author] = at
            gone = moment(min(end, at + rng.uniform(0.1, 48) * HOUR)) if deleted else None
            rows.append(
                (
                    post_id,
                    first_thread + k,
                    number,
                    crowd.ids[author],
                    body,
                    html,
                    reply_to,
                    moment(at),
                    None,
                    0,
                    gone,
                    crowd.ids[author] if deleted else None,
                    None,
                    None,
                    counts,
                )
            )
        await write(db, Post.__table__, post_columns, rows)
        await write(db, Reaction.__table__, reaction_columns, reactions)
        summary.posts += len(rows)
        summary.reactions += len(reactions)
        if summary.posts % 200_000 == 0 or summary.posts == len(posts):
            progress(f"{summary.posts:,} posts, {summary.reactions:,} reactions")
    return last_seen


def _reply_counts(
    rng: random.Random, opened: list[tuple[float, int, int, str]], total: int, end: float
) -> list[int]:
    """How many replies each thread gets, ``total`` in all: the megathread enough to hold a
    tenth of all posts, some threads none, most a few, some many; recent threads fewer (they
    had less time)."""
    counts = [0] * len(opened)
    mega = next((k for k, t in enumerate(opened) if t[3] == MEGATHREAD), None)
    if mega is not None:
        counts[mega] = (total + len(opened)) // 10 - 1  # and its opening post
    rest = total - sum(counts)
    weights = []
    for k, (at, _, _, _) in enumerate(opened):
        if k == mega or rng.random() < 0.08:
            weights.append(0.0)
            continue
        age = (end - at) / DAY
        weights.append(rng.lognormvariate(0, 1.0) * min(1.0, 0.05 + age / 4))
    whole = sum(weights)
    if whole == 0:
        return counts
    for k, weight in enumerate(weights):
        counts[k] += int(rest * weight / whole)
    answered = [k for k, weight in enumerate(weights) if weight > 0]
    for _ in range(total - sum(counts)):
        counts[rng.choice(answered)] += 1
    return counts


def _reply_times(
    rng: random.Random, clock: Clock, opened: float, count: int, end: float, mega: bool
) -> list[float]:
    """When a thread's replies come, in order: the first after an hour or two (sometimes
    minutes, sometimes days), then at growing gaps; the megathread's all year long."""
    if count == 0:
        return []
    if mega:
        return sorted(clock.at(opened + 60) for _ in range(count))
    times, at = [], opened
    for n in range(count):
        typical = 1.5 * HOUR if n == 0 else 2 * HOUR
        at += rng.lognormvariate(math.log(typical), 1.3)
        times.append(clock.awake(at))
    times.sort()
    latest = end - 60
    if times[-1] > latest:  # squeeze them into the time there was
        room = max(1.0, latest - opened)
        spread = times[-1] - opened
        times = [opened + (t - opened) * room / spread for t in times]
    return times


async def populate_plugins(
    db: AsyncSession, manager: Plugins, site: dict[str, Any], summary: Summary, seed: int = 1
) -> list[str]:
    """Let every plugin enabled in ``site`` fill its own tables for the year the core's demo
    data covers (the ``populate_demo`` hook), with its settings readable; commits. Returns the
    names of the plugins that did; one that fails stops the command."""
    rng = random.Random(seed + 1)
    with activated(manager, site):
        results = await manager.acall(
            "populate_demo",
            Plugins.enabled_in(site),
            raise_errors=True,
            db=db,
            rng=rng,
            since=summary.since,
            now=summary.now,
        )
    await db.commit()
    if results:
        await analyze(db)
    return [name for name, _ in results]
