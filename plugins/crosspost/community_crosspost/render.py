"""What each network receives when a thread is shared, exactly.

``render`` fills a target's template with the thread's title, excerpt, link back (tagged with
the target's UTM parameters), category and author, shortens it to fit the network, and returns
both the text a person reads in the preview and the JSON body that is sent. The preview and the
delivery call the same function, so what an admin approves is what goes out.

Shortening cuts the excerpt first, then the title if the title and the link alone are too long;
it cuts after a whole word when it can and adds "…", never inside a grapheme cluster (an emoji,
a letter with its accents) and never inside a URL. The link back is never cut: when even it
does not fit, ``render`` refuses with ``too_long``.

Per network:

- Mastodon: the instance's character limit (500 by default), counted in code points, with every
  URL counted as 23 characters as Mastodon does (code points are never fewer than the
  graphemes Mastodon counts, so a status that fits here fits there).
- Bluesky: at most 300 graphemes and 3,000 UTF-8 bytes (the lexicon's two limits), a link facet
  over each link back with UTF-8 byte offsets, and an external link card.
- Discord: content of at most 2,000 code points (Discord counts code points), an embed with the
  title, a short excerpt and the link, no mentions parsed, and "@everyone"/"@here" broken with
  a zero-width space.
- Slack: one mrkdwn section block of at most 3,000 characters, with ``&``, ``<`` and ``>``
  escaped; there ``{url}`` shows as the title linking to the thread (``<url|title>``).
- Webhook: the ``thread.shared`` event as JSON, with the full excerpt; no template, no limit;
  the text is that JSON, pretty-printed.

``text`` is always the text as sent (for Slack, the escaped mrkdwn), not a cleaned-up version.
"""

from __future__ import annotations

import dataclasses
import json
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_plus, urlencode, urlsplit, urlunsplit

import regex

from community.errors import ServiceError

KINDS = ("mastodon", "bluesky", "discord", "slack", "webhook")
PLACEHOLDERS = ("title", "excerpt", "url", "category", "author")

DEFAULT_TEMPLATES: dict[str, str] = {
    "mastodon": "{title}\n\n{excerpt}\n\n{url}",
    "bluesky": "{title}\n\n{excerpt}\n\n{url}",
    # "<url>" stops Discord adding its own preview of the link next to our embed.
    "discord": "{title}\n\n{excerpt}\n\n<{url}>",
    # In Slack {url} is the title linking to the thread.
    "slack": "*{url}*\n{excerpt}",
}
"""The template used when a target has none, per network (the webhook takes no template)."""

TEMPLATE_MAX_LENGTH = 1000
ELLIPSIS = "…"
MASTODON_DEFAULT_LIMIT = 500
MASTODON_URL_LENGTH = 23
BLUESKY_MAX_GRAPHEMES = 300
BLUESKY_MAX_BYTES = 3000
CARD_DESCRIPTION_LENGTH = 300
DISCORD_CONTENT_LENGTH = 2000
DISCORD_TITLE_LENGTH = 256
SLACK_SECTION_LENGTH = 3000
ZERO_WIDTH_SPACE = "\u200b"

_GRAPHEME = regex.compile(r"\X")
_URL_IN_TEXT = regex.compile(r"(?:https?://|www\.)\S+", regex.IGNORECASE)
_MASTODON_URL = regex.compile(r"https?://\S+", regex.IGNORECASE)
# Scripts written without spaces between words: a cut between two of their letters is fine.
_NO_SPACES = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")
_MASS_MENTION = regex.compile(r"@(?=everyone|here)", regex.IGNORECASE)
# Left at the end of a cut excerpt they look broken ("and so,…"), so they go before the "…".
_DANGLING = " \t\n\r\f\v,;:-–—"

# A template as pieces: (None, literal text) or (placeholder, "").
Parts = list[tuple[str | None, str]]
Span = tuple[int, int]


@dataclass(frozen=True)
class Source:
    """The thread being shared, as the templates see it."""

    title: str
    excerpt: str  # plain text of the opening post, may be long
    url: str  # absolute link back to the thread, without UTM parameters
    category: str
    author: str  # the author's display name


@dataclass(frozen=True)
class Rendered:
    """What one network receives: ``text`` for people, ``payload`` exactly as sent, and the
    ``link`` back to the thread in it (with its ``utm_`` parameters)."""

    kind: str
    text: str
    payload: dict[str, Any]
    link: str = dataclasses.field(default="", compare=False)  # read off the payload


