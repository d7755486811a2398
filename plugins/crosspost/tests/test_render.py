"""What each network receives when a thread is shared: texts, limits, links and payloads."""

from __future__ import annotations

import json
from typing import Any

import pytest
import regex
from community_crosspost.render import (
    DEFAULT_TEMPLATES,
    KINDS,
    PLACEHOLDERS,
    Rendered,
    Source,
    check_template,
    render,
    with_utm,
)

from community.errors import ServiceError

URL = "https://forum.example/t/1-welcome"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man, woman, girl joined by ZWJ
PARTY = "\U0001f389"


@pytest.fixture(autouse=True)
def own_runner_only() -> None:
    """Rendering is pure: this replaces the conftest fixture that would start an app."""


def source(
    title: str = "Welcome",
    excerpt: str = "Say hello.",
    url: str = URL,
    category: str = "Announcements",
    author: str = "Ann",
) -> Source:
    return Source(title=title, excerpt=excerpt, url=url, category=category, author=author)


def error_of(call: Any, *args: Any, **kwargs: Any) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    return caught.value


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def mastodon_length(text: str, url: str) -> int:
    """Mastodon's count for a text whose only URL is ``url``: that URL counts 23."""
    assert text.count("https://") == text.count(url)
    return len(text) - text.count(url) * (len(url) - 23)


# -- templates ---------------------------------------------------------------------------------


def test_placeholders_and_defaults() -> None:
    assert PLACEHOLDERS == ("title", "excerpt", "url", "category", "author")
    assert set(DEFAULT_TEMPLATES) == {"mastodon", "bluesky", "discord", "slack"}
    for template in DEFAULT_TEMPLATES.values():
        assert check_template(template) == template


@pytest.mark.parametrize(
    "template",
    [
        "{title}",
        "{author} in {category}: {title}\n{excerpt}\n{url}",
        "{{sic}} {title} {{}}",
        "No placeholder at all",
        "x" * 1000,
    ],
)
def test_good_templates_are_returned_unchanged(template: str) -> None:
    assert check_template(template) == template


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("{nope}", "{nope}"),
        ("{Title}", "{Title}"),
        ("{}", "{}"),
        ("{0}", "{0}"),
        ("{title.upper}", "{title.upper}"),
        ("{title[0]}", "{title[0]}"),
        ("{title!r}", "{title!r}"),
        ("{title:>10}", "{title:>10}"),
        ("{url:{title}}", "{url:{title}}"),
    ],
)
def test_bad_placeholders_are_named(template: str, named: str) -> None:
    error = error_of(check_template, template)
    assert (error.code, error.status) == ("invalid_template", 400)
    assert named in error.detail


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{title", "unmatched brace"),
        ("title}", "unmatched brace"),
        ("{title} }", "unmatched brace"),
        ("x" * 1001, "longer than 1000"),
        ("{title}\x00", "NUL"),
        ("", "empty"),
        (" \n ", "empty"),
    ],
)
def test_bad_templates(template: str, says: str) -> None:
    error = error_of(check_template, template)
    assert (error.code, error.status) == ("invalid_template", 400)
    assert says in error.detail


def test_template_that_is_not_text() -> None:
    assert error_of(check_template, 42).code == "invalid_template"  # type: ignore[arg-type]


def test_render_checks_the_template() -> None:
    error = error_of(render, "mastodon", source(), template="{who}")
    assert (error.code, error.status) == ("invalid_template", 400)


def test_unknown_kind() -> None:
    error = error_of(render, "myspace", source())
    assert (error.code, error.status) == ("unknown_kind", 400)
    assert "myspace" in error.detail


def test_literal_braces_and_all_placeholders() -> None:
    rendered = render(
        "mastodon",
        source(),
        template="{{{category}}} {author}: {title}. {excerpt} {url}",
    )
    assert rendered.text == f"{{Announcements}} Ann: Welcome. Say hello. {URL}"


# -- UTM parameters ----------------------------------------------------------------------------


