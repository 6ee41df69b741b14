"""``news-worker run`` as a subprocess against the local site, with 1-2 s intervals."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import MT_FEEDS, Spawn, records, write_config
from mtsite import Page, document, feed_item, rfc2822
from service_helpers import BIN, ServiceProcess, free_port, metric, wait_for
from sitesrv import Scripted, Site, SiteServer
from worker.store.files import TMP_MARK

REFERENCE = "/2024/12/27/ukraine-captured-north-korean-soldier-fighting-alongside-russia-south-korea-says-a87467"


def service_config(
    tmp_path: Path,
    server: SiteServer,
    *,
    feeds: tuple[str, ...] = MT_FEEDS,
    interval: str = "1s",
    service: dict[str, object] | None = None,
    retry: dict[str, object] | None = None,
) -> tuple[Path, int]:
    port = free_port()
    config = write_config(
        tmp_path / "service.toml",
        feeds=[server.url(f) for f in feeds],
        archive=tmp_path / "archive",
        retry=retry,
        interval=interval,
        service={"port": port, "queue_every": "500ms", "shutdown_grace": "3s", **(service or {})},
    )
    return config, port


@pytest.fixture
def running(tmp_path: Path, server: SiteServer, spawn: Spawn) -> ServiceProcess:
    config, port = service_config(tmp_path, server)
    return spawn(config, "service.log", port)


def _archived(tmp_path: Path) -> dict[str, dict[str, object]]:
    return records(tmp_path / "archive")


def _no_leftovers(archive: Path) -> None:
    assert not [p for p in archive.rglob("*") if TMP_MARK in p.name]


def _add_article(site: Site, article_id: int) -> str:
    page = Page(
        id=article_id,
        date="2024/12/28",
        slug=f"breaking-story-number-{article_id}",
        title=f"Breaking Story Number {article_id}",
        published="2024-12-28T09:00:00+03:00",
        modified="2024-12-28T09:00:00+03:00",
        description="A new item.",
        authors=[("AFP", "afp")],
        blocks=[("html", "<p>Something happened this morning.</p>")],
    )
    site.put(page.path, document(page).encode())
    item = feed_item(page.title, page.url, page.description, rfc2822(page.published))
    feed = site.files["/rss/news"].decode()
    site.put("/rss/news", feed.replace("<ttl>600</ttl>", "<ttl>600</ttl>" + item, 1).encode())
    return page.path


def test_archives_new_items_within_two_intervals_and_polls_conditionally(
    running: ServiceProcess, site: Site, tmp_path: Path
) -> None:
    wait_for(lambda: len(_archived(tmp_path)) == 10, 30, "the initial ten articles")
    added_at = time.monotonic()
    path = _add_article(site, 99001)
    wait_for(lambda: len(_archived(tmp_path)) == 11, 15, "the added article")
    assert time.monotonic() - added_at < 2 * 2 * 1.1 + 2  # two intervals (with jitter) and slack
    # Unchanged feeds from now on: every poll is one conditional request answered 304.
    mark = len(site.requests())
    time.sleep(3.5)
    later = site.requests()[mark:]
    feed_polls = [r for r in later if r.path.startswith("/rss/")]
    assert len(feed_polls) >= 3 * 2
    assert all(r.status == 304 and "if-none-match" in r.headers for r in feed_polls)
    assert not [r for r in later if not r.path.startswith("/rss/")]
    assert len(site.requests(path)) == 1
    assert running.stop() == 0


def test_ops_endpoints_and_metrics_agree_with_the_archive(
    running: ServiceProcess, tmp_path: Path
) -> None:
    wait_for(lambda: len(_archived(tmp_path)) == 10, 30, "the initial ten articles")
    time.sleep(1.5)
    assert running.get("/healthz") == (200, b"ok\n")
    status, body = running.get("/readyz")
    assert status == 200 and json.loads(body) == {"ready": True, "failed": {}}
    status, body = running.get("/metrics")
    text = body.decode()
    files = len(_archived(tmp_path))
    assert metric(text, "news_worker_articles_total", outcome="new", source="moscowtimes") == files
    assert metric(text, "news_worker_archived_articles", source="moscowtimes") == files
    assert metric(text, "news_worker_queue_depth", source="moscowtimes") == 0
    assert metric(text, "news_worker_polls_total", outcome="changed", source="moscowtimes") == 3
    assert (
        metric(text, "news_worker_polls_total", outcome="not_modified", source="moscowtimes") >= 3
    )
    assert metric(text, "news_worker_fetch_seconds_count", kind="page") == files
    assert metric(text, "news_worker_fetch_seconds_count", kind="feed") >= 6
    assert metric(text, "news_worker_requests_total", kind="page", code="200") == files
    assert (
        metric(text, "news_worker_last_successful_poll_timestamp_seconds", source="moscowtimes") > 0
    )
    assert running.get("/nope")[0] == 404
    assert running.stop() == 0


def test_status_command_reads_the_services_state(running: ServiceProcess, tmp_path: Path) -> None:
    wait_for(lambda: len(_archived(tmp_path)) == 10, 30, "the initial ten articles")
    result = subprocess.run(
        [str(BIN), "status", "--config", str(running.config), "--json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    rows = json.loads(result.stdout)
    assert rows[0]["source"] == "moscowtimes"
    assert rows[0]["archived"] == 10 and rows[0]["queued"] == 0
    assert rows[0]["consecutive_failures"] == 0
    assert rows[0]["last_success"] and rows[0]["next_due"]
    table = subprocess.run(
        [str(BIN), "status", "--config", str(running.config)],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert table.splitlines()[0].split()[:3] == ["SOURCE", "LAST", "POLL"]
    assert "moscowtimes" in table
    assert running.stop() == 0


def test_sigterm_during_a_slow_article_exits_0_and_it_is_archived_next_start(
    tmp_path: Path, server: SiteServer, site: Site, spawn: Spawn
) -> None:
    site.script(REFERENCE, Scripted(200, {"Content-Type": "text/html"}, b"<html></html>", delay=30))
    config, port = service_config(tmp_path, server, service={"shutdown_grace": "2s"})
    service = spawn(config, "service.log", port)
    wait_for(lambda: bool(site.requests(REFERENCE)), 30, "the slow article request")
    wait_for(lambda: len(_archived(tmp_path)) == 9, 30, "the other articles")
    started = time.monotonic()
    service.signal(signal.SIGTERM)
    assert service.wait(timeout=15) == 0
    assert time.monotonic() - started < 2 + 3
    _no_leftovers(tmp_path / "archive")
    assert "moscowtimes/2024/12/27/a87467.json" not in _archived(tmp_path)

    again = spawn(config, "service2.log", port)
    wait_for(lambda: "moscowtimes/2024/12/27/a87467.json" in _archived(tmp_path), 30, "a87467")
    assert again.stop() == 0
    assert len(_archived(tmp_path)) == 10


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(
    tmp_path: Path, server: SiteServer, site: Site, spawn: Spawn
) -> None:
    for path in list(site.files):
        if "-a" in path:
            slow = Scripted(200, {"Content-Type": "text/html"}, site.body_of(path), delay=0.15)
            site.script(path, slow, slow, slow)
    config, port = service_config(tmp_path, server)
    rng = random.Random(7)
    for round_ in range(3):
        service = spawn(config, f"kill{round_}.log", port)
        time.sleep(rng.uniform(0.0, 1.0))
        service.kill()
    final = spawn(config, "final.log", port)
    wait_for(lambda: len(_archived(tmp_path)) == 10, 40, "all ten articles after the kills")
    time.sleep(1)
    assert final.stop() == 0
    found = _archived(tmp_path)
    assert sorted(r["id"] for r in found.values()) == sorted({r["id"] for r in found.values()})
    assert len(found) == 10
    assert not [p for p in (tmp_path / "archive").rglob("*.r1.json")]
    _no_leftovers(tmp_path / "archive")


def test_failing_feed_backs_off_then_recovers_by_itself(
    tmp_path: Path, server: SiteServer, site: Site, spawn: Spawn
) -> None:
    site.script("/rss/news", *[Scripted(500) for _ in range(4)])
    config, port = service_config(
        tmp_path,
        server,
        feeds=("/rss/news",),
        retry={"attempts": 1},
        service={"failure_backoff_max": "4s", "jitter": 0},
    )
    service = spawn(config, "service.log", port)
    wait_for(lambda: len(_archived(tmp_path)) == 8, 40, "the feed's articles after recovery")
    polls = site.requests("/rss/news")
    failed = [r.at for r in polls if r.status == 500]
    assert len(failed) == 4
    gaps = [b - a for a, b in itertools.pairwise(failed)]
    # Each wait at least doubles (1 s, 2 s, then the 4 s cap); load can only lengthen them.
    assert gaps[0] >= 0.9 and gaps[1] >= 1.8 and gaps[2] >= 3.6
    assert service.stop() == 0
    events = [e for e in service.events() if e.get("event") == "feed_failed"]
    assert len(events) == 4 and all(e["reason"] == "http_500" for e in events)


def test_fetch_beside_the_service_duplicates_and_corrupts_nothing(
    tmp_path: Path, server: SiteServer, site: Site, spawn: Spawn
) -> None:
    for path in list(site.files):
        if "-a" in path:
            site.script(
                path, Scripted(200, {"Content-Type": "text/html"}, site.body_of(path), delay=0.2)
            )
    config, port = service_config(tmp_path, server)
    service = spawn(config, "service.log", port)
    fetches = [
        subprocess.Popen(
            [str(BIN), "fetch", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for fetch in fetches:
        _, err = fetch.communicate(timeout=60)
        assert fetch.returncode == 0, err.decode()[-2000:]
    wait_for(lambda: len(_archived(tmp_path)) == 10, 30, "all ten articles")
    assert service.stop() == 0
    found = _archived(tmp_path)
    assert len({r["id"] for r in found.values()}) == len(found) == 10
    assert not [p for p in (tmp_path / "archive").rglob("*.r1.json")]
    article_requests = [r.path for r in site.requests() if re.search(r"-a\d+$", r.path)]
    assert len(article_requests) == len(set(article_requests))


def test_compose_file_validates_against_the_compose_schema() -> None:
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [
            str(BIN.parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(root / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_container_runs_the_command_the_tests_run() -> None:
    root = Path(__file__).resolve().parents[1]
    dockerfile = (root / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["news-worker"]' in dockerfile
    assert 'CMD ["run"]' in dockerfile
    assert "USER 10001:10001" in dockerfile and "HEALTHCHECK" in dockerfile
    assert re.search(r"pip install --no-cache-dir pip==\d", dockerfile)  # before the lock
    compose = (root / "docker-compose.yml").read_text()
    grace = re.search(r"stop_grace_period: (\d+)s", compose)
    assert grace and int(grace.group(1)) > 20  # above the default shutdown_grace
    assert ":/config/news-worker.toml:ro" in compose
    assert "restart: unless-stopped" in compose
    assert BIN.name == "news-worker"


def _dockerfile() -> dict[str, str]:
    """The Dockerfile's last instruction of each kind, continuation lines joined."""
    text = (Path(__file__).resolve().parents[1] / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.split(None, 1) for line in text.splitlines() if line.strip()]
    return {words[0]: words[1] for words in lines if not words[0].startswith("#")}


