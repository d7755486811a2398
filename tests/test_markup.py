"""The post renderer: Markdown features, mentions, quotes, and that nothing unsafe gets out."""

from __future__ import annotations

import random
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from community.forum.markup import mention_candidates, plain_text, quote, quoted_posts, render

SAFE_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
    "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
SAFE_ATTRIBUTES = {"a": {"href", "title", "class", "rel"}, "code": {"class"}, "ol": {"start"}}
SAFE_SCHEMES = {"", "http", "https", "mailto"}


class Elements(HTMLParser):
    """Every start tag of an HTML fragment with its attributes, entities decoded."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    def links(self) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.elements if tag == "a"]


def assert_safe(html: str) -> None:
    lowered = html.lower()
    for opening in ("<script", "<iframe", "<svg", "<style", "<img", "<object", "<math"):
        assert opening not in lowered, html
    for tag, attrs in Elements(html).elements:
        assert tag in SAFE_TAGS, html
        for name, value in attrs.items():
            assert not re.fullmatch(r"on[a-z]+", name), html
            assert name in SAFE_ATTRIBUTES.get(tag, set()), html
            if name == "href":
                # Browsers drop control characters and spaces before deciding on the scheme.
                squashed = re.sub(r"[\x00-\x20]", "", value).lower()
                assert not squashed.startswith(("javascript:", "data:", "vbscript:")), html
                assert urlsplit(squashed).scheme in SAFE_SCHEMES, html
            if name == "class" and tag == "a":
                assert value == "mention", html
            if name == "class" and tag == "code":
                assert re.fullmatch(r"language-[A-Za-z0-9_+-]+", value), html
        if tag == "a":
            assert attrs.get("rel") == "nofollow ugc noopener", html


# ---------------------------------------------------------------------------
# Markdown features
# ---------------------------------------------------------------------------


def test_commonmark_basics() -> None:
    html = render(
        "# Title\n\nSome *em* and **strong** and `code`.\n\n"
        "- one\n- two\n\n3. three\n4. four\n\n> quoted\n\n---\n\nline  \nbreak"
    )
    assert "<h1>Title</h1>" in html
    assert "<em>em</em>" in html
    assert "<strong>strong</strong>" in html
    assert "<code>code</code>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert '<ol start="3">' in html
    assert "<blockquote>\n<p>quoted</p>\n</blockquote>" in html
    assert "<hr>" in html
    assert "line<br>" in html
    assert_safe(html)


def test_tables_render_without_alignment_styles() -> None:
    html = render("| left | right |\n|:-----|------:|\n| a | b |")
    assert "<table>" in html
    assert "<th>left</th>" in html
    assert "<td>b</td>" in html
    assert "style" not in html
    assert_safe(html)


def test_strikethrough() -> None:
    assert render("~~gone~~") == "<p><s>gone</s></p>\n"


def test_bare_urls_become_links() -> None:
    html = render("See https://example.com/a?b=1. Or www.example.org, or mail me@example.com")
    assert [link["href"] for link in Elements(html).links()] == [
        "https://example.com/a?b=1",
        "http://www.example.org",
        "mailto:me@example.com",
    ]
    assert_safe(html)


def test_file_names_are_not_linkified() -> None:
    # linkify-it reads "setup.py" as a domain in Paraguay; only scheme and www. links count.
    assert render("Edit setup.py and main.rs") == "<p>Edit setup.py and main.rs</p>\n"


def test_fenced_code_has_language_class() -> None:
    html = render("```python\nprint('<hi>')\n```\n\n```c++\nx\n```")
    assert "<pre><code class=\"language-python\">print('&lt;hi&gt;')\n</code></pre>" in html
    assert '<code class="language-c++">' in html


def test_fence_info_string_cannot_inject_attributes() -> None:
    html = render('```"><script>alert(1)</script>\nx\n```')
    assert "<pre><code>x\n</code></pre>" in html
    assert_safe(html)


def test_raw_html_is_shown_as_text() -> None:
    html = render("<b>bold</b> <div>block</div>")
    assert html == "<p>&lt;b&gt;bold&lt;/b&gt; &lt;div&gt;block&lt;/div&gt;</p>\n"


def test_images_become_plain_links() -> None:
    html = render('![a *cat*](https://example.com/cat.png "Cat")')
    assert "<img" not in html
    assert Elements(html).elements == [
        ("p", {}),
        (
            "a",
            {
                "href": "https://example.com/cat.png",
                "title": "Cat",
                "rel": "nofollow ugc noopener",
            },
        ),
    ]
    assert plain_text(html) == "a cat"


def test_image_without_alt_shows_its_address() -> None:
    assert plain_text(render("![](https://example.com/cat.png)")) == "https://example.com/cat.png"


def test_image_inside_link_does_not_nest_links() -> None:
    html = render("[![badge](https://ci.example/badge.svg)](https://ci.example)")
    assert [link["href"] for link in Elements(html).links()] == ["https://ci.example"]
    assert plain_text(html) == "badge"


def test_every_link_gets_rel() -> None:
    html = render(
        "[a](/t/x/1/2) <https://example.com> [b][r] @alice\n\n[r]: mailto:x@example.com", {"alice"}
    )
    links = Elements(html).links()
    assert len(links) == 4
    assert all(link["rel"] == "nofollow ugc noopener" for link in links)


def test_disallowed_schemes_lose_their_href() -> None:
    html = render("[ftp](ftp://example.com/f) ![png](data:image/png;base64,AAAA)")
    assert [link.get("href") for link in Elements(html).links()] == [None, None]
    assert plain_text(html) == "ftp png"


def test_relative_links_are_kept() -> None:
    assert Elements(render("[up](../t/x/1/2)")).links()[0]["href"] == "../t/x/1/2"


def test_plain_text_collapses_whitespace_and_decodes_entities() -> None:
    html = render("# Hi & bye\n\nOne *two*\nthree\n\n- a\n- b\n\n```\nx  <y>\n```")
    assert plain_text(html) == "Hi & bye One two three a b x <y>"


# ---------------------------------------------------------------------------
# Mentions
# ---------------------------------------------------------------------------


def test_mention_of_existing_member_links_to_profile() -> None:
    assert render("hi @alice!", {"alice"}) == (
        '<p>hi <a class="mention" href="/u/alice" rel="nofollow ugc noopener">@alice</a>!</p>\n'
    )


def test_mention_of_unknown_name_stays_text() -> None:
    assert render("hi @bob", {"alice"}) == "<p>hi @bob</p>\n"


def test_mentions_are_case_insensitive() -> None:
    links = Elements(render("@Alice and @ALICE", {"alice"})).links()
    assert [link["href"] for link in links] == ["/u/alice", "/u/alice"]
    assert plain_text(render("@Alice", {"alice"})) == "@Alice"


def test_existing_names_may_be_given_in_any_case() -> None:
    assert Elements(render("@alice", ["Alice"])).links()[0]["href"] == "/u/alice"


def test_mentions_in_code_are_text() -> None:
    html = render("`@alice`\n\n```\n@alice\n```\n\n    @alice", {"alice"})
    assert Elements(html).links() == []


def test_mentions_inside_links_are_text() -> None:
    html = render("[ask @alice](https://example.com) https://example.com/@alice", {"alice"})
    assert [link["href"] for link in Elements(html).links()] == [
        "https://example.com",
        "https://example.com/@alice",
    ]


@pytest.mark.parametrize(
    "source",
    [
        "alice@example.com",
        "mail bob@alice.org",
        "x_@alice",
        r"\@alice",
        "@al",
        "@" + "a" * 33,
        "@alice@example.social",
    ],
)
def test_not_a_mention(source: str) -> None:
    existing = {"alice", "a" * 32}
    assert 'class="mention"' not in render(source, existing)
    assert mention_candidates(source) == set()


def test_mention_after_punctuation_and_markup() -> None:
    html = render("(@alice) **@bob**, @carol-x_1.", {"alice", "bob", "carol-x_1"})
    assert [link["href"] for link in Elements(html).links()] == [
        "/u/alice",
        "/u/bob",
        "/u/carol-x_1",
    ]


def test_mention_candidates() -> None:
    source = (
        "Hey @Alice, @bob and @bob again; `@carol` [@dave](https://x.example) "
        "erin@example.com\n\n```\n@frank\n```\n\n> @Grace_1 said"
    )
    assert mention_candidates(source) == {"alice", "bob", "grace_1"}


def test_render_does_not_remember_earlier_mentions() -> None:
    source = "thanks @alice"
    assert 'class="mention"' in render(source, {"alice"})
    assert 'class="mention"' not in render(source)


# ---------------------------------------------------------------------------
# Quotes
# ---------------------------------------------------------------------------


def test_quote_format() -> None:
    assert quote("alice", "/t/hello-world/12/3", "first\r\nsecond\n\nthird\n") == (
        "> **@alice** [wrote](/t/hello-world/12/3):\n> first\n> second\n> \n> third\n\n"
    )


def test_quote_round_trip() -> None:
    source = quote("alice", "/t/hello-world/12/3", "I think `@x` is\n\n- right") + "Agreed."
    assert quoted_posts(source) == {(12, 3)}
    html = render(source, {"alice"})
    assert html.startswith('<blockquote>\n<p><strong><a class="mention" href="/u/alice"')
    assert '<a href="/t/hello-world/12/3" rel="nofollow ugc noopener">wrote</a>' in html
    assert "<li>right</li>" in html
    assert html.endswith("</blockquote>\n<p>Agreed.</p>\n")


def test_quoted_posts_only_counts_permalinks_inside_quotes() -> None:
    source = (
        "[outside](/t/a/1/1)\n\n"
        "> [abs](https://forum.example/t/a/2/5#top) [rel](/t/b-c/3/7/)\n"
        "> [profile](/u/alice) [thread](/t/a/4) [junk](/t/a/x/1)\n"
        ">\n> > [nested](/t/a/6/1)\n\n"
        "```\n> [code](/t/a/9/9)\n```"
    )
    assert quoted_posts(source) == {(2, 5), (3, 7), (6, 1)}


def test_quoted_posts_ignores_enormous_numbers() -> None:
    assert quoted_posts("> [x](/t/a/" + "9" * 5000 + "/1)") == set()


# ---------------------------------------------------------------------------
# Safety
# ---------------------------------------------------------------------------

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="javascript:alert(1)"></iframe>',
    "<style>body{display:none}</style>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    "<body onload=alert(1)>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<object data="javascript:alert(1)"></object>',
    "<!-- <script>alert(1)</script> -->",
    "<<script>alert(1)//<</script>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x]( javascript:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](jav&#x09;ascript:alert(1))",
    "[x](java\nscript:alert(1))",
    "[x](\x00javascript:alert(1))",
    "[x](javascript://%0aalert(1))",
    '[x](javascript:alert(1) "title")',
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "[x](vbscript&#58;msgbox(1))",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "<vbscript:msgbox(1)>",
    "[x][r]\n\n[r]: javascript:alert(1)",
    "[x][r]\n\n[r]: data:text/html,<script>alert(1)</script>",
    "[r]\n\n[r]: <vbscript:msgbox(1)> 'title'",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](data:image/png;base64,AAAA)",
    '![x"onerror="alert(1)](https://example.com/y.png)',
    '[x](https://example.com "a\\" onmouseover=\\"alert(1)")',
    "[x](https://example.com 'a\" onclick=\"alert(1)')",
    '[x](https://example.com/"onmouseover="alert(1))',
    'https://example.com/"onmouseover="alert(1)',
    'www.example.com/"><script>alert(1)</script>',
    '```"><script>alert(1)</script>\ncode\n```',
    "```js onload=alert(1)\ncode\n```",
    '~~~ language-x" onmouseover="alert(1)\nx\n~~~',
    "[<script>alert(1)</script>](https://example.com)",
    "**<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1)",
    "<script",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    "> [x](javascript:alert(1))\n> <script>alert(1)</script>",
    "@<script>alert(1)</script> @alice<svg onload=alert(1)>",
    "`<script>alert(1)</script>`",
]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_is_neutralised(payload: str) -> None:
    assert_safe(render(payload, {"alice"}))


def test_xss_corpus_is_large_enough() -> None:
    assert len(XSS_PAYLOADS) >= 30


def test_escaped_script_is_visible_text() -> None:
    html = render("<script>alert(1)</script>")
    assert plain_text(html) == "<script>alert(1)</script>"


def test_random_markup_is_always_safe() -> None:
    rng = random.Random(20240613)
    pieces = [
        "[", "]", "(", ")", "<", ">", "!", "*", "_", "`", "~", "|", "\\", "&", "#", ";", ":",
        '"', "'", "=", "\n", " ", "-", "@alice", "javascript:", "data:", "vbscript:",
        "http://x.example", "<script>", "<img src=x onerror=alert(1)>", "&#58;", "&#x6A;",
        "```", "> ", "\x00", "on", "href", "www.", "alert(1)",
    ]  # fmt: skip
    for _ in range(300):
        source = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 60)))
        assert_safe(render(source, {"alice"}))


# ---------------------------------------------------------------------------
# Robustness
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "",
        "\x00",
        "a\x00b\x00",
        "lone \ud800 surrogate",
        ">" * 10_000,
        "> " * 10_000,
        "[" * 10_000,
        "]" * 10_000,
        "![" * 5_000,
        "[a](" * 2_500,
        "*_" * 5_000,
        "`" * 10_000,
        "<" * 10_000,
        "- " * 5_000,
        "".join("  " * i + "- x\n" for i in range(300)),
        "|" * 10_000,
        "~~" * 5_000,
        "&#" * 5_000,
        "\\" * 10_000,
        "@" * 10_000,
        "```" + "\n" * 1_000,
    ],
)
def test_pathological_input_renders(source: str) -> None:
    html = render(source, {"alice"})
    assert isinstance(html, str)
    assert_safe(html)
    mention_candidates(source)
    quoted_posts(source)
    plain_text(html)


@pytest.mark.parametrize("unit", ["<http://", ">", "@alice ", "http://x.example/ "])
def test_large_pathological_input_renders(unit: str) -> None:
    # "<http://" repeated used to take seconds (markdown-it rescanned all pending text for a
    # URL scheme at every "://"); bench/markup.py measures the time.
    source = (unit * 32_000)[:32_000]
    assert_safe(render(source, {"alice"}))


@pytest.mark.parametrize("before", [0, 10, 63, 64, 65, 200, 5_000])
def test_a_link_after_long_text_stays_in_its_place(before: int) -> None:
    # Only the last 64 characters before "://" are searched for a scheme; the text before
    # them must still come before the link (it once moved after it).
    prose = (("word " * 2_000)[:before] + " @alice said: ").lstrip()
    html = render(f"{prose}see https://docs.example.com/notes then more", {"alice"})
    expected = f"{prose}see https://docs.example.com/notes then more"
    assert plain_text(html).split() == expected.split()
    assert html.index("said:") < html.index('href="https://docs.example.com/notes"')
    assert 'href="/u/alice"' in html
