"""What each attack of issue 12 costs now: the outcome, and the CPU time and peak memory of the
worker process that handled it, with the default budgets (``limits.cpu = 10s``,
``limits.memory = 512MB``).

Each input is generated here and handed to a fresh worker pool as the pipeline hands it over
(``feeds.parse``, ``sitemaps.parse``, ``extract``); CPU is the worker process's own (from the
kernel's accounting of the reaped process), peak memory its VmHWM over its resident set at rest
(unknown, shown as ``-``, when the process was killed at its budget).

    python bench/hostile.py
"""

from __future__ import annotations

import asyncio
import gzip
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.config import LimitSettings  # noqa: E402
from worker.errors import WorkerError  # noqa: E402
from worker.extract import extract  # noqa: E402
from worker.ingest.pool import WorkerPool  # noqa: E402
from worker.parse import feeds, sitemaps  # noqa: E402

WORDS = " ".join(f"word{n}" for n in range(40))
PARAGRAPHS = f"<p>In Moscow on Friday, officials said: {WORDS}.</p>" * 8


def page(title: str, body: str = PARAGRAPHS, head: str = "") -> bytes:
    return (
        f"<html><head><title>{title}</title>{head}</head><body><article><h1>{title}</h1>"
        f"{body}</article></body></html>"
    ).encode()


def laughs(references: int) -> bytes:
    refs = "&a;" * references
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{"x" * 1_000_000}">]>'
        f'<rss version="2.0"><channel><title>{refs}</title><item><title>{refs}</title>'
        f"<link>https://news.example/a1</link><description>{refs}</description></item>"
        "</channel></rss>"
    ).encode()


def paragraphs(megabytes: float, words: int) -> bytes:
    one = "<p>" + " ".join(f"w{n}" for n in range(words)) + "</p>"
    return page("Paragraphs", one * int(megabytes * 1_000_000 / len(one)))


def urlset(count: int) -> bytes:
    rows = "".join(f"<url><loc>https://n.example/a{n}</loc></url>" for n in range(count))
    return (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{rows}</urlset>"
    ).encode()


def titles() -> bytes:
    huge = "T" * 1_000_000
    item = (
        f"<item><title>{huge}</title><link>https://news.example/a1</link>"
        f"<description>{huge}</description><category>{huge}</category></item>"
    )
    return f'<rss version="2.0"><channel><title>{huge}</title>{item}</channel></rss>'.encode()


def author() -> bytes:
    item = f"<item><title>t</title><link>https://n.example/a</link><author>{'A' * 1_000_000}</author></item>"
    return f'<rss version="2.0"><channel>{item}</channel></rss>'.encode()


URL = "https://news.example/a"
CASES: list[tuple[str, Callable[[], tuple[Callable[..., object], tuple[object, ...]]]]] = [
    ("feed: 1 MB entity past 64 KB, &a; x 200", lambda: (feeds.parse, (laughs(200), URL))),
    ("feed: 1 MB entity past 64 KB, &a; x 6,000", lambda: (feeds.parse, (laughs(6000), URL))),
    (
        "feed: seven 1 MB titles (title, description, category...)",
        lambda: (feeds.parse, (titles(), URL)),
    ),
    ("feed: a 1 MB <author>", lambda: (feeds.parse, (author(), URL))),
    (
        "page: 1,000,000 attributes on one element (9.9 MB)",
        lambda: (
            extract,
            (
                page("A", f"<div {' '.join(f'a{n}' for n in range(1_000_000))}>x</div>"),
                URL,
                "generic",
            ),
        ),
    ),
    (
        "page: 40,000 attributes on one element",
        lambda: (
            extract,
            (page("A", f"<div {' '.join(f'a{n}' for n in range(40_000))}>x</div>"), URL, "generic"),
        ),
    ),
    ("page: <div/> x 100,000", lambda: (extract, (page("D", "<div/>" * 100_000), URL, "generic"))),
    ("page: <div/> x 50,000", lambda: (extract, (page("D", "<div/>" * 50_000), URL, "generic"))),
    ("page: 9.9 MB of 12-word <p>", lambda: (extract, (paragraphs(9.9, 12), URL, "generic"))),
    ("page: 9.9 MB of 28-word <p>", lambda: (extract, (paragraphs(9.9, 28), URL, "generic"))),
    ("page: 2 MB of 12-word <p>", lambda: (extract, (paragraphs(2, 12), URL, "generic"))),
    (
        "page: seven 1 MB titles (<title>, og:title, h1...)",
        lambda: (
            extract,
            (
                page(
                    "T" * 1_000_000,
                    head=f'<meta property="og:title" content="{"T" * 1_000_000}"><meta name="description" content="{"T" * 1_000_000}">',
                ),
                URL,
                "generic",
            ),
        ),
    ),
    (
        "sitemap: 1,000,000 URLs (gzip)",
        lambda: (sitemaps.parse, (gzip.compress(urlset(1_000_000)), URL)),
    ),
    ("sitemap: 50,000 URLs", lambda: (sitemaps.parse, (urlset(50_000), URL))),
]


def _hwm(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _cpu_of_reaped() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def one(function: Callable[..., object], args: tuple[object, ...]) -> tuple[str, int | None]:
    pool = WorkerPool(1, LimitSettings())
    pool.warm()
    try:
        await pool.run(sum, ())  # started and imported: what follows is the item alone
        [process] = pool._idle
        pid = process.process.pid or 0
        rest = _hwm(pid) or 0
        try:
            result = await pool.run(function, *args)
            outcome = f"ok ({type(result).__name__})"
        except WorkerError as exc:
            outcome = f"{type(exc).__name__} {exc.reason}"
        peak = _hwm(pid)
        return outcome, (
            peak - rest
        ) if peak is not None and process.process.exitcode is None else None
    finally:
        pool.close()


def main() -> int:
    before = _cpu_of_reaped()
    asyncio.run(one(sum, ((),)))
    start_up = _cpu_of_reaped() - before  # a worker process's start and imports, subtracted
    print(f"worker process start-up: {start_up:.2f} s of CPU (not counted below)")
    print(f"{'attack':58} {'outcome':32} {'CPU s':>6} {'peak MB':>8}")
    for name, build in CASES:
        function, args = build()
        before = _cpu_of_reaped()
        started = time.monotonic()
        outcome, peak = asyncio.run(one(function, args))
        cpu = max(0.0, _cpu_of_reaped() - before - start_up)
        wall = time.monotonic() - started
        shown = f"{peak / 1e6:8.1f}" if peak is not None else f"{'-':>8}"
        print(f"{name:58} {outcome:32} {cpu:6.2f} {shown}  (wall {wall:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
