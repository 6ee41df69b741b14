"""The fault matrix: each scenario against the one-off ``fetch`` and the ``run`` service.

For every scenario the worker keeps going, the failure is logged with its reason and counted
(in the summary for ``fetch``, in /metrics for ``run``), no partial file is left, and once the
fault clears every article is archived exactly once.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from conftest import MT_FEEDS, Cli, Spawn, records, write_config
from service_helpers import free_port, metric, wait_for
from sitesrv import Scripted, Site, SiteServer
from worker.store.files import TMP_MARK

REFERENCE = "/2024/12/27/ukraine-captured-north-korean-soldier-fighting-alongside-russia-south-korea-says-a87467"
HTML = {"Content-Type": "text/html; charset=utf-8"}


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    answer: Callable[[Site], Scripted]
    reason: str
    kind: str  # "feed" or "article"
    settle: float = 0.0  # the server's Retry-After is honoured across runs too


def _page(site: Site) -> bytes:
    return site.body_of(REFERENCE)


def _hop_path(i: int) -> str:
    """The article under a slug with ``i`` hops in it: once the site is fixed (``clear``), it
    redirects to the canonical URL like any other slug, so a retry caught mid-chain by the
    fix ends at the article instead of a 404 (which would give it up)."""
    return REFERENCE.removesuffix("-a87467") + "-hop" * i + "-a87467"


def _redirect_chain(site: Site) -> Scripted:
    return Scripted(302, {"Location": site.base + _hop_path(1)})


SCENARIOS = [
    Scenario("http_500", REFERENCE, lambda s: Scripted(500), "http_500", "article"),
    Scenario("http_502", REFERENCE, lambda s: Scripted(502), "http_502", "article"),
    Scenario("http_503", "/rss/news", lambda s: Scripted(503), "http_503", "feed"),
    Scenario("http_504", REFERENCE, lambda s: Scripted(504), "http_504", "article"),
    Scenario(
        "429_retry_after_seconds",
        REFERENCE,
        lambda s: Scripted(429, {"Retry-After": "1"}),
        "http_429",
        "article",
        1.2,
    ),
    Scenario(
        "503_retry_after_http_date",
        REFERENCE,
        lambda s: Scripted(503, {"Retry-After": formatdate(time.time() + 1, usegmt=True)}),
        "http_503",
        "article",
        1.2,
    ),
    Scenario(
        "read_timeout",
        REFERENCE,
        lambda s: Scripted(200, HTML, _page(s), delay=3),
        "timeout",
        "article",
    ),
    Scenario(
        "drip_two_bytes_per_second",
        REFERENCE,
        lambda s: Scripted(200, HTML, _page(s)[:40], drip=0.5),  # under the 1 s read timeout
        "deadline",
        "article",
    ),
    Scenario(
        "reset_mid_body",
        REFERENCE,
        lambda s: Scripted(200, HTML, _page(s), truncate=500, reset=True),
        "network",
        "article",
    ),
    Scenario(
        "truncated_body",
        REFERENCE,
        lambda s: Scripted(
            200,
            {**HTML, "Content-Length": str(len(_page(s)) + 5000)},
            _page(s),
            truncate=len(_page(s)),
        ),
        "network",
        "article",
    ),
    Scenario(
        "empty_200_article", REFERENCE, lambda s: Scripted(200, HTML, b""), "empty_body", "article"
    ),
    Scenario(
        "empty_200_feed",
        "/rss/news",
        lambda s: Scripted(200, {"Content-Type": "application/rss+xml"}, b""),
        "parse_error",
        "feed",
    ),
    Scenario(
        "html_error_page_as_feed",
        "/rss/news",
        lambda s: Scripted(
            200, HTML, b"<html><body><h1>Maintenance</h1><p>Back soon.</p></body></html>"
        ),
        "parse_error",
        "feed",
    ),
    Scenario("304_without_validators", "/rss/news", lambda s: Scripted(304), "parse_error", "feed"),
    Scenario(
        "redirect_loop",
        REFERENCE,
        lambda s: Scripted(301, {"Location": s.base + REFERENCE}),
        "redirect_loop",
        "article",
    ),
    Scenario("more_than_5_redirects", REFERENCE, _redirect_chain, "too_many_redirects", "article"),
    Scenario(
        "robots_txt_5xx", "/robots.txt", lambda s: Scripted(503), "robots_unavailable", "feed"
    ),
]


def _hop(site: Site) -> None:
    """Every ``...-hop`` path redirects one hop further: a chain longer than five."""
    for i in range(1, 8):
        site.fault(_hop_path(i), Scripted(302, {"Location": site.base + _hop_path(i + 1)}))


def _assert_archive_sound(archive: Path) -> dict[str, dict[str, Any]]:
    assert not [p for p in archive.rglob("*") if TMP_MARK in p.name]
    found = records(archive)
    for path in archive.rglob("*.json"):
        if ".state" not in path.parts:
            json.loads(path.read_text(encoding="utf-8"))
    return found


def _assert_exactly_once(archive: Path) -> None:
    found = _assert_archive_sound(archive)
    assert len(found) == 10
    assert len({r["id"] for r in found.values()}) == 10
    assert not list(archive.rglob("*.r1.json"))


def _reasons(lines: list[dict[str, Any]]) -> set[str]:
    return {str(e.get("reason")) for e in lines if e.get("level") in ("warning", "error")}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_fault_in_one_off_fetch(
    scenario: Scenario, cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    config = write_config(
        tmp_path / "c.toml",
        feeds=[server.url(f) for f in MT_FEEDS],
        archive=tmp_path / "archive",
        http={"timeout": "1s", "request_deadline": "2s", "robots_failure_pause": "1s"},
        retry={"attempts": 2},
    )
    _hop(site)
    site.fault(scenario.path, scenario.answer(site))
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 1
    assert "Traceback" not in err
    events = [json.loads(line) for line in err.splitlines()]
    assert any(scenario.reason in reason for reason in _reasons(events)), _reasons(events)
    summary = json.loads(out.strip().splitlines()[-1])["sources"][0]
    assert summary["feeds"]["failed"] + summary["articles"]["failed"] >= 1
    _assert_archive_sound(tmp_path / "archive")

    site.clear()
    time.sleep(scenario.settle)
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    _assert_exactly_once(tmp_path / "archive")


def _service_config(tmp_path: Path, feeds: list[str]) -> tuple[Path, int]:
    port = free_port()
    return write_config(
        tmp_path / "service.toml",
        feeds=feeds,
        archive=tmp_path / "archive",
        interval="1s",
        http={"timeout": "1s", "request_deadline": "2s", "robots_failure_pause": "1s"},
        retry={"attempts": 2},
        service={
            "port": port,
            "queue_every": "300ms",
            "failure_backoff_max": "2s",
            "shutdown_grace": "3s",
        },
    ), port


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_fault_in_the_service(
    scenario: Scenario,
    tmp_path: Path,
    server: SiteServer,
    site: Site,
    spawn: Spawn,
) -> None:
    config, port = _service_config(tmp_path, [server.url(f) for f in MT_FEEDS])
    _hop(site)
    site.fault(scenario.path, scenario.answer(site))
    service = spawn(config, "service.log", port)
    wait_for(
        lambda: any(scenario.reason in r for r in _reasons(service.events())),
        30,
        f"a logged {scenario.reason}",
    )
    text = service.get("/metrics")[1].decode()
    failed = metric(
        text, "news_worker_polls_total", outcome="failed", source="moscowtimes"
    ) + metric(text, "news_worker_articles_total", outcome="failed", source="moscowtimes")
    assert failed >= 1
    assert service.get("/healthz")[0] == 200
    site.clear()
    wait_for(lambda: len(records(tmp_path / "archive")) == 10, 30, "all ten articles")
    assert service.stop() == 0
    _assert_exactly_once(tmp_path / "archive")


def _blackhole(port: int) -> list[socket.socket]:
    """A listener that never accepts, its backlog filled: new connections hang (connect timeout)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", port))
    listener.listen(0)
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    return [listener, *fillers]


