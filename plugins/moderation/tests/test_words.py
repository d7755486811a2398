"""Watched words: normalising, matching with evasion attempts, rewriting, and managing the
lists on the page and through the API."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from community_moderation import words
from community_moderation.models import AuditEntry, Word
from sqlalchemy import select

from community.errors import ServiceError
from community.forum import services as forum
from community.testing import api_token, make_member, post_form, sign_in


def watched(*specs: tuple[str, str] | tuple[str, str, str]) -> list[Any]:
    """Unsaved words, as ``find`` and ``rewrite`` read them."""
    return [
        SimpleNamespace(
            id=number,
            pattern=words.clean_pattern(spec[0]),
            action=spec[1],
            replacement=spec[2] if len(spec) > 2 else "",
            category_id=None,
        )
        for number, spec in enumerate(specs, 1)
    ]


def found(patterns: list[Any], text: str) -> list[str]:
    return [match.word.pattern for match in words.find(patterns, text)]


# ---------------------------------------------------------------------------------------------
# Normalising and matching


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SPAM", "spam"),
        ("ｓｐａｍ", "spam"),  # fullwidth letters
        ("sp\u200bam", "spam"),  # zero-width space
        ("s\u200dp\ufeffa\u2060m", "spam"),  # joiner, BOM, word joiner
        ("s p a m", "spam"),
        ("s.p.a.m", "spam"),
        ("s-p-a-m", "spam"),
        ("s_p_a_m", "spam"),
        ("Straße", "strasse"),
        ("ﬁne", "fine"),  # a ligature
        ("a normal sentence", "a normal sentence"),
    ],
)
def test_normalise_undoes_common_evasions(text, expected):
    assert words.normalise(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "spam",
        "SPAM!",
        "Spam, again",
        "this is sp\u200bam",
        "ｓｐａｍ",
        "ＳＰＡＭ",
        "buy s p a m now",
        "s.p.a.m",
        "s-p-a-m",
        "s. p. a. m.",
    ],
)
def test_evasions_are_caught(text):
    assert found(watched(("spam", "block")), text) == ["spam"]


@pytest.mark.parametrize("text", ["antispam", "spammer", "spamspam", "s p a m m e r", "sp am"])
def test_a_word_inside_another_word_does_not_match(text):
    assert found(watched(("spam", "block")), text) == []


def test_wildcards_match_within_their_word_only():
    patterns = watched(("spam*", "block"), ("*coin", "block"))
    assert found(patterns, "spammers and spam") == ["spam*", "spam*"]
    assert found(patterns, "bitcoin, dogecoin and coin") == ["*coin", "*coin", "*coin"]
    assert found(patterns, "antispam") == []
    assert found(patterns, "coins and coinbase") == []
    assert found(patterns, "spam-bot") == ["spam*"]  # the wildcard stops at the dash


def test_a_phrase_matches_across_spaces_and_punctuation_but_whole_words_only():
    patterns = watched(("buy now", "block"))
    assert found(patterns, "Buy   now!") == ["buy now"]
    assert found(patterns, "buy, now") == ["buy now"]
    assert found(patterns, "BUY\u200b NOW") == ["buy now"]
    assert found(patterns, "buy nowhere") == []
    assert found(patterns, "rebuy now") == []


def test_patterns_are_normalised_like_the_text():
    patterns = watched(("ＳＰＡＭ", "block"))
    assert patterns[0].pattern == "spam"
    assert found(patterns, "spam") == ["spam"]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("*", "has no letters"),
        ("**", "one * at a time"),
        ("spam**", "one * at a time"),
        ("", "Enter a word"),
        ("   ", "Enter a word"),
        ("\u200b", "Enter a word"),
        ("a*", "would match too much"),
        ("sp*m", "start or the end"),
        ("buy * now", "has no letters"),
        ("x" * 101, "at most 100"),
        (None, "Enter a word"),
    ],
)
def test_an_invalid_pattern_is_refused_with_a_clear_message(pattern, message):
    with pytest.raises(ServiceError) as raised:
        words.clean_pattern(pattern)
    assert raised.value.status == 422
    assert message in raised.value.detail


def test_censor_masks_the_matched_text_keeping_its_length():
    patterns = watched(("darn", "censor"))
    assert words.rewrite(patterns, "Oh darn it, DARN.") == "Oh ■■■■ it, ■■■■."
    assert words.rewrite(patterns, "d a r n") == "■■■■"
    assert words.rewrite(patterns, "da\u200brn!") == "■■■■!"
    assert words.rewrite(patterns, "nothing here") is None


def test_replace_puts_the_replacement_in_place_and_leaves_other_actions_alone():
    patterns = watched(("acme*", "replace", "ACME Corp"), ("spam", "block"), ("*coin", "notify"))
    assert words.rewrite(patterns, "I love acmeco and spam") == "I love ACME Corp and spam"
    assert words.rewrite(patterns, "bitcoin") is None


def test_overlapping_matches_rewrite_once():
    patterns = watched(("bad word", "censor"), ("word", "replace", "term"))
    assert (
        words.rewrite(patterns, "a bad word here, a word there") == "a ■■■■■■■ here, a term there"
    )


# ---------------------------------------------------------------------------------------------
# Scanning from the database


async def add(app: Any, moderator: str, **data: Any) -> Word:
    async with app.state.sessionmaker() as db:
        from community.accounts import services

        who = await services.member_by_username(db, moderator)
        return await words.add_word(db, who, data)


async def category(app: Any, name: str) -> int:
    async with app.state.sessionmaker() as db:
        return (await forum.save_category(db, None, {"name": name})).id


async def test_scan_finds_site_wide_words_and_those_of_the_category_only(app):
    await make_member(app, "mod", "moderator")
    news, chat = await category(app, "News"), await category(app, "Chat")
    await add(app, "mod", pattern="acme", action="notify")
    await add(app, "mod", pattern="spoiler*", action="flag", category_id=news)
    async with app.state.sessionmaker() as db:
        everywhere = await words.scan(db, "acme spoilers ACME", None)
        in_news = await words.scan(db, "acme spoilers ACME", news)
        in_chat = await words.scan(db, "acme spoilers", chat)
    assert [(m.word.pattern, m.action) for m in everywhere] == [("acme", "notify")]
    assert [(m.word.pattern, m.action) for m in in_news] == [
        ("acme", "notify"),
        ("spoiler*", "flag"),
    ]
    assert [m.word.pattern for m in in_chat] == ["acme"]


async def test_add_word_validates_action_replacement_category_and_duplicates(app):
    await make_member(app, "mod", "moderator")
    cases = [
        ({"pattern": "spam", "action": "explode"}, "invalid_action"),
        ({"pattern": "spam", "action": "replace"}, "invalid_replacement"),
        ({"pattern": "spam", "action": "replace", "replacement": "x" * 201}, "invalid_replacement"),
        ({"pattern": "spam", "action": "block", "category_id": 999999}, "unknown_category"),
        ({"pattern": "spam", "action": "block", "category_id": "abc"}, "unknown_category"),
        ({"pattern": "**", "action": "block"}, "invalid_pattern"),
    ]
    for data, code in cases:
        with pytest.raises(ServiceError) as raised:
            await add(app, "mod", **data)
        assert (raised.value.code, raised.value.status) == (code, 422), data
    await add(app, "mod", pattern="Spam", action="block")
    with pytest.raises(ServiceError) as raised:
        await add(app, "mod", pattern="SPAM", action="block")
    assert raised.value.code == "duplicate_word" and "already watched" in raised.value.detail


# ---------------------------------------------------------------------------------------------
# The API


async def test_the_api_adds_lists_and_deletes_words_and_audits_each_change(app, client):
    await make_member(app, "mod", "moderator")
    headers = await api_token(app, "mod")
    made = await client.post(
        "/api/v1/moderation/watched-words",
        json={"pattern": "Acme*", "action": "replace", "replacement": "a shop"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    word = made.json()
    assert word["pattern"] == "acme*" and word["action"] == "replace"
    assert word["replacement"] == "a shop" and word["category_id"] is None

    listed = await client.get("/api/v1/moderation/watched-words", headers=headers)
    assert [w["id"] for w in listed.json()["words"]] == [word["id"]]

    gone = await client.delete(f"/api/v1/moderation/watched-words/{word['id']}", headers=headers)
    assert gone.status_code == 200 and gone.json()["deleted"] == word["id"]
    again = await client.delete(f"/api/v1/moderation/watched-words/{word['id']}", headers=headers)
    assert again.status_code == 404
    assert (await client.get("/api/v1/moderation/watched-words", headers=headers)).json() == {
        "words": []
    }
    async with app.state.sessionmaker() as db:
        entries = (await db.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(e.action, e.target_id) for e in entries] == [
        ("word.add", word["id"]),
        ("word.delete", word["id"]),
    ]
    assert entries[0].after["pattern"] == "acme*" and entries[1].before["pattern"] == "acme*"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pattern": "*", "action": "block"}, "pattern"),
        ({"pattern": "**", "action": "block"}, "pattern"),
        ({"pattern": "", "action": "block"}, "pattern"),
        ({"pattern": "x" * 300, "action": "block"}, "pattern"),
        ({"pattern": "ok", "action": "nope"}, "action"),
        ({"pattern": "ok", "action": "replace"}, "replacement"),
        ({"pattern": "ok", "action": "block", "category_id": 12345}, "category_id"),
        ({"pattern": 5, "action": "block"}, "pattern"),
    ],
)
async def test_the_api_refuses_bad_words_with_422_and_a_reason(app, client, body, field):
    await make_member(app, "mod", "moderator")
    response = await client.post(
        "/api/v1/moderation/watched-words", json=body, headers=await api_token(app, "mod")
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and response.json()["detail"]


async def test_the_api_is_for_moderators_only(app, client, member):
    headers = await api_token(app, "member")
    listed = await client.get("/api/v1/moderation/watched-words", headers=headers)
    made = await client.post(
        "/api/v1/moderation/watched-words",
        json={"pattern": "x", "action": "block"},
        headers=headers,
    )
    assert (listed.status_code, made.status_code) == (403, 403)


async def test_a_category_scoped_word_through_the_api(app, client):
    await make_member(app, "mod", "moderator")
    news = await category(app, "News")
    made = await client.post(
        "/api/v1/moderation/watched-words",
        json={"pattern": "leak", "action": "approve", "category_id": news},
        headers=await api_token(app, "mod"),
    )
    assert made.status_code == 201 and made.json()["category_id"] == news


# ---------------------------------------------------------------------------------------------
# The page


async def test_the_page_adds_shows_and_removes_words(app, client):
    await make_member(app, "mod", "moderator")
    news = await category(app, "News")
    await sign_in(client, "mod")
    page = "/p/moderation/words"
    added = await post_form(
        client,
        page,
        {"pattern": "spoiler* <b>", "action": "censor", "replacement": "", "category_id": news},
    )
    assert added.status_code == 200
    assert "spoiler* &lt;b&gt;" in added.text and "spoiler* <b>" not in added.text
    assert "News" in added.text
    async with app.state.sessionmaker() as db:
        word = await db.scalar(select(Word))
    assert word is not None and word.category_id == news

    refused = await post_form(client, page, {"pattern": "**", "action": "block"})
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text and "one * at a time" in refused.text

    removed = await post_form(client, f"{page}/{word.id}/delete", {}, page=page)
    assert removed.status_code == 200 and "No watched words yet" in removed.text


async def test_the_page_is_for_moderators_only(app, client, member):
    await sign_in(client, "member")
    assert (await client.get("/p/moderation/words")).status_code == 403


async def test_deleting_an_id_beyond_any_row_is_a_404(app, client):
    await make_member(app, "mod", "moderator")
    headers = await api_token(app, "mod")
    for word_id in (0, 2**31, 99999999999):  # PostgreSQL's integer column ends at 2**31 - 1
        gone = await client.delete(f"/api/v1/moderation/watched-words/{word_id}", headers=headers)
        assert gone.status_code == 404, gone.text