# -- templates and links -----------------------------------------------------------------------


def _invalid(detail: str) -> ServiceError:
    return ServiceError("invalid_template", detail, 400)


def _parse(template: str) -> Parts:
    """The template's literal text and placeholders, in order; invalid_template if it has
    an unknown placeholder, a format or conversion, or a stray brace."""
    parts: Parts = []
    try:
        for literal, field, spec, conversion in string.Formatter().parse(template):
            if literal:
                parts.append((None, literal))
            if field is None:
                continue
            if field not in PLACEHOLDERS:
                known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
                raise _invalid(f"Unknown placeholder {{{field}}} in the template; use {known}.")
            if spec or conversion:
                written = field + (f"!{conversion}" if conversion else "") + f":{spec}" * bool(spec)
                raise _invalid(f"Write {{{field}}} without a format, not {{{written}}}.")
            parts.append((field, ""))
    except ValueError:
        raise _invalid(
            "The template has an unmatched brace; write {{ or }} for a literal brace."
        ) from None
    return parts


def check_template(template: str) -> str:
    """The template if it can be rendered, else ServiceError invalid_template saying why."""
    if not isinstance(template, str):
        raise _invalid("The template must be text.")
    if not template.strip():
        raise _invalid("The template is empty.")
    if "\x00" in template:
        raise _invalid("The template contains a NUL character.")
    if len(template) > TEMPLATE_MAX_LENGTH:
        raise _invalid(f"The template is longer than {TEMPLATE_MAX_LENGTH} characters.")
    _parse(template)
    return template


def with_utm(url: str, utm: dict[str, str] | None) -> str:
    """``url`` with the ``utm_*`` parameters of ``utm`` added, replacing any of the same name;
    other query parameters are kept as they were, other keys of ``utm`` are ignored."""
    tags = [
        (key, str(value))
        for key, value in (utm or {}).items()
        if isinstance(key, str) and key.startswith("utm_") and value
    ]
    if not tags:
        return url
    parts = urlsplit(url)
    names = {key for key, _ in tags}
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and unquote_plus(pair.split("=", 1)[0]) not in names
    ]
    query = "&".join([*kept, urlencode(tags, quote_via=quote)])
    return urlunsplit(parts._replace(query=query))


# -- filling a template ------------------------------------------------------------------------


def _gap(before: str, after: str) -> str:
    """Two pieces of literal text joined where an empty placeholder was: the larger of the two
    whitespaces around it is kept, so "{title}\\n\\n{excerpt}\\n\\n{url}" loses no more than
    the excerpt."""
    left = before[len(before.rstrip()) :]
    right = after[: len(after) - len(after.lstrip())]
    space = max(left, right, key=lambda ws: (ws.count("\n"), len(ws)))
    return before.rstrip() + space + after.lstrip()


def _assemble(parts: Parts, shown: dict[str, str]) -> tuple[str, list[Span]]:
    """The filled template and where each link back is in it (string indices).

    A placeholder whose value is empty leaves no doubled blank line or space behind, and the
    text does not start or end with whitespace from the template."""
    pieces: list[list[Any]] = []
    gap = False
    for field, literal in parts:
        piece = literal if field is None else shown[field]
        if not piece:
            gap = gap or field is not None
            continue
        if field is None and pieces and pieces[-1][0] is None:
            pieces[-1][1] = _gap(pieces[-1][1], piece) if gap else pieces[-1][1] + piece
        else:
            pieces.append([field, piece])
        gap = False
    if pieces and pieces[0][0] is None:
        pieces[0][1] = pieces[0][1].lstrip()
    if pieces and pieces[-1][0] is None:
        pieces[-1][1] = pieces[-1][1].rstrip()
    text, spans = "", []
    for field, piece in pieces:
        if field == "url":
            spans.append((len(text), len(text) + len(piece)))
        text += piece
    return text, spans


# -- shortening --------------------------------------------------------------------------------


def _graphemes(text: str) -> int:
    return len(_GRAPHEME.findall(text))


def _cut(value: str, end: int) -> str:
    """``value`` up to ``end``, with an ellipsis; empty if nothing but spaces would be left."""
    kept = value[:end].rstrip(_DANGLING)
    return kept + ELLIPSIS if kept else ""


