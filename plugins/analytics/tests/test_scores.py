"""Engagement scores for other plugins (hook ``member_scores``): over the last 90 days, 3 per
shown post written, 1 per reaction received, 1 per reaction given, 1 per day visited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from community_analytics.models import Visit
from community_analytics.scores import member_scores

from community import plugins
from community.db import utcnow
from community.forum.models import Category, Post, Reaction, Thread
from community.testing import enable_plugin, make_member
from plugins.analytics.tests.conftest import new_post, plugins_active


async def small_forum(app: Any) -> tuple[datetime, dict[str, int]]:
    """Four members and what each did, written straight into the tables (no events, so no
    visits but those written here). Returns the time it was written and the members' ids."""
    now = utcnow()
    today = now.date()
    ids = {name: (await make_member(app, name)).id for name in ("ada", "bob", "cyd", "dee")}
    ada, bob, cyd = ids["ada"], ids["bob"], ids["cyd"]

    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    async with app.state.sessionmaker() as db:
        category = Category(name="General", slug="general")
        db.add(category)
        await db.flush()

        def thread(author: int, slug: str, **fields: Any) -> Thread:
            fields.setdefault("category_id", category.id)
            return Thread(
                title=slug, slug=slug, author_id=author, last_posted_at=ago(100), **fields
            )

        shown = thread(ada, "shown", created_at=ago(100))
        hidden = thread(bob, "hidden", hidden_at=ago(2), created_at=ago(2))
        held = thread(bob, "held", held_at=ago(2), created_at=ago(2))
        private = thread(cyd, "private", category_id=None, created_at=ago(2))
        db.add_all([shown, hidden, held, private])
        await db.flush()
        old = new_post(shown.id, 1, ada, ago(91))  # too old: 0
        opening = new_post(shown.id, 2, ada, ago(2))  # ada 3
        reply = new_post(shown.id, 3, bob, ago(1))  # bob 3
        deleted = new_post(shown.id, 4, bob, ago(1))
        deleted.deleted_at = ago(1)
        held_reply = new_post(shown.id, 5, bob, ago(1))
        held_reply.held_at = ago(1)
        in_hidden = new_post(hidden.id, 1, bob, ago(2))
        in_held = new_post(held.id, 1, bob, ago(2))
        in_private = new_post(private.id, 1, cyd, ago(2))
        posts = [old, opening, reply, deleted, held_reply, in_hidden, in_held, in_private]
        db.add_all(posts)
        await db.flush()

        def reaction(post: Post, member_id: int, days: float, emoji: str = "👍") -> Reaction:
            return Reaction(post_id=post.id, member_id=member_id, emoji=emoji, created_at=ago(days))

        db.add_all(
            [
                reaction(opening, bob, 1),  # ada received 1, bob gave 1
                reaction(opening, cyd, 1),  # ada received 1, cyd gave 1
                reaction(opening, cyd, 1, "🎉"),  # ada received 1, cyd gave 1
                reaction(old, bob, 1),  # a recent reaction to an old post counts: 1 and 1
                reaction(old, cyd, 91),  # too old
                reaction(deleted, ada, 1),  # on posts not shown: nothing
                reaction(held_reply, ada, 1),
                reaction(in_hidden, ada, 1),
                reaction(in_held, ada, 1),
                reaction(in_private, ada, 1),
            ]
        )
        visits = [(ada, 0), (ada, 89), (ada, 90), (ada, 200), (bob, 5)]  # ada's last two: too old
        for member_id, days in visits:
            db.add(Visit(member_id=member_id, day=today - timedelta(days=days), first_seen=now))
        await db.commit()
    return now, ids


EXPECTED = {"ada": 3 + 4 + 0 + 2, "bob": 3 + 0 + 2 + 1, "cyd": 0 + 0 + 2 + 0}
"""posts x 3 + reactions received + reactions given + days visited, per member."""


async def test_scores_count_the_last_90_days_of_shown_activity(app: Any) -> None:
    now, ids = await small_forum(app)
    async with app.state.sessionmaker() as db:
        found = await member_scores(db, list(ids.values()), ZoneInfo("UTC"), now)
        assert found == {ids[name]: float(score) for name, score in EXPECTED.items()}
        assert await member_scores(db, [ids["bob"]], ZoneInfo("UTC"), now) == {ids["bob"]: 6.0}
        assert await member_scores(db, [], ZoneInfo("UTC"), now) == {}
        # 30 days on, ada's post and the reactions to hers are still in, and today's visit,
        # but not the visit of 89 days ago.
        later = await member_scores(db, [ids["ada"]], ZoneInfo("UTC"), now + timedelta(days=30))
        assert later == {ids["ada"]: 3.0 + 4.0 + 1.0}


async def test_other_plugins_ask_through_the_core(app: Any) -> None:
    _, ids = await small_forum(app)
    wanted = [ids["dee"], ids["cyd"], ids["ada"], ids["bob"]]
    async with plugins_active(app), app.state.sessionmaker() as db:
        found = await plugins.member_scores(db, wanted)
    assert found == {ids["dee"]: 0.0, ids["cyd"]: 2.0, ids["ada"]: 9.0, ids["bob"]: 6.0}


async def test_no_scores_without_the_plugin_enabled(app: Any) -> None:
    _, ids = await small_forum(app)
    await enable_plugin(app, "analytics", False)
    async with plugins_active(app), app.state.sessionmaker() as db:
        assert await plugins.member_scores(db, list(ids.values())) is None
        assert await plugins.member_scores(db, []) is None