@pytest.mark.parametrize("mode", ["refused", "connect_timeout"])
def test_unreachable_host_then_recovery(mode: str, cli: Cli, tmp_path: Path, spawn: Spawn) -> None:
    port = free_port()
    sockets = _blackhole(port) if mode == "connect_timeout" else []
    base = f"http://127.0.0.1:{port}"
    config, ops_port = _service_config(tmp_path, [base + f for f in MT_FEEDS])
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 1 and "Traceback" not in err
    # The failure is named: a refused connection, or a connect that timed out.
    expected = "connect_error" if mode == "refused" else "timeout"
    assert expected in _reasons([json.loads(line) for line in err.splitlines()])
    service = spawn(config, "service.log", ops_port)
    wait_for(
        lambda: any(e.get("event") == "feed_failed" for e in service.events()), 20, "feed_failed"
    )
    for sock in sockets:
        sock.close()
    with SiteServer(
        Site(Path(__file__).parent / "fixtures" / "moscowtimes" / "site"), port=port, max_seconds=60
    ):
        wait_for(lambda: len(records(tmp_path / "archive")) == 10, 30, "all ten after recovery")
        assert service.stop() == 0
        code, _, err = cli("fetch", "--config", str(config))
        assert code == 0, err
    _assert_exactly_once(tmp_path / "archive")


