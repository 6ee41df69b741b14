"""Several replicas on one PostgreSQL state and one S3 archive behave as one worker: every article
archived once, each feed polled once per interval, each host's gap kept between them all; a
replica killed mid-poll loses nothing; the database or the object store out of reach for a while
makes a replica unready, then it carries on. And a SQLite state migrated into PostgreSQL."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import obstore
import psycopg
import pytest
from s3srv import S3Server
from stores import POSTGRES, s3_settings
from test_service import _add_article

from conftest import MT_FEEDS, Cli, Spawn, write_config
from service_helpers import ServiceProcess, free_port, wait_for
from sitesrv import Site, SiteServer
from worker.store import open_archive

GAP = 0.4  # the host's gap; arrival jitter on a loaded machine is tens of milliseconds


def _scaled_config(
    path: Path,
    server: SiteServer,
    *,
    state_url: str,
    archive_url: str,
    port: int,
    interval: str = "3s",
    lease_ttl: str = "2s",
    http: dict[str, object] | None = None,
) -> Path:
    config = write_config(
        path,
        feeds=[server.url(f) for f in MT_FEEDS],
        archive=path.parent / "unused-archive",
        interval=interval,
        http={"per_host_delay": f"{GAP}s", **(http or {})},
        service={"port": port, "queue_every": "500ms", "shutdown_grace": "5s"},
    )
    text = config.read_text()
    text = text.replace("[state]\n", f'[state]\nurl = "{state_url}"\nlease_ttl = "{lease_ttl}"\n')
    text = text.replace("[archive]\n", f'[archive]\nurl = "{archive_url}"\n')
    config.write_text(text)
    return config


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server


def _records(server: S3Server, url: str) -> dict[str, dict[str, object]]:
    archive = open_archive(s3_settings(server, url=url))
    return dict(archive.records("moscowtimes"))


def _keys(server: S3Server, url: str) -> list[str]:
    archive = open_archive(s3_settings(server, url=url))
    return list(archive._keys(""))  # type: ignore[attr-defined]


def _replicas(
    spawn: Spawn, tmp_path: Path, server: SiteServer, count: int, **config: Any
) -> list[ServiceProcess]:
    started = []
    for n in range(count):
        port = free_port()
        path = _scaled_config(tmp_path / f"replica{n}.toml", server, port=port, **config)
        started.append(spawn(path, f"replica{n}.log", port))
    return started


def _article_requests(site: Site) -> list[str]:
    return [r.path for r in site.requests() if "-a" in r.path and not r.path.startswith("/rss/")]


def test_three_replicas_archive_each_article_once_and_poll_each_feed_once_per_interval(
    tmp_path: Path,
    server: SiteServer,
    site: Site,
    spawn: Spawn,
    postgres_url: str,
    s3_env: S3Server,
) -> None:
    archive_url = s3_env.url()
    replicas = _replicas(
        spawn, tmp_path, server, 3, state_url=postgres_url, archive_url=archive_url
    )
    wait_for(lambda: len(_records(s3_env, archive_url)) == 10, 60, "ten records")
    started = time.monotonic()
    time.sleep(9)  # three intervals of three seconds, every replica polling
    ended = time.monotonic()
    watched = ended - started
    for replica in replicas:
        assert replica.stop() == 0
    pages = _article_requests(site)
    assert sorted(pages) == sorted(set(pages)) and len(pages) == 10
    keys = _keys(s3_env, archive_url)
    assert not [k for k in keys if ".r1." in k]  # no revision: each written once
    for feed in MT_FEEDS:
        polls = [r.at for r in site.requests(feed)]
        # Once per interval (plus up to 10% jitter), not once per replica per interval.
        in_window = [t for t in polls if started <= t <= ended]
        assert len(in_window) <= watched / 3.0 + 2, (feed, len(in_window))
    log = sorted(site.requests(), key=lambda r: r.at)
    close = [
        (round(b.at - a.at, 3), a.path, b.path, round(a.at - log[0].at, 3))
        for a, b in itertools.pairwise(log)
        if b.at - a.at < GAP * 0.7
    ]
    assert not close, close  # (gap, first path, second path, when)


def test_a_replica_killed_mid_poll_loses_nothing_and_duplicates_nothing(
    tmp_path: Path,
    server: SiteServer,
    site: Site,
    spawn: Spawn,
    postgres_url: str,
    s3_env: S3Server,
) -> None:
    for path in [p for p in site.files if "-a" in p and not p.startswith("/rss/")]:
        site.delay(path, 0.4)
    archive_url = s3_env.url()
    replicas = _replicas(
        spawn,
        tmp_path,
        server,
        3,
        state_url=postgres_url,
        archive_url=archive_url,
        interval="10m",
        http={"per_host_concurrency": 1},
    )
    wait_for(lambda: _article_requests(site), 30, "the first article request")
    with psycopg.connect(postgres_url) as conn:
        holders = {
            row[0]
            for row in conn.execute(
                "SELECT lease_owner FROM articles WHERE lease_owner IS NOT NULL"
            )
        }
    assert holders
    victims = [r for r in replicas if any(f":{r.process.pid}:" in h for h in holders)]
    assert victims
    victims[0].kill()  # SIGKILL, mid-poll
    wait_for(lambda: len(_records(s3_env, archive_url)) == 10, 90, "all ten, by the others")
    for replica in replicas:
        if replica is not victims[0]:
            assert replica.stop() == 0
    keys = _keys(s3_env, archive_url)
    assert not [k for k in keys if ".r1." in k]
    for key in keys:
        if key.endswith(".json"):
            json.loads(
                obstore.get(open_archive(s3_settings(s3_env, url=archive_url))._store, key)
                .bytes()
                .to_bytes()
            )  # type: ignore[attr-defined]


def test_a_replica_is_unready_while_the_database_refuses_it_then_carries_on(
    tmp_path: Path,
    server: SiteServer,
    site: Site,
    spawn: Spawn,
    postgres_url: str,
    s3_env: S3Server,
) -> None:
    archive_url = s3_env.url()
    [replica] = _replicas(
        spawn, tmp_path, server, 1, state_url=postgres_url, archive_url=archive_url
    )
    wait_for(lambda: len(_records(s3_env, archive_url)) == 10, 60, "ten records")
    name = postgres_url.rsplit("/", 1)[-1]
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        try:
            wait_for(lambda: replica.get("/readyz")[0] == 503, 30, "/readyz to turn unready")
            assert "state" in json.loads(replica.get("/readyz")[1])["failed"]
            assert replica.get("/healthz")[0] == 200
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    wait_for(lambda: replica.get("/readyz")[0] == 200, 30, "/readyz to recover")
    new = [e for e in replica.events() if e.get("event") == "poll_done"]
    mark = len(new)
    wait_for(
        lambda: len([e for e in replica.events() if e.get("event") == "poll_done"]) > mark + 2,
        30,
        "polls again",
    )
    assert replica.stop() == 0


def test_articles_wait_while_the_object_store_is_down_then_land(
    tmp_path: Path,
    server: SiteServer,
    site: Site,
    spawn: Spawn,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = S3Server(tmp_path / "s3", port=free_port()).start()
    try:
        for key, value in store.env().items():
            monkeypatch.setenv(key, value)
        archive_url = store.url()
        [replica] = _replicas(
            spawn, tmp_path, server, 1, state_url=postgres_url, archive_url=archive_url
        )
        wait_for(lambda: len(_records(store, archive_url)) == 10, 60, "ten records")
        store.stop()
        added = [_add_article(site, 99001), _add_article(site, 99002)]
        wait_for(lambda: replica.get("/readyz")[0] == 503, 30, "/readyz to turn unready")
        assert "archive" in json.loads(replica.get("/readyz")[1])["failed"]
        wait_for(
            lambda: any(e.get("event") == "article_failed" for e in replica.events()),
            30,
            "the new articles failing to be written",
        )
        with psycopg.connect(postgres_url) as conn:
            row = conn.execute("SELECT count(*) FROM articles WHERE status = 'queued'").fetchone()
        assert row is not None and row[0] == 2  # waiting, not given up
        store.start()  # back, on the same port
        wait_for(lambda: len(_records(store, archive_url)) == 12, 60, "both, once it is back")
        wait_for(lambda: replica.get("/readyz")[0] == 200, 30, "/readyz to recover")
        assert replica.stop() == 0
        assert all(site.requests(path) for path in added)
    finally:
        store.stop()


def test_a_sqlite_state_migrated_into_postgresql_fetches_nothing_again(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site, postgres_url: str
) -> None:
    archive = tmp_path / "archive"
    config = write_config(
        tmp_path / "c.toml", feeds=[server.url(f) for f in MT_FEEDS], archive=archive
    )
    assert cli("fetch", "--config", str(config))[0] == 0
    code, out, err = cli("state", "migrate", "--config", str(config), "--to", postgres_url)
    assert code == 0, err
    assert "10 articles" in out or " articles" in out
    code, _, err = cli("state", "migrate", "--config", str(config), "--to", postgres_url)
    assert code == 2 and "holds articles already" in err
    text = config.read_text().replace("[state]\n", f'[state]\nurl = "{postgres_url}"\n', 1)
    config.write_text(text)
    mark = len(site.requests())
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    after = [r.path for r in site.requests()[mark:]]
    assert after and all(p.startswith("/rss/") for p in after)  # feeds only: robots.txt kept too
    assert json.loads(out.splitlines()[-1])["sources"][0]["articles"]["new"] == 0
