"""Export memory: ``news-worker export`` streams, so its peak memory does not grow with the
archive. Builds folder archives of synthetic records (article-sized text, a body of blocks,
authors, tags; spread over a year of day folders), runs the export of each as a subprocess
(its output read and counted; Parquet to a file) and prints its peak RSS and time; exits
non-zero if the largest archive's peak is more than ``--allow`` MB above the second largest's
(the smallest run includes the interpreter's warm-up).

    python bench/export_memory.py [--counts 2000,20000,60000] [--formats jsonl,csv,parquet]
                                  [--allow MB] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from ingest import PeakWatcher  # noqa: E402

BIN = Path(sys.executable).parent / "news-worker"
TEXT = (
    "the government said on friday that officials would meet next week to discuss sanctions "
    "against companies linked to the war while critics warned the plan came too late"
)
WORDS = TEXT.split(" ")


def record(n: int, day: date, rng: random.Random) -> dict[str, object]:
    paragraphs = [" ".join(rng.choices(WORDS, k=rng.randint(30, 90))) for _ in range(12)]
    article = f"b{n}"
    return {
        "schema_version": 1,
        "id": article,
        "source": "bench",
        "url": f"https://news.example/{day:%Y/%m/%d}/story-{article}",
        "title": " ".join(rng.choices(WORDS, k=10)).title(),
        "subtitle": None,
        "authors": [f"Author {rng.randint(1, 40)}", "Staff"],
        "author_details": [],
        "published_at": f"{day.isoformat()}T{rng.randint(0, 23):02d}:30:00+03:00",
        "updated_at": None,
        "section": rng.choice(["News", "Opinion", "Business"]),
        "tags": rng.sample(WORDS, 4),
        "language": "en",
        "description": paragraphs[0][:200],
        "lead_image": {
            "url": f"https://img.example/{article}.jpg",
            "caption": "A caption",
            "credit": "AFP",
        },
        "text": "\n\n".join(paragraphs),
        "body": [{"type": "paragraph", "text": p, "markdown": p} for p in paragraphs],
        "related": [],
        "kind": "news",
        "label": None,
        "disclaimer": None,
        "fetched_at": "2026-12-01T12:00:00+00:00",
        "feed_url": "https://news.example/rss",
        "revision": 1,
        "content_hash": f"sha256:{n:064x}",
        "extraction": {"method": "generic", "profile": "generic"},
        "fetch": {
            "requested_url": "",
            "final_url": "",
            "status": 200,
            "content_type": None,
            "raw_sha256": "",
        },
    }


def build(root: Path, count: int) -> Path:
    """An archive of ``count`` records over 365 days, and a config naming it."""
    rng = random.Random(count)
    first = date(2025, 1, 1)
    for n in range(count):
        day = first + timedelta(days=n % 365)
        folder = root / "archive" / "bench" / f"{day:%Y/%m/%d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"b{n}.json").write_text(json.dumps(record(n, day, rng)), encoding="utf-8")
    config = root / "news-worker.toml"
    config.write_text(
        f'[archive]\ndir = "{root / "archive"}"\n[state]\npath = "{root / "state.sqlite3"}"\n'
        '[[sources]]\nname = "bench"\nprofile = "generic"\nfeeds = ["https://news.example/rss"]\n',
        encoding="utf-8",
    )
    return config


def measure(config: Path, fmt: str, out: Path) -> tuple[float, float, int]:
    """(peak RSS in MB, seconds, rows) of one export run as a child process: its VmHWM, polled
    (wait4's figure could count this script's own memory, held by the child until it execs)."""
    started = time.monotonic()
    target = ["--output", str(out)] if fmt == "parquet" else []
    with open(os.devnull, "wb") as devnull:
        child = subprocess.Popen(
            [str(BIN), "export", "--config", str(config), "--format", fmt, *target],
            stdout=devnull if fmt == "parquet" else subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        watcher = PeakWatcher(child.pid)
        watcher.start()
        rows = 0
        if fmt == "jsonl" and child.stdout is not None:
            rows = sum(1 for _ in child.stdout)
        elif child.stdout is not None:  # CSV: cells may hold newlines; the reader counts rows
            text = io.TextIOWrapper(child.stdout, encoding="utf-8", newline="")
            rows = sum(1 for _ in csv.reader(text)) - 1
        child.wait()
        watcher.stopping.set()
        watcher.join()
    if child.returncode != 0:
        raise SystemExit(f"export exited {child.returncode}")
    if fmt == "parquet":
        import pyarrow.parquet as pq

        rows = pq.read_metadata(out).num_rows
    return max(watcher.peaks.values(), default=0) / 1024, time.monotonic() - started, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="2000,20000,60000")
    parser.add_argument("--formats", default="jsonl,csv,parquet")
    parser.add_argument("--allow", type=float, default=10.0, help="MB of growth allowed")
    parser.add_argument("--keep", type=Path, help="build the archives here and keep them")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    base = args.keep or Path(tempfile.mkdtemp(prefix="export-bench-"))
    peaks: dict[str, list[float]] = {}
    try:
        for count in counts:
            root = base / f"n{count}"
            config = root / "news-worker.toml"
            if not config.exists():
                started = time.monotonic()
                build(root, count)
                print(f"built {count} records in {time.monotonic() - started:.1f}s", flush=True)
            for fmt in args.formats.split(","):
                peak, seconds, rows = measure(config, fmt, root / f"out.{fmt}")
                assert rows == count, (rows, count)
                peaks.setdefault(fmt, []).append(peak)
                print(
                    f"{fmt:8} {count:>6} records: peak RSS {peak:6.1f} MB, {seconds:5.1f}s "
                    f"({count / seconds:,.0f} rows/s)",
                    flush=True,
                )
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    # The first step includes the interpreter's warm-up (arenas, pyarrow's pool); a streaming
    # export stays flat from the second-largest archive to the largest.
    grew = {fmt: values[-1] - values[-2] for fmt, values in peaks.items() if len(values) > 1}
    print(
        f"peak RSS from {counts[-2]:,} to {counts[-1]:,} records: "
        + ", ".join(f"{fmt} {mb:+.1f} MB" for fmt, mb in grew.items())
    )
    return 1 if any(mb > args.allow for mb in grew.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
