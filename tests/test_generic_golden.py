"""The generic profile on realistic pages of different kinds, against hand-written expectations;
the rules behind them (container, caption credit, language) on tables of cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from selectolax.lexbor import LexborHTMLParser

from conftest import FIXTURES
from worker.extract import extract
from worker.extract.meta import page_meta
from worker.extract.profiles import container, figure, language
from worker.parse.charset import decode
from worker.parse.feeds import FeedEntry
from worker.store.record import FetchInfo, build, schema

GENERIC = FIXTURES / "generic"
CASES = sorted(p.stem for p in GENERIC.glob("*.html"))
CONTENT_TYPES = json.loads((GENERIC / "content-types.json").read_text(encoding="utf-8"))


def _entry(url: str, data: dict[str, Any] | None) -> FeedEntry | None:
    if data is None:
        return None
    return FeedEntry(
        url=url,
        guid=None,
        title=data.get("title"),
        summary=data.get("summary"),
        published=data.get("published"),
        updated=data.get("updated"),
        authors=tuple(data.get("authors", ())),
        categories=tuple(data.get("categories", ())),
        image=data.get("image"),
    )


@pytest.mark.parametrize("name", CASES)
def test_generic_page(name: str) -> None:
    expected = json.loads((GENERIC / f"{name}.json").read_text(encoding="utf-8"))
    url = expected.pop("_url")
    body = (GENERIC / f"{name}.html").read_bytes()
    result = extract(
        body,
        url,
        "generic",
        content_type=CONTENT_TYPES[name],
        entry=_entry(url, expected.pop("_entry", None)),
    )
    assert result.method == "generic"
    assert [a.name for a in result.authors] == expected.pop("authors")
    urls = expected.pop("author_urls", None)
    if urls is not None:
        assert [a.url for a in result.authors] == urls
    image = expected.pop("lead_image")
    assert (
        None
        if result.lead_image is None
        else {
            "url": result.lead_image.url,
            "caption": result.lead_image.caption,
            "credit": result.lead_image.credit,
        }
    ) == image
    paragraphs = expected.pop("paragraphs", None)
    if paragraphs is not None:
        assert [b.type for b in result.body] == ["paragraph"] * paragraphs
    headings = expected.pop("headings", None)
    if headings is not None:
        assert [b.text for b in result.body if b.type == "heading"] == headings
    assert result.text.startswith(expected.pop("text_starts"))
    assert result.text.endswith(expected.pop("text_ends"))
    assert not result.text.startswith(result.title or "\x00")
    for phrase in expected.pop("absent"):
        assert phrase not in result.text, phrase
    for key, value in expected.items():
        got = getattr(result, key)
        assert (list(got) if isinstance(got, tuple) else got) == value, key


def test_there_are_at_least_ten_kinds_of_page() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("jsonld_body_agrees", "declared"),
        # A teaser (its first sentences) and another story's body do not locate anything: the
        # page is read whole, and the golden records above show the right body all the same.
        ("jsonld_body_teaser", None),
        ("jsonld_body_other", None),
        ("furniture", "article"),
        ("jsonld_image_object", None),
    ],
)
def test_the_container_rule_each_page_meets(name: str, rule: str | None) -> None:
    url = json.loads((GENERIC / f"{name}.json").read_text(encoding="utf-8"))["_url"]
    tree = LexborHTMLParser(decode((GENERIC / f"{name}.html").read_bytes())[0])
    found = container.find(tree, page_meta(tree, url))
    assert (found[1] if found else None) == rule


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        (
            "Protesters in the square. (AP Photo/Evan Vucci)",
            ("Protesters in the square.", "AP Photo/Evan Vucci"),
        ),
        (
            "Trump speaks. (Photo by Win McNamee/Getty Images)",
            ("Trump speaks.", "Win McNamee/Getty Images"),
        ),
        (
            "The harbour at dawn. Photograph: Jane Roe/Reuters",
            ("The harbour at dawn.", "Jane Roe/Reuters"),
        ),
        ("Die Brücke über die Elbe. Foto: dpa", ("Die Brücke über die Elbe.", "dpa")),
        ("Idle cranes © Harbour Herald", ("Idle cranes", "Harbour Herald")),
        ("Image via Getty Images", (None, "Getty Images")),
        ("The terminal (left) in May.", ("The terminal (left) in May.", None)),
        ("", (None, None)),
    ],
)
def test_a_credit_at_the_end_of_a_caption(
    caption: str, expected: tuple[str | None, str | None]
) -> None:
    assert figure.split_credit(caption) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("en", "en"),
        ("EN-gb", "en-GB"),
        ("pt_BR", "pt-BR"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("de, en", "de"),
        ("English", None),
        ("{{ lang }}", None),
        ("", None),
    ],
)
def test_language_tags(value: str, expected: str | None) -> None:
    assert language.tag(value) == expected


def test_a_short_or_unclear_text_gets_no_detected_language() -> None:
    assert language.detect("OK") is None
    assert language.detect("Der Bundestag hat am Donnerstag das neue Gesetz beschlossen.") == "de"


def test_a_detected_language_is_marked_so_in_the_record() -> None:
    url = "https://diariodelvalle.example/local/biblioteca-horario"
    body = (GENERIC / "detected_language.html").read_bytes()
    fetch = FetchInfo(url, url, 200, "text/html", datetime(2025, 1, 1, tzinfo=UTC), None, "x")
    record = build(
        extract(body, url, "generic"),
        article_id="a1",
        source="valle",
        profile="generic",
        fetch=fetch,
    )
    jsonschema.validate(record, schema())
    assert (record["language"], record["language_detected"]) == ("es", True)
