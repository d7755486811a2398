"""A walk through every path a member can open, as an outsider of a private beta: none of them
shows a trace of the gated category, its threads or its posts; the participant finds them on
the same paths, so the walk can fail.

The forum: ada takes part in the private program "Zephyrine program" and accepted its terms;
ken does not take part. The gated category "Zephyrine Lab" holds ada's thread "Zephyrine
prototype" (which mentions @ken, quotes ken and is replied to by the admin) and the admin's
"Zephyrine roadmap"; its subcategory "Zephyrine Bench" (not gated itself) holds "Zephyrine
bench notes". ken watches every category he can (and kept a watch on the Lab from before),
ada reacts to ken's post in General. Every gated title, body, slug, category and program name
holds the word "zephyrine"; ken's answers must not hold it, the gated slugs, thread ids in
URLs or JSON, nor the Lab's ``cat-<id>`` class.

Paths walked (``PAGES``, ``API``, ``ACTIONS``, ``WATCHES``; a new path is one more line):

- pages: /, /unread, /new, /categories, /categories.css, /c/general, /settings, /new-thread,
  /messages, /c/<lab>, /c/<bench>, /t/<slug>/<id>, /t/<slug>/<id>/<n>, /t/<id>/posts,
  /t/<id>/reply, /posts/<id>, /posts/<id>/edit, /posts/<id>/revisions, /search (q=zephyrine,
  q=engine, by author, by category), /u/ada (counts too), /u/ken, /notifications,
  /notifications/badge (count), /bookmarks, General's thread page and posts;
- API /api/v1: categories, threads (latest, unread, new, by category), threads/<id> (each
  gated thread), threads/<id>/posts, posts/<id>/revisions, search (the same queries),
  notifications (count), bookmarks, conversations, General's thread and posts;
- feeds: /feeds/<token>/latest.atom, /feeds/<token>/c/<lab>.atom;
- live: /live?thread=<id> is 404, and ken's member channel hears no "notify" from a mention
  in the Lab (but does from one in General);
- analytics: /p/analytics/me (own activity, the profile slot's fragment), /p/analytics/,
  /p/analytics/reports/top_threads, /api/v1/analytics/reports(/top_threads): refused;
- beta: /api/v1/beta/programs, /api/v1/beta/programs/<id>, .../feedback, /api/v1/beta/me/flags,
  /p/beta/programs/<id>;
- actions that must find nothing: reply, react, bookmark, start a thread in the Lab (answered
  as for a category that does not exist), watch the thread or the category;
- notification rows: none for ken about gated threads, whatever watched or mentioned him.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from community_analytics import plugin as analytics
from community_beta import plugin
from litestar.channels import ChannelsPlugin
from sqlalchemy import select

from community import live
from community.accounts import services as accounts
from community.forum import feeds, markup, notify
from community.forum import services as forum_services
from community.forum.models import Category, Notification
from community.testing import browser, make_thread, post_form, settle, sign_in
from plugins.analytics.tests.test_views import nothing_pending  # noqa: F401 (autouse: no views timer outlives the test)

WORD = "zephyrine"
HIDDEN = 404
"""What an outsider gets where the gated content would be."""
REFUSED = (403, 404)
"""What a member who is not an admin gets on admin-only analytics."""


@pytest.fixture
def plugin_modules() -> list[Any]:
    return [plugin, analytics]


@pytest.fixture
def enabled_plugins() -> list[str]:
    return ["beta", "analytics"]


@dataclass(frozen=True)
class Path:
    """One path: what the outsider gets (a status; 200 means the page shows no trace) and
    whether the participant finds the gated word there (else only the status is checked)."""

    path: str
    outsider: int | tuple[int, ...] = 200
    participant_sees: bool = True
    participant: int | tuple[int, ...] = 200
    echoes: bool = False
    """The page repeats the query (the search box, JSON "query"): that is not a trace."""
    finds: dict[str, tuple[str, ...]] | None = None
    """Exact fragments each member's answer holds (counts that must leave the gated out)."""