def test_invalid_xml_feed_keeps_recovered_entries_and_reports(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    broken = site.body_of("/rss/news").replace(b"<title>Samara Court", b"<title>Samara & Court")
    site.fault("/rss/news", Scripted(200, {"Content-Type": "application/rss+xml"}, broken))
    config = write_config(
        tmp_path / "c.toml", feeds=[server.url("/rss/news")], archive=tmp_path / "a"
    )
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    events = [json.loads(line) for line in err.splitlines()]
    assert [e for e in events if e["event"] == "feed_malformed"]
    assert len(records(tmp_path / "a")) == 8


def test_constant_etag_with_changing_body_is_caught_by_the_body_hash(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    def constant() -> Scripted:
        return Scripted(
            200,
            {"Content-Type": "application/rss+xml", "ETag": '"same"'},
            site.body_of("/rss/opinion"),
        )

    site.fault("/rss/opinion", constant)
    config = write_config(
        tmp_path / "c.toml", feeds=[server.url("/rss/opinion")], archive=tmp_path / "a"
    )
    assert cli("fetch", "--config", str(config))[0] == 0
    assert len(records(tmp_path / "a")) == 1
    feed = site.files["/rss/opinion"].decode()
    item = feed[feed.index("<item>") : feed.index("</item>") + 7]
    extra = item.replace(
        "europe-should-beat-russia-at-its-own-nationalization-game-a93072",
        "2024/12/27/ukraine-captured-north-korean-soldier-fighting-alongside-russia-south-korea-says-a87467",
    )
    extra = extra.replace("/2026/06/22/2024/12/27/", "/2024/12/27/")
    site.put("/rss/opinion", feed.replace("</item>", "</item>" + extra, 1).encode())
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    assert len(records(tmp_path / "a")) == 2


def test_robots_404_allows_everything(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    site.remove("/robots.txt")
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    assert len(records(archive_dir)) == 10
    assert [r.status for r in site.requests("/robots.txt")] == [404]


def test_duplicate_guids_in_one_feed_are_one_article(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site
) -> None:
    feed = site.files["/rss/opinion"].decode()
    item = feed[feed.index("<item>") : feed.index("</item>") + len("</item>")]
    site.put("/rss/opinion", feed.replace(item, item + item + item).encode())
    config = write_config(
        tmp_path / "c.toml", feeds=[server.url("/rss/opinion")], archive=tmp_path / "a"
    )
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    assert len(records(tmp_path / "a")) == 1
    assert len([r for r in site.requests() if r.path.endswith("-a93072")]) == 1
