"""Bad config, unknown flags, unreachable sites: one line naming the problem, right exit code."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Cli, write_config


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('[http]\nper_host_delay = "soon"\n', "http.per_host_delay"),
        ("[http]\nper_host_concurency = 2\n", "http.per_host_concurency"),
        ('[archiv]\ndir = "x"\n', "archiv"),
        ("[http]\nper_host_concurrency = 0\n", "http.per_host_concurrency"),
        ('[http]\nrespect_robots = "maybe"\n', "http.respect_robots"),
        ('[[sources]]\nname = "../etc"\nfeeds = []\n', "sources[0].name"),
        ('[[sources]]\nname = "x"\nprofile = "nope"\n', "sources.x.profile"),
        ('[[sources]]\nname = "x"\nfeeds = ["file:///etc/passwd"]\n', "sources.x.feeds"),
        ('[[sources]]\nname = "x"\nfeeds = []\ncolour = 1\n', "sources[0].colour"),
        ("not toml at all [", "invalid TOML"),
    ],
)
def test_bad_config_names_the_key(cli: Cli, tmp_path: Path, body: str, named: str) -> None:
    paths = (
        f'[archive]\ndir = "{tmp_path / "archive"}"\n[state]\npath = "{tmp_path / "state.db"}"\n'
    )
    config = tmp_path / "bad.toml"
    config.write_text(paths + body if body.startswith(("[http]", "[[sources]]")) else body)
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 2
    assert named in err
    assert len(err.strip().splitlines()) == 1
    _no_traceback(err)
    assert not (tmp_path / "archive").exists()
    assert not (tmp_path / "state.db").exists()


def test_bad_environment_value_names_the_variable(
    cli: Cli, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWS_WORKER_HTTP_TIMEOUT", "forever")
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 2
    assert "NEWS_WORKER_HTTP_TIMEOUT" in err


def test_environment_overrides_the_file(
    cli: Cli, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWS_WORKER_ARCHIVE_DIR", str(tmp_path / "from-env"))
    assert cli("fetch", "--config", str(config))[0] == 0
    assert list((tmp_path / "from-env" / "moscowtimes").rglob("a87467.json"))


def test_missing_config_file(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("fetch", "--config", str(tmp_path / "nope.toml"))
    assert code == 2
    assert "nope.toml" in err


def test_unknown_flag_and_unknown_source(cli: Cli, config: Path) -> None:
    code, _, err = cli("fetch", "--config", str(config), "--frobnicate")
    assert code == 2
    assert "--frobnicate" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("fetch", "--config", str(config), "--source", "nosuch")
    assert code == 2
    assert "nosuch" in err
    code, _, err = cli("fetch", "--config", str(config), "--url", "javascript:alert(1)")
    assert code == 2
    assert "--url" in err


def test_unreachable_site_fails_with_exit_1_and_writes_no_article(cli: Cli, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    archive = tmp_path / "archive"
    config = write_config(
        tmp_path / "c.toml", feeds=[f"http://127.0.0.1:{port}/rss/news"], archive=archive
    )
    code, out, err = cli("fetch", "--config", str(config), "--log-format", "text")
    assert code == 1
    _no_traceback(err)
    assert f"127.0.0.1:{port}" in err
    assert out.strip() == "moscowtimes: 0 new, 0 queued; 1 feed, 1 failed"
    assert not list(archive.rglob("*.json"))


def test_private_addresses_refused_by_default(cli: Cli, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    config = write_config(
        tmp_path / "c.toml",
        feeds=["http://127.0.0.1:9/rss/news"],
        archive=archive,
        http={"allow_private_addresses": False},
    )
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 1
    assert "private_address" in err


def test_module_entry_point_and_console_script_run() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "worker", "fetch", "--bogus"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--bogus" in result.stderr
    _no_traceback(result.stderr)


def test_status_before_any_run_creates_nothing(cli: Cli, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.toml", feeds=["https://news.example/rss"], archive=tmp_path / "archive"
    )
    code, out, err = cli("status", "--config", str(config), "--json")
    assert code == 0, err
    assert '"archived": 0' in out or '"archived":0' in out
    assert not (tmp_path / "archive").exists()  # no state file, not even its folder