PAGES = [
    Path("/"),
    Path("/unread"),
    Path("/new"),
    Path("/categories"),
    Path("/categories.css", participant_sees=False),
    Path("/c/general", participant_sees=False),
    Path("/settings", participant_sees=False),
    Path("/new-thread"),
    Path("/messages", participant_sees=False),
    Path("/c/{lab_slug}", HIDDEN),
    Path("/c/{bench_slug}", HIDDEN),
    Path("/t/{thread_slug}/{thread}", HIDDEN),
    Path("/t/{thread_slug}/{thread}/2", HIDDEN),
    Path("/t/{thread}/posts", HIDDEN),
    Path("/t/{thread}/reply", HIDDEN, participant_sees=False),
    Path("/posts/{post}", HIDDEN),
    Path("/posts/{post}/edit", HIDDEN),
    Path("/posts/{post}/revisions", HIDDEN, participant_sees=False),
    Path("/search?q=zephyrine", echoes=True),
    Path("/search?q=engine"),
    Path("/search?q=engine&author=ada"),
    Path("/search?q=engine&category={lab}"),
    Path(
        "/u/ada",
        finds={
            "ken": ("<dt>Threads</dt><dd>0</dd>", "<dt>Posts</dt><dd>0</dd>"),
            "ada": ("<dt>Threads</dt><dd>1</dd>", "<dt>Posts</dt><dd>1</dd>"),
        },
    ),
    Path("/u/ken", participant_sees=False),
    Path("/notifications"),
    Path(
        "/notifications/badge",
        participant_sees=False,
        finds={"ken": ("unread:</span> 1</span>",)},
    ),
    Path("/bookmarks"),
    Path("/p/analytics/me", participant_sees=False),
    Path("/p/analytics/", REFUSED, participant_sees=False, participant=REFUSED),
    Path("/p/analytics/reports/top_threads", REFUSED, False, REFUSED),
    Path("/p/beta/programs/{program}", HIDDEN),
    Path("/feeds/{feed}/latest.atom"),
    Path("/feeds/{feed}/c/{lab_slug}.atom", HIDDEN),
    # last: reading a thread reads its notifications
    Path("/t/hello-everyone/{general_thread}", participant_sees=False),
    Path("/t/{general_thread}/posts", participant_sees=False),
]

API = [
    Path("/api/v1/categories"),
    Path("/api/v1/threads"),
    Path("/api/v1/threads?filter=unread"),
    Path("/api/v1/threads?filter=new"),
    Path("/api/v1/threads?category_id={lab}", HIDDEN),
    Path("/api/v1/threads/{thread}", HIDDEN),
    Path("/api/v1/threads/{thread}/posts", HIDDEN),
    Path("/api/v1/threads/{roadmap}", HIDDEN),
    Path("/api/v1/threads/{bench_thread}", HIDDEN),
    Path("/api/v1/posts/{post}/revisions", HIDDEN, participant_sees=False),
    Path("/api/v1/search?q=zephyrine", echoes=True),
    Path("/api/v1/search?q=engine"),
    Path("/api/v1/search?q=engine&author=ada"),
    Path("/api/v1/search?q=engine&category_id={lab}"),
    Path("/api/v1/notifications", finds={"ken": ('"unread":1',)}),
    Path("/api/v1/bookmarks"),
    Path("/api/v1/conversations", participant_sees=False),
    Path("/api/v1/analytics/reports", REFUSED, False, REFUSED),
    Path("/api/v1/analytics/reports/top_threads", REFUSED, False, REFUSED),
    Path("/api/v1/beta/programs"),
    Path("/api/v1/beta/programs/{program}", HIDDEN),
    Path("/api/v1/beta/programs/{program}/feedback", HIDDEN, participant_sees=False),
    Path("/api/v1/beta/me/flags", participant_sees=False),
    # last: reading a thread reads its notifications
    Path("/api/v1/threads/{general_thread}", participant_sees=False),
    Path("/api/v1/threads/{general_thread}/posts", participant_sees=False),
]

ACTIONS = [
    # (method, path, JSON body): the outsider's attempts on gated content, each a 404
    ("POST", "/api/v1/threads/{thread}/posts", {"body": "Let me in"}),
    ("POST", "/api/v1/posts/{post}/reactions", {"emoji": "👍"}),
    ("POST", "/api/v1/posts/{post}/bookmark", None),
]
WATCHES = ["/c/{lab_slug}/watch", "/t/{thread}/watch"]
"""Forms the outsider posts (watching), each a 404."""


def _status(expected: int | tuple[int, ...]) -> tuple[int, ...]:
    return expected if isinstance(expected, tuple) else (expected,)


def thread_ids(found: Any) -> set[int]:
    """Every ``thread_id`` (and a thread's own ``id``) anywhere in a JSON answer."""
    ids: set[int] = set()
    if isinstance(found, dict):
        if isinstance(found.get("thread_id"), int):
            ids.add(found["thread_id"])
        if "title" in found and "url" in found and isinstance(found.get("id"), int):
            ids.add(found["id"])
        for value in found.values():
            ids |= thread_ids(value)
    elif isinstance(found, list):
        for value in found:
            ids |= thread_ids(value)
    return ids


@dataclass
class Forum:
    ids: dict[str, Any]
    headers: dict[str, dict[str, str]]
    feeds: dict[str, str]

    def path(self, template: str, who: str) -> str:
        return template.format(**self.ids, feed=self.feeds[who])


