"""Watched words: lists of words and phrases with an action each, matched whole-word (``*``
wildcards) on Unicode-normalised text so that common evasions are still caught.

Actions: ``block`` and ``approve`` are gates (gates.py), ``censor`` and ``replace`` rewrite the
text, ``flag`` and ``notify`` act after the post exists (tasks.py, through ``scan``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from litestar import Request, delete, get, post
from litestar.response import Redirect, Template
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from community.accounts.models import Member
from community.accounts.routes import Form, text
from community.accounts.services import MAX_ID
from community.errors import ServiceError
from community.forum import services as forum
from community.forum.models import Category
from community.web import render
from community_moderation import audit
from community_moderation.access import (
    in_moderated,
    is_moderator,
    moderated_categories,
    require_moderation,
)
from community_moderation.models import Word

ACTIONS = {
    "block": "Block the post (the author is told why)",
    "approve": "Hold the post for approval",
    "censor": "Censor (shown masked)",
    "replace": "Replace with other text",
    "flag": "Flag the post for moderators",
    "notify": "Notify moderators (the post is untouched)",
}
MAX_PATTERN = 100
MAX_REPLACEMENT = 200
MASK = "■"

_WORD = r"[^\W_]"
"""A letter or digit: words are made of these (``*`` stands for any number of them)."""
_GAP = r"[\W_]+"
"""What may separate the words of a phrase in the text: spaces, punctuation."""
_SPACED = re.compile(rf"(?<!{_WORD}){_WORD}(?:[\s.\-_]{{1,2}}{_WORD}(?!{_WORD})){{2,}}")
"""Three or more single letters, each apart by a space, dot, dash or underscore: "s p a m"."""
_SEPARATOR = re.compile(r"[\s.\-_]")


# ---------------------------------------------------------------------------------------------
# Normalising


@dataclass(frozen=True)
class _Mapped:
    """Normalised text, with for each of its characters the index of the character of the
    source text it came from (so that a match can be masked or replaced in the source)."""

    text: str
    origin: tuple[int, ...]


def _fold(source: str) -> _Mapped:
    """NFKC and casefold each character, dropping format characters (zero-width spaces, joiners,
    direction marks). ``source`` is NFC already, so composed letters stay whole."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(source):
        if unicodedata.category(char) == "Cf":
            continue
        for folded in unicodedata.normalize("NFKC", char).casefold():
            if unicodedata.category(folded) != "Cf":
                chars.append(folded)
                origin.append(index)
    return _Mapped("".join(chars), tuple(origin))


def _unspace(mapped: _Mapped) -> _Mapped:
    """Letter-spaced words closed up: "s p a m", "s.p.a.m" and "s-p-a-m" read "spam"."""
    keep = [True] * len(mapped.text)
    for run in _SPACED.finditer(mapped.text):
        for offset in range(run.start(), run.end()):
            if _SEPARATOR.match(mapped.text[offset]):
                keep[offset] = False
    if all(keep):
        return mapped
    return _Mapped(
        "".join(c for c, k in zip(mapped.text, keep, strict=True) if k),
        tuple(i for i, k in zip(mapped.origin, keep, strict=True) if k),
    )


def normalise(text: str) -> str:
    """``text`` as watched words see it: NFKC, case-folded, without format characters, and
    letter-spaced words closed up."""
    return _unspace(_fold(unicodedata.normalize("NFC", text))).text


def _variants(source: str) -> list[_Mapped]:
    """The readings of ``source`` (already NFC) that words are matched against: with
    letter-spaced words closed up, and as written (where a phrase of one-letter words, "x y z",
    reads as it is written)."""
    folded = _fold(source)
    closed = _unspace(folded)
    return [closed] if closed is folded else [closed, folded]


# ---------------------------------------------------------------------------------------------
# Patterns


def clean_pattern(pattern: Any) -> str:
    """A pattern as stored: normalised (not closed up) with single spaces; raises
    ServiceError 422 saying what is wrong with an invalid one."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise _invalid("Enter a word or phrase to watch.")
    if len(pattern) > MAX_PATTERN:
        raise _invalid(f"A watched word or phrase is at most {MAX_PATTERN} characters.")
    cleaned = " ".join(_fold(unicodedata.normalize("NFC", pattern)).text.split())
    if not cleaned:
        raise _invalid("Enter a word or phrase to watch.")
    if "**" in cleaned:
        raise _invalid("Use one * at a time: it already stands for any number of letters.")
    for token in cleaned.split(" "):
        letters = sum(1 for c in token if c.isalnum())
        if letters == 0:
            raise _invalid(f"“{token}” has no letters: a * needs letters beside it.")
        if "*" in token.strip("*"):
            raise _invalid(f"“{token}”: put * only at the start or the end of a word.")
        if "*" in token and letters < 2:
            raise _invalid(f"“{token}” would match too much: put two letters or more beside *.")
    return cleaned


def _invalid(detail: str) -> ServiceError:
    return ServiceError("invalid_pattern", detail, 422, field="pattern")


@functools.lru_cache(maxsize=4096)
def compiled(pattern: str) -> re.Pattern[str]:
    """The regular expression of a stored pattern: whole words, ``*`` any letters, the words
    of a phrase apart by any spaces or punctuation. (``*`` only begins or ends a word: inside
    one it could make matching a long text slow.)"""
    words = [
        f"{_WORD}*".join(re.escape(part) for part in token.split("*"))
        for token in pattern.split(" ")
    ]
    return re.compile(rf"(?<!{_WORD}){_GAP.join(words)}(?!{_WORD})")


@functools.lru_cache(maxsize=4096)
def _needle(pattern: str) -> str:
    """The longest plain part of a pattern: a text without it cannot match."""
    return max(pattern.replace("*", " ").split(" "), key=len)


# ---------------------------------------------------------------------------------------------
# Matching


@dataclass(frozen=True)
class Match:
    """A watched word found in a text: ``start``/``end`` index the text as given (NFC)."""

    word: Any
    """The word's row (id, pattern, action, replacement, category_id)."""
    start: int
    end: int
    found: str
    """The matched text, normalised."""

    @property
    def action(self) -> str:
        return self.word.action


