"""Posts are rendered from Markdown once, at write time, into HTML that is safe to serve as is."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from functools import lru_cache
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.rules_inline.linkify import linkify as linkify_inline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

MENTION_RE = re.compile(r"(?<!\w)@([A-Za-z0-9_-]{3,32})(?![\w@-])")
"""An @name not glued to a preceding word (so not an e-mail address) nor running on past 32."""

POST_PATH_RE = re.compile(r"/t/[^/]+/([0-9]{1,18})/([0-9]{1,18})/?")
CODE_CLASS_RE = re.compile(r"language-[A-Za-z0-9_+-]+")
LIST_START_RE = re.compile(r"[0-9]{1,9}")
LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
_SCHEME_TAIL = 64

_EXISTING = "community_mentions"
"""The render environment key holding the lower-cased usernames that exist."""

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
    "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "class"}, "code": {"class"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow ugc noopener"


# ---------------------------------------------------------------------------
# Markdown token rules
# ---------------------------------------------------------------------------


def _is_fuzzy_link(children: list[Token], i: int) -> bool:
    """Whether children[i] opens a link linkify made from a bare domain such as ``setup.py``.

    linkify-it treats any word ending in a two-letter TLD as a domain, so file names in prose
    would turn into links to strangers' hosts; like GitHub we only link bare ``www.`` hosts."""
    token = children[i]
    if token.type != "link_open" or token.markup != "linkify" or i + 2 >= len(children):
        return False
    text = children[i + 1].content
    href = str(token.attrGet("href") or "")
    return (
        "://" not in text
        and not text.lower().startswith("www.")
        and not href.lower().startswith("mailto:")
        and children[i + 2].type == "link_close"
    )


def _mention_tokens(text: str, prev_char: str) -> list[Token] | None:
    """Split a text token's content around @mentions, each wrapped in a link that is only
    rendered when the member exists (see ``_render_mention_link``).

    ``prev_char`` is the character just before ``text`` in the same run of text, so that
    ``a`` + ``@b.com`` split over two tokens is still read as one e-mail address. Returns
    None when there is no mention in ``text``."""
    tokens: list[Token] = []
    pos = 0
    for match in MENTION_RE.finditer(prev_char + text):
        start, end = match.start() - len(prev_char), match.end() - len(prev_char)
        if start < 0:
            continue
        key = match.group(1).lower()
        if start > pos:
            tokens.append(_text_token(text[pos:start]))
        link_open = Token("link_open", "a", 1, meta={"mention": key})
        link_open.attrs = {"class": "mention", "href": f"/u/{key}"}
        link_close = Token("link_close", "a", -1, meta={"mention": key})
        tokens += [link_open, _text_token(text[start:end]), link_close]
        pos = end
    if not tokens:
        return None
    if pos < len(text):
        tokens.append(_text_token(text[pos:]))
    return tokens


def _text_token(content: str) -> Token:
    return Token("text", "", 0, content=content)


def _inline_rule(state: StateCore) -> None:
    """Undo linkify's bare-domain links, mark @mentions in plain text and images inside links.

    Runs on tokens after linkify, so text inside code spans, fences, links and autolinks is
    never touched, and before text_join, so an escaped ``\\@name`` (a separate text_special
    token) is not a mention."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        source = block.children
        i = 0
        while i < len(source):
            if _is_fuzzy_link(source, i):
                children.append(source[i + 1])
                i += 3
            else:
                children.append(source[i])
                i += 1

        result: list[Token] = []
        link_depth = 0
        prev_char = ""
        for token in children:
            if token.type == "link_open":
                link_depth += 1
            elif token.type == "link_close":
                link_depth = max(0, link_depth - 1)
            elif token.type == "image" and link_depth > 0:
                token.meta["in_link"] = True
            replaced = None
            if token.type == "text" and link_depth == 0:
                replaced = _mention_tokens(token.content, prev_char)
            result += replaced if replaced is not None else [token]
            if token.type in ("text", "text_special"):
                prev_char = token.content[-1:] or prev_char
            else:
                prev_char = ""
        block.children = result


def _linkify_inline(state: StateInline, silent: bool) -> bool:
    """markdown-it's inline linkify rule, shown only the tail of the pending text.

    Upstream searches all of ``state.pending`` for the scheme before each ``://``, which is
    quadratic: 32k characters of ``<http://`` took four seconds. A scheme longer than the tail
    is no linkify schema either way, so the result is the same. When there is a link, the
    text before the tail becomes its own text token first, so it stays before the link."""
    if not state.src.startswith("://", state.pos) or len(state.pending) <= _SCHEME_TAIL:
        return linkify_inline(state, silent)
    head, tail = state.pending[:-_SCHEME_TAIL], state.pending[-_SCHEME_TAIL:]
    start = state.pos
    state.pending = tail
    found = linkify_inline(state, True)  # only looks (and moves past the link when found)
    state.pending = head + tail
    if not found or silent:
        return found
    state.pos = start
    state.pending = head
    state.pushPending()
    state.pending = tail
    return linkify_inline(state, False)


def _render_mention_link(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Render a mention's link only when the member exists; the @name text stays either way."""
    mention = tokens[idx].meta.get("mention")
    if mention is not None and mention not in env.get(_EXISTING, ()):
        return ""
    return self.renderToken(tokens, idx, options, env)


