"""The disk and the state: a full archive disk, a corrupt or deleted state file, rebuilding it."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import MT_FEEDS, Cli, records, write_config
from service_helpers import ServiceProcess, free_port, wait_for
from sitesrv import Site, SiteServer
from worker.store.files import TMP_MARK


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 48 KiB tmpfs for the archive: it fills after a few articles (tests run as root)."""
    mount = tmp_path / "archive"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _grow(mount: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=8m", str(mount)], check=True)


def _config(tmp_path: Path, server: SiteServer, archive: Path, **service: object) -> Path:
    config = write_config(
        tmp_path / "c.toml",
        feeds=[server.url(f) for f in MT_FEEDS],
        archive=archive,
        interval="1s",
        service={"queue_every": "300ms", **service},
    )
    # State on the big disk: only the archive fills up.
    text = config.read_text().replace(
        json.dumps(str(archive / ".state" / "state.sqlite3")),
        json.dumps(str(tmp_path / "state" / "state.sqlite3")),
    )
    config.write_text(text)
    return config


def _sound(archive: Path) -> None:
    assert not [p for p in archive.rglob("*") if TMP_MARK in p.name]
    for path in archive.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))


def test_full_disk_in_fetch_keeps_articles_queued_then_recovers(
    cli: Cli, tmp_path: Path, server: SiteServer, small_disk: Path
) -> None:
    config = _config(tmp_path, server, small_disk)
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 1
    assert "disk full" in err
    summary = json.loads(out.strip().splitlines()[-1])["sources"][0]
    assert summary["still_queued"] == 10 - len(records(small_disk)) > 0
    _sound(small_disk)
    _grow(small_disk)
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    assert len(records(small_disk)) == 10
    _sound(small_disk)


def test_full_disk_makes_the_service_unready_and_it_recovers(
    tmp_path: Path, server: SiteServer, small_disk: Path
) -> None:
    port = free_port()
    config = _config(tmp_path, server, small_disk, port=port)
    service = ServiceProcess(config, tmp_path / "service.log", port).start()
    try:
        # (503 while it starts, too: the port is bound before the scheduler runs)
        wait_for(
            lambda: "archive" in json.loads(service.get("/readyz")[1])["failed"],
            30,
            "/readyz to turn unready for the archive",
        )
        status, body = service.get("/readyz")
        assert "archive" in json.loads(body)["failed"]
        assert "disk full" in json.loads(body)["failed"]["archive"]
        assert service.get("/healthz")[0] == 200
        _sound(small_disk)
        _grow(small_disk)
        wait_for(lambda: len(records(small_disk)) == 10, 30, "all ten after space returned")
        wait_for(lambda: service.get("/readyz")[0] == 200, 30, "/readyz to recover")
        assert service.stop() == 0
    finally:
        if service.process and service.process.poll() is None:
            service.kill()
    _sound(small_disk)


def test_corrupt_state_is_a_clear_error_and_rebuild_restores_it(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    state = archive_dir / ".state" / "state.sqlite3"
    for extra in (Path(f"{state}-wal"), Path(f"{state}-shm")):
        extra.unlink(missing_ok=True)
    state.write_bytes(b"\x00garbage" * 4096)
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 1
    assert "state rebuild" in err and "Traceback" not in err

    code, out, err = cli("state", "rebuild", "--config", str(config))
    assert code == 0, err
    assert "10 archived articles" in out and "moved to" in out
    _refetch_duplicates_nothing(cli, config, site, archive_dir)


def test_deleted_state_is_detected_and_rebuild_duplicates_nothing(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    shutil.rmtree(archive_dir / ".state")
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 1
    assert "missing" in err and "state rebuild" in err
    assert not (archive_dir / ".state" / "state.sqlite3").exists()

    code, out, err = cli("state", "rebuild", "--config", str(config))
    assert code == 0, err
    assert "10 archived articles" in out
    _refetch_duplicates_nothing(cli, config, site, archive_dir)


def _refetch_duplicates_nothing(cli: Cli, config: Path, site: Site, archive_dir: Path) -> None:
    before = {
        p: p.stat().st_mtime_ns for p in archive_dir.rglob("*.json") if ".state" not in p.parts
    }
    mark = len(site.requests())
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    # The feeds are read again (no validators survived), but no article page is fetched.
    assert not [r for r in site.requests()[mark:] if not r.path.startswith(("/rss/", "/robots"))]
    after = {
        p: p.stat().st_mtime_ns for p in archive_dir.rglob("*.json") if ".state" not in p.parts
    }
    assert after == before
    assert len(records(archive_dir)) == 10


def test_rebuild_learns_each_entry_from_its_own_feed_whatever_feed_answers_first(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site, archive_dir: Path
) -> None:
    """After a rebuild, the feed that first lists an article may not be the feed its record
    names (feeds are read concurrently). /rss/all words items differently from the section
    feeds, so learning its entry for an article of /rss/news would requeue the article when
    /rss/news answers next. Force that order: records from the section feeds, /rss/all first."""
    config = write_config(
        tmp_path / "c.toml",
        feeds=[server.url(f) for f in MT_FEEDS],
        archive=archive_dir,
        http={"per_host_concurrency": len(MT_FEEDS)},  # all feeds in flight: delays decide
    )
    site.delay("/rss/all", 1.0)
    assert cli("fetch", "--config", str(config))[0] == 0
    by_feed = {r["feed_url"].removeprefix(site.base) for r in records(archive_dir).values()}
    assert {"/rss/news", "/rss/opinion"} <= by_feed
    shutil.rmtree(archive_dir / ".state")
    assert cli("state", "rebuild", "--config", str(config))[0] == 0
    site.clear()
    site.delay("/rss/news", 1.0)
    site.delay("/rss/opinion", 1.0)
    _refetch_duplicates_nothing(cli, config, site, archive_dir)
    # And once more, with every feed's entry now learnt: still nothing fetched.
    site.clear()
    _refetch_duplicates_nothing(cli, config, site, archive_dir)
