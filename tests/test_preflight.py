"""An archive or a state that cannot be written is found before anything is fetched: exit 2 with
one line naming the key, the path and the reason; ``/readyz`` says so while the service runs;
a run that archived nothing while articles wait on the archive is no green run.

Read-only folders: tests run as root, and root ignores a folder's mode. So where the tests may
mount (as they do in CI), a read-only tmpfs or bind mount; elsewhere the folder's mode, with the
program run without the capabilities that let root ignore it (``setpriv``): both show what an
operator meets. ``TEST_READONLY=chmod`` forces the second way.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from stores import postgres_database

from conftest import MT_FEEDS, records, write_config
from service_helpers import BIN, free_port, wait_for
from sitesrv import Site, SiteServer

REASONS = ("Read-only file system", "Permission denied")
ROOT_CAPS = ("dac_override", "dac_read_search", "fowner")


def _can_mount(probe: Path) -> bool:
    probe.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True
    )
    if done.returncode == 0:
        subprocess.run(["umount", str(probe)], check=True)
    return done.returncode == 0


class ReadOnly:
    """Makes folders read-only for the program under test (see the module docstring)."""

    def __init__(self, scratch: Path) -> None:
        forced = os.environ.get("TEST_READONLY") == "chmod"
        self.mount = not forced and _can_mount(scratch)
        self._mounts: list[Path] = []
        self._modes: list[Path] = []

    @property
    def prefix(self) -> list[str]:
        """How to start the program so that it meets the read-only folders."""
        if self.mount or os.geteuid() != 0:
            return []
        return ["setpriv", "--bounding-set=" + ",".join(f"-{c}" for c in ROOT_CAPS)]

    def empty(self, path: Path) -> Path:
        """A new read-only folder, empty."""
        path.mkdir(parents=True, exist_ok=True)
        if self.mount:
            self._run("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path))
            self._mounts.append(path)
        else:
            path.chmod(0o555)
            self._modes.append(path)
        return path

    def freeze(self, path: Path) -> None:
        """An existing folder, contents kept, becomes read-only."""
        if self.mount:
            self._run("mount", "--bind", str(path), str(path))
            self._mounts.append(path)
            self._run("mount", "-o", "remount,bind,ro", str(path))
        else:
            for item in [path, *path.rglob("*")]:
                item.chmod(0o555 if item.is_dir() else 0o444)
            self._modes.append(path)

    def thaw(self, path: Path) -> None:
        if self.mount:
            self._run("mount", "-o", "remount,bind,rw", str(path))
        else:
            for item in [path, *path.rglob("*")]:
                item.chmod(0o755 if item.is_dir() else 0o644)

    def cleanup(self) -> None:
        for path in reversed(self._mounts):
            subprocess.run(["umount", "-l", str(path)], capture_output=True)
        for path in self._modes:
            for item in [path, *path.rglob("*")]:
                item.chmod(0o755 if item.is_dir() else 0o644)

    @staticmethod
    def _run(*argv: str) -> None:
        subprocess.run(argv, check=True, capture_output=True)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[ReadOnly]:
    maker = ReadOnly(tmp_path / ".mount-probe")
    try:
        yield maker
    finally:
        maker.cleanup()


def _run(ro: ReadOnly, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    done = subprocess.run(
        [*ro.prefix, str(BIN), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    return done.returncode, done.stdout, done.stderr


def _refused(code: int, err: str, *named: str) -> str:
    """Exit 2, one line, no traceback, naming everything in ``named`` and the OS's reason."""
    assert code == 2, err
    line = err.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line, err
    for part in named:
        assert part in line, line
    assert any(reason in line for reason in REASONS), line
    return line


def _config(tmp_path: Path, server: SiteServer, archive: Path, state: Path, **kw: object) -> Path:
    config = write_config(
        tmp_path / "c.toml",
        feeds=[server.url(f) for f in MT_FEEDS],
        archive=archive,
        extra_sources=f'sitemap = "{server.url("/sitemap/sitemap.xml")}"',
        **kw,  # type: ignore[arg-type]
    )
    default_state = json.dumps(str(archive / ".state" / "state.sqlite3"))
    config.write_text(config.read_text().replace(default_state, json.dumps(str(state))))
    return config


def test_a_read_only_archive_stops_fetch_backfill_and_run_before_any_request(
    tmp_path: Path, server: SiteServer, site: Site, read_only: ReadOnly
) -> None:
    archive = read_only.empty(tmp_path / "archive")
    port = free_port()
    config = _config(
        tmp_path, server, archive, tmp_path / "state" / "s.sqlite3", service={"port": port}
    )
    for args in (
        ("fetch",),
        ("backfill", "--source", "moscowtimes", "--since", "2024-12-01"),
        ("reextract",),
        ("run",),
    ):
        code, out, err = _run(read_only, *args, "--config", str(config))
        _refused(code, err, f"archive.dir in {config}: cannot write {archive}")
    assert site.requests() == []  # not a feed, not a robots.txt
    assert not (tmp_path / "state").exists()
    # A flag names itself.
    code, _, err = _run(read_only, "fetch", "--config", str(config), "--archive", str(archive))
    _refused(code, err, f"archive.dir from --archive: cannot write {archive}")


def test_a_read_only_state_folder_is_reported_as_read_only_not_as_corrupt(
    tmp_path: Path, server: SiteServer, site: Site, read_only: ReadOnly
) -> None:
    state_dir = read_only.empty(tmp_path / "state")
    config = _config(tmp_path, server, tmp_path / "archive", state_dir / "s.sqlite3")
    for args in (("fetch",), ("run",)):
        code, _, err = _run(read_only, *args, "--config", str(config))
        line = _refused(code, err, f"state.path in {config}", str(state_dir / "s.sqlite3"))
        assert "rebuild" not in line and "unusable" not in line
    assert site.requests() == []


