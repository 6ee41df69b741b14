"""The Moscow Times' body blocks, case by case: text outside ``<p>``, teaser links, lists, and
what never reaches the body (banners, appeals, share bars, the disclaimer)."""

from __future__ import annotations

import pytest
from selectolax.lexbor import LexborHTMLParser

from mtsite import FURNITURE, ORIGIN, Page, document
from worker.extract import extract
from worker.extract.profiles.moscowtimes.blocks import body
from worker.model import Block, Extracted, Link

BASE = f"{ORIGIN}/2024/12/26/x-a1"
DISCLAIMER = (
    "The views expressed in opinion pieces do not necessarily reflect the position of "
    "The Moscow Times."
)


def _body(*blocks: tuple[str, str]) -> tuple[list[Block], list[Link]]:
    inner = "".join(
        f'<div class="article__block article__block--{kind}">{html}</div>' for kind, html in blocks
    )
    tree = LexborHTMLParser(f'<div class="article__content">{inner}</div>')
    content = tree.css_first(".article__content")
    assert content is not None
    found, related, warnings = body(content, BASE)
    assert warnings == []
    return found, related


def _texts(html: str) -> list[str]:
    blocks, _ = _body(("html", html))
    assert {b.type for b in blocks} <= {"paragraph"}
    return [b.text for b in blocks]


@pytest.mark.parametrize(
    ("html", "paragraphs"),
    [
        ("First.<br><br>Second.", ["First.", "Second."]),
        ("First.<br>\n\t<br/>\n<br>Second.", ["First.", "Second."]),  # any run of two or more
        ("One line,<br>the next line.", ["One line,\nthe next line."]),  # one <br>: a line break
        (
            "<p>Wrapped.</p>\n\tLoose.<br><br>Looser.\n<p>Wrapped again.</p>",
            ["Wrapped.", "Loose.", "Looser.", "Wrapped again."],
        ),
        (
            "<div>A sentence in a div.</div><p>A paragraph.</p>",
            ["A sentence in a div.", "A paragraph."],
        ),
        ("<div><div>Nested.</div><p>Inside.</p></div>After.", ["Nested.", "Inside.", "After."]),
        ("<div>Two<br><br>runs.</div>", ["Two", "runs."]),
        ("Before <!-- an editor's note --> after.", ["Before after."]),
        ("<p>A.</p>\n\t\t<br>\n\t\t<p>B.</p>", ["A.", "B."]),  # a stray <br> between paragraphs
        (
            "<span>Spanned</span> text.<br><br><font>Old</font> markup.",
            ["Spanned text.", "Old markup."],
        ),
        ('<div class="lead-in">A lead, not an ad.</div>', ["A lead, not an ad."]),
        ("<div>" * 200 + "Deep." + "</div>" * 200, ["Deep."]),
    ],
)
def test_text_outside_paragraphs_is_paragraphs_in_page_order(
    html: str, paragraphs: list[str]
) -> None:
    assert _texts(html) == paragraphs


def test_loose_text_keeps_its_links_and_emphasis() -> None:
    blocks, _ = _body(("html", 'Ask <a href="/tag/duma">the Duma</a> <em>now</em>.<br><br>Then.'))
    assert [(b.text, b.markdown) for b in blocks] == [
        ("Ask the Duma now.", f"Ask [the Duma]({ORIGIN}/tag/duma) *now*."),
        ("Then.", "Then."),
    ]


@pytest.mark.parametrize(
    "box",
    [
        '<section class="banner"><div class="banner__label">Advertisement</div></section>',
        '<div class="banner banner--article">Advertisement</div>',
        '<div class="ad-slot">Advertisement</div>',
        '<ins class="adsbygoogle">Advertisement</ins>',
        '<div class="newsletter"><h3>Sign up for our free weekly newsletter</h3></div>',
        '<div class="contribute-banner"><p>Support The Moscow Times!</p></div>',
        '<div class="article__share"><a href="/x">Share</a></div>',
        "<form><button>Subscribe</button></form>",
    ],
)
def test_furniture_inside_an_html_block_stays_out(box: str) -> None:
    assert _texts(f"Loose text.<br><br>{box}<div>A div.</div>") == ["Loose text.", "A div."]


