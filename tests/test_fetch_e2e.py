"""``news-worker fetch`` against the local site: idempotency, dedup, revisions, retries, flags."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import MT_FEEDS, MT_SITE, Cli, all_files, records, write_config
from sitesrv import Scripted, Site, SiteServer
from worker.ingest import inhand
from worker.ingest.pool import WorkerPool
from worker.net.fetcher import Fetcher

REFERENCE = "/2024/12/27/ukraine-captured-north-korean-soldier-fighting-alongside-russia-south-korea-says-a87467"
NO_IMAGE = "/2024/12/27/samara-court-jails-singer-sharlot-55-years-for-rehabilitating-nazism-a87474"


def _summary(out: str) -> dict[str, object]:
    line = json.loads(out.strip().splitlines()[-1])
    assert line["event"] == "summary"
    return line


def test_second_run_sends_only_conditional_feed_requests_and_writes_nothing(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    files = {p: (archive_dir / p).stat().st_mtime_ns for p in all_files(archive_dir)}
    assert len([p for p in files if p.endswith(".json")]) == 10
    first = len(site.requests())

    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    second = site.requests()[first:]
    assert sorted(r.path for r in second) == sorted(MT_FEEDS)
    assert all(r.status == 304 for r in second)
    assert all("if-none-match" in r.headers for r in second)
    assert {p: (archive_dir / p).stat().st_mtime_ns for p in all_files(archive_dir)} == files
    summary = _summary(out)
    assert summary["sources"][0]["feeds"] == {"changed": 0, "not_modified": 3, "failed": 0}  # type: ignore[index]
    assert summary["sources"][0]["articles"]["new"] == 0  # type: ignore[index]


def test_validators_stored_even_when_body_hash_unchanged(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    # A server that changes its ETag but not its body: no parse, new validator stored and sent.
    body = site.body_of("/rss/news")
    site.script(
        "/rss/news", Scripted(200, {"ETag": '"v2"', "Content-Type": "application/rss+xml"}, body)
    )
    assert cli("fetch", "--config", str(config))[0] == 0
    assert cli("fetch", "--config", str(config))[0] == 0
    last = site.requests("/rss/news")[-1]
    assert last.headers.get("if-none-match") == '"v2"'


def test_one_article_per_site_id_whatever_the_slug_or_feed(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    found = records(archive_dir)
    ids = [r["id"] for r in found.values()]
    assert len(ids) == len(set(ids))
    # 87469 is in /rss/news under two slugs and in /rss/all once: one file, one page request.
    assert [p for p in found if "a87469" in p] == ["moscowtimes/2024/12/27/a87469.json"]
    page_requests = [r for r in site.requests() if r.path.endswith("-a87469")]
    assert len(page_requests) == 1
    # Every article page was fetched exactly once although most are in two feeds.
    pages = [r.path for r in site.requests() if "-a" in r.path]
    assert len(pages) == len(set(pages)) == 10


def test_changed_article_becomes_revision_two_and_keeps_revision_one(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    record_path = archive_dir / "moscowtimes/2024/12/27/a87474.json"
    first = json.loads(record_path.read_text())
    page = site.files[NO_IMAGE].replace(
        b"His lawyers said they plan to appeal the sentence.",
        b"His lawyers said they had filed an appeal on Monday.",
    )
    site.put(NO_IMAGE, page)
    for listing in ("/rss/news", "/rss/all"):  # the site rewords the item wherever it lists it
        feed = site.files[listing].replace(
            b"lawyers said they plan to appeal the sentence.",
            b"lawyers said they have appealed the sentence.",
        )
        site.put(listing, feed)

    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    assert _summary(out)["sources"][0]["articles"]["updated"] == 1  # type: ignore[index]
    latest = json.loads(record_path.read_text())
    kept = json.loads((archive_dir / "moscowtimes/2024/12/27/a87474.r1.json").read_text())
    assert latest["revision"] == 2
    assert "filed an appeal on Monday" in latest["text"]
    assert kept == first
    assert (archive_dir / "moscowtimes/2024/12/27/a87474.r1.html.gz").is_file()
    # The feed change alone (same page) is no new revision.
    assert len(records(archive_dir)) == 10


def test_a_page_that_fails_twice_then_succeeds_is_archived_in_the_same_run(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    site.script(REFERENCE, Scripted(503), Scripted(502))
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    assert [r.status for r in site.requests(REFERENCE)] == [503, 502, 200]
    assert "moscowtimes/2024/12/27/a87467.json" in records(archive_dir)


def test_a_page_that_keeps_failing_stays_queued_and_the_next_run_archives_it(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    site.script(REFERENCE, *[Scripted(500) for _ in range(3)])
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 1
    summary = _summary(out)["sources"][0]  # type: ignore[index]
    assert summary["articles"]["failed"] == 1
    assert summary["still_queued"] == 1
    assert "moscowtimes/2024/12/27/a87467.json" not in records(archive_dir)
    assert "http_500" in err

    code, out, _ = cli("status", "--config", str(config), "--json")
    assert json.loads(out)[0]["queued"] == 1

    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    assert "moscowtimes/2024/12/27/a87467.json" in records(archive_dir)
    assert _summary(out)["sources"][0]["still_queued"] == 0  # type: ignore[index]


def test_gone_article_is_given_up_with_a_reason_not_retried(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    site.remove(NO_IMAGE)
    site.script(NO_IMAGE, Scripted(410))
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 1
    assert _summary(out)["sources"][0]["articles"]["gone"] == 1  # type: ignore[index]
    assert len(site.requests(NO_IMAGE)) == 1
    cli("fetch", "--config", str(config))
    assert len(site.requests(NO_IMAGE)) == 1
    code, out, _ = cli("status", "--config", str(config), "--json")
    assert json.loads(out)[0]["given_up"] == 1


def test_url_flag_fetches_one_article_directly(
    cli: Cli, config: Path, server: SiteServer, site: Site, archive_dir: Path
) -> None:
    code, out, err = cli("fetch", "--config", str(config), "--url", server.url(REFERENCE))
    assert code == 0, err
    assert list(records(archive_dir)) == ["moscowtimes/2024/12/27/a87467.json"]
    assert not [r for r in site.requests() if r.path.startswith("/rss/")]
    # Explicit URLs are refetched every time, and an unchanged page writes nothing.
    code, out, err = cli("fetch", "--config", str(config), "--url", server.url(REFERENCE))
    assert code == 0
    assert _summary(out)["sources"][0]["articles"]["unchanged"] == 1  # type: ignore[index]


def test_feed_flag_overrides_the_sources_feeds(
    cli: Cli, config: Path, server: SiteServer, site: Site, archive_dir: Path
) -> None:
    code, _, err = cli("fetch", "--config", str(config), "--feed", server.url("/rss/opinion"))
    assert code == 0, err
    assert list(records(archive_dir)) == ["moscowtimes/2026/06/22/a93072.json"]
    assert {r.path for r in site.requests() if r.path.startswith("/rss/")} == {"/rss/opinion"}


def test_archive_flag_moves_archive_and_state_together(
    cli: Cli, config: Path, tmp_path: Path
) -> None:
    other = tmp_path / "elsewhere"
    code, _, err = cli("fetch", "--config", str(config), "--archive", str(other))
    assert code == 0, err
    assert len(records(other)) == 10
    assert (other / ".state" / "state.sqlite3").is_file()
    assert not (tmp_path / "archive").exists()


def test_robots_disallowed_article_is_not_fetched(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    site.put("/robots.txt", b"User-agent: *\nDisallow: /2024/12/27/samara-\n", "text/plain")
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 1
    assert not site.requests(NO_IMAGE)
    assert "robots" in err
    assert len(records(archive_dir)) == 9


def test_profile_that_matches_nothing_is_a_counted_logged_warning(
    cli: Cli, config: Path, server: SiteServer, site: Site, archive_dir: Path
) -> None:
    odd = "/2024/12/28/redesigned-page-a99999"
    words = " ".join(f"word{i}" for i in range(60))
    site.put(
        odd,
        f"<html><head><title>Redesigned</title></head><body><main><h1>Redesigned</h1>"
        f"<p>First paragraph {words}.</p><p>Second paragraph {words}.</p></main></body></html>".encode(),
    )
    code, out, err = cli("fetch", "--config", str(config), "--url", server.url(odd))
    assert code == 0, err
    assert _summary(out)["sources"][0]["extraction_warnings"] == 1  # type: ignore[index]
    record = next(iter(records(archive_dir).values()))
    assert record["extraction"]["method"] == "generic"
    assert any(w.startswith("profile_no_match") for w in record["extraction"]["warnings"])
    assert "First paragraph word0" in record["text"]
    events = [json.loads(line) for line in err.splitlines()]
    warned = [e for e in events if e["event"] == "article_archived"]
    assert warned and warned[0]["level"] == "warning"


def test_off_a_terminal_logs_are_json_lines(cli: Cli, config: Path) -> None:
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0
    events = [json.loads(line) for line in err.splitlines()]
    assert {"feed_parsed", "article_archived", "poll_done"} <= {e["event"] for e in events}
    assert all({"ts", "level", "event"} <= set(e) for e in events)
    assert len(out.strip().splitlines()) == 1


def test_on_a_terminal_fetch_shows_progress_and_a_readable_summary(config: Path) -> None:
    import os
    import pty
    import subprocess
    import sys
    import time

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "fetch", "--config", str(config)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=30)
    os.close(leader)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode("utf-8", "replace"))
    assert process.returncode == 0, text
    assert "feeds 3/3" in text
    assert "10/10 articles" in text
    assert "moscowtimes: 10 new, 0 queued; 3 feeds\r\n" in text


@pytest.mark.parametrize(
    ("bound", "value", "least", "most"),
    [("PAGES_IN_HAND", 2, 2, 4), ("PAGE_BYTES_IN_HAND", 1, 1, 3)],  # 1 byte: one page is over
)
def test_fetching_pauses_while_too_many_pages_wait_to_be_written(
    cli: Cli,
    config: Path,
    archive_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    bound: str,
    value: int,
    least: int,
    most: int,
) -> None:
    # A slow disk must slow the downloads, not pile fetched pages up in memory.
    monkeypatch.setattr(inhand, bound, value)
    fetched = {"now": 0, "most": 0}
    real_get, real_archive = Fetcher.get, WorkerPool.archive

    async def get(self: Fetcher, url: str, **kwargs: Any) -> Any:
        response = await real_get(self, url, **kwargs)
        if "/rss/" not in url and "robots" not in url:
            fetched["now"] += 1
            fetched["most"] = max(fetched["most"], fetched["now"])
        return response

    async def archive(self: WorkerPool, job: Any) -> Any:
        await asyncio.sleep(0.05)  # the slow disk
        try:
            return await real_archive(self, job)
        finally:
            fetched["now"] -= 1

    monkeypatch.setattr(Fetcher, "get", get)
    monkeypatch.setattr(WorkerPool, "archive", archive)
    code, _, _ = cli("fetch", "--config", str(config))
    assert code == 0
    assert len(records(archive_dir)) >= 10
    # The limit, and at most the requests on the wire when it was reached (per_host_concurrency
    # is 2 here): the fetcher pauses at the limit, those requests still land.
    assert least <= fetched["most"] <= most


def test_articles_waiting_for_their_hosts_gap_hold_no_place_among_the_pages_in_hand(
    cli: Cli, tmp_path: Path, server: SiteServer, archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counted from the claim, the pages in hand were taken by the first host's articles, which
    # then waited out its gaps holding them: the second host waited for the first's whole
    # backlog (40 hosts x 15 articles took 21 s where the gaps allow 8).
    monkeypatch.setattr(inhand, "PAGES_IN_HAND", 2)
    gap = 0.15
    with SiteServer(Site(MT_SITE), max_seconds=120) as other:
        config = write_config(
            tmp_path / "c.toml",
            feeds=[server.url("/rss/all")],
            archive=archive_dir,
            http={"per_host_delay": f"{gap}s", "per_host_concurrency": 1},
            extra_sources=f"""
[[sources]]
name = "other"
profile = "moscowtimes"
feeds = {json.dumps([other.url("/rss/all")])}
""",
        )
        code, _, err = cli("fetch", "--config", str(config))
        assert code == 0, err
        pages = [
            sorted(
                r.at for r in site.requests() if "/rss/" not in r.path and "robots" not in r.path
            )
            for site in (server.site, other.site)
        ]
    assert len(records(archive_dir)) == 20
    assert [len(p) for p in pages] == [10, 10]
    # Side by side: each host's pages began before the other's ended, at their own gaps.
    assert pages[0][0] < pages[1][-1] - 5 * gap and pages[1][0] < pages[0][-1] - 5 * gap
    for times in pages:
        assert all(b - a >= gap * 0.7 for a, b in itertools.pairwise(times))