def test_with_utm_adds_parameters_in_order() -> None:
    utm = {"utm_source": "mastodon", "utm_medium": "social", "utm_campaign": "launch"}
    assert with_utm(URL, utm) == (
        f"{URL}?utm_source=mastodon&utm_medium=social&utm_campaign=launch"
    )


def test_with_utm_nothing_to_add() -> None:
    assert with_utm(URL, None) == URL
    assert with_utm(URL, {}) == URL
    assert with_utm(URL, {"utm_source": ""}) == URL
    assert with_utm(URL, {"ref": "x", "source": "y"}) == URL


def test_with_utm_overrides_and_keeps_other_parameters_verbatim() -> None:
    url = "https://forum.example/t/1?page=2&q=a%20b&utm_source=old&flag#post-3"
    assert with_utm(url, {"utm_source": "bluesky", "ref": "ignored"}) == (
        "https://forum.example/t/1?page=2&q=a%20b&flag&utm_source=bluesky#post-3"
    )


def test_with_utm_encodes_values() -> None:
    assert with_utm(URL, {"utm_campaign": "spring sale & more/é"}) == (
        f"{URL}?utm_campaign=spring%20sale%20%26%20more%2F%C3%A9"
    )


def test_render_tags_the_link_everywhere() -> None:
    utm = {"utm_source": "bluesky", "utm_medium": "social"}
    tagged = f"{URL}?utm_source=bluesky&utm_medium=social"
    rendered = render("bluesky", source(), utm=utm)
    assert rendered.text.endswith(tagged)
    assert rendered.payload["facets"][0]["features"][0]["uri"] == tagged
    assert rendered.payload["embed"]["external"]["uri"] == tagged
    assert render("webhook", source(), utm=utm).payload["data"]["url"] == tagged
    assert render("discord", source(), utm=utm).payload["embeds"][0]["url"] == tagged


# -- Mastodon ----------------------------------------------------------------------------------


def test_mastodon_exact() -> None:
    rendered = render("mastodon", source())
    text = f"Welcome\n\nSay hello.\n\n{URL}"
    assert rendered == Rendered("mastodon", text, {"status": text, "visibility": "public"})


def test_mastodon_counts_a_long_url_as_23() -> None:
    url = "https://forum.example/t/12345-a-rather-long-thread-slug-for-counting?page=1"
    assert len(url) > 23
    excerpt = " ".join(["word"] * 30)
    # "Title" + "\n\n" + excerpt + "\n\n" + URL (23): 32, so 65 are left for the excerpt.
    rendered = render("mastodon", source("Title", excerpt, url), char_limit=97)
    expected_excerpt = " ".join(["word"] * 13) + "…"
    assert rendered.text == f"Title\n\n{expected_excerpt}\n\n{url}"
    assert mastodon_length(rendered.text, url) == 97
    assert len(rendered.text) > 97
    one_less = render("mastodon", source("Title", excerpt, url), char_limit=96)
    assert one_less.text == f"Title\n\n{' '.join(['word'] * 12)}…\n\n{url}"


def test_mastodon_counts_a_short_url_as_23_too() -> None:
    url = "https://x.io/t/1"
    excerpt = " ".join(["word"] * 30)
    rendered = render("mastodon", source("Title", excerpt, url), char_limit=97)
    assert rendered.text == f"Title\n\n{' '.join(['word'] * 13)}…\n\n{url}"


def test_mastodon_counts_urls_in_the_excerpt_at_least_23() -> None:
    excerpt = "see https://a.io now and then more words"
    # 4 + 23 (not 12) + " now" = 31 for "see https://a.io now", then "…".
    template = "{excerpt} {url}"
    fits = render("mastodon", source(excerpt=excerpt), template=template, char_limit=56)
    assert fits.text == f"see https://a.io now… {URL}"
    too_small = render("mastodon", source(excerpt=excerpt), template=template, char_limit=55)
    assert too_small.text == f"see https://a.io… {URL}"