@pytest.mark.parametrize(
    ("html", "title", "href"),
    [
        (  # the description before the headline, both in the link (the unseen pages' case)
            '<a class="article__link" href="/2024/06/25/x-a85510"><div class="article__link__text">'
            "Teaser text</div><h3 class='article__link__title'>Read our earlier report</h3></a>",
            "Read our earlier report",
            "/2024/06/25/x-a85510",
        ),
        (  # the headline first, the description after it
            '<a href="/y-a2"><span class="link__headline">Headline</span><p>Description.</p></a>',
            "Headline",
            "/y-a2",
        ),
        (  # the headline holds the link, the description stands outside it
            '<h4><a href="/y-a3">Headline</a></h4><p>Description <a href="/z">elsewhere</a>.</p>',
            "Headline",
            "/y-a3",
        ),
        (  # no headline element: the link's title attribute
            '<a href="/y-a4" title="Headline"><p>Description.</p></a>',
            "Headline",
            "/y-a4",
        ),
        ('<a class="article__link" href="/y-a5">The War in Maps</a>', "The War in Maps", "/y-a5"),
    ],
)
def test_a_teaser_link_is_titled_by_its_headline_alone(html: str, title: str, href: str) -> None:
    blocks, related = _body(("link", html))
    assert blocks == []
    assert related == [Link(title, ORIGIN + href, "link")]


def test_a_teaser_link_without_a_link_is_nothing() -> None:
    assert _body(("link", "<h3 class='article__link__title'>Headline</h3>")) == ([], [])


def test_list_text_is_plain_and_its_items_keep_markdown() -> None:
    blocks, _ = _body(
        (
            "html",
            '<ul><li><a href="/tag/dw">Deutsche Welle</a>, 2022</li><li><b>Meduza</b></li></ul>',
        )
    )
    assert blocks == [
        Block(
            "list",
            text="Deutsche Welle, 2022\nMeduza",
            items=(f"[Deutsche Welle]({ORIGIN}/tag/dw), 2022", "**Meduza**"),
        )
    ]
    assert Extracted(body=tuple(blocks)).text == "Deutsche Welle, 2022\nMeduza"


def test_a_table_in_an_html_block_is_a_table() -> None:
    blocks, _ = _body(
        (
            "html",
            "<table><tr><th>Year</th><th>Rate</th></tr><tr><td>2024</td><td>21%</td></tr></table>",
        )
    )
    assert blocks == [
        Block("table", text="Year | Rate\n2024 | 21%", items=("Year | Rate", "2024 | 21%"))
    ]


def _opinion(**changes: object) -> Extracted:
    values: dict[str, object] = {
        "id": 93100,
        "date": "2026/06/30",
        "slug": "a-view",
        "title": "A View",
        "published": "2026-06-30T10:00:00+03:00",
        "modified": "2026-06-30T10:00:00+03:00",
        "description": "A view.",
        "kind": "opinion",
        "label": "Opinion",
        "authors": [("Anna Petrova", "anna-petrova")],
        "blocks": [("html", "<p>The argument.</p>"), ("html", "<p>The conclusion.</p>")],
        **changes,
    }
    page = Page(**values)  # type: ignore[arg-type]
    return extract(document(page).encode(), page.url, "moscowtimes")


@pytest.mark.parametrize(
    "changes",
    [
        {"disclaimer": True},  # the box after the body, as the fixture site has it
        {  # the box inside .article__content, after the blocks
            "blocks": [
                ("html", "<p>The argument.</p>"),
                ("html", "<p>The conclusion.</p>"),
                ("aside", f'<div class="article__disclaimer">{DISCLAIMER}</div>'),
            ]
        },
        {  # left in the body as a paragraph of its own
            "blocks": [
                ("html", "<p>The argument.</p>"),
                ("html", f"<p>The conclusion.</p><p>{DISCLAIMER}</p>"),
            ]
        },
    ],
)
def test_the_disclaimer_is_its_own_field_never_the_body(changes: dict[str, object]) -> None:
    got = _opinion(**changes)
    assert got.disclaimer == DISCLAIMER
    assert got.text == "The argument.\n\nThe conclusion."
    assert got.warnings == ()


def test_no_disclaimer_is_none() -> None:
    assert _opinion().disclaimer is None


def test_furniture_phrases_never_reach_the_body_of_a_page_with_loose_text() -> None:
    appeal = "<div class='contribute-banner'><p>Support The Moscow Times!</p></div>"
    got = _opinion(blocks=[("html", "Loose.<br><br>Text."), ("html", f"More.{appeal}")])
    assert got.text == "Loose.\n\nText.\n\nMore."
    for phrase in FURNITURE:
        assert phrase not in got.text
