"""The Moscow Times' layouts, oldest first (see :mod:`worker.extract.layouts` for the choice).

- ``2024``: the markup of the site map (the site's template code of June 2024, real pages of
  December 2024 and June 2026): ``.article__byline`` with ``.byline__author__name`` links and one
  ``time[datetime]`` (the UPDATE time when the byline says "Updated:"), the lead image in
  ``figure.article__featured-image`` with caption and credit spans side by side.
- ``2026-11``: INVENTED. No redesign of the real site is known; this one was made up to exercise
  dated layouts (tests/fixtures/moscowtimes: the 2026-11 pages say so too). From 2 November
  2026, the byline becomes ``.article__meta`` (authors as ``a.article__author`` in
  ``.article__authors``, publication and update in their own ``time`` elements) and the lead
  image a ``<picture>`` in ``figure.article__hero`` whose caption holds its credit. On the real
  site it finds none of its markers, so pages in the 2024 markup stay with the 2024 layout
  whatever their date. Replace it when the site really changes.

Both keep the header, the ``.article__block--<kind>`` body, tags and the disclaimer: that
shared structure is what a page must show for the profile to read it at all.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from selectolax.lexbor import LexborNode

from worker.extract.html import text_of
from worker.extract.layouts import Layout, Page
from worker.extract.profiles import generic
from worker.extract.profiles.moscowtimes.blocks import figure_image
from worker.extract.profiles.moscowtimes.fields import Parts, byline_authors, extract
from worker.model import Author, Extracted, Image
from worker.parse.urls import canonical_url

STRUCTURE = (".article__header h1", ".article__content")


def _read(page: Page, parts: Parts) -> Extracted:
    extracted = extract(page.tree, page.meta, page.url, page.entry, parts)
    if page.tree.css_first(".article__content") is not None:
        return extracted
    return dataclasses.replace(
        extracted,
        body=generic.extract_body(page.text, page.url),
        method="generic",
        fallbacks=(*extracted.fallbacks, "body"),
        warnings=(*extracted.warnings, "no .article__content on the page"),
    )


def _authors_2024(scope: LexborNode, base: str) -> tuple[Author, ...]:
    byline = scope.css_first(".article__byline") or scope.css_first(".byline")
    return byline_authors(byline, ".byline__author__name", base)


def _dates_2024(scope: LexborNode) -> tuple[str | None, str | None]:
    byline = scope.css_first(".article__byline") or scope.css_first(".byline")
    shown = byline.css_first("time[datetime]") if byline is not None else None
    when = shown.attributes.get("datetime") if shown is not None else None
    if byline is not None and "updated" in (text_of(byline) or "").lower():
        return None, when
    return when, None


def _lead_image_2024(scope: LexborNode, base: str) -> Image | None:
    figure = scope.css_first("figure.article__featured-image")
    return figure_image(figure, base, "article__featured-image") if figure is not None else None


def _authors_2026(scope: LexborNode, base: str) -> tuple[Author, ...]:
    return byline_authors(scope.css_first(".article__authors"), ".article__author", base)


def _dates_2026(scope: LexborNode) -> tuple[str | None, str | None]:
    def when(selector: str) -> str | None:
        node = scope.css_first(selector)
        return node.attributes.get("datetime") if node is not None else None

    return when("time.article__published"), when("time.article__updated")


def _lead_image_2026(scope: LexborNode, base: str) -> Image | None:
    figure = scope.css_first("figure.article__hero")
    img = figure.css_first("img") if figure is not None else None
    src = img.attributes.get("src") if img is not None else None
    url = canonical_url(src, base) if src else None
    if figure is None or url is None:
        return None
    credit = text_of(figure.css_first(".article__hero__credits"))
    caption = text_of(figure.css_first("figcaption"))
    if caption and credit and caption.endswith(credit):  # the credit sits inside the caption
        caption = caption[: -len(credit)].strip() or None
    return Image(url, caption, credit)


PARTS_2024 = Parts(_authors_2024, _dates_2024, _lead_image_2024)
PARTS_2026 = Parts(_authors_2026, _dates_2026, _lead_image_2026)


def _read_2024(page: Page) -> Extracted:
    return _read(page, PARTS_2024)


def _read_2026(page: Page) -> Extracted:
    return _read(page, PARTS_2026)


LAYOUTS = (
    Layout(
        "2024",
        _read_2024,
        valid_until=date(2026, 11, 1),
        structure=STRUCTURE,
        markers=(".article__byline", ".byline__author__name", "figure.article__featured-image"),
    ),
    Layout(
        "2026-11",
        _read_2026,
        structure=STRUCTURE,
        markers=(".article__meta", ".article__author", "figure.article__hero"),
    ),
)