def test_mastodon_default_limit_with_a_5000_character_excerpt() -> None:
    excerpt = " ".join(f"word{i}" for i in range(800))
    assert len(excerpt) > 5000
    rendered = render("mastodon", source(excerpt=excerpt))
    assert rendered.payload["status"] == rendered.text
    assert mastodon_length(rendered.text, URL) <= 500
    assert mastodon_length(rendered.text, URL) > 490
    head, cut, tail = rendered.text.split("\n\n")
    assert (head, tail) == ("Welcome", URL)
    assert cut.endswith("…")
    assert excerpt.startswith(cut[:-1] + " ")  # cut after a whole word


def test_mastodon_instance_limit() -> None:
    excerpt = " ".join(f"word{i}" for i in range(800))
    rendered = render("mastodon", source(excerpt=excerpt), char_limit=5000)
    assert 4900 < mastodon_length(rendered.text, URL) <= 5000


def test_mastodon_drops_trailing_commas_before_the_ellipsis() -> None:
    excerpt = "Hello, world, again"
    # "{excerpt}\n{url}" leaves 13 for "Hello, world…" at 37, 12 at 36: "Hello…".
    template = "{excerpt}\n{url}"
    assert render("mastodon", source(excerpt=excerpt), template=template, char_limit=37).text == (
        f"Hello, world…\n{URL}"
    )
    assert render("mastodon", source(excerpt=excerpt), template=template, char_limit=36).text == (
        f"Hello…\n{URL}"
    )


def test_title_is_shortened_when_title_and_link_do_not_fit() -> None:
    title = " ".join(["abcd"] * 30)
    rendered = render("mastodon", source(title, "some excerpt"), char_limit=100)
    # The excerpt goes, its blank lines with it; 75 are left for the title.
    assert rendered.text == f"{' '.join(['abcd'] * 15)}…\n\n{URL}"
    assert mastodon_length(rendered.text, URL) == 100


def test_title_that_fits_alone_is_kept_whole() -> None:
    title = " ".join(["abcd"] * 15)  # 74
    rendered = render("mastodon", source(title, "more words here"), char_limit=100)
    assert rendered.text == f"{title}\n\n{URL}"


def test_empty_excerpt_leaves_no_blank_run() -> None:
    assert render("mastodon", source(excerpt="")).text == f"Welcome\n\n{URL}"
    rendered = render("mastodon", source(excerpt="  "), template="{title} {excerpt} {url}")
    assert rendered.text == f"Welcome {URL}"


def test_excerpt_with_newlines_and_spaces_around_is_trimmed() -> None:
    assert render("mastodon", source(title=" Welcome ", excerpt="\n Hi \n")).text == (
        f"Welcome\n\nHi\n\n{URL}"
    )


def test_template_text_that_cannot_fit_is_too_long() -> None:
    error = error_of(render, "mastodon", source(), template="x" * 600 + " {url}")
    assert (error.code, error.status) == ("too_long", 400)


@pytest.mark.parametrize("limit", [0, -5, "500", True])
def test_bad_char_limit(limit: Any) -> None:
    error = error_of(render, "mastodon", source(), char_limit=limit)
    assert (error.code, error.status) == ("invalid_char_limit", 400)


def test_char_limit_is_only_mastodons() -> None:
    text = render("bluesky", source(), char_limit=10).text
    assert text == f"Welcome\n\nSay hello.\n\n{URL}"


def test_a_url_in_the_excerpt_is_never_cut() -> None:
    long_link = "https://example.com/" + "a" * 60
    excerpt = f"read {long_link} then"
    rendered = render(
        "mastodon", source(excerpt=excerpt), template="{excerpt}\n{url}", char_limit=60
    )
    # "read " + 23 + " then" is 33 + 24 = 57 ≤ 60: the link is counted 60+, so it goes whole.
    assert rendered.text == f"read…\n{URL}"


def test_an_excerpt_that_is_one_long_url_is_dropped_rather_than_cut() -> None:
    excerpt = "https://example.com/" + "a" * 400
    rendered = render("bluesky", source(excerpt=excerpt))
    assert rendered.text == f"Welcome\n\n{URL}"


