"""``news-worker run`` as an operator runs it: a stop past the grace period is quiet, the metrics
follow the Prometheus conventions (``promtool check metrics`` on a real scrape) and let every
failure be alerted on, and on a terminal it says where it listens and what each poll did."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from ptyrun import PtyRun, screen_lines

from conftest import MT_FEEDS, Spawn, records, write_config
from service_helpers import BIN, free_port, metric, wait_for
from sitesrv import Scripted, Site, SiteServer

REFERENCE = "/2024/12/27/ukraine-captured-north-korean-soldier-fighting-alongside-russia-south-korea-says-a87467"


def _config(tmp_path: Path, server: SiteServer, port: int, **service: object) -> Path:
    return write_config(
        tmp_path / "service.toml",
        feeds=[server.url(f) for f in MT_FEEDS],
        archive=tmp_path / "archive",
        interval="1s",
        service={"port": port, "queue_every": "500ms", "shutdown_grace": "3s", **service},
    )


def test_a_stop_past_the_grace_period_logs_nothing_at_error_level(
    tmp_path: Path, server: SiteServer, site: Site, spawn: Spawn
) -> None:
    # The article fails its three tries of the first poll, so the queue's retry takes it: the
    # work cut short at the stop is a poll's and the scheduler's queue job's.
    slow = Scripted(200, {"Content-Type": "text/html"}, b"<html></html>", delay=30)
    site.script(REFERENCE, Scripted(500), Scripted(500), Scripted(500), slow, slow)
    port = free_port()
    service = spawn(_config(tmp_path, server, port, shutdown_grace="1s"), "service.log", port)
    wait_for(lambda: len(site.requests(REFERENCE)) >= 4, 30, "the slow retry of the article")
    wait_for(lambda: len(records(tmp_path / "archive")) == 9, 30, "the other articles")
    time.sleep(0.5)
    started = time.monotonic()
    service.signal(signal.SIGTERM)
    assert service.wait(timeout=20) == 0
    assert time.monotonic() - started < 1 + 4
    events = service.events()
    loud = [e for e in events if e.get("level") in ("error", "critical") or "exception" in e]
    assert not loud, loud
    assert "Traceback" not in service.log.read_text()
    assert [e for e in events if e.get("event") == "shutdown_cancelled_jobs"]
    assert events[-1]["event"] == "service_stopped"


def test_a_port_out_of_range_is_a_one_line_error(tmp_path: Path, server: SiteServer) -> None:
    config = _config(tmp_path, server, 99999)
    done = subprocess.run(
        [str(BIN), "run", "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"news-worker: error: service.port in {config}: must be at most 65535, got 99999"
    )


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:  # CI installs it (.ci/run); a missing linter must not pass quietly
        pytest.fail(
            "promtool is not on PATH: install prometheus (Debian: apt-get install prometheus)"
        )
    return found


def test_metrics_pass_promtool_and_cover_every_failure_from_the_start(
    tmp_path: Path, server: SiteServer, spawn: Spawn
) -> None:
    promtool = _promtool()
    port = free_port()
    closed = free_port()
    broken = f"""
[[sources]]
name = "refused"
profile = "generic"
feeds = ["http://127.0.0.1:{closed}/rss"]
interval = "1s"

