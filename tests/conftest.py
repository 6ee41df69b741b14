"""Shared fixtures: the imitated Moscow Times on 127.0.0.1, configs pointing at it, CLI runs."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from service_helpers import ServiceProcess
from sitesrv import Site, SiteServer
from worker.app.cli import main

pytest_plugins = ["stores"]  # state_store, make_archive: every store implementation

FIXTURES = Path(__file__).parent / "fixtures"
MT_SITE = FIXTURES / "moscowtimes" / "site"
MT_EXPECTED = FIXTURES / "moscowtimes" / "expected"
MT_FEEDS = ("/rss/news", "/rss/opinion", "/rss/all")


@pytest.fixture
def site() -> Site:
    return Site(MT_SITE)


@pytest.fixture
def server(site: Site) -> Iterator[SiteServer]:
    with SiteServer(site, max_seconds=120) as running:
        yield running


def write_config(
    path: Path,
    *,
    feeds: list[str],
    archive: Path,
    profile: str = "moscowtimes",
    name: str = "moscowtimes",
    http: dict[str, Any] | None = None,
    retry: dict[str, Any] | None = None,
    service: dict[str, Any] | None = None,
    interval: str = "10m",
    extra_sources: str = "",
    sections: dict[str, dict[str, Any]] | None = None,
) -> Path:
    http_values = {
        "per_host_delay": "0s",
        "allow_private_addresses": True,
        "timeout": "5s",
        "request_deadline": "20s",
        **(http or {}),
    }
    retry_values = {
        "attempts": 3,
        "backoff": "10ms",
        "max_backoff": "50ms",
        "retry_after_cap": "1s",
        "requeue_delay": "0s",
        **(retry or {}),
    }

    def table(values: dict[str, Any]) -> str:
        return "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())

    path.write_text(
        f"""
[archive]
dir = {json.dumps(str(archive))}
[state]
path = {json.dumps(str(archive / ".state" / "state.sqlite3"))}
[http]
{table(http_values)}
[retry]
{table(retry_values)}
[service]
{table(service or {})}
{"".join(f"[{name}]{chr(10)}{table(values)}{chr(10)}" for name, values in (sections or {}).items())}

[[sources]]
name = "{name}"
profile = "{profile}"
feeds = {json.dumps(feeds)}
interval = "{interval}"
{extra_sources}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    return tmp_path / "archive"


@pytest.fixture
def config(tmp_path: Path, server: SiteServer, archive_dir: Path) -> Path:
    return write_config(
        tmp_path / "news-worker.toml",
        feeds=[server.url(f) for f in MT_FEEDS],
        archive=archive_dir,
    )


Spawn = Callable[[Path, str, int], ServiceProcess]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Start services; any still running when the test ends is killed."""
    started: list[ServiceProcess] = []

    def start(config: Path, log: str, port: int) -> ServiceProcess:
        service = ServiceProcess(config, tmp_path / log, port)
        started.append(service)
        return service.start()

    yield start
    for service in started:
        if service.process is not None and service.process.poll() is None:
            service.kill()


class Cli:
    """Runs ``news-worker`` in-process and captures its exit code and output."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys)


def records(archive: Path) -> dict[str, dict[str, Any]]:
    """Every current record in an archive, by relative path (revisions and raw pages excluded)."""
    found = {}
    for path in sorted(archive.rglob("*.json")):
        if ".state" in path.parts or path.name.count(".") != 1:
            continue  # revisions are <id>.r<N>.json
        found[path.relative_to(archive).as_posix()] = json.loads(path.read_text(encoding="utf-8"))
    return found


def all_files(archive: Path) -> list[str]:
    return sorted(
        p.relative_to(archive).as_posix()
        for p in archive.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(archive).parts)
    )


# Property tests explore new inputs on every local run; CI replays a fixed sequence, so a new
# finding shows up on a developer's machine instead of failing an unrelated submission.
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")