async def _forum(beta: Any, app: Any) -> Forum:
    headers = {"ada": await beta.member("ada"), "ken": await beta.member("ken")}
    general = await make_thread(app, "ken", title="Hello everyone", body="Ken says hi.")
    seed = await make_thread(app, "admin", title="Zephyrine seed", category="Zephyrine Lab")
    program = await beta.program(
        name="Zephyrine program", status="private_beta", categories=[seed.category_id], terms="."
    )
    path = f"/programs/{program['id']}"
    await beta.call("POST", f"{path}/members", json={"usernames": ["ada"]})
    accepted = await beta.call("POST", f"{path}/terms/accept", headers["ada"], json={"version": 1})
    assert accepted.status_code == 200, accepted.text
    async with app.state.sessionmaker() as db:
        lab = await db.get(Category, seed.category_id)
        assert lab is not None
        ken = await accounts.member_by_username(db, "ken")
        # a watch ken kept from before: notifications must still leave him out
        await notify.set_category_watch(db, ken, lab.id, "watching")

    async def api(who: str, method: str, url: str, body: Any = None) -> Any:
        got = await beta.client.request(method, f"/api/v1{url}", headers=headers[who], json=body)
        assert got.status_code in (200, 201), got.text
        return got.json()

    quote = markup.quote("ken", general.post_url(1), "Ken says hi.")
    made = await api(
        "ada",
        "POST",
        "/threads",
        {
            "category_id": lab.id,
            "title": "Zephyrine prototype",
            "body": f"{quote}The zephyrine engine works, @ken.",
        },
    )
    thread = made["id"]
    await api("ada", "POST", f"/posts/{made['first_post']['id']}/bookmark")
    reply = await beta.client.post(
        f"/api/v1/threads/{thread}/posts",
        headers=beta.admin_headers,
        json={"body": "Zephyrine acknowledged, @ada and @ken.", "reply_to": 1},
    )
    assert reply.status_code == 201, reply.text
    async with app.state.sessionmaker() as db:
        bench = await forum_services.save_category(
            db, None, {"name": "Zephyrine Bench", "parent_id": lab.id}
        )
    benched = await beta.client.post(
        "/api/v1/threads",
        headers=beta.admin_headers,
        json={"category_id": bench.id, "title": "Zephyrine bench notes", "body": "Zephyrine."},
    )
    assert benched.status_code == 201, benched.text
    roadmap = await beta.client.post(
        "/api/v1/threads",
        headers=beta.admin_headers,
        json={"category_id": lab.id, "title": "Zephyrine roadmap", "body": "Zephyrine next."},
    )
    assert roadmap.status_code == 201, roadmap.text
    general_posts = await api("ada", "GET", f"/threads/{general.id}/posts")
    await api("ada", "POST", f"/posts/{general_posts['posts'][0]['id']}/reactions", {"emoji": "👍"})
    tokens = {}
    async with app.state.sessionmaker() as db:
        for name in ("ada", "ken"):
            tokens[name] = await feeds.create_feed_token(
                db, await accounts.member_by_username(db, name)
            )
    ids = {
        "general": general.category_id,
        "general_thread": general.id,
        "lab": lab.id,
        "lab_slug": lab.slug,
        "thread": thread,
        "thread_slug": "zephyrine-prototype",
        "post": made["first_post"]["id"],
        "roadmap": roadmap.json()["id"],
        "bench_slug": bench.slug,
        "bench_thread": benched.json()["id"],
        "program": program["id"],
    }
    await settle(app)  # the program's welcome message to ada is written by an event handler
    return Forum(ids, headers, tokens)


@asynccontextmanager
async def _signed_in(app: Any, username: str) -> AsyncIterator[Any]:
    async with browser(app) as client:
        await sign_in(client, username)
        yield client


def _check(who: str, entry: Path, url: str, got: Any, forum: Forum) -> None:
    expected = entry.outsider if who == "ken" else entry.participant
    assert got.status_code in _status(expected), (who, url, got.status_code)
    if got.status_code != 200:
        return
    for fragment in (entry.finds or {}).get(who, ()):
        assert fragment in got.text, (who, url, fragment)
    text = got.text.lower()
    is_json = got.headers.get("content-type", "").startswith("application/json")
    if who == "ken" and entry.echoes:
        if is_json:
            answer = got.json()
            assert answer["total"] == 0 and answer["results"] == [], url
            text = json.dumps({k: v for k, v in answer.items() if k != "query"}).lower()
        else:
            text = text.replace(f'value="{WORD}"', "")
    if who == "ken":
        gated = {forum.ids[key] for key in ("thread", "roadmap", "bench_thread")}
        assert WORD not in text, (url, text[text.find(WORD) - 200 : text.find(WORD) + 200])
        assert forum.ids["lab_slug"] not in text, url
        for thread in gated:
            assert f"/t/{thread}/" not in text and f"thread={thread}" not in text, url
        assert f"cat-{forum.ids['lab']}" not in text, url
        if is_json:
            assert gated.isdisjoint(thread_ids(got.json())), url
    elif entry.participant_sees:
        assert WORD in text, (who, url)