# -- Bluesky -----------------------------------------------------------------------------------


def test_bluesky_exact_payload_and_byte_offsets() -> None:
    title = f"Café {FAMILY} e\u0301t\u00e9 {PARTY}"
    url = "https://forum.example/t/2"
    rendered = render("bluesky", source(title, "Ça va?", url))
    text = f"{title}\n\nÇa va?\n\n{url}"
    # Bytes before the link: "Café " 6, family 18, " " 1, "e" + accent 3, "té" 3, " " 1,
    # party 4, "\n\n" 2, "Ça va?" 7, "\n\n" 2.
    assert rendered == Rendered(
        "bluesky",
        text,
        {
            "$type": "app.bsky.feed.post",
            "text": text,
            "facets": [
                {
                    "index": {"byteStart": 47, "byteEnd": 72},
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}],
                }
            ],
            "embed": {
                "$type": "app.bsky.embed.external",
                "external": {"uri": url, "title": title, "description": "Ça va?"},
            },
        },
    )
    assert text.encode()[47:72] == url.encode()


def test_bluesky_a_facet_for_each_link() -> None:
    rendered = render("bluesky", source(title="É"), template="{title} {url} — {url}")
    start = len("É ".encode())
    second = start + len(URL) + len(" — ".encode())
    assert [facet["index"] for facet in rendered.payload["facets"]] == [
        {"byteStart": start, "byteEnd": start + len(URL)},
        {"byteStart": second, "byteEnd": second + len(URL)},
    ]


def test_bluesky_without_a_link_in_the_template_still_has_the_card() -> None:
    rendered = render("bluesky", source(), template="{title}")
    assert rendered.text == "Welcome"
    assert rendered.payload["facets"] == []
    assert rendered.payload["embed"]["external"]["uri"] == URL


def assert_bluesky_post(rendered: Rendered, url: str = URL) -> None:
    text = rendered.payload["text"]
    assert text == rendered.text
    assert graphemes(text) <= 300
    assert len(text.encode()) <= 3000
    [facet] = rendered.payload["facets"]
    index = facet["index"]
    assert text.encode()[index["byteStart"] : index["byteEnd"]] == url.encode()
    assert text.endswith("…\n\n" + url)


def test_bluesky_5000_character_excerpt() -> None:
    excerpt = " ".join(f"mot{i}" for i in range(1200))
    assert len(excerpt) > 5000
    rendered = render("bluesky", source(excerpt=excerpt))
    assert_bluesky_post(rendered)
    assert graphemes(rendered.text) > 290
    cut = rendered.text.split("\n\n")[1]
    assert excerpt.startswith(cut[:-1] + " ")
    description = rendered.payload["embed"]["external"]["description"]
    assert len(description) <= 300
    assert description.endswith("…")
    assert excerpt.startswith(description[:-1] + " ")


def test_bluesky_excerpt_full_of_family_emoji() -> None:
    excerpt = " ".join([FAMILY] * 400)
    rendered = render("bluesky", source(excerpt=excerpt))
    assert_bluesky_post(rendered)
    cut = rendered.text.split("\n\n")[1]
    # Whole families only: nothing but families, spaces and the ellipsis.
    assert cut.replace(FAMILY, "").replace(" ", "") == "…"
    assert graphemes(rendered.text) > 280


def test_bluesky_emoji_without_spaces_are_cut_between_clusters() -> None:
    rendered = render("bluesky", source(excerpt=FAMILY * 400))
    assert_bluesky_post(rendered)
    cut = rendered.text.split("\n\n")[1]
    # 3,000 bytes is the limit here: 18 bytes a family.
    assert cut.replace(FAMILY, "") == "…"
    assert len(rendered.text.encode()) > 3000 - 18


