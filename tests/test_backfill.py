"""``news-worker backfill``: a sitemap tree (index, monthly files, gzip, a nested index with a
broken news sitemap) queues exactly the URLs in range, and an interrupted backfill resumes."""

from __future__ import annotations

import gzip
import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from conftest import MT_FEEDS, Cli, records, write_config
from mtsite import Page, document
from sitesrv import Scripted, Site, SiteServer
from worker.ingest import backfill
from worker.parse import sitemaps

DEC_26_27 = {
    "a87466",
    "a87490",
    "a87467",
    "a87470",
    "a87474",
    "a87402",
    "a87480",
    "a87472",
    "a87469",
}


@pytest.fixture
def backfill_config(tmp_path: Path, server: SiteServer) -> Path:
    config = write_config(
        tmp_path / "c.toml", feeds=[server.url(f) for f in MT_FEEDS], archive=tmp_path / "archive"
    )
    text = config.read_text().replace(
        'interval = "10m"', f'interval = "10m"\nsitemap = "{server.url("/sitemap/sitemap.xml")}"'
    )
    config.write_text(text)
    return config


def _queued_or_archived(archive: Path) -> dict[str, str]:
    db = sqlite3.connect(archive / ".state" / "state.sqlite3")
    try:
        return dict(db.execute("SELECT id, status FROM articles").fetchall())
    finally:
        db.close()


def _backfill(config: Path, since: str, until: str) -> tuple[str, ...]:
    return (
        "backfill",
        "--config",
        str(config),
        "--source",
        "moscowtimes",
        "--since",
        since,
        "--until",
        until,
    )


def _summary(out: str) -> dict[str, object]:
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _january_gz(site: Site) -> str:
    page = Page(
        id=88000,
        date="2025/01/05",
        slug="first-snow-of-the-year",
        title="First Snow of the Year",
        published="2025-01-05T09:00:00+03:00",
        modified="2025-01-05T09:00:00+03:00",
        description="It snowed.",
        authors=[("AFP", "afp")],
        blocks=[("html", "<p>Moscow woke up to the first heavy snow of the year.</p>")],
    )
    site.put(page.path, document(page).encode())
    urlset = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.base}{page.path}</loc></url></urlset>"
    )
    site.put("/sitemap/2025-1.xml.gz", gzip.compress(urlset.encode()), "application/gzip")
    return page.path


def test_backfill_queues_exactly_the_urls_in_range(
    cli: Cli, backfill_config: Path, site: Site, tmp_path: Path
) -> None:
    _january_gz(site)
    code, out, err = cli(*_backfill(backfill_config, "2024-12-26", "2024-12-27"))
    assert code == 0, err
    assert set(_queued_or_archived(tmp_path / "archive")) == DEC_26_27
    assert {r["id"] for r in records(tmp_path / "archive").values()} == DEC_26_27
    requested = {r.path for r in site.requests()}
    assert "/sitemap/2024-11.xml" not in requested  # a month out of range is never read
    assert "/sitemap/2025-1.xml.gz" not in requested
    assert {"/sitemap/2024-12.xml", "/sitemap/news/news.xml"} <= requested
    assert not [p for p in requested if p.startswith("/rss/")]  # backfill reads no feed
    summary = _summary(out)
    assert summary["articles_in_range"] == 9 and summary["undated_skipped"] == 1


def test_backfill_reads_gzip_monthly_files_by_their_unpadded_name(
    cli: Cli, backfill_config: Path, site: Site, tmp_path: Path
) -> None:
    path = _january_gz(site)
    code, out, err = cli(*_backfill(backfill_config, "2025-01-01", "2025-01-31"))
    assert code == 0, err
    assert set(_queued_or_archived(tmp_path / "archive")) == {"a88000"}
    requested = {r.path for r in site.requests()}
    assert "/sitemap/2024-12.xml" not in requested and path in requested


