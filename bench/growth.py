"""Growth (issue 13): do the hot paths' costs stay flat as the state and the archive grow?

For each size (default 1,000 and 20,000 articles) the articles are really fetched from a loopback
mirror (small Moscow Times-shaped pages of about 22 KB, feeds of 50 items: 20 and 400 feeds,
politeness off as in bench/ingest.py, served by tests/sitesrv.py in a separate process), then:

- the unchanged second pass: ``news-worker fetch`` again, ``--repeat`` times (median wall
  seconds, the poll's own milliseconds per feed from its ``poll_done`` line, requests by status,
  files written);
- ``news-worker status``: wall seconds (median of ``--repeat`` runs);
- ``news-worker run``: start-up (seconds from the spawn until ``/readyz`` answers 200, median of
  ``--repeat`` starts), then, once no poll is under way, ``--scrapes`` scrapes of ``/metrics``
  and of ``/readyz`` (median and max, ms), and the gauges checked against the state;
- ``news-worker state rebuild`` into an empty state file (seconds);
- ``news-worker reextract`` of every record (milliseconds per article);
- peak RSS, polled from ``/proc``, of each command's largest process.

With ``--million``, a synthetic state of 1,000,000 article rows: a copy of the largest size's state
(its feeds and validators, its real rows), filled up with rows inserted by SQL in one transaction
into the schema the program created (the triggers that keep ``article_counts`` fire for each row,
so the counts the hot paths read stay consistent; the benchmark checks them against COUNT(*)),
on the same archive. The same measurements, but rebuild and reextract: no records exist for the
synthetic rows (n/a).

    python bench/growth.py [--sizes 1000,20000] [--million] [--scrapes 20] [--repeat 3]
                           [--keep DIR]

Targets (issue 13): flat per feed and per scrape from 1,000 to a million rows; a scrape under
50 ms at a million. The script prints figures, a Markdown table with the sizes side by side; it
asserts nothing about them (exit 1 only when a command failed or a count is wrong).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests")]

from ingest import (  # noqa: E402
    BIN,
    PeakWatcher,
    files_in,
    measured,
    mirror_config,
    start_mirror,
    stats,
    write_mirror,
)

NEWS_WORKER = str(BIN / "news-worker")
ITEMS = 50  # items per feed
MILLION = 1_000_000
SOURCE = "mirror"
# The synthetic rows: mostly archived, some given up, a few queued with their next try a day
# away (so no pass fetches them); the real rows come first.
MIX = (("archived", 0.979), ("gone", 0.02), ("queued", 0.001))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def mirror_with_sizes(folder: Path, feeds: int, page_bytes: int, seed: int) -> tuple[int, float]:
    """The mirror of ``feeds`` feeds of ITEMS pages of about ``page_bytes``: (articles, mean
    page KB)."""
    articles = write_mirror(folder, feeds, ITEMS, seed, target_bytes=page_bytes)
    sizes = [page.stat().st_size for page in folder.rglob("*.html")]
    return articles, statistics.mean(sizes) / 1000


def get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def poll_ms(log: Path) -> float | None:
    """The poll's own time (``poll_done``'s elapsed_ms, summed over the run's sources)."""
    total = None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if '"poll_done"' in line:
            try:
                total = (total or 0.0) + float(json.loads(line)["elapsed_ms"])
            except (ValueError, KeyError):
                continue
    return total


def state_rows(path: Path) -> dict[str, Any]:
    """Rows by status (COUNT(*)), the kept counters, the file's size."""
    with sqlite3.connect(path) as db:
        counted = dict(db.execute("SELECT status, COUNT(*) FROM articles GROUP BY status"))
        kept = dict(db.execute("SELECT status, SUM(n) FROM article_counts GROUP BY status"))
    size = sum(
        Path(f"{path}{suffix}").stat().st_size
        for suffix in ("", "-wal")
        if Path(f"{path}{suffix}").exists()
    )
    return {
        "counted": counted,
        "kept": {k: v for k, v in kept.items() if v},
        "rows": sum(counted.values()),
        "mb": size / 1e6,
    }


