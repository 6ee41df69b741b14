"""``news-worker discover``: announced feeds and feeds at common paths, as a config snippet."""

from __future__ import annotations

import tomllib
from pathlib import Path

from conftest import Cli
from sitesrv import Site, SiteServer
from worker.config import from_mapping


def test_discover_lists_announced_and_common_feeds_ready_to_paste(
    cli: Cli, config: Path, server: SiteServer, site: Site
) -> None:
    site.put(
        "/",
        b"""<html><head><title>The Moscow Times</title>
<link rel="alternate" type="application/rss+xml" title="News" href="/rss/news">
<link rel="alternate" type="application/rss+xml" title="Opinion" href="/rss/opinion">
<link rel="alternate" type="text/html" hreflang="ru" href="/ru">
<link rel="stylesheet" href="/app.css"></head><body>Home</body></html>""",
    )
    code, out, err = cli("discover", "--config", str(config), server.url("/"))
    assert code == 0, err
    assert f'"{server.url("/rss/news")}",  # The Moscow Times - News (9 entries) [announced]' in out
    assert f'"{server.url("/rss/opinion")}",' in out
    assert f'"{server.url("/rss/all")}",  # The Moscow Times (10 entries) [common path]' in out
    assert "/ru" not in out and "app.css" not in out
    snippet = tomllib.loads(out)
    settings = from_mapping(snippet)
    assert settings.sources[0].profile == "generic"
    assert len(settings.sources[0].feeds) == 3


def test_discover_without_feeds_says_so(
    cli: Cli, config: Path, server: SiteServer, site: Site
) -> None:
    for path in [p for p in site.files if p.startswith("/rss/")]:
        site.remove(path)
    site.put("/", b"<html><head><title>x</title></head><body>nothing</body></html>")
    code, out, _ = cli("discover", "--config", str(config), server.url("/"))
    assert code == 1
    assert "no feed found" in out


def test_discover_names_the_source_after_the_site_never_an_address(
    cli: Cli, config: Path, server: SiteServer, site: Site
) -> None:
    site.put(
        "/",
        b"""<html><head><title>The Moscow Times | Independent News From Russia</title>
<link rel="alternate" type="application/rss+xml" href="/rss/news"></head></html>""",
    )
    code, out, err = cli("discover", "--config", str(config), server.url("/"))
    assert code == 0, err
    assert server.url("/").startswith("http://127.0.0.1:")
    assert tomllib.loads(out)["sources"][0]["name"] == "the-moscow-times"
    # A page without a title: the feed's own title names it.
    site.put("/", b"<html><head></head><body>Home</body></html>")
    code, out, err = cli("discover", "--config", str(config), server.url("/"))
    assert tomllib.loads(out)["sources"][0]["name"] == "the-moscow-times"
    assert '"127"' not in out