def test_a_state_that_becomes_read_only_is_refused_and_works_again_when_writable(
    tmp_path: Path, server: SiteServer, site: Site, read_only: ReadOnly
) -> None:
    state_dir = tmp_path / "state"
    config = _config(tmp_path, server, tmp_path / "archive", state_dir / "s.sqlite3")
    assert _run(read_only, "fetch", "--config", str(config))[0] == 0
    read_only.freeze(state_dir)
    mark = len(site.requests())
    code, _, err = _run(read_only, "fetch", "--config", str(config))
    line = _refused(code, err, "state.path", str(state_dir / "s.sqlite3"))
    assert "rebuild" not in line
    assert site.requests()[mark:] == []
    # The repair command says the same, instead of moving a sound state aside.
    code, _, err = _run(read_only, "state", "rebuild", "--config", str(config))
    assert code == 1 and "Traceback" not in err
    assert any(reason in err for reason in REASONS) and "moved" not in err
    read_only.thaw(state_dir)
    code, out, err = _run(read_only, "fetch", "--config", str(config))
    assert code == 0, err
    assert not list(state_dir.glob("*.corrupt-*"))


def test_readyz_turns_503_when_the_archive_becomes_read_only_and_200_when_it_is_back(
    tmp_path: Path, server: SiteServer, read_only: ReadOnly
) -> None:
    archive = tmp_path / "archive"
    port = free_port()
    config = _config(
        tmp_path,
        server,
        archive,
        tmp_path / "state" / "s.sqlite3",
        interval="1s",
        service={"port": port, "queue_every": "500ms"},
    )
    import urllib.error
    import urllib.request

    def ready() -> tuple[int, dict[str, object]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())
        except OSError:
            return 0, {}

    process = subprocess.Popen(
        [*read_only.prefix, str(BIN), "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(records(archive)) == 10, 30, "the first ten articles")
        wait_for(lambda: ready()[0] == 200, 10, "ready")
        read_only.freeze(archive)
        # No write has to fail first: the check itself finds it, within a scrape or two.
        wait_for(lambda: ready()[0] == 503, 10, "/readyz to turn 503")
        failed = ready()[1]["failed"]
        assert isinstance(failed, dict) and str(archive) in failed["archive"]
        assert any(reason in failed["archive"] for reason in REASONS)
        read_only.thaw(archive)
        wait_for(lambda: ready()[0] == 200, 10, "/readyz back to 200")
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0


def test_a_run_that_archives_nothing_while_articles_wait_on_the_archive_is_not_green(
    tmp_path: Path, server: SiteServer, site: Site, read_only: ReadOnly
) -> None:
    """The archive's root takes writes (the pre-flight passes) but the source's folder does
    not: the first run fails every article; the next one, with every article waiting for its
    retry, fetches nothing and must still not exit 0."""
    archive = tmp_path / "archive"
    archive.mkdir()
    read_only.empty(archive / "moscowtimes")
    config = _config(
        tmp_path, server, archive, tmp_path / "state" / "s.sqlite3", retry={"requeue_delay": "5m"}
    )
    code, out, err = _run(read_only, "fetch", "--config", str(config))
    assert code == 1
    assert json.loads(out)["sources"][0]["articles"]["failed"] == 10
    mark = len(site.requests())
    code, out, err = _run(read_only, "fetch", "--config", str(config))
    assert code == 1, out
    summary = json.loads(out)["sources"][0]
    assert summary["articles"] == {"new": 0, "updated": 0, "unchanged": 0, "failed": 0, "gone": 0}
    assert summary["still_queued"] == 10
    assert summary["queued_by_reason"] == {"archive_error": 10}
    assert not [r for r in site.requests()[mark:] if not r.path.startswith(("/rss/", "/robots"))]
    code, out, err = _run(read_only, "fetch", "--config", str(config), "--log-format", "text")
    assert code == 1
    assert "10 queued articles wait on the archive or the state" in err
    code, out, _ = _run(read_only, "status", "--config", str(config), "--json")
    assert json.loads(out)[0]["queued_by_reason"] == {"archive_error": 10}


def test_a_read_only_postgresql_state_is_refused_naming_the_database(
    tmp_path: Path, server: SiteServer, site: Site
) -> None:
    with postgres_database() as url:
        secret_url = url.replace("postgres@", "postgres:hunter2@")
        config = write_config(
            tmp_path / "c.toml",
            feeds=[server.url(f) for f in MT_FEEDS],
            archive=tmp_path / "archive",
        )
        env = {"NEWS_WORKER_STATE_URL": secret_url}
        done = subprocess.run(
            [str(BIN), "fetch", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env},
        )
        assert done.returncode == 0, done.stderr
        database = url.rsplit("/", 1)[1]
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
        mark = len(site.requests())
        started = time.monotonic()
        done = subprocess.run(
            [str(BIN), "fetch", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env},
        )
        assert done.returncode == 2, done.stderr
        line = done.stderr.strip()
        assert len(line.splitlines()) == 1 and "Traceback" not in line
        assert "state.url from NEWS_WORKER_STATE_URL: cannot write" in line
        assert "read-only transaction" in line and database in line and "hunter2" not in line
        assert site.requests()[mark:] == []
        assert time.monotonic() - started < 30