async def test_no_page_shows_the_outsider_a_trace(beta: Any, app: Any) -> None:
    forum = await _forum(beta, app)
    for who in ("ken", "ada"):
        async with _signed_in(app, who) as page:
            await post_form(page, "/c/general/watch", {"level": "watching"}, page="/c/general")
            for entry in PAGES:
                url = forum.path(entry.path, who)
                _check(who, entry, url, await page.get(url), forum)


async def test_no_api_answer_shows_the_outsider_a_trace(beta: Any, app: Any) -> None:
    """Separate from the pages: reading a thread there would empty the unread list here."""
    forum = await _forum(beta, app)
    for who in ("ken", "ada"):
        for entry in API:
            url = forum.path(entry.path, who)
            _check(who, entry, url, await beta.client.get(url, headers=forum.headers[who]), forum)


async def test_the_outsider_can_do_nothing_with_gated_content(beta: Any, app: Any) -> None:
    forum = await _forum(beta, app)
    for method, template, body in ACTIONS:
        url = forum.path(template, "ken")
        got = await beta.client.request(method, url, headers=forum.headers["ken"], json=body)
        assert got.status_code == HIDDEN, (url, got.status_code, got.text)
    # a thread in the gated category: the answer for a category that does not exist
    for category_id in (forum.ids["lab"], 999_999):
        got = await beta.client.post(
            "/api/v1/threads",
            headers=forum.headers["ken"],
            json={"category_id": category_id, "title": "Mine", "body": "Me too"},
        )
        assert (got.status_code, got.json()["error"]) == (422, "unknown_category")
    async with _signed_in(app, "ken") as page:
        for template in WATCHES:
            url = forum.path(template, "ken")
            got = await post_form(page, url, {"level": "watching"}, page="/")
            assert got.status_code == HIDDEN, (url, got.status_code)
        live_page = await page.get(f"/live?thread={forum.ids['thread']}")
        assert live_page.status_code == HIDDEN


async def test_the_outsider_is_never_notified_of_gated_posts(beta: Any, app: Any) -> None:
    forum = await _forum(beta, app)
    async with app.state.sessionmaker() as db:
        ken = await accounts.member_by_username(db, "ken")
        ada = await accounts.member_by_username(db, "ada")
        rows = await db.execute(
            select(Notification.member_id, Notification.kind, Notification.thread_id).order_by(
                Notification.id
            )
        )
        written = rows.all()
    ken_rows = [(kind, thread) for member_id, kind, thread in written if member_id == ken.id]
    assert [kind for kind, _ in ken_rows] == ["reaction"]
    assert forum.ids["thread"] not in {thread for _, thread in ken_rows}
    lab_threads = {forum.ids["thread"], forum.ids["roadmap"]}
    ada_kinds = [k for m, k, thread in written if m == ada.id and thread in lab_threads]
    assert ada_kinds == ["mention"]
    got = await beta.client.get("/api/v1/notifications", headers=forum.headers["ken"])
    assert got.json()["unread"] == 1


async def _next(stream: AsyncIterator[Any], within: float = 5.0) -> Any:
    return await asyncio.wait_for(anext(stream), within)


async def test_the_outsiders_live_stream_hears_nothing_of_a_gated_mention(
    beta: Any, app: Any
) -> None:
    forum = await _forum(beta, app)
    async with app.state.sessionmaker() as db:
        ken = await accounts.member_by_username(db, "ken")
    channels = app.plugins.get(ChannelsPlugin)
    channel = live.member_channel(app.state.namespace, ken.id)
    stream = live.stream(channels, [channel])
    try:
        assert (await _next(stream)).event == "ready"

        async def heard_until_marker() -> list[str]:
            channels.publish('{"event": "marker", "data": ""}', channel)
            events = []
            while (event := (await _next(stream)).event) != "marker":
                events.append(event)
            return events

        await heard_until_marker()
        mention = await beta.client.post(
            f"/api/v1/threads/{forum.ids['thread']}/posts",
            headers=forum.headers["ada"],
            json={"body": "Zephyrine again, @ken."},
        )
        assert mention.status_code == 201, mention.text
        assert await heard_until_marker() == []
        elsewhere = await beta.client.post(
            "/api/v1/threads",
            headers=forum.headers["ada"],
            json={
                "category_id": forum.ids["general"],
                "title": "Out in the open",
                "body": "Hi @ken.",
            },
        )
        assert elsewhere.status_code == 201, elsewhere.text
        assert await heard_until_marker() == ["notify"]
    finally:
        await stream.aclose()