def test_undated_urls_count_when_the_whole_file_is_in_range(
    cli: Cli, backfill_config: Path, site: Site, tmp_path: Path
) -> None:
    for missing in (
        "/2024/12/20/central-bank-holds-key-rate-a87400",
        "/2024/12/31/new-year-address-a87600",
        "/2024/12/25/moscow-metro-opens-three-stations-a87430",
        "/archive/moscow-in-the-nineties",
    ):
        site.put(
            missing,
            site.files[
                "/2024/12/27/samara-court-jails-singer-sharlot-55-years-for-rehabilitating-nazism-a87474"
            ],
        )
    code, out, err = cli(*_backfill(backfill_config, "2024-12-01", "2024-12-31"))
    assert code == 0, err
    found = set(_queued_or_archived(tmp_path / "archive"))
    assert found >= DEC_26_27 | {"a87400", "a87600", "a87430"}
    assert len(found) == len(DEC_26_27) + 4  # the undated archive page too, under a URL hash
    assert _summary(out)["undated_skipped"] == 0


def test_interrupted_backfill_resumes_where_it_stopped(
    cli: Cli, backfill_config: Path, site: Site, tmp_path: Path
) -> None:
    site.fault("/sitemap/news/news.xml", Scripted(503))
    site.fault(
        "/2024/12/27/ukraine-captured-north-korean-soldier-fighting-alongside-russia-south-korea-says-a87467",
        Scripted(500),
    )
    args = _backfill(backfill_config, "2024-12-26", "2024-12-27")
    code, out, err = cli(*args)
    assert code == 1
    assert len(records(tmp_path / "archive")) == 6  # 7 from the monthly file, one page failing
    site.clear()
    mark = len(site.requests())
    code, out, err = cli(*args)
    assert code == 0, err
    again = [r.path for r in site.requests()[mark:]]
    assert "/sitemap/2024-12.xml" not in again  # done: not read twice
    assert "/sitemap/news/news.xml" in again
    assert {r["id"] for r in records(tmp_path / "archive").values()} == DEC_26_27
    assert _summary(out)["sitemaps_already_done"] == 1


def test_backfill_needs_a_sitemap_and_valid_dates(cli: Cli, config: Path) -> None:
    code, _, err = cli(
        "backfill", "--config", str(config), "--source", "moscowtimes", "--since", "2024-12-01"
    )
    assert code == 2 and "sitemap" in err
    code, _, err = cli(
        "backfill", "--config", str(config), "--source", "moscowtimes", "--since", "yesterday"
    )
    assert code == 2


@pytest.mark.parametrize(
    ("url", "lastmod", "first", "last"),
    [
        (
            "https://static.themoscowtimes.com/sitemap/2024-12.xml",
            None,
            date(2024, 12, 1),
            date(2024, 12, 31),
        ),
        (
            "https://static.themoscowtimes.com/sitemap/2025-1.xml",
            None,
            date(2025, 1, 1),
            date(2025, 1, 31),
        ),
        ("https://news.example/sitemap-2024-02.xml", None, date(2024, 2, 1), date(2024, 2, 29)),
        (
            "https://news.example/sitemaps/2024/03/07/posts.xml",
            None,
            date(2024, 3, 7),
            date(2024, 3, 7),
        ),
        (
            "https://news.example/sitemap-posts.xml",
            "2024-05-01T10:00:00+00:00",
            None,
            date(2024, 5, 1),
        ),
        ("https://news.example/sitemap-posts.xml", None, None, None),
    ],
)
def test_file_span(url: str, lastmod: str | None, first: date | None, last: date | None) -> None:
    assert backfill.file_span(url, lastmod) == (first, last)


def test_choose_file_and_entry_day() -> None:
    wanted = backfill.DateRange(date(2024, 12, 26), date(2024, 12, 27))
    entry = sitemaps.SitemapEntry
    assert backfill.choose_file(entry("https://x/sitemap/2024-12.xml"), wanted)
    assert not backfill.choose_file(entry("https://x/sitemap/2024-11.xml"), wanted)
    assert not backfill.choose_file(entry("https://x/s.xml", lastmod="2024-12-01"), wanted)
    assert backfill.choose_file(entry("https://x/s.xml"), wanted)
    assert backfill.entry_day(entry("https://x/2024/12/27/a-a1")) == date(2024, 12, 27)
    assert backfill.entry_day(entry("https://x/a", published="2024-12-26T23:00:00+03:00")) == date(
        2024, 12, 26
    )
    assert backfill.entry_day(entry("https://x/news/slug-60848")) is None
