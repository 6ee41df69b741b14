"""Property-based tests: arbitrary and mutated input never raises anything but our documented
errors, and every call stays bounded (hypothesis' deadline fails slow examples)."""

from __future__ import annotations

import gzip
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, MT_SITE
from worker.errors import ExtractError, ParseError
from worker.extract import extract
from worker.extract.profiles.moscowtimes import site_id as moscowtimes_id
from worker.parse import dates, feeds, sitemaps
from worker.parse.urls import canonical_url

FEED_SEEDS = [p.read_bytes() for p in sorted((FIXTURES / "feeds").glob("*.xml"))] + [
    (MT_SITE / "rss" / "news.xml").read_bytes(),
    (MT_SITE / "rss" / "all.xml").read_bytes()[:20000],
]
PAGE_SEEDS = [p.read_bytes() for p in sorted(MT_SITE.rglob("*-a*.html"))]
SITEMAP_SEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://static.themoscowtimes.com/sitemap/2024-12.xml</loc></sitemap>
<sitemap><loc>https://static.themoscowtimes.com/sitemap/2025-1.xml</loc><lastmod>2025-01-31</lastmod></sitemap>
</sitemapindex>"""
URLSET_SEED = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>https://e.com/a-a1</loc>
<news:news><news:publication_date>2024-12-27T12:38:00+03:00</news:publication_date>
<news:title>A & B</news:title></news:news></url></urlset>"""

FAST = settings(
    max_examples=60, deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with random edits: byte flips, insertions of markup, deletions, truncation."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 12))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            piece = draw(
                st.sampled_from(
                    [
                        b"<",
                        b">",
                        b"&",
                        b"]]>",
                        b"<![CDATA[",
                        b"<!ENTITY x 'y'>",
                        b"\x00",
                        b"&x;",
                        b"<item>",
                        b"</channel>",
                        b"\xff\xfe",
                        b"<div>" * 50,
                        b"<script>",
                        b"\"'",
                        b"-->",
                    ]
                )
            )
            data[at:at] = piece
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 200))]
        else:
            del data[at:]
    return bytes(data)


@FAST
@given(st.one_of(st.binary(max_size=2000), mutated(FEED_SEEDS)))
@example(b'<?encoding="\x80"?>')  # found by hypothesis: feedparser's own UnicodeDecodeError
@example(b'<?encoding="\x00"?>')  # ... and its ValueError (embedded null character)
def test_feed_parser_raises_only_parse_error(body: bytes) -> None:
    try:
        feed = feeds.parse(body, "https://news.example/rss")
    except ParseError:
        return
    for entry in feed.entries:
        assert entry.url.startswith(("http://", "https://"))


@FAST
@given(st.one_of(st.binary(max_size=2000), mutated([SITEMAP_SEED, URLSET_SEED])))
def test_sitemap_parser_raises_only_parse_error(body: bytes) -> None:
    for candidate in (body, gzip.compress(body)):
        try:
            parsed = sitemaps.parse(candidate, "https://static.example/sitemap.xml")
        except ParseError:
            continue
        assert parsed.kind in ("index", "urlset")
        assert all(e.loc.startswith(("http://", "https://")) for e in parsed.entries)


@settings(
    max_examples=40, deadline=timedelta(seconds=10), suppress_health_check=[HealthCheck.too_slow]
)
@given(mutated(PAGE_SEEDS), st.sampled_from(["moscowtimes", "generic"]))
def test_extractor_raises_only_extract_error(body: bytes, profile: str) -> None:
    try:
        result = extract(body, "https://www.themoscowtimes.com/2024/12/27/x-a87467", profile)
    except ExtractError:
        return
    assert result.title or result.body
    assert isinstance(result.text, str)


@FAST
@given(st.text(max_size=300), st.one_of(st.none(), st.just("https://news.example/a/b")))
def test_canonical_url_never_raises(href: str, base: str | None) -> None:
    url = canonical_url(href, base)
    assert url is None or url.startswith(("http://", "https://"))
    if url is not None:
        moscowtimes_id(url)


@FAST
@given(st.text(max_size=80))
def test_dates_never_raise(value: str) -> None:
    normalized = dates.normalize(value)
    assert normalized is None or dates.parse_date(normalized) is not None


def test_seeds_are_real_files() -> None:
    assert len(FEED_SEEDS) >= 8 and len(PAGE_SEEDS) >= 5
    assert all(isinstance(p, bytes) and p for p in FEED_SEEDS + PAGE_SEEDS)
    assert Path(MT_SITE).is_dir()
