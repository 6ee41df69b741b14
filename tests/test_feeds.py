"""Feed parsing: the Moscow Times' padded RSS, RSS 1.0, Atom, real feeds of other outlets, and
bodies that are no feed at all."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from conftest import FIXTURES, MT_SITE
from worker.errors import ParseError
from worker.parse import feeds
from worker.parse.urls import canonical_url

REAL = sorted((FIXTURES / "feeds").glob("*.xml"))


def test_moscowtimes_news_feed_as_served() -> None:
    feed = feeds.parse(
        (MT_SITE / "rss" / "news.xml").read_bytes(), "https://www.themoscowtimes.com/rss/news"
    )
    assert feed.ttl_minutes == 600
    assert len(feed.entries) == 9
    first = feed.entries[0]
    assert first.title == "Samara Court Jails Singer Sharlot 5.5 Years for ‘Rehabilitating Nazism’"
    assert first.summary == "Eduard Sharlot’s lawyers said they plan to appeal the sentence."
    assert first.published == "2024-12-27T14:05:00+03:00"
    assert first.guid == first.url
    assert first.authors == () and first.categories == () and first.image is None


def test_moscowtimes_all_feed_author_email_is_not_a_byline() -> None:
    feed = feeds.parse(
        (MT_SITE / "rss" / "all.xml").read_bytes(), "https://www.themoscowtimes.com/rss/all"
    )
    opinion = next(e for e in feed.entries if e.url.endswith("-a93072"))
    assert (
        opinion.title
        == "Anna Petrova, Mikko Virtanen: Europe Should Beat Russia at Its Own Nationalization Game"
    )
    assert opinion.authors == ()
    assert opinion.categories == ("Article - Opinion",)
    assert opinion.image == "https://static.themoscowtimes.com/image/og/93072.jpg"


@pytest.mark.parametrize("offset", ["+0200", "+0100", "+0300", "-0500"])
def test_offsets_are_kept(offset: str) -> None:
    body = f"""<rss version="2.0"><channel><title>t</title><item><title>x</title>
    <link>https://example.com/a</link><pubDate>Sat, 19 Oct 2019 10:00:00 {offset}</pubDate></item>
    </channel></rss>""".encode()
    entry = feeds.parse(body, "https://example.com/feed").entries[0]
    assert entry.published == f"2019-10-19T10:00:00{offset[:3]}:{offset[3:]}"


def test_rss_1_0_and_atom() -> None:
    rdf = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
 <channel rdf:about="https://example.org/"><title>Ex</title><link>https://example.org/</link></channel>
 <item rdf:about="https://example.org/a1"><title>One</title><link>https://example.org/a1?utm_source=rss#top</link>
  <dc:date>2024-05-01T08:00:00+02:00</dc:date><dc:creator>Jane Roe</dc:creator></item>
</rdf:RDF>"""
    feed = feeds.parse(rdf, "https://example.org/rss")
    assert feed.version == "rss10"
    assert feed.entries[0].url == "https://example.org/a1"
    assert feed.entries[0].published == "2024-05-01T08:00:00+02:00"
    assert feed.entries[0].authors == ("Jane Roe",)

    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:x</id><updated>2024-01-01T00:00:00Z</updated>
<entry><title type="html">Caf&amp;eacute; &lt;b&gt;news&lt;/b&gt;</title><id>urn:e1</id>
<link rel="alternate" href="/2024/01/cafe"/><published>2024-01-02T03:04:05-05:00</published>
<updated>2024-01-03T00:00:00-05:00</updated><author><name>A. Writer</name></author>
<category term="Food"/><summary>Short.</summary></entry></feed>"""
    feed = feeds.parse(atom, "https://news.example.net/atom.xml")
    entry = feed.entries[0]
    assert feed.version.startswith("atom")
    assert entry.url == "https://news.example.net/2024/01/cafe"
    assert entry.title == "Café news"
    assert entry.published == "2024-01-02T03:04:05-05:00"
    assert entry.updated == "2024-01-03T00:00:00-05:00"
    assert entry.categories == ("Food",)


@pytest.mark.parametrize("path", REAL, ids=[p.stem for p in REAL])
def test_real_feeds_parse_into_the_right_entries(path: Path) -> None:
    expected = json.loads(path.with_suffix(".serde.json").read_text(encoding="utf-8"))
    feed = feeds.parse(path.read_bytes(), "https://feeds.example/feed")
    wanted = [e for e in expected["entries"] if e["links"]]
    assert [e.title for e in feed.entries] == [
        e["title"]["content"].strip() if e["title"] else None for e in wanted
    ]
    assert [e.url for e in feed.entries] == [canonical_url(e["links"][0]["href"]) for e in wanted]
    for entry, truth in zip(feed.entries, wanted, strict=True):
        if truth["published"]:
            assert entry.published is not None
            ours = datetime.fromisoformat(entry.published)
            theirs = datetime.fromisoformat(truth["published"].replace("Z", "+00:00"))
            assert ours == theirs


@pytest.mark.parametrize(
    "body",
    [
        b"<html><head><title>Error</title></head><body><h1>Service unavailable</h1></body></html>",
        b"",
        b"just some text",
        b'{"json": true}',
    ],
)
def test_no_feed_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError):
        feeds.parse(body, "https://example.com/feed")


def test_broken_xml_keeps_recovered_entries_and_reports_the_problem() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title>
    <item><title>Good & bad</title><link>https://example.com/a</link></item>
    <item><title>Second</title><link>https://example.com/b</link></item>
    </channel>"""
    feed = feeds.parse(body, "https://example.com/feed")
    assert [e.url for e in feed.entries] == ["https://example.com/a", "https://example.com/b"]
    assert feed.problem


def test_unsafe_links_are_skipped() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title>
    <item><title>a</title><link>file:///etc/passwd</link></item>
    <item><title>b</title><link>javascript:alert(1)</link></item>
    <item><title>c</title><link>ftp://example.com/x</link></item>
    <item><title>d</title><link>https://example.com/ok</link></item>
    </channel></rss>"""
    feed = feeds.parse(body, "https://example.com/feed")
    assert [e.url for e in feed.entries] == ["https://example.com/ok"]
    assert feed.skipped == 3


def test_entity_expansion_is_bounded() -> None:
    lol = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
]>
<rss version="2.0"><channel><title>&g;</title><item><title>&g;&g;&g;</title><link>https://e.com/a</link></item></channel></rss>"""
    big = b"x" * 100_000
    quadratic = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "' + big + b'">]>'
        b'<rss version="2.0"><channel><title>t</title><item><title>'
        + b"&big;" * 20_000
        + b"</title><link>https://e.com/a</link></item></channel></rss>"
    )
    for body in (lol, quadratic):
        started = time.monotonic()
        feed = feeds.parse(body, "https://e.com/feed")
        assert time.monotonic() - started < 10
        assert all(len(e.title or "") < 1_000_000 for e in feed.entries)


def test_oversized_feed_is_refused() -> None:
    with pytest.raises(ParseError, match="over the limit"):
        feeds.parse(b"<rss>" + b" " * (feeds.MAX_FEED_BYTES + 1), "https://e.com/feed")


@pytest.mark.parametrize("path", REAL, ids=[p.stem for p in REAL])
def test_the_entry_estimate_before_parsing_is_close(path: Path) -> None:
    # It decides whether worker processes start while a new feed is parsed.
    body = path.read_bytes()
    count = len(feeds.parse(body, "https://feeds.example/feed").entries)
    assert count <= feeds.entry_estimate(body) <= count + 2