def test_bluesky_party_emoji_without_spaces() -> None:
    rendered = render("bluesky", source(excerpt=PARTY * 1000))
    assert_bluesky_post(rendered)
    assert graphemes(rendered.text) == 300
    room = 300 - len("Welcome\n\n") - len("…\n\n") - len(URL)
    assert rendered.text.split("\n\n")[1] == PARTY * room + "…"


def test_bluesky_combining_accents_stay_on_their_letter() -> None:
    rendered = render("bluesky", source(excerpt="e\u0301" * 1000))
    assert_bluesky_post(rendered)
    cut = rendered.text.split("\n\n")[1]
    assert cut.endswith("e\u0301…")
    assert cut.replace("e\u0301", "") == "…"


def test_bluesky_text_without_spaces_in_chinese() -> None:
    excerpt = "我们欢迎新成员加入社区。" * 100
    rendered = render("bluesky", source(excerpt=excerpt))
    assert_bluesky_post(rendered)
    cut = rendered.text.split("\n\n")[1]
    assert excerpt.startswith(cut[:-1])
    assert graphemes(rendered.text) == 300


def test_bluesky_cut_before_a_link_in_the_excerpt() -> None:
    link = "https://example.com/" + "b" * 80
    excerpt = " ".join(["intro"] * 40) + f" {link} outro"
    rendered = render("bluesky", source(excerpt=excerpt))
    assert_bluesky_post(rendered)
    assert "example.com" not in rendered.text


def test_bluesky_link_longer_than_the_post_is_too_long() -> None:
    url = "https://forum.example/t/1?" + "x" * 300
    error = error_of(render, "bluesky", source(url=url))
    assert (error.code, error.status) == ("too_long", 400)


# -- Discord -----------------------------------------------------------------------------------


def test_discord_exact() -> None:
    rendered = render("discord", source())
    text = f"Welcome\n\nSay hello.\n\n<{URL}>"
    assert rendered == Rendered(
        "discord",
        text,
        {
            "content": text,
            "embeds": [{"title": "Welcome", "description": "Say hello.", "url": URL}],
            "allowed_mentions": {"parse": []},
        },
    )


def test_discord_neutralises_mass_mentions() -> None:
    rendered = render(
        "discord",
        source(title="@everyone look", excerpt="hi @here and @Here"),
        template="{title}: {excerpt} {url}",
    )
    zwsp = "\u200b"
    assert rendered.text == f"@{zwsp}everyone look: hi @{zwsp}here and @{zwsp}Here {URL}"
    assert rendered.payload["embeds"][0]["title"] == f"@{zwsp}everyone look"
    assert rendered.payload["embeds"][0]["description"] == f"hi @{zwsp}here and @{zwsp}Here"
    assert rendered.payload["allowed_mentions"] == {"parse": []}


def test_discord_embed_title_limit_counts_the_zero_width_spaces() -> None:
    title = " ".join(["@everyone"] * 40)
    embed = render("discord", source(title=title)).payload["embeds"][0]
    # 11 a word with its space and zero-width space: 23 words and "…" are 253 of 256.
    assert embed["title"] == " ".join(["@\u200beveryone"] * 23) + "…"


def test_discord_leaves_the_link_alone() -> None:
    url = "https://forum.example/u/@here/t/1"
    rendered = render("discord", source(url=url))
    assert rendered.text == f"Welcome\n\nSay hello.\n\n<{url}>"
    assert rendered.payload["embeds"][0]["url"] == url


def test_discord_limits_with_a_5000_character_excerpt() -> None:
    excerpt = " ".join(f"word{i}" for i in range(800))
    title = " ".join(["Title"] * 80)
    rendered = render("discord", source(title, excerpt), template="{title}\n\n{excerpt}\n\n{url}")
    content = rendered.payload["content"]
    assert 1990 < len(content) <= 2000
    assert content.endswith("…\n\n" + URL)
    embed = rendered.payload["embeds"][0]
    assert len(embed["title"]) <= 256
    assert embed["title"] == " ".join(["Title"] * 42) + "…"
    assert len(embed["description"]) <= 300
    assert embed["description"].endswith("…")


