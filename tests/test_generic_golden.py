"""The generic profile on realistic pages of different kinds, against hand-written expectations."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import FIXTURES
from worker.extract import extract
from worker.parse.feeds import FeedEntry

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
