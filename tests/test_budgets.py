"""Hostile input, second pass: every feed, sitemap and page inside a time and memory budget.

One test (or more) per attack of issue 12, each asserting its bound on the outcome: the reason an
item was given up with, a record's or the state's size, a count of entries or of requests. Inputs
are generated here; budgets are set low where a test needs one to run out."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from conftest import Cli, Spawn, records, write_config
from service_helpers import free_port, wait_for
from sitesrv import Scripted, Site, SiteServer
from worker.errors import ExtractError
from worker.extract import extract
from worker.extract.html import MAX_NESTING, nesting_depth
from worker.model import Author, Block, Extracted, Image, Link
from worker.parse import feeds, sitemaps
from worker.parse.charset import decode
from worker.store.record import FetchInfo, build, schema

REFERENCE = "/2024/12/27/ukraine-captured-north-korean-soldier-fighting-alongside-russia-south-korea-says-a87467"
HTML = {"Content-Type": "text/html; charset=utf-8"}
WORDS = " ".join(f"word{n}" for n in range(40))
PARAGRAPHS = f"<p>In Moscow on Friday, officials said: {WORDS}.</p>" * 8


def _events(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def _state_rows(archive: Path, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(archive / ".state" / "state.sqlite3")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _feed(base: str, items: list[tuple[str, str]], *, prolog: str = "", title: str = "t") -> bytes:
    body = "".join(
        f"<item><title>{t}</title><link>{base}{link}</link><description>{t}</description></item>"
        for link, t in items
    )
    return (
        f'<?xml version="1.0"?>{prolog}<rss version="2.0"><channel><title>{title}</title>'
        f"<link>{base}/</link>{body}</channel></rss>"
    ).encode()


def _page(title: str, *, head: str = "", body: str = PARAGRAPHS) -> bytes:
    return (
        f"<html><head><title>{title}</title>{head}</head><body><article><h1>{title}</h1>"
        f"{body}</article></body></html>"
    ).encode()


# --- feeds: entity declarations wherever they are ---------------------------------------------


def _laughs(references: int, link: str = "https://news.example/a1") -> bytes:
    """A DOCTYPE whose internal subset (one 1 MB entity) ends past the first 64 KB."""
    entity = "x" * 1_000_000
    refs = "&a;" * references
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{entity}">]><rss version="2.0">'
        f"<channel><title>{refs}</title><item><title>{refs}</title><link>{link}</link>"
        f"<description>{refs}</description></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize("references", [200, 6000])
def test_an_entity_subset_past_64_kb_is_never_expanded(references: int) -> None:
    feed = feeds.parse(_laughs(references), "https://news.example/rss")
    [entry] = feed.entries
    assert "xxxxx" not in (entry.title or "") + (entry.summary or "") + (feed.title or "")
    assert len(entry.title or "") <= feeds.MAX_TEXT["title"]


@pytest.mark.parametrize(
    "body",
    [
        b"<!-- " + b"p" * 100_000 + b' --><!DOCTYPE rss [<!ENTITY a "xx">]><rss/>',
        b'<rss><!ENTITY a "xx"><channel/></rss>',  # a stray declaration inside the document
        b'<rss><!doctype rss [<!entity a "xx">]><channel/></rss>',  # lower case
        b'<rss><!DOCTYPE rss [<!ENTITY a "xx"> unterminated',
        b"<!ENTITY" * 100_000,  # many unterminated ones: still one linear pass
    ],
    ids=["after-100-kb", "stray", "lower-case", "unterminated", "many"],
)
def test_declarations_are_removed_wherever_they_are(body: bytes) -> None:
    stripped = feeds.strip_declarations(body)
    assert b"ENTITY" not in stripped.upper() and b"DOCTYPE" not in stripped.upper()


def test_a_feed_expanding_entities_makes_a_small_record_and_a_small_state(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    site.put("/rss/laughs", _laughs(200, server.url(REFERENCE)), "application/rss+xml")
    archive = tmp_path / "a"
    config = write_config(tmp_path / "c.toml", feeds=[server.url("/rss/laughs")], archive=archive)
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 0, err[-2000:]
    [(path, record)] = records(archive).items()
    assert (archive / path).stat().st_size < 100_000
    assert (archive / ".state" / "state.sqlite3").stat().st_size < 1_000_000
    assert "xxxxx" not in json.dumps(record)


# --- pages: markup that would take minutes to parse -------------------------------------------


@pytest.mark.parametrize("attributes", [40_000, 1_000_000])
def test_a_page_with_too_many_attributes_on_one_element_is_refused(attributes: int) -> None:
    names = " ".join(f"a{n}" for n in range(attributes))
    body = _page("Attributes", body=f"<div {names}>x</div>" + PARAGRAPHS)
    with pytest.raises(ExtractError) as refused:
        extract(body, "https://news.example/attrs", "generic")
    assert refused.value.reason == "too_many_attributes"
    # Real pages carry long attributes (a 15 MB data- attribute, inline SVG): not refused.
    fine = _page("Long", body=f'<div data-x="{"a" * 100_000}" id=x>x</div>{PARAGRAPHS}')
    assert extract(fine, "https://news.example/long", "generic").title == "Long"


def test_self_closing_divs_nest_as_html5_parses_them() -> None:
    assert nesting_depth("<div/>" * 100_000) >= MAX_NESTING
    # Inside SVG, "/>" does close an element: 100,000 paths are one level.
    assert nesting_depth("<svg>" + '<path d="M0 0"/>' * 100_000 + "</svg>") < 5
    body = _page("Deep", body="<div/>" * 50_000 + PARAGRAPHS)
    with pytest.raises(ExtractError) as refused:
        extract(body, "https://news.example/deep", "generic")
    assert refused.value.reason == "nested_too_deep"
    body = _page("Deeper", body="<div/>" * 100_000 + PARAGRAPHS)
    with pytest.raises(ExtractError) as refused:
        extract(body, "https://news.example/deep", "moscowtimes")
    assert refused.value.reason in ("nested_too_deep", "too_many_elements")


def _paragraphs(megabytes: float, words: int = 40) -> bytes:
    """Short paragraphs (under the cap on elements), megabytes of them: trafilatura's time grows
    faster than the size (9.9 MB of 28-word paragraphs: 12 s of CPU)."""
    one = "<p>" + " ".join(f"w{n}" for n in range(words)) + "</p>"
    return _page("Paragraphs", body=one * int(megabytes * 1_000_000 / len(one)))


def test_a_page_past_its_cpu_budget_is_given_up_once_with_the_budget_named(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    archive = tmp_path / "a"
    config = write_config(
        tmp_path / "c.toml",
        feeds=[server.url("/rss/news")],
        archive=archive,
        sections={"limits": {"cpu": "1s"}},
    )
    # 12 s of CPU without a budget: far past the 1-2 s a budget of "1s" allows (whole seconds).
    site.fault(REFERENCE, Scripted(200, HTML, _paragraphs(9.9, words=28)))
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 1
    given_up = [e for e in _events(err) if e["event"] == "article_given_up"]
    assert [(e["article_id"], e["reason"]) for e in given_up] == [("a87467", "cpu_budget")]
    assert "Traceback" not in err
    [(status, error)] = _state_rows(
        archive, "SELECT status, last_error FROM articles WHERE id = 'a87467'"
    )
    assert status == "gone" and str(error).startswith("cpu_budget: over the CPU budget of 1 s")
    [(total,)] = _state_rows(archive, "SELECT count(*) FROM articles")
    assert len(records(archive)) == total - 1 > 0  # every other article of the feed
    # Given up: a second run does not pay for it again.
    assert cli("fetch", "--config", str(config))[0] == 0
    assert len(site.requests(REFERENCE)) == 1


def test_a_feed_past_its_cpu_budget_fails_with_the_budget_named(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    # feedparser's author parsing takes minutes over a 1 MB <author>.
    item = f"<item><title>t</title><link>{server.url(REFERENCE)}</link><author>{'A' * 1_000_000}</author></item>"
    site.put("/rss/author", f'<rss version="2.0"><channel>{item}</channel></rss>'.encode())
    config = write_config(
        tmp_path / "c.toml",
        feeds=[server.url("/rss/author")],
        archive=tmp_path / "a",
        sections={"limits": {"cpu": "1s"}},
    )
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 1
    [failed] = [e for e in _events(err) if e["event"] == "feed_failed"]
    assert failed["reason"] == "cpu_budget"
    assert failed["retry_in_s"] >= 600  # the feed backs off like any failing feed


def test_a_feed_past_its_memory_budget_fails_with_the_budget_named(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    items = "".join(
        f"<item><title>Item {n} {WORDS}</title><link>{server.url(f'/x-a{n}')}</link>"
        f"<description>{WORDS * 4}</description></item>"
        for n in range(5000)
    )
    body = f'<rss version="2.0"><channel>{items}</channel></rss>'.encode()
    assert len(body) < feeds.MAX_FEED_BYTES  # parsing it peaks at some 35 MB: past a 16 MB budget
    site.put("/rss/fat", body)
    config = write_config(
        tmp_path / "c.toml",
        feeds=[server.url("/rss/fat")],
        archive=tmp_path / "a",
        sections={"limits": {"memory": "16MB"}},
    )
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 1
    [failed] = [e for e in _events(err) if e["event"] == "feed_failed"]
    assert failed["reason"] == "memory_budget"


# --- charsets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "text"),
    [
        ("text/html; charset=hex", b"<p>caf\xc3\xa9</p>", "<p>café</p>"),
        ("text/html; charset=rot13", b"<p>plain</p>", "<p>plain</p>"),
        (None, b"<meta charset=rot13><p>plain</p>", "<meta charset=rot13><p>plain</p>"),
        ("text/html; charset=utf-7", b"+ADw-b+AD4-bold", "+ADw-b+AD4-bold"),  # never <b>
        ("text/html; charset=unicode_escape", b"\\u003cb\\u003e", "\\u003cb\\u003e"),
        ("text/html; charset=iso-2022-kr", b"\x1b$)C<p>x</p>", "\x1b$)C<p>x</p>"),
        ("text/html; charset=latin1", b"\x80 caf\xe9", "€ café"),  # as windows-1252
        ("text/html; charset=gb2312", "新闻".encode("gbk"), "新闻"),  # as GBK
        ("text/html; charset=koi8-r", "Новости".encode("koi8-r"), "Новости"),
        ("text/html; charset= UTF8", "Новости".encode(), "Новости"),
    ],
)
def test_only_whatwg_charset_labels_count_and_the_decoder_never_raises(
    content_type: str | None, body: bytes, text: str
) -> None:
    assert decode(body, content_type)[0] == text


def test_a_page_with_a_bogus_charset_is_archived(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    archive = tmp_path / "a"
    config = write_config(tmp_path / "c.toml", feeds=[server.url("/rss/news")], archive=archive)
    site.fault(
        REFERENCE,
        Scripted(
            200,
            {"Content-Type": "text/html; charset=hex"},
            _page("Hex", head="<meta charset=rot13>"),
        ),
    )
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 0 and "article_crashed" not in err
    [record] = [r for r in records(archive).values() if r["id"] == "a87467"]
    assert "officials said: word0" in record["text"]


# --- identity: one page, many spellings -------------------------------------------------------


def test_one_page_under_equivalent_spellings_is_one_article(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    site.put("/page/x", _page("The page"))
    site.put("/q", _page("The query page"))
    spellings = ["/page/x", "/page/./x", "/page/%78", "/page/x/", "/page/y/../x"]
    queries = ["/q?b=2&a=1&id", "/q?a=1&b=2&id=", "/q?id&b=2&a=1#top"]
    feed = _feed(server.base, [(s, f"Spelling {n}") for n, s in enumerate(spellings + queries)])
    site.put("/rss/spellings", feed)
    archive = tmp_path / "a"
    config = write_config(
        tmp_path / "c.toml", feeds=[server.url("/rss/spellings")], archive=archive
    )
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 0, err[-2000:]
    assert len(records(archive)) == 2  # the page, and the page with a query
    assert [r.target for r in site.requests("/page/x")] == ["/page/x"]
    # The URL requested is the one given, spelled as given (``?id`` is not ``?id=``).
    assert [r.target for r in site.requests("/q")] == ["/q?b=2&a=1&id"]


# --- field caps -------------------------------------------------------------------------------


def test_megabyte_titles_make_a_record_and_a_state_within_the_caps(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    huge = "T" * 1_000_000
    head = (
        f'<meta property="og:title" content="{huge}"><meta name="description" content="{huge}">'
        f'<meta name="author" content="{huge}"><meta name="keywords" content="{huge}">'
        f'<meta property="article:section" content="{huge}">'
    )
    site.put("/big/page", _page(huge, head=head))
    item = (
        f"<item><title>{huge}</title><link>{server.url('/big/page')}</link>"
        f"<description>{huge}</description><category>{huge}</category></item>"
    )
    site.put(
        "/rss/big",
        f'<rss version="2.0"><channel><title>{huge}</title>{item}</channel></rss>'.encode(),
    )
    archive = tmp_path / "a"
    config = write_config(
        tmp_path / "c.toml", feeds=[server.url("/rss/big")], archive=archive, profile="generic"
    )
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 0, err[-2000:]
    [(path, record)] = records(archive).items()
    jsonschema.validate(record, schema())  # every field within the maxLength the schema says
    assert "truncated" in record["extraction"]["warnings"]
    assert (archive / path).stat().st_size < 400_000  # a heading block keeps 100,000 characters
    assert (archive / ".state" / "state.sqlite3").stat().st_size < 1_000_000
    [(entry,)] = _state_rows(archive, "SELECT entry FROM articles")
    assert len(str(entry)) < 80_000


# --- sitemaps ---------------------------------------------------------------------------------


def _urlset(locs: list[str]) -> bytes:
    rows = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return (
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{rows}</urlset>"
    ).encode()


def test_a_sitemap_of_a_million_urls_is_read_up_to_the_protocols_50000() -> None:
    body = gzip.compress(_urlset([f"https://n.example/a{n}" for n in range(1_000_000)]))
    assert len(body) < 8_000_000
    parsed = sitemaps.parse(body, "https://news.example/sitemap.xml.gz")
    assert len(parsed.entries) == sitemaps.MAX_ENTRIES == 50_000
    assert parsed.skipped == 950_000


def test_a_legitimate_sitemap_over_the_feed_and_page_caps_is_read(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    real = [
        server.url(REFERENCE),
        server.url("/2024/12/27/x-a87474"),
        server.url("/2024/12/27/y-a87470"),
    ]
    slug = "an-older-article-of-that-year-with-the-long-slug-news-sites-give-their-articles"
    filler = [server.url(f"/2019/01/01/{slug}-{slug}-number-{n}-a{n}") for n in range(49_997)]
    body = _urlset(filler[:25_000] + real + filler[25_000:])
    assert len(body) > 10_000_000  # over http.max_body_bytes and the feeds' 8 MB
    site.put("/sitemap/big.xml", body, "application/xml")
    archive = tmp_path / "a"
    config = write_config(tmp_path / "c.toml", feeds=[server.url("/rss/news")], archive=archive)
    config.write_text(
        config.read_text().replace(
            'interval = "10m"', f'interval = "10m"\nsitemap = "{server.url("/sitemap/big.xml")}"'
        )
    )
    code, out, err = cli(
        "backfill",
        "--config",
        str(config),
        "--source",
        "moscowtimes",
        "--since",
        "2024-12-27",
        "--until",
        "2024-12-27",
    )
    summary = json.loads(out.strip().splitlines()[-1])
    assert (code, summary["sitemaps_read"], summary["articles_in_range"]) == (0, 1, 3), err[-2000:]
    assert len(records(archive)) == 3


def _deep_index(site: Site) -> None:
    """Sitemap indexes four deep, 50 children each (6.25 million files at the bottom)."""

    def answer(path: str) -> Scripted:
        depth = path.count("/") - 1
        if depth < 5:
            children = "".join(
                f"<sitemap><loc>{site.base}{path.removesuffix('.xml')}/{n}.xml</loc></sitemap>"
                for n in range(50)
            )
            body = f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}</sitemapindex>'
        else:
            body = _urlset([f"{site.base}/2019/01/01/old-a1"]).decode()
        return Scripted(200, {"Content-Type": "application/xml"}, body.encode())

    site.route("/deep/", answer)


def _deep_config(tmp_path: Path, server: SiteServer, backfill: dict[str, object]) -> Path:
    config = write_config(
        tmp_path / "c.toml",
        feeds=[server.url("/rss/news")],
        archive=tmp_path / "a",
        sections={"backfill": backfill},
    )
    config.write_text(
        config.read_text().replace(
            'interval = "10m"', f'interval = "10m"\nsitemap = "{server.url("/deep/0.xml")}"'
        )
    )
    return config


def _backfill(cli: Cli, config: Path) -> tuple[int, dict[str, object], str]:
    code, out, err = cli(
        "backfill",
        "--config",
        str(config),
        "--source",
        "moscowtimes",
        "--since",
        "2024-12-01",
        "--until",
        "2024-12-31",
    )
    return code, json.loads(out.strip().splitlines()[-1]), err


def test_sitemap_indexes_are_followed_to_a_depth_and_not_walked_again(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    _deep_index(site)
    config = _deep_config(tmp_path, server, {"max_depth": 1})
    code, summary, err = _backfill(cli, config)
    assert code == 0, err[-2000:]
    assert len([r for r in site.requests() if r.path.startswith("/deep/")]) == 1 + 50
    assert summary["sitemaps_too_deep"] == 50 * 50
    # The walked indexes are recorded: a resumed backfill reads none of them again.
    before = len(site.requests())
    code, summary, _ = _backfill(cli, config)
    assert code == 0 and summary["sitemaps_read"] == 0 and summary["sitemaps_already_done"] == 1
    assert not [r for r in site.requests()[before:] if r.path.startswith("/deep/")]


def test_one_backfill_reads_at_most_max_files_and_the_next_goes_on(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    _deep_index(site)
    config = _deep_config(tmp_path, server, {"max_depth": 3, "max_files": 30})
    code, summary, err = _backfill(cli, config)
    assert code == 1 and "backfill.max_files (30) reached" in str(summary["errors"])
    assert len([r for r in site.requests() if r.path.startswith("/deep/")]) == 30
    assert summary["sitemaps_over_limit"] > 0
    done = _state_rows(tmp_path / "a", "SELECT count(*) FROM backfill_files")[0][0]
    before = len(site.requests())
    code, summary, _ = _backfill(cli, config)
    assert len([r for r in site.requests()[before:] if r.path.startswith("/deep/")]) == 30
    assert _state_rows(tmp_path / "a", "SELECT count(*) FROM backfill_files")[0][0] > done


# --- render -----------------------------------------------------------------------------------


def test_render_reads_only_records_inside_the_archive(
    cli: Cli, config: Path, archive_dir: Path, tmp_path: Path
) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    outside = tmp_path / "x.json"
    outside.write_text(json.dumps(next(iter(records(archive_dir).values()))))
    code, out, err = cli("render", "--config", str(config), str(outside))
    assert (code, out) == (2, "") and err.strip().count("\n") == 0
    folder = archive_dir / "moscowtimes" / "2024" / "12" / "27"
    for name, text in (("u1.json", "{}"), ("u2.json", "[1]"), ("u3.json", "{not json")):
        (folder / name).write_text(text)
        code, out, err = cli("render", "--config", str(config), str(folder / name))
        assert code == 1 and out == "" and "Traceback" not in err, err
        [line] = [line for line in err.splitlines() if not line.startswith("{")]  # no log event
        assert name in line
        code, _, err = cli("render", "--config", str(config), name.removesuffix(".json"))
        assert code in (1, 2) and "Traceback" not in err


def test_render_source_chooses_among_sources_sharing_an_id(
    cli: Cli, tmp_path: Path, server: SiteServer
) -> None:
    feed = server.url("/rss/news")
    config = write_config(
        tmp_path / "c.toml",
        feeds=[feed],
        archive=tmp_path / "a",
        extra_sources=f'\n[[sources]]\nname = "mirror"\nprofile = "moscowtimes"\nfeeds = ["{feed}"]\n',
    )
    assert cli("fetch", "--config", str(config))[0] == 0
    code, _, err = cli("render", "--config", str(config), "a87467")
    assert code == 2 and "moscowtimes, mirror" in err.replace(
        "mirror, moscowtimes", "moscowtimes, mirror"
    )
    for source in ("mirror", "moscowtimes"):
        code, out, err = cli(
            "render", "--config", str(config), "a87467", "--source", source, "--format", "json"
        )
        assert code == 0, err
        assert json.loads(out)["source"] == source
    code, _, err = cli("render", "--config", str(config), "a87467", "--source", "nope")
    assert code == 2 and "nope" in err


# --- shutdown -------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_sigterm_during_a_long_extraction_stops_the_service_within_the_grace(
    tmp_path: Path, server: SiteServer, site: Site, spawn: Spawn
) -> None:
    site.fault(REFERENCE, Scripted(200, HTML, _paragraphs(9.9, words=28)))
    port = free_port()
    config = write_config(
        tmp_path / "service.toml",
        feeds=[server.url("/rss/news")],
        archive=tmp_path / "archive",
        interval="1h",
        service={"port": port, "shutdown_grace": "2s", "queue_every": "1h"},
        sections={"limits": {"cpu": "10m"}},  # the budget would let it run for minutes
    )
    service = spawn(config, "service.log", port)
    assert service.process is not None
    pid = service.process.pid
    wait_for(lambda: bool(site.requests(REFERENCE)), 60, "the long page to be fetched")
    wait_for(
        lambda: any(_cpu_seconds(child) > 1.0 for child in _children(pid)),
        60,
        "a worker process to be busy extracting it",
    )
    busy = [child for child in _children(pid) if _cpu_seconds(child) > 1.0]
    others = [child for child in _children(pid) if child not in busy]
    service.signal(signal.SIGTERM)
    assert service.wait(timeout=60) == 0
    events = [e["event"] for e in service.events()]
    assert events[-1] == "service_stopped" and "shutdown_cancelled_jobs" in events
    # The extraction was stopped, not waited for: it never finished, nothing was written.
    assert busy and not [child for child in busy if _running(child)]
    assert not list((tmp_path / "archive").rglob("a87467*"))
    wait_for(lambda: not any(_running(child) for child in others), 10, "the other children")
    [(status,)] = _state_rows(
        tmp_path / "archive", "SELECT status FROM articles WHERE id = 'a87467'"
    )
    assert status == "queued"  # not given up: it goes on at the next start


BIG = "B" * 3_000_000
_BLOCK = Block("paragraph", text="A paragraph.", markdown="A paragraph.")
OVERSIZED = {
    "title": {"title": BIG},
    "subtitle": {"subtitle": BIG},
    "description": {"description": BIG},
    "section": {"section": BIG},
    "language": {"language": BIG},
    "kind": {"kind": BIG},
    "label": {"label": BIG},
    "canonical_url": {"canonical_url": "https://news.example/" + BIG},
    "tags": {"tags": tuple(f"t{n}" for n in range(1000))},
    "tag": {"tags": (BIG,)},
    "authors": {"authors": tuple(Author(f"a{n}") for n in range(1000))},
    "author": {"authors": (Author(BIG, "https://news.example/" + BIG),)},
    "image": {"lead_image": Image("https://news.example/" + BIG, BIG, BIG)},
    "related": {
        "related": tuple(Link(BIG, "https://news.example/" + BIG, BIG) for _ in range(500))
    },
    "body": {"body": (_BLOCK,) * 10_000},
    "block": {"body": (Block("paragraph", text=BIG, markdown=BIG),)},
    "text": {"body": (Block("paragraph", text="P" * 90_000, markdown="P"),) * 20},
    "figure": {
        "body": (
            Block("image", url="https://news.example/" + BIG, caption=BIG, credit=BIG, cite=BIG),
        )
    },
    "list": {"body": (Block("list", items=tuple(BIG[:200_000] for _ in range(2000))),)},
}


@pytest.mark.parametrize("fields", OVERSIZED.values(), ids=OVERSIZED.keys())
def test_every_field_of_a_record_is_capped_as_its_schema_says(fields: dict[str, object]) -> None:
    extracted = Extracted(**{"title": "T", "body": (_BLOCK,), **fields})  # type: ignore[arg-type]
    info = FetchInfo(
        "https://news.example/a",
        "https://news.example/a",
        200,
        None,
        datetime.now(UTC),
        None,
        "0" * 64,
    )
    record = build(extracted, article_id="a1", source="s", profile="generic", fetch=info)
    jsonschema.validate(record, schema())
    assert "truncated" in record["extraction"]["warnings"]
    assert len(json.dumps(record)) < 6_000_000