def test_discord_emoji_excerpt() -> None:
    rendered = render("discord", source(excerpt=f"{PARTY} " * 3000), template="{excerpt} {url}")
    assert len(rendered.text) <= 2000
    assert rendered.text.endswith(f"{PARTY}… {URL}")


# -- Slack -------------------------------------------------------------------------------------


def test_slack_exact_with_markup_in_the_title() -> None:
    rendered = render(
        "slack",
        source(title="Q&A: <b> | tips", excerpt="Body & <!channel> more"),
        utm={"utm_source": "slack", "utm_medium": "chat"},
    )
    text = (
        "*<https://forum.example/t/1-welcome?utm_source=slack&amp;utm_medium=chat"
        "|Q&amp;A: &lt;b&gt; ¦ tips>*\nBody &amp; &lt;!channel&gt; more"
    )
    assert rendered == Rendered(
        "slack",
        text,
        {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]},
    )


def test_slack_title_placeholder_is_escaped_too() -> None:
    rendered = render("slack", source(title="a|b <c>"), template="{title} & {url}")
    assert rendered.text == f"a|b &lt;c&gt; &amp; <{URL}|a¦b &lt;c&gt;>"


def test_slack_url_with_reserved_characters() -> None:
    rendered = render("slack", source(url="https://forum.example/t/1?a=<x>|y"), template="{url}")
    assert rendered.text == "<https://forum.example/t/1?a=%3Cx%3E%7Cy|Welcome>"


def test_slack_section_limit_counts_escaped_text() -> None:
    excerpt = " ".join(["a&b"] * 2000)
    rendered = render("slack", source(excerpt=excerpt))
    section = rendered.payload["blocks"][0]["text"]["text"]
    assert section == rendered.payload["text"] == rendered.text
    assert 2990 < len(section) <= 3000
    assert section.endswith("a&amp;b…")
    assert "&amp;b&amp;" not in section and "&a" not in section.replace("&amp;", "")


# -- webhook -----------------------------------------------------------------------------------


def test_webhook_event() -> None:
    excerpt = "long " * 2000
    rendered = render(
        "webhook", source(excerpt=excerpt), utm={"utm_source": "hook"}, template="{nope}"
    )
    payload = {
        "type": "thread.shared",
        "data": {
            "title": "Welcome",
            "excerpt": excerpt.strip(),
            "url": f"{URL}?utm_source=hook",
            "category": "Announcements",
            "author": "Ann",
        },
    }
    assert rendered == Rendered(
        "webhook", json.dumps(payload, indent=2, ensure_ascii=False), payload
    )
    assert json.loads(rendered.text) == payload


# -- every network -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mastodon", "bluesky", "discord", "slack"])
def test_long_inputs_respect_each_limit(kind: str) -> None:
    title = f"Q&A <{FAMILY}> | " + " ".join(["héllo"] * 100)
    excerpt = " ".join([f"{FAMILY}é{PARTY}e\u0301 <&>"] * 1000)
    rendered = render(kind, source(title, excerpt))
    text = rendered.text
    if kind == "mastodon":
        assert mastodon_length(text, URL) <= 500
    elif kind == "bluesky":
        assert graphemes(text) <= 300 and len(text.encode()) <= 3000
    elif kind == "discord":
        assert len(text) <= 2000
    else:
        assert len(text) <= 3000
    # No cluster is broken: the text splits into the same clusters as its parts.
    for cluster in regex.findall(r"\X", text):
        assert "\u200d" not in cluster or cluster == FAMILY
        assert not cluster.startswith("\u0301")


def test_every_network_names_the_tagged_link_it_carries() -> None:
    utm = {"utm_source": "net", "utm_medium": "social"}
    for kind in KINDS:
        rendered = render(kind, source(), utm=utm)
        assert rendered.link == f"{URL}?utm_source=net&utm_medium=social"
        sent = rendered.link.replace("&", "&amp;") if kind == "slack" else rendered.link
        assert sent in json.dumps(rendered.payload, ensure_ascii=False)