def _cut_points(value: str) -> tuple[list[int], list[int]]:
    """Where ``value`` may be cut: after a word, and (as a last resort, for a first word too
    long to fit) after any grapheme cluster; never inside a cluster or a URL."""
    inside_url: set[int] = set()
    for match in _URL_IN_TEXT.finditer(value):
        inside_url.update(range(match.start() + 1, match.end()))
    first = len(value) - len(value.lstrip(_DANGLING))  # a cut before it keeps nothing
    ends = [match.end() for match in _GRAPHEME.finditer(value)][:-1]
    anywhere = [end for end in ends if end > first and end not in inside_url]
    after_word = [
        end
        for end in anywhere
        if value[end].isspace() or _NO_SPACES.match(value[end]) or _NO_SPACES.match(value[end - 1])
    ]
    return after_word, anywhere


def _longest(points: list[int], fits: Callable[[int], bool]) -> int | None:
    """The last of ``points`` (in increasing order) that fits, by bisection: a longer cut never
    takes less room than a shorter one."""
    low, high, best = 0, len(points) - 1, None
    while low <= high:
        middle = (low + high) // 2
        if fits(points[middle]):
            best, low = points[middle], middle + 1
        else:
            high = middle - 1
    return best


def _shorten(value: str, fits: Callable[[str], bool]) -> str:
    """The longest cut of ``value`` (ending in "…") that ``fits``, or "" if none does."""
    for points in _cut_points(value):
        end = _longest(points, lambda end: fits(_cut(value, end)))
        if end is not None:
            return _cut(value, end)
    return ""


def _fit(
    kind: str,
    parts: Parts,
    values: dict[str, str],
    show: Callable[[dict[str, str]], dict[str, str]],
    fits: Callable[[str, list[Span]], bool],
) -> tuple[str, list[Span]]:
    """The filled template and its link spans, shortened until ``fits``:
    the excerpt first, then the title; too_long when even the link and the fixed text do not."""

    def attempt(title: str, excerpt: str) -> tuple[str, list[Span]]:
        return _assemble(parts, show({**values, "title": title, "excerpt": excerpt}))

    def ok(title: str, excerpt: str) -> bool:
        return fits(*attempt(title, excerpt))

    title, excerpt = values["title"], values["excerpt"]
    if not ok(title, excerpt):
        excerpt = _shorten(excerpt, lambda cut: ok(title, cut))
        if not excerpt and not ok(title, ""):
            title = _shorten(title, lambda cut: ok(cut, ""))
            if not title and not ok("", ""):
                raise ServiceError(
                    "too_long",
                    f"The link back and the template's own text do not fit in a {kind} post.",
                    400,
                )
    return attempt(title, excerpt)


def _card_description(excerpt: str) -> str:
    """The excerpt cut to about 300 characters, for a link card or an embed."""
    if len(excerpt) <= CARD_DESCRIPTION_LENGTH:
        return excerpt
    return _shorten(excerpt, lambda cut: len(cut) <= CARD_DESCRIPTION_LENGTH)


# -- networks ----------------------------------------------------------------------------------


def _plain(values: dict[str, str]) -> dict[str, str]:
    return values


def _mastodon(parts: Parts, values: dict[str, str], char_limit: int | None) -> Rendered:
    limit = MASTODON_DEFAULT_LIMIT if char_limit is None else char_limit
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ServiceError("invalid_char_limit", "char_limit must be a positive number.", 400)

    def length(text: str, spans: list[Span]) -> int:
        # Mastodon counts any URL as 23 characters: the links back exactly so, and other URLs
        # (in the excerpt, say) at no less than their own length in case Mastodon misses one.
        count = len(text) + sum(MASTODON_URL_LENGTH - (end - start) for start, end in spans)
        for match in _MASTODON_URL.finditer(text):
            if not any(start < match.end() and match.start() < end for start, end in spans):
                count += max(0, MASTODON_URL_LENGTH - len(match.group()))
        return count

    text, _ = _fit("mastodon", parts, values, _plain, lambda t, s: length(t, s) <= limit)
    return Rendered("mastodon", text, {"status": text, "visibility": "public"})


def _bluesky(parts: Parts, values: dict[str, str]) -> Rendered:
    def fits(text: str, spans: list[Span]) -> bool:
        return len(text.encode()) <= BLUESKY_MAX_BYTES and _graphemes(text) <= BLUESKY_MAX_GRAPHEMES

    text, spans = _fit("bluesky", parts, values, _plain, fits)
    url = values["url"]
    facets = [
        {
            "index": {
                "byteStart": len(text[:start].encode()),
                "byteEnd": len(text[:end].encode()),
            },
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}],
        }
        for start, end in spans
    ]
    embed = {
        "$type": "app.bsky.embed.external",
        "external": {
            "uri": url,
            "title": values["title"],
            "description": _card_description(values["excerpt"]),
        },
    }
    payload = {"$type": "app.bsky.feed.post", "text": text, "facets": facets, "embed": embed}
    return Rendered("bluesky", text, payload)