async def words_for(db: AsyncSession, category_id: int | None) -> list[Any]:
    """The site-wide words, and those of ``category_id`` (one query: a moderator's change
    applies to the very next post), as rows of the columns matching needs (id, pattern,
    action, replacement, category_id), which load several times faster than entities."""
    scope = Word.category_id.is_(None)
    if category_id is not None:
        scope = or_(scope, Word.category_id == category_id)
    columns = (Word.id, Word.pattern, Word.action, Word.replacement, Word.category_id)
    return list((await db.execute(select(*columns).where(scope).order_by(Word.id))).all())


def find(words: list[Any], text: str) -> list[Match]:
    """Every occurrence of ``words`` in ``text``, in order; indexes are into the NFC text."""
    source = unicodedata.normalize("NFC", text)
    found: dict[tuple[int, int, int], Match] = {}
    for variant in _variants(source):
        for word in words:
            if _needle(word.pattern) not in variant.text:
                continue  # a quick look first: most words are in most texts not at all
            for hit in compiled(word.pattern).finditer(variant.text):
                start, end = variant.origin[hit.start()], variant.origin[hit.end() - 1] + 1
                found.setdefault((word.id, start, end), Match(word, start, end, hit.group()))
    return sorted(found.values(), key=lambda m: (m.start, -(m.end - m.start), m.word.id))


def first_per_word(matches: list[Match]) -> list[Match]:
    seen: set[int] = set()
    return [m for m in matches if not (m.word.id in seen or seen.add(m.word.id))]


async def scan(db: AsyncSession, text: str, category_id: int | None) -> list[Match]:
    """The watched words in ``text`` (site-wide ones and those of ``category_id``): the first
    occurrence of each word, in the order they appear."""
    if not text:
        return []
    return first_per_word(find(await words_for(db, category_id), text))


def rewrite(words: list[Any], text: str) -> str | None:
    """``text`` with its censored words masked and replaced words replaced; None when none
    occurs. Overlapping matches: the earlier (then the longer) wins."""
    source = unicodedata.normalize("NFC", text)
    matches = find([w for w in words if w.action in ("censor", "replace")], source)
    if not matches:
        return None
    parts: list[str] = []
    position = 0
    for match in matches:
        if match.start < position:
            continue
        parts.append(source[position : match.start])
        parts.append(match.word.replacement if match.action == "replace" else _mask(match))
        position = match.end
    parts.append(source[position:])
    return "".join(parts)


def _mask(match: Match) -> str:
    return MASK * max(1, sum(1 for c in match.found if c.isalnum()))


# ---------------------------------------------------------------------------------------------
# Managing the lists


def word_json(word: Word) -> dict[str, Any]:
    return {
        "id": word.id,
        "pattern": word.pattern,
        "action": word.action,
        "replacement": word.replacement or None,
        "category_id": word.category_id,
        "created_at": word.created_at.isoformat() if word.created_at else None,
    }


async def add_word(db: AsyncSession, moderator: Member, data: dict[str, Any]) -> Word:
    """Validate and save a watched word (recorded in the audit log); commits."""
    pattern = clean_pattern(data.get("pattern"))
    action = data.get("action")
    if action not in ACTIONS:
        raise ServiceError(
            "invalid_action", f"The action is one of: {', '.join(ACTIONS)}.", 422, field="action"
        )
    replacement = _replacement(data.get("replacement"), action)
    category_id = await _category(db, moderator, data.get("category_id"))
    clash = await db.scalar(
        select(Word.id).where(
            Word.pattern == pattern,
            Word.action == action,
            Word.category_id.is_(None) if category_id is None else Word.category_id == category_id,
        )
    )
    if clash is not None:
        raise _duplicate(pattern)
    word = Word(
        pattern=pattern,
        action=action,
        replacement=replacement,
        category_id=category_id,
        created_by_id=moderator.id,
    )
    try:
        async with db.begin_nested():  # another moderator may have added it just now
            db.add(word)
    except IntegrityError:
        raise _duplicate(pattern) from None
    audit.record(db, moderator, "word.add", "word", word.id, after=word_json(word))
    await db.commit()
    return word