def test_image_command_and_health_check_work_as_the_container_runs_them(
    tmp_path: Path, server: SiteServer
) -> None:
    """ENTRYPOINT + CMD with the image's environment (its paths under tmp_path), and the
    HEALTHCHECK command: healthy while the service runs, unhealthy once it stopped."""
    dockerfile = _dockerfile()
    command = json.loads(dockerfile["ENTRYPOINT"]) + json.loads(dockerfile["CMD"])
    health = json.loads(dockerfile["HEALTHCHECK"].split(" CMD ", 1)[1])
    assert command[0] == BIN.name and health[0] == "python"
    port = free_port()
    config = write_config(
        tmp_path / "container.toml", feeds=[server.url(f) for f in MT_FEEDS], archive=tmp_path / "x"
    )
    image_env = dict(item.split("=", 1) for item in shlex.split(dockerfile["ENV"]))
    relocated = {
        k: str(tmp_path / v.lstrip("/")) if v.startswith("/data/") else v
        for k, v in image_env.items()
    }
    relocated |= {"NEWS_WORKER_CONFIG": str(config), "NEWS_WORKER_SERVICE_PORT": str(port)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWS_WORKER_")} | relocated
    log = (tmp_path / "container.log").open("wb")
    process = subprocess.Popen(
        [str(BIN), *command[1:]], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
    )

    def healthy() -> bool:
        check = [sys.executable, *health[1:]]
        return subprocess.run(check, env=env, capture_output=True, timeout=10).returncode == 0

    try:
        wait_for(healthy, 30, "the HEALTHCHECK command to pass")
        wait_for(lambda: len(records(tmp_path / "data" / "archive")) == 10, 30, "the archive")
        assert (tmp_path / "data" / "state" / "news-worker.sqlite3").exists()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    assert not healthy()


def test_ops_port_in_use_is_a_one_line_error(tmp_path: Path, server: SiteServer) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = write_config(
            tmp_path / "c.toml",
            feeds=[server.url("/rss/news")],
            archive=tmp_path / "a",
            service={"port": port},
        )
        result = subprocess.run(
            [str(BIN), "run", "--config", str(config)], capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"127.0.0.1:{port}" in result.stderr and "service.port" in result.stderr