[[sources]]
name = "unresolvable"
profile = "generic"
feeds = ["http://news-worker-test.invalid/rss"]
interval = "1s"
"""
    config = _config(tmp_path, server, port)
    config.write_text(config.read_text() + broken)
    service = spawn(config, "service.log", port)
    wait_for(lambda: len(records(tmp_path / "archive")) == 10, 30, "the ten articles")

    def scrape() -> str:
        status, body = service.get("/metrics")
        assert status == 200
        return body.decode()

    errors = "news_worker_request_errors_total"

    def failures(text: str, reason: str) -> float:
        # The first request to a host is its robots.txt: that is where the failure shows.
        return sum(metric(text, errors, kind=k, reason=reason) for k in ("feed", "robots"))

    wait_for(lambda: failures(scrape(), "dns_error") >= 1, 20, "a DNS failure counted")
    wait_for(
        lambda: metric(scrape(), "news_worker_requests_total", kind="feed", code="304") >= 3,
        20,
        "conditional polls answered 304",
    )
    text = scrape()
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0 and not (checked.stdout + checked.stderr).strip(), (
        checked.stdout + checked.stderr
    )
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert not [s for s in samples if "_created" in s.split("{")[0]]
    assert not [s for s in samples if 'status="' in s]
    # Staleness alerts fire for a source that never worked: its timestamp is there, at 0.
    last = "news_worker_last_successful_poll_timestamp_seconds"
    assert metric(text, last, source="refused") == 0
    assert f'{last}{{source="refused"}} 0.0' in text
    assert f'{last}{{source="unresolvable"}} 0.0' in text
    assert metric(text, last, source="moscowtimes") > time.time() - 60
    assert metric(text, "news_worker_polls_total", source="refused", outcome="failed") >= 1
    assert 'news_worker_polls_total{outcome="changed",source="refused"} 0.0' in text
    assert 'news_worker_articles_total{outcome="gone",source="refused"} 0.0' in text
    # Request outcomes by kind, network failures included, every reason present from the start.
    assert failures(text, "connect_error") >= 1
    assert failures(text, "dns_error") >= 1
    for kind in ("feed", "page", "robots", "sitemap"):
        for reason in ("dns_error", "connect_error", "tls_error", "timeout", "deadline"):
            assert f'{errors}{{kind="{kind}",reason="{reason}"}}' in text
    assert metric(text, "news_worker_requests_total", kind="page", code="200") == 10
    assert metric(text, "news_worker_requests_total", kind="feed", code="304") >= 1
    assert metric(text, "news_worker_requests_total", kind="robots", code="200") >= 1
    assert metric(text, "news_worker_fetch_seconds_count", kind="page") == 10
    assert metric(text, "news_worker_fetch_seconds_count", kind="robots") >= 1
    assert re.search(r'news_worker_build_info\{python="[0-9.]+",version="0\.1\.0"\} 1\.0', text)
    assert metric(text, "process_resident_memory_bytes") > 0
    assert "process_cpu_seconds_total" in text and "python_info" in text
    assert service.stop() == 0


def test_poll_lines_count_what_status_shows(
    tmp_path: Path, server: SiteServer, site: Site, spawn: Spawn
) -> None:
    site.script(REFERENCE, *[Scripted(500) for _ in range(200)])
    port = free_port()
    config = _config(tmp_path, server, port)
    service = spawn(config, "service.log", port)
    wait_for(lambda: len(records(tmp_path / "archive")) == 9, 30, "the other articles")
    time.sleep(2.5)  # polls after the failure
    status = json.loads(
        subprocess.run(
            [str(BIN), "status", "--config", str(config), "--json"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
    )
    assert service.stop() == 0
    polls = [e for e in service.events() if e.get("event") == "poll_done"]
    assert polls and polls[-1]["still_queued"] == status[0]["queued"] == 1
    assert status[0]["queued_by_reason"] == {"http_500": 1}


SETTLED = ": not modified; 0 archived, 0 failed, 0 queued"


def test_run_on_a_terminal_says_where_it_listens_and_a_line_per_poll(
    tmp_path: Path, server: SiteServer
) -> None:
    port = free_port()
    config = _config(tmp_path, server, port)
    run = PtyRun(["run", "--config", str(config)])

    def archived(text: str) -> int:
        return sum(int(n) for n in re.findall(r"(\d+) archived", text))

    try:
        # Every feed polled again, every article archived and said so, and a poll that found
        # nothing left to do.
        run.read_until(
            lambda text: (
                text.count("not modified") >= 3 and archived(text) >= 10 and SETTLED in text
            ),
            40,
        )
        run.signal(signal.SIGINT)
        assert run.finish() == 0
    finally:
        if run.process.poll() is None:
            run.process.kill()
    lines = [line for line in screen_lines(run.text) if line]
    clock = r"\d\d:\d\d:\d\d "
    assert re.fullmatch(clock + rf"listening on http://127\.0\.0\.1:{port} .*", lines[0])
    assert re.fullmatch(clock + r"polling 1 source \(3 feeds\); Ctrl-C stops", lines[1])
    polls = [line for line in lines if "/rss/" in line]
    queue = [line for line in lines if re.fullmatch(clock + r"moscowtimes queue: .*", line)]
    changed = r"moscowtimes 127\.0\.0\.1:\d+/rss/\w+: changed; \d+ archived, 0 failed, \d+ queued"
    assert any(re.fullmatch(clock + changed, line) for line in polls), polls
    # Each article counted once: by the poll that found it, or by the queue's retry job (every
    # 500 ms here), which on a busy machine can claim a new article before its poll does. A
    # feed's next poll may finish first, its articles still claimed by the one before.
    assert archived("\n".join(polls + queue)) == len(records(tmp_path / "archive")) == 10, lines
    assert any(line.endswith(SETTLED) for line in polls)
    stopping = [i for i, line in enumerate(lines) if re.fullmatch(clock + r"stopping: .*", line)]
    assert len(stopping) == 1 and lines[-1].endswith("stopped"), lines
    # A poll under way at Ctrl-C finishes within the grace period, and says so.
    assert all(line in polls or line in queue for line in lines[stopping[0] + 1 : -1]), lines
    assert all(len(line) <= 100 for line in lines)
    assert not [line for line in lines if line.lstrip().startswith("{")]  # no JSON on a terminal