def _duplicate(pattern: str) -> ServiceError:
    return ServiceError(
        "duplicate_word", f"“{pattern}” is already watched with that action.", 422, field="pattern"
    )


def _replacement(value: Any, action: str) -> str:
    if action != "replace":
        return ""
    replacement = value.strip() if isinstance(value, str) else ""
    if not replacement:
        raise ServiceError(
            "invalid_replacement", "Say what to replace the word with.", 422, field="replacement"
        )
    if len(replacement) > MAX_REPLACEMENT:
        raise ServiceError(
            "invalid_replacement",
            f"A replacement is at most {MAX_REPLACEMENT} characters.",
            422,
            field="replacement",
        )
    return replacement


async def _category(db: AsyncSession, moderator: Member, value: Any) -> int | None:
    """The category a list is scoped to (None: site-wide, for staff only). A category's
    moderators manage their categories' lists and no other."""
    if value in (None, "", "0", 0):
        if not is_moderator(moderator):
            raise _not_yours()
        return None
    try:
        category_id = forum.check_id(value, "category")
    except ServiceError:
        category_id = None
    category = await db.get(Category, category_id) if category_id is not None else None
    if category is None:
        raise ServiceError("unknown_category", "No such category.", 422, field="category_id")
    if not is_moderator(moderator) and category.id not in await moderated_categories(db, moderator):
        raise _not_yours()
    return category.id


def _not_yours() -> ServiceError:
    return ServiceError(
        "forbidden",
        "You manage the watched words of the categories you moderate, not the site-wide list.",
        403,
        field="category_id",
    )


async def delete_word(db: AsyncSession, moderator: Member, word_id: int) -> Word:
    word = None
    if 0 < word_id <= MAX_ID:
        word = await db.scalar(
            select(Word).where(Word.id == word_id, in_moderated(moderator, Word.category_id))
        )
    if word is None:
        raise ServiceError("not_found", "No such watched word.", 404)
    audit.record(db, moderator, "word.delete", "word", word.id, before=word_json(word))
    await db.delete(word)
    await db.commit()
    return word


async def list_words(db: AsyncSession, member: Member) -> list[Word]:
    """The words ``member`` manages: all for staff, their categories' for a category's
    moderators."""
    query = select(Word).where(in_moderated(member, Word.category_id))
    return list((await db.scalars(query.order_by(Word.category_id, Word.pattern))).all())


# ---------------------------------------------------------------------------------------------
# Pages (/p/moderation/words) and API (/api/v1/moderation/watched-words)


async def _words_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    member: Member,
    status_code: int = 200,
    **context: Any,
) -> Template:
    context.setdefault("error", None)
    context.setdefault("form", {})
    categories = await forum.list_categories(db, member)
    if not is_moderator(member):
        mine = await moderated_categories(db, member)
        categories = [category for category in categories if category.id in mine]
    return render(
        request,
        "moderation/words.html",
        status_code=status_code,
        words=await list_words(db, member),
        site_wide=is_moderator(member),
        categories=categories,
        category_names={c.id: c.name for c in categories},
        actions=ACTIONS,
        **context,
    )


@get("/words", guards=[require_moderation])
async def words_page(request: Request[Any, Any, Any], db: AsyncSession, member: Member) -> Template:
    return await _words_page(request, db, member)


@post("/words", guards=[require_moderation])
async def add_word_form(
    request: Request[Any, Any, Any], db: AsyncSession, member: Member, data: Form
) -> Template | Redirect:
    form = {key: text(data, key) for key in ("pattern", "action", "replacement", "category_id")}
    try:
        await add_word(db, member, form)
    except ServiceError as error:  # refused before anything was written
        return await _words_page(request, db, member, error.status, error=error.detail, form=form)
    return Redirect("/p/moderation/words")


@post("/words/{word_id:int}/delete", guards=[require_moderation])
async def delete_word_form(db: AsyncSession, member: Member, word_id: int) -> Redirect:
    await delete_word(db, member, word_id)
    return Redirect("/p/moderation/words")


@get("/watched-words", guards=[require_moderation])
async def list_words_api(db: AsyncSession, member: Member) -> dict[str, Any]:
    return {"words": [word_json(word) for word in await list_words(db, member)]}


@post("/watched-words", guards=[require_moderation], status_code=201)
async def add_word_api(db: AsyncSession, member: Member, data: dict[str, Any]) -> dict[str, Any]:
    return word_json(await add_word(db, member, data))


@delete("/watched-words/{word_id:int}", guards=[require_moderation], status_code=200)
async def delete_word_api(db: AsyncSession, member: Member, word_id: int) -> dict[str, Any]:
    word = await delete_word(db, member, word_id)
    return {"deleted": word_id, "pattern": word.pattern}


routes: list[Any] = [words_page, add_word_form, delete_word_form]
api_routes: list[Any] = [list_words_api, add_word_api, delete_word_api]