def synthetic_state(
    source: Path, target: Path, rows: int, feeds: list[str], seed: int
) -> dict[str, Any]:
    """A copy of ``source`` filled up to ``rows`` article rows, inserted in one transaction (the
    schema's triggers keep article_counts); returns how long the insert took and the rows."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    db = sqlite3.connect(target, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    existing = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    wanted = max(0, rows - existing)
    rng = random.Random(seed)
    now = time.time()
    statuses = [status for status, _ in MIX]
    weights = [share for _, share in MIX]

    def generated() -> Any:
        for n in range(wanted):
            status = rng.choices(statuses, weights)[0]
            article = f"a{9_000_000 + n}"
            day = 1 + n % 28
            month = 1 + (n // 28) % 12
            url = f"http://127.0.0.1/2023/{month:02d}/{day:02d}/synthetic-{article}"
            discovered = now - 86400 * 365 + n * 30
            archived = status == "archived"
            yield (
                SOURCE,
                article,
                url,
                feeds[n % len(feeds)],
                None if archived else json.dumps({"title": f"Synthetic {n}", "link": url}),
                f"{rng.getrandbits(64):016x}",
                status,
                {"archived": 0, "gone": 30, "queued": 3}[status],
                None if archived else ("http_404: gone" if status == "gone" else "http_503: busy"),
                now + 86400 if status == "queued" else 0,
                discovered,
                discovered + 5 if archived else None,
                f"{SOURCE}/2023/{month:02d}/{day:02d}/{article}.json" if archived else None,
                f"{rng.getrandbits(128):032x}" if archived else None,
                1 if archived else None,
            )

    started = time.monotonic()
    db.execute("BEGIN IMMEDIATE")
    db.executemany(
        "INSERT INTO articles (source, id, url, feed_url, entry, fingerprint, status, attempts, "
        "last_error, next_try_at, discovered_at, archived_at, path, content_hash, revision) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        generated(),
    )
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return {"insert_s": time.monotonic() - started, "inserted": wanted, **state_rows(target)}


def vm_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def wait_quiet(base: str, seconds: float = 1.0, limit: float = 60.0) -> None:
    """Until the mirror has seen no request for ``seconds`` (no poll under way)."""
    last, since = stats(base)["requests"], time.monotonic()
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = stats(base)["requests"]
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return


def service(config: Path, port: int, base: str, log: Path, scrapes: int) -> dict[str, Any]:
    """Start ``news-worker run``; start-up to /readyz 200, then the scrapes, RSS; stop it."""
    ops = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        started = time.monotonic()
        process = subprocess.Popen(
            [NEWS_WORKER, "run", "--config", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    watcher = PeakWatcher(process.pid)
    watcher.start()
    result: dict[str, Any] = {"exit": None}
    try:
        deadline = started + 120
        while True:
            try:
                if get(ops + "/readyz", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                result["exit"] = process.poll()
                result["error"] = "the service did not become ready"
                return result
            time.sleep(0.01)
        result["startup_s"] = time.monotonic() - started
        if not scrapes:
            return result
        wait_quiet(base)
        get(ops + "/metrics")  # the first scrape reads the counts for the first time
        timings: dict[str, list[float]] = {"/metrics": [], "/readyz": []}
        body = b""
        for _ in range(scrapes):
            for path, times in timings.items():
                begun = time.perf_counter()
                code, answer = get(ops + path)
                times.append((time.perf_counter() - begun) * 1000)
                if path == "/metrics":
                    body = answer
                if code != 200:
                    result["error"] = f"{path} answered {code}"
        result["metrics_ms"] = timings["/metrics"]
        result["readyz_ms"] = timings["/readyz"]
        result["metrics_bytes"] = len(body)
        gauges = {}
        for line in body.decode().splitlines():
            for name in ("news_worker_archived_articles", "news_worker_queue_depth"):
                if line.startswith(f'{name}{{source="{SOURCE}"}}'):
                    gauges[name] = int(float(line.rsplit(" ", 1)[1]))
        result["gauges"] = gauges
        result["rss_mb"] = vm_kb(process.pid, "VmRSS") / 1024
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        watcher.stopping.set()
        watcher.join()
        result["exit"] = process.returncode
        result["peak_mb"] = watcher.peaks.get(process.pid, 0) / 1024
    return result


def measure_size(
    label: str,
    work: Path,
    config: Path,
    archive: Path,
    state: Path,
    base: str,
    feeds: int,
    scrapes: int,
    repeat: int,
    *,
    first_pass: bool,
    records: bool,
) -> dict[str, Any]:
    """Every measurement of one size; ``first_pass``: fetch everything first; ``records``:
    rebuild and reextract (records exist on disk)."""
    r: dict[str, Any] = {"label": label, "feeds": feeds, "failures": []}

    def check(name: str, result: dict[str, Any], allowed: tuple[int, ...] = (0,)) -> None:
        if result.get("exit") not in allowed:
            r["failures"].append(f"{label}: {name} exited {result.get('exit')}")

    if first_pass:
        print(f"[{label}] first pass: fetching ...", file=sys.stderr, flush=True)
        first = measured([NEWS_WORKER, "fetch", "--config", str(config)], base, work / "first.log")
        check("first fetch", first)
        r["first"] = first
    r["state"] = state_rows(state)

    print(f"[{label}] second pass, status, service ...", file=sys.stderr, flush=True)
    passes: list[dict[str, Any]] = []
    for n in range(repeat):
        before = files_in(archive, "")
        log = work / f"second-{n}.log"
        one: dict[str, Any] = measured([NEWS_WORKER, "fetch", "--config", str(config)], base, log)
        after = files_in(archive, "")
        check("second fetch", one)
        one["written"] = sum(1 for p, m in after.items() if before.get(p) != m)
        one["poll_ms"] = poll_ms(log)
        passes.append(one)
    r["second"] = {
        "wall_s": statistics.median(float(one["wall_s"]) for one in passes),
        "poll_ms": statistics.median(float(one["poll_ms"] or 0) for one in passes),
        "peak_rss_mb": max(float(one["peak_rss_mb"]) for one in passes),
        "written": sum(one["written"] for one in passes),
        "server": passes[0]["server"],
        "same_requests": all(one["server"] == passes[0]["server"] for one in passes),
    }

    runs: list[dict[str, Any]] = [
        measured([NEWS_WORKER, "status", "--config", str(config)], base, work / "status.log")
        for _ in range(repeat)
    ]
    for run in runs:
        check("status", run)
    r["status_s"] = statistics.median(float(run["wall_s"]) for run in runs)
    r["status_mb"] = max(float(run["peak_rss_mb"]) for run in runs)

    port = free_port()
    served = config.with_name(config.stem + "-service.toml")
    served.write_text(
        config.read_text()
        + f'\n[service]\nhost = "127.0.0.1"\nport = {port}\nshutdown_grace = "5s"\n',
        encoding="utf-8",
    )
    starts = []
    for n in range(repeat):  # the last start is scraped
        scraped = n == repeat - 1
        svc = service(served, port, base, work / f"service-{n}.log", scrapes if scraped else 0)
        check("run", svc)
        if "error" in svc:
            r["failures"].append(f"{label}: {svc['error']}")
        starts.append(svc.get("startup_s", float("nan")))
    svc["startup_s"] = statistics.median(starts)
    archived = r["state"]["counted"].get("archived", 0)
    for gauge, status in (
        ("news_worker_archived_articles", "archived"),
        ("news_worker_queue_depth", "queued"),
    ):
        said = svc.get("gauges", {}).get(gauge)
        if said is not None and said != r["state"]["counted"].get(status, 0):
            r["failures"].append(
                f"{label}: /metrics says {gauge} {said}, the state holds "
                f"{r['state']['counted'].get(status, 0)} {status}"
            )
    r["service"] = svc

    if records:
        print(f"[{label}] state rebuild, reextract ...", file=sys.stderr, flush=True)
        rebuilt = work / "rebuilt" / "state.sqlite3"
        shutil.rmtree(rebuilt.parent, ignore_errors=True)
        rebuild = measured(
            [NEWS_WORKER, "state", "rebuild", "--config", str(config), "--state", str(rebuilt)],
            base,
            work / "rebuild.log",
        )
        check("state rebuild", rebuild)
        rebuild["rows"] = state_rows(rebuilt)["counted"].get("archived", 0)
        if rebuild["rows"] != archived:
            r["failures"].append(f"{label}: rebuild restored {rebuild['rows']} of {archived}")
        r["rebuild"] = rebuild
        reextract = measured(
            [NEWS_WORKER, "reextract", "--config", str(config)], base, work / "reextract.log"
        )
        check("reextract", reextract)
        summary = [
            line
            for line in (work / "reextract.log").read_text().splitlines()
            if line.startswith("reextract:")
        ]
        reextract["checked"] = int(summary[-1].split()[1]) if summary else 0
        r["reextract"] = reextract
    return r


def ms(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {max(values):.1f}"


def table(results: list[dict[str, Any]], repeat: int, scrapes: int) -> list[str]:
    """The figures as a Markdown table, a column per size."""

    def row(name: str, cell: Any) -> str:
        cells = []
        for r in results:
            try:
                cells.append(cell(r))
            except (KeyError, TypeError, ValueError, ZeroDivisionError, statistics.StatisticsError):
                cells.append("n/a")
        return f"| {name} | " + " | ".join(cells) + " |"

    def first(r: dict[str, Any]) -> str:
        f = r["first"]
        articles = r["state"]["counted"].get("archived", 0)
        return f"{f['wall_s']:.1f} s ({articles / f['wall_s']:.0f}/s)"

    def second_requests(r: dict[str, Any]) -> str:
        s = r["second"]
        statuses = ", ".join(f"{n} x {code}" for code, n in s["server"]["by_status"].items())
        varied = "" if s["same_requests"] else " (not the same in every pass)"
        return f"{s['server']['requests']} ({statuses}){varied}; {s['written']} files written"

    def rows_cell(r: dict[str, Any]) -> str:
        c = r["state"]["counted"]
        return f"{r['state']['rows']:,} ({c.get('archived', 0):,} / {c.get('gone', 0):,} / {c.get('queued', 0):,})"

    def reextract(r: dict[str, Any]) -> str:
        x = r["reextract"]
        return f"{x['wall_s'] * 1000 / x['checked']:.2f} ({x['wall_s']:.1f} s, {x['checked']:,})"

    heads = [r["label"] for r in results]
    lines = [
        "| quantity | " + " | ".join(heads) + " |",
        "|---|" + "---|" * len(results),
        row("feeds (50 items each)", lambda r: str(r["feeds"])),
        row("article rows in the state (archived / given up / queued)", rows_cell),
        row("state file, MB", lambda r: f"{r['state']['mb']:.1f}"),
        row("first pass: `fetch` of every article, s (articles/s)", first),
        row(
            "first pass: peak RSS MB, largest process", lambda r: f"{r['first']['peak_rss_mb']:.0f}"
        ),
        row(
            f"unchanged second pass: `fetch` wall s (median of {repeat})",
            lambda r: f"{r['second']['wall_s']:.2f}",
        ),
        row(
            "unchanged second pass: the poll's own ms (ms per feed)",
            lambda r: f"{r['second']['poll_ms']:.0f} ({r['second']['poll_ms'] / r['feeds']:.2f})",
        ),
        row(
            "unchanged second pass: wall ms per feed",
            lambda r: f"{r['second']['wall_s'] * 1000 / r['feeds']:.1f}",
        ),
        row("unchanged second pass: requests per pass; files written", second_requests),
        row(
            "unchanged second pass: peak RSS MB, largest process",
            lambda r: f"{r['second']['peak_rss_mb']:.0f}",
        ),
        row(f"`status` wall s (median of {repeat})", lambda r: f"{r['status_s']:.2f}"),
        row("`status` peak RSS MB", lambda r: f"{r['status_mb']:.0f}"),
        row(
            f"start-up: spawn of `run` to `/readyz` 200, s (median of {repeat})",
            lambda r: f"{r['service']['startup_s']:.2f}",
        ),
        row(
            f"`/metrics` scrape ms (median / max of {scrapes})",
            lambda r: ms(r["service"]["metrics_ms"]),
        ),
        row(f"`/readyz` ms (median / max of {scrapes})", lambda r: ms(r["service"]["readyz_ms"])),
        row(
            "`run` RSS MB after the scrapes (peak)",
            lambda r: f"{r['service']['rss_mb']:.0f} ({r['service']['peak_mb']:.0f})",
        ),
        row(
            "`state rebuild` into an empty state, s (peak RSS MB)",
            lambda r: f"{r['rebuild']['wall_s']:.2f} ({r['rebuild']['peak_rss_mb']:.0f} MB)",
        ),
        row("`reextract` ms per article (total s, records)", reextract),
        row(
            "`reextract` peak RSS MB, largest process",
            lambda r: f"{r['reextract']['peak_rss_mb']:.0f}",
        ),
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="1000,20000", help="articles really fetched, comma-separated"
    )
    parser.add_argument("--million", action="store_true", help="add a synthetic state of 1M rows")
    parser.add_argument("--rows", type=int, default=MILLION, help="rows of the synthetic state")
    parser.add_argument("--scrapes", type=int, default=20, help="scrapes of /metrics, /readyz")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of the second pass, status, start-up (median)"
    )
    parser.add_argument("--page-bytes", type=int, default=4_000, help="page size aimed at")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    if not sizes or min(sizes) < 1:
        parser.error("--sizes: positive numbers of articles, e.g. 1000,20000")
    if args.repeat < 1 or args.scrapes < 1:
        parser.error("--repeat and --scrapes: at least 1")
    work = args.keep or Path(tempfile.mkdtemp(prefix="growth-"))
    work.mkdir(parents=True, exist_ok=True)
    feeds_of = {size: -(-size // ITEMS) for size in sizes}
    mirror = work / "mirror"
    shutil.rmtree(mirror, ignore_errors=True)
    print("writing the mirror ...", file=sys.stderr, flush=True)
    articles, page_kb = mirror_with_sizes(
        mirror, max(feeds_of.values()), args.page_bytes, args.seed
    )
    os.sync()  # the mirror reaches the disk now, not during a measured run
    server, base = start_mirror(mirror, work / "port", ["--no-log"])
    results: list[dict[str, Any]] = []
    notes: list[str] = []
    try:
        for size in sizes:
            folder = work / f"size-{size}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            feeds = [f"{base}/rss/feed{n}" for n in range(feeds_of[size])]
            config = mirror_config(folder / "news-worker.toml", folder / "archive", feeds)
            label = f"{feeds_of[size] * ITEMS:,} articles"
            results.append(
                measure_size(
                    label,
                    folder,
                    config,
                    folder / "archive",
                    folder / "archive" / ".state" / "state.sqlite3",
                    base,
                    len(feeds),
                    args.scrapes,
                    args.repeat,
                    first_pass=True,
                    records=True,
                )
            )
        if args.million:
            largest = max(sizes)
            source = work / f"size-{largest}"
            folder = work / "million"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            feeds = [f"{base}/rss/feed{n}" for n in range(feeds_of[largest])]
            state = folder / "state" / "state.sqlite3"
            print(f"[million] inserting rows up to {args.rows:,} ...", file=sys.stderr, flush=True)
            made = synthetic_state(
                source / "archive" / ".state" / "state.sqlite3", state, args.rows, feeds, args.seed
            )
            consistent = made["kept"] == made["counted"]
            notes.append(
                f"synthetic state: {made['inserted']:,} rows inserted in {made['insert_s']:.1f} s "
                f"(one transaction, the count triggers firing) beside the {largest:,}-article "
                f"state's own rows, its {len(feeds)} feeds and its archive; article_counts "
                f"{'consistent with' if consistent else 'DIFFERENT FROM'} COUNT(*): "
                f"{made['kept']} / {made['counted']}"
            )
            config = folder / "news-worker.toml"
            old = source / "archive" / ".state" / "state.sqlite3"
            config.write_text(
                (source / "news-worker.toml")
                .read_text()
                .replace(json.dumps(str(old)), json.dumps(str(state))),
                encoding="utf-8",
            )
            result = measure_size(
                f"{made['rows']:,} rows (synthetic)",
                folder,
                config,
                source / "archive",
                state,
                base,
                len(feeds),
                args.scrapes,
                args.repeat,
                first_pass=False,
                records=False,
            )
            if not consistent:
                result["failures"].append("article_counts differ from COUNT(*)")
            results.append(result)
    finally:
        server.terminate()
        server.wait(timeout=30)
    load = os.getloadavg()
    print(
        f"mirror: {articles:,} articles ({page_kb:.0f} KB per page on average) in feeds of "
        f"{ITEMS}, served from {base}; {os.cpu_count()} cores, load average "
        f"{load[0]:.1f} / {load[1]:.1f} at the end"
    )
    for note in notes:
        print(note)
    print()
    for line in table(results, args.repeat, args.scrapes):
        print(line)
    failures = [f for r in results for f in r["failures"]]
    for failure in failures:
        print(f"FAILED: {failure}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