def _render_image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Render an image as a link to it (posts never embed remote images), or as its alt text
    inside a link, where a second link cannot go."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    src = str(token.attrGet("src") or "")
    text = escape(alt or src, quote=False)
    if token.meta.get("in_link"):
        return text
    title = token.attrGet("title")
    title_attr = f' title="{escape(str(title))}"' if title else ""
    return f'<a href="{escape(src)}"{title_attr}>{text}</a>'


def _build_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": True})
    md.enable(["table", "strikethrough", "linkify"])
    md.inline.ruler.at("linkify", _linkify_inline)
    md.core.ruler.after("linkify", "community_inline", _inline_rule)
    md.add_render_rule("image", _render_image)
    md.add_render_rule("link_open", _render_mention_link)
    md.add_render_rule("link_close", _render_mention_link)
    return md


MARKDOWN = _build_markdown()


# ---------------------------------------------------------------------------
# Sanitising
# ---------------------------------------------------------------------------


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "class":
        if tag == "a":
            return value if value == "mention" else None
        return value if CODE_CLASS_RE.fullmatch(value) else None
    if tag == "ol" and attribute == "start":
        return value if LIST_START_RE.fullmatch(value) else None
    return value


CLEANER = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags={"script", "style"},
    attributes=ALLOWED_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    link_rel=LINK_REL,
    url_schemes=URL_SCHEMES,
)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _parse(source: str) -> tuple[list[Token], frozenset[str]]:
    """Tokens and mention candidates of ``source``, cached because saving a post asks for its
    candidates, its quotes and its HTML in turn; kept small since a 32k-character list can
    take 15 MB of tokens. Callers must not modify the tokens."""
    # Lone surrogates cannot cross into nh3's Rust (UTF-8) side.
    source = source.encode("utf-8", "replace").decode("utf-8")
    tokens = MARKDOWN.parse(source, {})
    candidates = frozenset(
        child.meta["mention"]
        for token in tokens
        if token.type == "inline"
        for child in token.children or ()
        if child.type == "link_open" and "mention" in child.meta
    )
    return tokens, candidates


def render(source: str, mentions: Collection[str] = ()) -> str:
    """Markdown source -> sanitised HTML safe to insert into any page.

    ``mentions`` holds the lower-cased usernames that exist; only those @names become links."""
    tokens, _ = _parse(source)
    env: dict[str, Any] = {_EXISTING: frozenset(name.lower() for name in mentions)}
    return CLEANER.clean(MARKDOWN.renderer.render(tokens, MARKDOWN.options, env))


def mention_candidates(source: str) -> set[str]:
    """Lower-cased usernames written as @name outside code spans/blocks (candidates; the caller
    checks which exist)."""
    return set(_parse(source)[1])


def _quoted_links(tokens: Sequence[Token]) -> Iterator[str]:
    depth = 0
    for token in tokens:
        if token.type == "blockquote_open":
            depth += 1
        elif token.type == "blockquote_close":
            depth -= 1
        elif token.type == "inline" and depth > 0:
            for child in token.children or ():
                if child.type == "link_open":
                    yield str(child.attrGet("href") or "")


def quoted_posts(source: str) -> set[tuple[int, int]]:
    """(thread_id, post_number) of every post permalink quoted in the source, i.e. a link to
    /t/<slug>/<thread_id>/<number> inside a blockquote."""
    found: set[tuple[int, int]] = set()
    for href in _quoted_links(_parse(source)[0]):
        try:
            path = urlsplit(href).path
        except ValueError:
            continue
        match = POST_PATH_RE.fullmatch(path)
        if match:
            found.add((int(match.group(1)), int(match.group(2))))
    return found


def quote(author_username: str, url: str, source: str) -> str:
    """Markdown that quotes a post: '> **@alice** [wrote](url):\\n> line\\n> line\\n\\n' (each
    source line prefixed with '> ')."""
    lines = LINE_BREAK_RE.split(source.strip("\r\n"))
    body = "".join(f"> {line}\n" for line in lines)
    return f"> **@{author_username}** [wrote]({url}):\n{body}\n"


class _TextExtractor(HTMLParser):
    BLOCK_TAGS = frozenset(ALLOWED_TAGS - {"a", "strong", "em", "del", "s", "code"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(html: str) -> str:
    """Text content of rendered HTML, whitespace collapsed (for feed summaries and previews)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split())
