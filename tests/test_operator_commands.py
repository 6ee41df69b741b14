"""What operators of trafilatura, miniflux and Scrapy reach for: ``fetch --list`` and
``--limit``, ``config check``/``config show``, ``sources``, shell completion, examples in
``--help``; and ``--url`` on a host no source covers, refused."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from conftest import MT_FEEDS, Cli, records, write_config
from service_helpers import BIN, free_port
from sitesrv import Site, SiteServer
from worker.config import from_mapping


def _pages(site: Site, mark: int = 0) -> list[str]:
    return [r.path for r in site.requests()[mark:] if not r.path.startswith(("/rss/", "/robots"))]


def test_fetch_list_prints_what_a_fetch_would_take_and_fetches_no_page(
    cli: Cli, config: Path, site: Site, archive_dir: Path, server: SiteServer
) -> None:
    code, out, err = cli("fetch", "--config", str(config), "--list")
    assert code == 0, err
    urls = out.split()
    assert len(urls) == 10 and all(u.startswith(server.url("/20")) for u in urls)
    assert "moscowtimes: 10 articles to fetch; 3 feeds" in err
    assert _pages(site) == [] and records(archive_dir) == {}
    code, out, err = cli("fetch", "--config", str(config), "--list", "--limit", "3")
    assert out.split() == urls[:3]
    # Nothing listed is lost: the feeds now answer 304, and the fetch archives all ten.
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0 and len(records(archive_dir)) == 10
    assert sorted(_pages(site)) == sorted(u.removeprefix(server.url("")) for u in urls)


def test_fetch_limit_archives_at_most_n_per_source_and_leaves_the_rest_queued(
    cli: Cli, tmp_path: Path, server: SiteServer, site: Site, archive_dir: Path
) -> None:
    # Every feed in flight at once: their claims overlap, and must share the limit.
    config = write_config(
        tmp_path / "c.toml",
        feeds=[server.url(f) for f in MT_FEEDS],
        archive=archive_dir,
        http={"per_host_concurrency": len(MT_FEEDS)},
    )
    code, out, err = cli("fetch", "--config", str(config), "--limit", "4")
    assert code == 0, err
    summary = json.loads(out)["sources"][0]
    assert summary["articles"]["new"] == 4 and summary["still_queued"] == 6
    assert summary["queued_by_reason"] == {"new": 6}
    assert len(records(archive_dir)) == 4 and len(_pages(site)) == 4
    code, out, err = cli("fetch", "--config", str(config))
    assert code == 0 and len(records(archive_dir)) == 10
    code, _, err = cli("fetch", "--config", str(config), "--limit", "0")
    assert code == 2 and "--limit" in err


def test_url_on_a_host_no_source_covers_is_refused_unless_a_source_is_named(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    elsewhere = f"http://127.0.0.1:{free_port()}/2024/12/27/y-a1"
    code, out, err = cli("fetch", "--config", str(config), "--url", elsewhere)
    assert code == 2
    assert err.strip().count("\n") == 0 and elsewhere in err and "--source" in err
    code, out, _ = cli("status", "--config", str(config), "--json")
    assert json.loads(out)[0]["queued"] == 0  # nothing filed under moscowtimes
    # Named, it is the operator's call: fetched (here: refused connection), queued, exit 1.
    code, out, err = cli(
        "fetch", "--config", str(config), "--url", elsewhere, "--source", "moscowtimes"
    )
    assert code == 1 and "connect" in err


def test_config_check_validates_and_config_show_prints_every_value_with_its_origin(
    cli: Cli, tmp_path: Path, server: SiteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path / "c.toml",
        feeds=[server.url(f) for f in MT_FEEDS],
        archive=tmp_path / "archive",
        http={"proxy": "http://crawler:s3cret@proxy.example:3128"},
    )
    code, out, err = cli("config", "check", "--config", str(config))
    assert code == 0, err
    assert out.strip().startswith(f"configuration OK: {config}: 1 sources (1 enabled, 3 feeds)")
    assert not (tmp_path / "archive").exists()  # a check writes nothing

    monkeypatch.setenv("NEWS_WORKER_STATE_URL", "postgresql://worker:dbpass@db.internal/news")
    monkeypatch.setenv("NEWS_WORKER_HTTP_TIMEOUT", "7s")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-value")
    archive = tmp_path / "other"
    code, out, err = cli("config", "show", "--config", str(config), "--archive", str(archive))
    assert code == 0, err
    for secret in ("s3cret", "dbpass", "aws-secret-value"):
        assert secret not in out
    lines = out.splitlines()

    def line(section: str, key: str) -> str:
        start = lines.index(f"[{section}]")
        return next(ln for ln in lines[start:] if ln.startswith(f"{key} = "))

    assert line("state", "url").startswith('url = "***"')
    assert line("state", "url").endswith("# from NEWS_WORKER_STATE_URL")
    assert line("http", "timeout").startswith('timeout = "7s"')
    assert line("http", "timeout").endswith("# from NEWS_WORKER_HTTP_TIMEOUT")
    assert line("http", "proxy").startswith('proxy = "http://crawler:***@proxy.example:3128"')
    assert line("http", "proxy").endswith(f"# in {config}")
    assert line("archive", "dir").startswith(f'dir = "{archive}"')
    assert line("archive", "dir").endswith("# from --archive")
    assert line("state", "path").endswith("# from --archive")  # it moved with the archive
    assert line("http", "per_host_concurrency").endswith("# default")
    assert '# aws_secret_access_key = "***"  (from AWS_SECRET_ACCESS_KEY' in out
    # What it prints is a configuration that loads back.
    settings = from_mapping(tomllib.loads(out))
    assert settings.http.timeout == 7 and settings.sources[0].feeds == tuple(
        server.url(f) for f in MT_FEEDS
    )


def test_sources_lists_the_configured_sources(cli: Cli, config: Path) -> None:
    code, out, _ = cli("sources", "--config", str(config))
    assert code == 0
    head, row = out.strip().splitlines()
    assert head.split() == ["NAME", "PROFILE", "ENABLED", "INTERVAL", "FEEDS", "SITEMAP"]
    assert row.split() == ["moscowtimes", "moscowtimes", "yes", "10m", "3", "-"]
    code, out, _ = cli("sources", "--config", str(config), "--json")
    assert json.loads(out)[0]["feeds"] == [line for line in json.loads(out)[0]["feeds"]]
    assert json.loads(out)[0]["name"] == "moscowtimes"


def _complete(words: list[str], script: str) -> list[str]:
    """What bash offers after ``words`` (the last one being completed)."""
    array = " ".join(f"'{w}'" for w in words)
    program = f"""{script}
COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}
_news_worker
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_shell_completion_offers_commands_flags_and_choices() -> None:
    script = subprocess.run(
        [str(BIN), "completion", "bash"], capture_output=True, text=True, timeout=30
    ).stdout
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    assert _complete(["news-worker", "fe"], script) == ["fetch"]
    assert _complete(["news-worker", "c"], script) == ["config", "completion"]
    assert _complete(["news-worker", "fetch", "--li"], script) == ["--list", "--limit"]
    assert _complete(["news-worker", "fetch", "--log-format", ""], script) == [
        "auto",
        "json",
        "text",
    ]
    assert _complete(["news-worker", "config", "s"], script) == ["show"]
    zsh = subprocess.run(
        [str(BIN), "completion", "zsh"], capture_output=True, text=True, timeout=30
    ).stdout
    assert zsh.startswith("#compdef news-worker\n") and "bashcompinit" in zsh


def test_help_has_examples_and_the_exit_codes() -> None:
    top = subprocess.run([str(BIN), "--help"], capture_output=True, text=True, timeout=30).stdout
    assert "examples:" in top and "news-worker fetch --list" in top and "exit codes: 0" in top
    for command in ("config", "sources", "completion", "status"):
        assert command in top
    fetch = subprocess.run(
        [str(BIN), "fetch", "--help"], capture_output=True, text=True, timeout=30
    ).stdout
    assert "--limit N" in fetch and "news-worker fetch --limit 5" in fetch
