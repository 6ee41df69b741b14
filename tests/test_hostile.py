"""Hostile and odd input: charsets, entity tricks, absurd nesting and sizes, absurd URLs and
headers. Each is bounded in time and memory and ends in a record or a clear error."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from conftest import Cli, records, write_config
from sitesrv import Scripted, Site, SiteServer
from worker.config import LimitSettings
from worker.errors import ExtractError
from worker.extract import extract
from worker.ingest.pool import WorkerPool
from worker.parse import feeds

CYRILLIC_TITLE = "Новости дня: снегопад в Москве"
BODY_TEXT = "В четверг в Москве выпало рекордное количество снега, сообщили синоптики. " * 4


def _rss(title: str, encoding: str) -> bytes:
    text = f"""<?xml version="1.0" encoding="{encoding}"?>
<rss version="2.0"><channel><title>{title}</title><link>https://news.example/</link>
<item><title>{title}</title><link>https://news.example/a1</link><description>{title}</description></item>
</channel></rss>"""
    return text.encode(encoding)


@pytest.mark.parametrize(
    ("encoding", "title"),
    [("windows-1251", CYRILLIC_TITLE), ("iso-8859-1", "Café crème à la française, naïve")],
)
def test_feed_charset_declared_only_in_the_xml_prolog(encoding: str, title: str) -> None:
    for content_type in (None, "application/rss+xml", "text/xml"):
        feed = feeds.parse(_rss(title, encoding), "https://news.example/rss", content_type)
        assert feed.entries[0].title == title


def _page(charset_meta: str | None) -> str:
    meta = (
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset_meta}">'
        if charset_meta
        else ""
    )
    return (
        f"<html><head>{meta}<title>{CYRILLIC_TITLE}</title></head><body><article>"
        f"<h1>{CYRILLIC_TITLE}</h1><p>{BODY_TEXT}</p><p>{BODY_TEXT}</p></article></body></html>"
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (_page("windows-1251").encode("windows-1251"), "text/html"),  # only in <meta>
        (_page("windows-1251").encode("windows-1251"), "text/html; charset=utf-8"),  # wrong header
        (_page(None).encode("utf-8"), "text/html; charset=iso-8859-1"),  # mislabelled UTF-8
        (_page(None).encode("windows-1251"), None),  # nothing declared: detection
    ],
)
def test_page_charsets(body: bytes, content_type: str | None) -> None:
    result = extract(body, "https://news.example/a1", "generic", content_type=content_type)
    assert result.title == CYRILLIC_TITLE
    assert "рекордное количество снега" in result.text


def test_external_entities_are_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    body = f"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>
<rss version="2.0"><channel><title>t &xxe;</title>
<item><title>a &xxe;</title><link>https://news.example/a1</link></item></channel></rss>""".encode()
    feed = feeds.parse(body, "https://news.example/rss")
    assert "TOP-SECRET-MARKER" not in repr(feed)


@pytest.mark.parametrize("profile", ["moscowtimes", "generic"])
def test_html_nested_100000_levels(profile: str) -> None:
    body = ("<div>" * 100_000 + "<p>deep text</p>" + "</div>" * 100_000).encode()
    with pytest.raises(ExtractError) as refused:
        extract(body, "https://news.example/deep", profile)
    assert refused.value.reason == "too_many_elements"  # counted before any tree is built
    body = ("<div>" * 60_000 + "<p>deep text</p>" + "</div>" * 60_000).encode()
    with pytest.raises(ExtractError, match="nested") as refused:
        extract(body, "https://news.example/deep", profile)
    assert refused.value.reason == "nested_too_deep"
    # Ordinary deep-ish markup (a few hundred levels) is still extracted.
    words = " ".join(f"word{i}" for i in range(80))
    fine = (
        "<html><head><title>T</title></head><body>"
        + "<div>" * 200
        + f"<h1>Title</h1><p>{words}</p><p>{words}</p>"
        + "</div>" * 200
        + "</body></html>"
    ).encode()
    assert "word79" in extract(fine, "https://news.example/ok", profile).text


def test_huge_attribute_page_is_bounded() -> None:
    body = (
        b'<html><head><title>Big</title></head><body><div data-x="'
        + b"a" * 15_000_000
        + (
            b'"></div><article><h1>Big</h1><p>'
            + BODY_TEXT.encode()
            + b"</p></article></body></html>"
        )
    )
    # In a worker process inside the default budgets, as a fetched page is: a bound on time and
    # memory that a load on the machine does not move (CPU time, not wall time).
    pool = WorkerPool(1, LimitSettings())
    try:
        result = asyncio.run(pool.run(extract, body, "https://news.example/big", "generic"))
    finally:
        pool.close()
    assert result.title == "Big"  # read, not refused and not past its budget
    with pytest.raises(ExtractError, match="over the limit"):
        extract(b"<html>" + b"a" * 50_000_000, "https://news.example/huge", "generic")


def test_absurd_urls_in_a_feed_are_skipped() -> None:
    long_link = "https://news.example/" + "a" * 100_000
    body = f"""<rss version="2.0"><channel><title>t</title>
<item><title>long</title><link>{long_link}</link></item>
<item><title>ok</title><link>https://news.example/ok</link></item></channel></rss>""".encode()
    feed = feeds.parse(body, "https://news.example/rss")
    assert [e.url for e in feed.entries] == ["https://news.example/ok"]


def test_absurd_response_header_is_a_clear_error_and_the_run_goes_on(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    page = "/2024/12/27/samara-court-jails-singer-sharlot-55-years-for-rehabilitating-nazism-a87474"
    site.fault(
        page,
        Scripted(200, {"Content-Type": "text/html", "X-Junk": "j" * 200_000}, b"<html></html>"),
    )
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 1 and "Traceback" not in err
    events = [json.loads(line) for line in err.splitlines()]
    failed = [e for e in events if e["event"] == "article_failed"]
    assert failed and failed[0]["reason"] == "bad_response"
    assert len(records(archive_dir)) == 9


def test_hostile_feed_served_end_to_end(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "'
        + b"x" * 1000
        + b'">'
        + b"".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8)
        )
        + b']><rss version="2.0"><channel><title>&i;</title><item><title>&i;&i;</title>'
        + (
            b"<link>https://www.themoscowtimes.com/2024/12/27/x-a87474</link></item></channel></rss>"
        )
    )
    site.put("/rss/laughs", laughs, "application/rss+xml")
    archive = tmp_path / "a"
    config = write_config(tmp_path / "c.toml", feeds=[server.url("/rss/laughs")], archive=archive)
    code, out, err = cli("fetch", "--config", str(config))
    # Parsed in a worker process inside its budgets: bounded by what it leaves behind.
    assert "Traceback" not in err
    assert code in (0, 1)
    assert (archive / ".state" / "state.sqlite3").stat().st_size < 1_000_000
    assert not [p for p in archive.rglob("*.json") if p.stat().st_size > 100_000]
