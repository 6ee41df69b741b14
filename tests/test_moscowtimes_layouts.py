"""Dated layouts: the Moscow Times profile reads its 2024 markup and the INVENTED 2026-11 redesign
(tests/mtsite.py), each page by the layout its markup shows, the page's date breaking ties; a page
in neither is read generically with the counted ``profile_no_match`` warning."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from conftest import MT_SITE, Cli, records
from mtsite import ORIGIN, Page, document, head
from sitesrv import SiteServer
from worker.extract import extract, layouts
from worker.extract.layouts import Layout
from worker.extract.meta import page_meta
from worker.extract.registry import get
from worker.model import NO_MATCH, Extracted

DRIFT = "/2026/11/20/moscow-raises-public-transport-fares-for-2027-a94700"


def _page(day: str, layout: str, **changes: object) -> Page:
    values: dict[str, object] = {
        "id": 94001,
        "date": day.replace("-", "/"),
        "slug": "governors-told-to-cut-spending",
        "title": "Governors Told to Cut Spending",
        "published": f"{day}T10:00:00+03:00",
        "modified": f"{day}T12:30:00+03:00",
        "updated_shown": True,
        "description": "The Finance Ministry wants regions to balance their books.",
        "authors": [("Elena Kovaleva", "elena-kovaleva"), ("Pavel Orlov", None)],
        "image": ("2c/9a/governors.jpg", "Governors at a meeting in Moscow.", "Kremlin.ru"),
        "blocks": [("html", "<p>One paragraph.</p>"), ("html", "<p>Another paragraph.</p>")],
        "tags": ["Regions"],
        "layout": layout,
        **changes,
    }
    return Page(**values)  # type: ignore[arg-type]


def _read(page: Page, html: str | None = None) -> Extracted:
    return extract((html or document(page)).encode(), page.url, "moscowtimes")


def _assert_read_right(got: Extracted, page: Page) -> None:
    assert got.method == "moscowtimes" and got.warnings == () and got.fallbacks == ()
    assert got.title == page.title
    assert [(a.name, a.url) for a in got.authors] == [
        ("Elena Kovaleva", f"{ORIGIN}/author/elena-kovaleva"),
        ("Pavel Orlov", None),
    ]
    assert (got.published_at, got.updated_at) == (page.published, page.modified)
    assert got.lead_image is not None
    assert got.lead_image.url.endswith("/image/article_1360/2c/9a/governors.jpg")
    assert (got.lead_image.caption, got.lead_image.credit) == (
        "Governors at a meeting in Moscow.",
        "Kremlin.ru",
    )
    assert got.text == "One paragraph.\n\nAnother paragraph."


@pytest.mark.parametrize(
    ("day", "layout"),
    [("2026-06-22", "2024"), ("2026-11-01", "2024"), ("2026-11-02", "2026-11")],
)
def test_a_page_before_and_after_the_change_date_each_read_right(day: str, layout: str) -> None:
    page = _page(day, layout)
    got = _read(page)
    assert got.layout == layout
    _assert_read_right(got, page)


@pytest.mark.parametrize(
    ("day", "markup"),
    [
        ("2024-12-27", "2026-11"),  # an old article fetched after the redesign
        ("2026-12-01", "2024"),  # a page still served in the old markup after the change date
    ],
)
def test_the_markup_decides_where_the_date_would_mislead(day: str, markup: str) -> None:
    page = _page(day, markup)
    got = _read(page)
    assert got.layout == markup
    _assert_read_right(got, page)


@pytest.mark.parametrize(("day", "layout"), [("2026-11-01", "2024"), ("2026-11-02", "2026-11")])
def test_where_the_markup_does_not_tell_the_date_chooses(day: str, layout: str) -> None:
    # Header and body only: no byline, no lead image, nothing either layout has of its own.
    page = _page(day, "2024")
    html = (
        f"<!DOCTYPE html><html lang='en'>{head(page)}<body>"
        f"<article class='article article--news'><header class='article__header'>"
        f"<h1><a href='{page.url}'>{page.title}</a></h1><h2></h2></header>"
        f"<div class='article__content'><div class='article__block article__block--html'>"
        f"<p>One paragraph.</p></div></div></article></body></html>"
    )
    got = _read(page, html)
    assert (got.layout, got.method, got.warnings) == (layout, "moscowtimes", ())
    assert (got.title, got.text, got.authors) == (page.title, "One paragraph.", ())


def test_a_page_in_neither_layout_is_read_generically_with_the_drift_warning() -> None:
    body = (MT_SITE / (DRIFT.lstrip("/") + ".html")).read_bytes()
    got = extract(body, ORIGIN + DRIFT, "moscowtimes")
    assert got.method == "generic" and got.layout is None
    assert got.warnings == (f"{NO_MATCH}: moscowtimes matched none of its layouts (2024, 2026-11)",)
    assert got.title == "Moscow Raises Public Transport Fares for 2027"
    assert "a single metro ride will cost 90 rubles from January" in got.text
    assert "Sign up for our free weekly newsletter" not in got.text


def test_drift_is_counted_and_logged_as_a_warning(
    cli: Cli, config: Path, server: SiteServer, archive_dir: Path
) -> None:
    code, out, err = cli("fetch", "--config", str(config), "--url", server.url(DRIFT))
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["sources"][0]["extraction_warnings"] == 1
    record = records(archive_dir)["moscowtimes/2026/11/20/a94700.json"]
    assert record["extraction"]["method"] == "generic"
    assert record["extraction"]["layout"] is None
    assert record["extraction"]["warnings"][0].startswith(NO_MATCH)
    events = [json.loads(line) for line in err.splitlines()]
    archived = [e for e in events if e["event"] == "article_archived"]
    assert [e["level"] for e in archived] == ["warning"]


def _layout(name: str, until: date | None, markers: tuple[str, ...] = ()) -> Layout:
    return Layout(name, lambda page: Extracted(), until, (".body",), markers)


OLD = _layout("old", date(2020, 1, 31), (".old",))
MIDDLE = _layout("middle", date(2023, 6, 30), (".middle",))
NEW = _layout("new", None, (".new",))


@pytest.mark.parametrize(
    ("when", "order"),
    [
        (date(2019, 5, 1), ["old", "middle", "new"]),
        (date(2020, 1, 31), ["old", "middle", "new"]),  # valid until: that day included
        (date(2020, 2, 1), ["middle", "new", "old"]),
        (date(2023, 7, 1), ["new", "middle", "old"]),
        (None, ["new", "middle", "old"]),  # undated: the newest first
    ],
)
def test_layouts_in_order_of_likelihood_for_a_date(when: date | None, order: list[str]) -> None:
    assert [layout.name for layout in layouts.by_date((OLD, MIDDLE, NEW), when)] == order


@pytest.mark.parametrize(
    ("html", "chosen"),
    [
        ("<div class='body'><i class='old'></i></div>", "old"),  # markers beat the date
        # a tie: the order for the page's date (middle, new, old) breaks it
        ("<div class='body'><i class='old'></i><i class='new'></i></div>", "new"),
        ("<div class='body'></div>", "middle"),  # no markers: the layout of the page's date
        ("<div class='other'><i class='new'></i></div>", None),  # no structure: drift
    ],
)
def test_choose_by_markers_then_date(html: str, chosen: str | None) -> None:
    url = f"{ORIGIN}/2022/03/04/x-a1"
    tree = LexborHTMLParser(html)
    page = layouts.Page(html, tree, page_meta(tree, url), url, None)
    found = layouts.choose((OLD, MIDDLE, NEW), page)
    assert (found.name if found else None) == chosen


@pytest.mark.parametrize(
    ("head_html", "url", "expected"),
    [
        (
            '<meta property="article:published_time" content="2026-11-01T23:30:00+03:00">'
            '<meta property="article:modified_time" content="2026-11-02T00:10:00+03:00">',
            f"{ORIGIN}/2026/11/01/x-a1",
            date(2026, 11, 2),  # the latest stated date, on the site's own clock
        ),
        ("", f"{ORIGIN}/2024/12/27/x-a1", date(2024, 12, 27)),
        ("", f"{ORIGIN}/2024/13/45/x-a1", None),
        ("", f"{ORIGIN}/news/x-60848", None),
    ],
)
def test_page_date(head_html: str, url: str, expected: date | None) -> None:
    tree = LexborHTMLParser(f"<html><head>{head_html}</head><body></body></html>")
    assert layouts.page_date(page_meta(tree, url), url) == expected


@pytest.mark.parametrize(
    "bad",
    [
        (),
        (OLD,),  # the current layout has no end date
        (NEW, OLD),  # oldest first
        (MIDDLE, OLD, NEW),
        (OLD, _layout("again", date(2020, 1, 31)), NEW),  # two ending the same day
    ],
)
def test_layouts_out_of_order_are_refused(bad: tuple[Layout, ...]) -> None:
    with pytest.raises(ValueError):
        layouts.check(bad)


def test_profiles_list_their_layouts_oldest_first() -> None:
    mt = get("moscowtimes").layouts
    assert [(layout.name, layout.valid_until) for layout in mt] == [
        ("2024", date(2026, 11, 1)),
        ("2026-11", None),
    ]
    assert [layout.name for layout in get("generic").layouts] == ["generic"]
