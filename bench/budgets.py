"""What real input costs, to choose the per-item budgets (``limits.*``) with room.

For every page of a folder of real pages (``*.html.gz``, default the article-extraction benchmark's
181 pages in ``shared/data/aeb/html``), the Moscow Times fixture pages, the real feeds in
``tests/fixtures/feeds`` and the fixture site's feeds, and a generated legitimate sitemap of 50,000
URLs: CPU seconds and peak memory (resident set growth over the process at rest) of the work a
worker process does for that item (decode, parse, extract, build the record; parse a feed or a
sitemap). A feed of 5,000 entries (the feed parser's cap, near 8 MB) and a Google News sitemap at the
protocol's limits (50,000 URLs, near 50 MB) stand for the largest legitimate input of their kind.
Prints the largest and the 95th percentile of each kind, and the largest items.

    python bench/budgets.py [--pages DIR]

Items run in a worker-like process (imports done first, replaced every 20 items); the peak is
reset before each item (``/proc/self/clear_refs``), so each item's figure is its own.
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT.parent / "shared" / "data" / "aeb" / "html"


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _measure(kind: str, body: bytes, url: str, profile: str) -> tuple[float, int]:
    from worker.extract import extract
    from worker.parse import feeds, sitemaps

    Path("/proc/self/clear_refs").write_text("5")  # resets the peak resident set (VmHWM)
    rest = _status("VmRSS")
    started = time.process_time()
    if kind == "page":
        try:
            extract(body, url, profile, content_type="text/html")
        except Exception as exc:  # an unusable page still costs what it cost
            print(f"  ({url}: {type(exc).__name__}: {exc})"[:160], file=sys.stderr)
    elif kind == "feed":
        feeds.parse(body, url)
    else:
        sitemaps.parse(body, url)
    return time.process_time() - started, _status("VmHWM") - rest


def _warm() -> None:
    import trafilatura  # noqa: F401  (imported on first use otherwise)

    from worker.extract import extract

    extract(b"<html><title>t</title><body><p>warm up</p></body></html>", "https://e.x/", "generic")


def _item(args: tuple[str, bytes, str, str]) -> tuple[float, int]:
    return _measure(*args)


def _sitemap(urls: int) -> bytes:
    rows = "".join(
        f"<url><loc>https://news.example/{2024 - n % 20}/12/27/a-long-article-slug-number-{n}"
        f"</loc><lastmod>2024-12-27T12:00:00+03:00</lastmod></url>\n"
        for n in range(urls)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{rows}</urlset>\n'
    ).encode()


def _news_sitemap(urls: int) -> bytes:
    """A Google News sitemap at the protocol's limits: 50,000 URLs, near 50 MB."""
    title = "Officials in Moscow said on Friday that the new rules would take effect " * 9
    rows = "".join(
        f"<url><loc>https://news.example/2024/12/27/a-long-article-slug-number-{n}</loc>"
        "<news:news><news:publication><news:name>News</news:name><news:language>en"
        "</news:language></news:publication><news:publication_date>2024-12-27T12:00:00+03:00"
        f"</news:publication_date><news:title>{title}{n}</news:title></news:news></url>\n"
        for n in range(urls)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/'
        'sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
        f"{rows}</urlset>\n"
    ).encode()


def _big_feed(entries: int) -> bytes:
    """A feed at the feed parser's limits: 5,000 entries, near 8 MB."""
    text = "Officials in Moscow said on Friday that the new rules would take effect. " * 18
    items = "".join(
        f"<item><title>Article number {n} of a very long feed</title>"
        f"<link>https://news.example/2024/12/27/article-{n}</link><description>{text}"
        f"</description><pubDate>Fri, 27 Dec 2024 12:38:00 +0300</pubDate>"
        f"<category>News</category></item>"
        for n in range(entries)
    )
    return f'<rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'.encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=Path, default=PAGES)
    args = parser.parse_args()
    items: list[tuple[str, tuple[str, bytes, str, str]]] = []
    for path in sorted(args.pages.glob("*.html.gz")):
        body = gzip.decompress(path.read_bytes())
        items.append((path.name[:12], ("page", body, "https://news.example/a", "generic")))
    site = ROOT / "tests" / "fixtures" / "moscowtimes" / "site"
    for path in sorted(site.rglob("*-a*.html")):
        url = "https://www.themoscowtimes.com/" + path.relative_to(site).as_posix()[:-5]
        items.append((path.stem[-7:], ("page", path.read_bytes(), url, "moscowtimes")))
    for path in [
        *sorted((ROOT / "tests" / "fixtures" / "feeds").glob("*.xml")),
        *sorted((site / "rss").glob("*.xml")),
    ]:
        items.append((path.name, ("feed", path.read_bytes(), "https://news.example/rss", "")))
    items.append(("5,000 entries", ("feed", _big_feed(5_000), "https://news.example/rss", "")))
    items.append(("50,000 URLs", ("sitemap", _sitemap(50_000), "https://news.example/s.xml", "")))
    news = _news_sitemap(50_000)
    items.append(("50,000 news URLs", ("sitemap", news, "https://news.example/n.xml", "")))
    context = multiprocessing.get_context("spawn")
    results: dict[str, list[tuple[float, int, str, int]]] = {}
    with context.Pool(1, initializer=_warm, maxtasksperchild=20) as pool:
        for name, item in items:
            cpu, peak = pool.apply(_item, (item,))
            results.setdefault(item[0], []).append((cpu, peak, name, len(item[1])))
    print(
        f"{'kind':8} {'items':>5} {'max CPU s':>9} {'p95 CPU s':>9} {'max MB':>7} {'p95 MB':>7}"
        "  largest by CPU / by memory"
    )
    for kind, rows in results.items():
        cpus = sorted(r[0] for r in rows)
        peaks = sorted(r[1] for r in rows)
        p95 = max(0, int(len(rows) * 0.95) - 1)
        by_cpu = max(rows)
        by_mem = max(rows, key=lambda r: r[1])
        print(
            f"{kind:8} {len(rows):>5} {cpus[-1]:>9.3f} {cpus[p95]:>9.3f} {peaks[-1] / 1e6:>7.1f} "
            f"{peaks[p95] / 1e6:>7.1f}  {by_cpu[2]} ({by_cpu[3] / 1e3:.0f} KB) / "
            f"{by_mem[2]} ({by_mem[3] / 1e3:.0f} KB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
