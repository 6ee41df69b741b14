"""Crash consistency: kill -9 a fetch at random moments, then check the archive.

N times (default 50): start ``news-worker fetch`` of M articles (default 200) against a local
Moscow Times-shaped site and SIGKILL it at a random moment. After each kill every record file must
parse and validate against the schema, and no article ID may appear twice. Temporary files of the
killed process are counted; the next start must remove them. At the end one clean run must
complete all M. Prints the counts; exits non-zero if anything was lost, duplicated or corrupt.

    python bench/crash.py [--runs N] [--articles M] [--seed S] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import jsonschema  # noqa: E402

from ingest import mirror_config  # noqa: E402
from mtsite import synthetic_site  # noqa: E402
from sitesrv import Scripted, Site, SiteServer  # noqa: E402
from worker.store.files import TMP_MARK  # noqa: E402
from worker.store.record import schema  # noqa: E402

BIN = Path(sys.executable).parent / "news-worker"


def check_archive(archive: Path, validator: jsonschema.Draft202012Validator) -> dict[str, int]:
    """Counts of records, corrupt files, duplicate IDs and temporary files in an archive."""
    ids: dict[str, int] = {}
    corrupt = temporary = 0
    for path in archive.rglob("*"):
        if ".state" in path.parts or not path.is_file():
            continue
        if TMP_MARK in path.name:
            temporary += 1
            continue
        if path.suffix != ".json":
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            validator.validate(record)
        except (ValueError, jsonschema.ValidationError):
            corrupt += 1
            continue
        if path.name.count(".") == 1:
            ids[record["id"]] = ids.get(record["id"], 0) + 1
    return {
        "records": len(ids),
        "corrupt": corrupt,
        "duplicated": sum(n - 1 for n in ids.values()),
        "temporary": temporary,
    }


def worker_orphans() -> set[int]:
    """Worker processes (multiprocessing children) whose parent is gone (re-parented to 1)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"multiprocessing.spawn" in cmdline and ppid == 1:
            found.add(int(proc.name))
    return found


def write_config(path: Path, base: str, feeds: list[str], archive: Path) -> None:
    mirror_config(
        path,
        archive,
        [base + f for f in feeds],
        concurrency=8,
        name="moscowtimes",
        sections='[retry]\nrequeue_delay = "0s"\nbackoff = "10ms"',
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-delay", type=float, default=0.01, help="server delay per page, s")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()

    feeds = max(1, -(-args.articles // 50))
    per_feed = -(-args.articles // feeds)
    total = feeds * per_feed  # the articles, spread evenly over feeds of at most 50
    site = Site()
    for path, body in synthetic_site(feeds, per_feed, seed=args.seed, target_bytes=30_000).items():
        site.put(path, body)
    pages = [p for p in site.files if "-a" in p]
    rng = random.Random(args.seed)
    validator = jsonschema.Draft202012Validator(schema())
    work = args.keep or Path(tempfile.mkdtemp(prefix="crash-"))
    work.mkdir(parents=True, exist_ok=True)
    archive = work / "archive"
    config = work / "crash.toml"
    totals = {
        "kills": 0,
        "corrupt": 0,
        "duplicated": 0,
        "temporary_seen": 0,
        "temporary_left": 0,
        "restarts_from_empty": 0,
        "orphaned_workers": 0,
    }

    def slow(path: str) -> Scripted:
        return Scripted(
            200,
            {"Content-Type": "text/html; charset=utf-8"},
            site.body_of(path),
            delay=args.page_delay,
        )

    orphans_before = worker_orphans()
    with SiteServer(site, max_seconds=3600, max_requests=10_000_000) as server:
        write_config(config, server.base, [f"/rss/feed{n}" for n in range(feeds)], archive)
        for path in pages:
            site.fault(path, lambda p=path: slow(p))
        started = time.monotonic()
        clean = subprocess.run(
            [str(BIN), "fetch", "--config", str(config)],
            capture_output=True,
            timeout=600,
            check=False,
        )
        duration = time.monotonic() - started
        for run in range(args.runs):
            if check_archive(archive, validator)["records"] == total:
                shutil.rmtree(archive)  # complete: start over, so every kill lands in real work
                totals["restarts_from_empty"] += 1
            process = subprocess.Popen(
                [str(BIN), "fetch", "--config", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0, duration * 1.1))
            process.kill()
            process.wait()
            totals["kills"] += 1
            found = check_archive(archive, validator)
            totals["corrupt"] += found["corrupt"]
            totals["duplicated"] += found["duplicated"]
            totals["temporary_seen"] += found["temporary"]
            print(
                f"run {run + 1}/{args.runs}: {found['records']} archived, "
                f"{found['temporary']} temporary files left by the kill",
                flush=True,
            )
        final = subprocess.run(
            [str(BIN), "fetch", "--config", str(config)],
            capture_output=True,
            timeout=600,
            check=False,
        )
        found = check_archive(archive, validator)
        totals["temporary_left"] = found["temporary"]
        totals["corrupt"] += found["corrupt"]
        totals["duplicated"] += found["duplicated"]
    # A worker notices its parent's death within half a second of starting its job loop; one
    # killed while still importing gets there later on a loaded machine.
    deadline = time.monotonic() + 15
    while worker_orphans() - orphans_before and time.monotonic() < deadline:
        time.sleep(0.25)
    totals["orphaned_workers"] = len(worker_orphans() - orphans_before)
    lost = total - found["records"]
    summary = {
        "runs": args.runs,
        "articles": total,
        "clean_run_seconds": round(duration, 2),
        "clean_run_exit": clean.returncode,
        "final_run_exit": final.returncode,
        "archived": found["records"],
        "lost": lost,
        **totals,
    }
    print(json.dumps(summary))
    bad = lost or totals["corrupt"] or totals["duplicated"] or totals["temporary_left"]
    bad = bad or final.returncode != 0 or totals["orphaned_workers"]
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
