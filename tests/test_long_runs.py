"""Long runs and processes side by side: claims renewed for as long as their work takes, a
restart that keeps each feed's backoff, and an event loop that a locked state cannot freeze."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from test_service import service_config

from conftest import MT_FEEDS, Cli, Spawn, records
from service_helpers import wait_for
from sitesrv import Scripted, Site, SiteServer


def _with_state(config: Path, **keys: str) -> Path:
    text = config.read_text()
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in keys.items())
    config.write_text(text.replace("[state]\n", "[state]\n" + extra, 1))
    return config


def _article_paths(site: Site) -> list[str]:
    return [p for p in site.files if "-a" in p and not p.startswith("/rss/")]


def test_a_fetch_beside_a_run_longer_than_a_lease_fetches_every_article_once(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site, spawn: Spawn
) -> None:
    """Every page takes a second and the host one request at a time: the service's poll lasts
    about ten lease lifetimes of one second each. Its claims are renewed meanwhile, so the
    fetch started beside it takes none of them over."""
    for path in _article_paths(site):
        site.delay(path, 1.0)
    config, port = service_config(
        tmp_path, server, interval="10m", service={"shutdown_grace": "20s"}
    )
    _with_state(config, lease_ttl="1s")
    text = config.read_text().replace("[http]\n", "[http]\nper_host_concurrency = 1\n", 1)
    config.write_text(text)
    service = spawn(config, "service.log", port)
    wait_for(
        lambda: any(r.path in site.files and "-a" in r.path for r in site.requests()),
        30,
        "the service's first article request",
    )
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["sources"][0]["articles"]["new"] == 0
    wait_for(lambda: len(records(tmp_path / "archive")) == 10, 60, "all ten archived")
    assert service.stop() == 0
    pages = [r.path for r in site.requests() if r.path in _article_paths(site)]
    assert sorted(pages) == sorted(set(pages)) and len(pages) == 10
    lost = [e for e in service.events() if e.get("event") == "lease_lost"]
    assert not lost


def test_a_restart_keeps_a_feeds_backoff(
    tmp_path: Path, server: SiteServer, site: Site, spawn: Spawn
) -> None:
    site.fault("/rss/news", Scripted(503, {"Retry-After": "60"}))
    config, port = service_config(tmp_path, server, feeds=("/rss/news",), interval="1s")
    first = spawn(config, "first.log", port)
    wait_for(lambda: site.requests("/rss/news"), 20, "the first poll")
    wait_for(
        lambda: any(e.get("event") == "feed_failed" for e in first.events()), 20, "feed_failed"
    )
    assert first.stop() == 0
    polled = len(site.requests("/rss/news"))
    second = spawn(config, "second.log", port)
    wait_for(
        lambda: any(e.get("event") == "service_started" for e in second.events()),
        20,
        "the restart",
    )
    time.sleep(3)  # three intervals: a restart that forgot the backoff would have polled
    assert len(site.requests("/rss/news")) == polled
    assert second.stop() == 0


def test_the_health_endpoint_answers_while_another_process_holds_the_state_lock(
    tmp_path: Path, server: SiteServer, site: Site, spawn: Spawn
) -> None:
    config, port = service_config(tmp_path, server, feeds=MT_FEEDS, interval="1s")
    service = spawn(config, "service.log", port)
    wait_for(lambda: len(records(tmp_path / "archive")) == 10, 30, "the first poll")
    holder = sqlite3.connect(tmp_path / "archive" / ".state" / "state.sqlite3", timeout=1)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as a long transaction elsewhere would
    try:
        answered = []
        for _ in range(6):  # three seconds: polls due meanwhile wait for the lock
            started = time.monotonic()
            status, _ = service.get("/healthz")
            answered.append((status, time.monotonic() - started))
            time.sleep(0.5)
        metrics_status, _ = service.get("/metrics")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert all(status == 200 for status, _ in answered)
    assert max(seconds for _, seconds in answered) < 2.0  # not the 30 s busy timeout
    assert metrics_status == 200
    assert service.stop() == 0