def _no_mass_mentions(text: str, spans: Sequence[Span] = ()) -> str:
    """``text`` with "@everyone" and "@here" broken by a zero-width space, outside ``spans``
    (the links back, which must stay as they are)."""
    pieces, start = [], 0
    for link_start, link_end in spans:
        pieces.append(_MASS_MENTION.sub("@" + ZERO_WIDTH_SPACE, text[start:link_start]))
        pieces.append(text[link_start:link_end])
        start = link_end
    pieces.append(_MASS_MENTION.sub("@" + ZERO_WIDTH_SPACE, text[start:]))
    return "".join(pieces)


def _discord(parts: Parts, values: dict[str, str]) -> Rendered:
    def fits(text: str, spans: list[Span]) -> bool:
        return len(_no_mass_mentions(text, spans)) <= DISCORD_CONTENT_LENGTH

    text, spans = _fit("discord", parts, values, _plain, fits)
    text = _no_mass_mentions(text, spans)
    title = _no_mass_mentions(values["title"])
    if len(title) > DISCORD_TITLE_LENGTH:
        title = _no_mass_mentions(
            _shorten(
                values["title"], lambda cut: len(_no_mass_mentions(cut)) <= DISCORD_TITLE_LENGTH
            )
        )
    embed = {
        "title": title,
        "description": _no_mass_mentions(_card_description(values["excerpt"])),
        "url": values["url"],
    }
    payload = {
        "content": text,
        "embeds": [{key: value for key, value in embed.items() if value}],
        "allowed_mentions": {"parse": []},
    }
    return Rendered("discord", text, payload)


def _slack_escape(text: str) -> str:
    """``text`` with the three characters Slack reads as markup written as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, title: str) -> str:
    """``<url|title>``: the URL cannot hold "<", ">" or "|", and a "|" in the title would end
    Slack's label, so it becomes "¦"."""
    target = _slack_escape(url.replace("<", "%3C").replace(">", "%3E").replace("|", "%7C"))
    label = _slack_escape(title).replace("|", "¦")
    return f"<{target}|{label}>" if label else f"<{target}>"


def _slack(parts: Parts, values: dict[str, str]) -> Rendered:
    parts = [(field, _slack_escape(literal)) for field, literal in parts]

    def show(shown: dict[str, str]) -> dict[str, str]:
        escaped = {key: _slack_escape(value) for key, value in shown.items()}
        escaped["url"] = _slack_link(shown["url"], shown["title"])
        return escaped

    text, _ = _fit("slack", parts, values, show, lambda t, s: len(t) <= SLACK_SECTION_LENGTH)
    payload = {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }
    return Rendered("slack", text, payload)


def _webhook(values: dict[str, str]) -> Rendered:
    payload = {"type": "thread.shared", "data": {name: values[name] for name in PLACEHOLDERS}}
    return Rendered("webhook", json.dumps(payload, indent=2, ensure_ascii=False), payload)


def render(
    kind: str,
    source: Source,
    *,
    template: str | None = None,
    utm: dict[str, str] | None = None,
    char_limit: int | None = None,
) -> Rendered:
    """What the ``kind`` network receives when ``source`` is shared with this template (the
    network's default when None), UTM parameters and (Mastodon only) character limit."""
    if kind not in KINDS:
        raise ServiceError("unknown_kind", f"Unknown network {kind!r}.", 400)
    values = {
        "title": source.title.strip(),
        "excerpt": source.excerpt.strip(),
        "url": with_utm(source.url.strip(), utm),
        "category": source.category.strip(),
        "author": source.author.strip(),
    }
    if kind == "webhook":
        made = _webhook(values)
    else:
        parts = _parse(
            check_template(template) if template is not None else DEFAULT_TEMPLATES[kind]
        )
        if kind == "mastodon":
            made = _mastodon(parts, values, char_limit)
        elif kind == "bluesky":
            made = _bluesky(parts, values)
        elif kind == "discord":
            made = _discord(parts, values)
        else:
            made = _slack(parts, values)
    return dataclasses.replace(made, link=values["url"])
