"""End-to-end ingest throughput against the peer, on the same local mirror, in one run.

Generates a deterministic mirror of F feeds x 50 items (default 20 x 50 = 1,000 articles) of
Moscow Times-shaped pages of 100-150 KB, serves it from a separate process on 127.0.0.1 (ETag and
Last-Modified, under a host name, since the peer refuses IP-address hosts), then runs:

1. ``news-worker fetch`` with politeness off (per_host_delay 0, per_host_concurrency 16, robots
   off): wall seconds, articles per second, CPU ms per article, peak RSS (of the largest
   process, and summed over its processes), requests sent;
2. the peer, ``trafilatura --feed --json -o DIR --parallel 16`` with its per-domain sleep set to 0
   and its private-address guard off (``--config-file``): the same figures;
3. a second ``news-worker fetch`` on the unchanged mirror: requests by status, bytes received,
   files written, wall time;
4. the ratio of 1 to 2 in articles per second.

    python bench/ingest.py [--feeds F] [--items N] [--host mirror.test] [--keep DIR]

The host name must resolve to 127.0.0.1; run as root, the script adds it to /etc/hosts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mtsite import synthetic_site  # noqa: E402

BIN = Path(sys.executable).parent


def ensure_host(name: str) -> None:
    try:
        if socket.gethostbyname(name) == "127.0.0.1":
            return
    except OSError:
        pass
    if os.geteuid() != 0:
        sys.exit(f"{name} does not resolve to 127.0.0.1: add '127.0.0.1 {name}' to /etc/hosts")
    with open("/etc/hosts", "a", encoding="utf-8") as hosts:
        hosts.write(f"\n127.0.0.1 {name}\n")


def write_mirror(
    folder: Path, feeds: int, items: int, seed: int, target_bytes: int | None = None
) -> int:
    """The mirror's files, as tests/sitesrv.py serves a folder; returns how many articles.
    ``target_bytes``: the pages' size, if not the default Moscow Times-shaped ones."""
    sized = {} if target_bytes is None else {"target_bytes": target_bytes}
    files = synthetic_site(feeds, items, seed=seed, **sized)
    for path, body in files.items():
        if path.startswith("/rss/"):
            target = folder / (path.lstrip("/") + ".xml")
        elif path == "/robots.txt":
            target = folder / "robots.txt"
        else:
            target = folder / (path.lstrip("/") + ".html")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    return sum(1 for p in files if "-a" in p)


def start_mirror(
    folder: Path,
    port_file: Path,
    options: list[str],
    host: str = "127.0.0.1",
    max_seconds: float = 3600,
) -> tuple[subprocess.Popen[bytes], str]:
    """Serve a mirror folder from a separate process; (the process, its base URL)."""
    port_file.unlink(missing_ok=True)
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "sitesrv.py"),
            str(folder),
            "--port-file",
            str(port_file),
            "--max-seconds",
            str(max_seconds),
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            sys.exit("the mirror did not start")
        time.sleep(0.1)
    return server, f"http://{host}:{port_file.read_text()}"


def mirror_config(
    path: Path,
    archive: Path,
    feeds: list[str],
    *,
    concurrency: int = 16,
    name: str = "mirror",
    sections: str = "",
    source: str = "",
    per_host_delay: float = 0.0,
    per_host_concurrency: int | None = None,
    respect_robots: bool = False,
    sources: dict[str, list[str]] | None = None,
) -> Path:
    """A configuration for a run over the local mirror: politeness and robots.txt off unless
    asked for, loopback allowed. ``sections`` are more TOML tables; ``source`` more keys for each
    source; ``sources`` several sources (name: feeds) instead of the one ``name`` with ``feeds``."""
    chosen = sources if sources is not None else {name: feeds}
    blocks = "".join(
        f"""[[sources]]
name = "{source_name}"
profile = "moscowtimes"
feeds = {json.dumps(source_feeds)}
{source}
"""
        for source_name, source_feeds in chosen.items()
    )
    path.write_text(
        f"""[archive]
dir = {json.dumps(str(archive))}
[state]
path = {json.dumps(str(archive / ".state" / "state.sqlite3"))}
[http]
per_host_delay = "{per_host_delay:g}s"
per_host_concurrency = {per_host_concurrency or concurrency}
max_connections = {concurrency}
respect_robots = {json.dumps(respect_robots)}
allow_private_addresses = true
{sections}
{blocks}""",
        encoding="utf-8",
    )
    return path


def stats(base: str) -> dict[str, object]:
    with urllib.request.urlopen(base + "/__stats", timeout=10) as response:
        loaded: dict[str, object] = json.loads(response.read())
    return loaded


def delta(after: dict[str, object], before: dict[str, object]) -> dict[str, object]:
    statuses = set(after["by_status"]) | set(before["by_status"])  # type: ignore[arg-type]
    return {
        "requests": int(after["requests"]) - int(before["requests"]),  # type: ignore[call-overload]
        "by_status": {
            s: after["by_status"].get(s, 0) - before["by_status"].get(s, 0)  # type: ignore[attr-defined]
            for s in sorted(statuses)
            if after["by_status"].get(s, 0) - before["by_status"].get(s, 0)  # type: ignore[attr-defined]
        },
        "bytes": int(after["bytes"]) - int(before["bytes"]),  # type: ignore[call-overload]
    }


def _tree(root: int) -> list[int]:
    """The process and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _peak_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class PeakWatcher(threading.Thread):
    """Polls the peak RSS (VmHWM) of every process of a tree while it runs. (The wait4 figure
    would count the benchmark's own memory: a forked child holds it until it execs.)"""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peaks: dict[int, int] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.02):
            for pid in _tree(self.root):
                self.peaks[pid] = max(self.peaks.get(pid, 0), _peak_kb(pid))


def measured(command: list[str], base: str, log: Path) -> dict[str, object]:
    """Run a command; wall time, CPU time, and the peak RSS of its largest process and the sum
    of the peaks of all its processes."""
    before = stats(base)
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        watcher = PeakWatcher(process.pid)
        watcher.start()
        _, status, usage = os.wait4(process.pid, 0)
        watcher.stopping.set()
        watcher.join()
    wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "exit": process.returncode,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": max(watcher.peaks.values(), default=0) / 1024,
        "peak_sum_mb": sum(watcher.peaks.values()) / 1024,
        "processes": len(watcher.peaks),
        "server": delta(stats(base), before),
    }


def files_in(folder: Path, suffix: str) -> dict[str, int]:
    return {
        str(p): p.stat().st_mtime_ns
        for p in folder.rglob(f"*{suffix}")
        if p.is_file() and ".state" not in p.parts
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--host", default="mirror.test")
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    ensure_host(args.host)
    work = args.keep or Path(tempfile.mkdtemp(prefix="ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    mirror = work / "mirror"
    if mirror.exists():
        shutil.rmtree(mirror)
    articles = write_mirror(mirror, args.feeds, args.items, args.seed)
    size = sum(p.stat().st_size for p in mirror.rglob("*.html"))
    os.sync()  # the mirror's 120 MB reach the disk now, not during the first measured run
    server, base = start_mirror(mirror, work / "port", ["--host-name", args.host], args.host)
    try:
        feeds = [f"{base}/rss/feed{n}" for n in range(args.feeds)]
        archive = work / "archive"
        shutil.rmtree(archive, ignore_errors=True)
        config = mirror_config(work / "news-worker.toml", archive, feeds, concurrency=args.parallel)
        ours = measured(
            [str(BIN / "news-worker"), "fetch", "--config", str(config)], base, work / "ours.log"
        )
        summary = json.loads((work / "ours.log").read_text().strip().splitlines()[-1])
        ours_articles = sum(s["articles"]["new"] for s in summary["sources"])

        peer_out = work / "peer"
        shutil.rmtree(peer_out, ignore_errors=True)
        peer_config = work / "trafilatura.cfg"
        peer_config.write_text(
            (Path(__import__("trafilatura").__file__).parent / "settings.cfg")
            .read_text()
            .replace("SLEEP_TIME = 5.0", "SLEEP_TIME = 0")
            .replace("SSRF_PROTECTION = on", "SSRF_PROTECTION = off"),
            encoding="utf-8",
        )
        feed_list = work / "feeds.txt"
        feed_list.write_text("\n".join(feeds) + "\n")
        peer = measured(
            [
                str(BIN / "trafilatura"),
                "-i",
                str(feed_list),
                "--feed",
                "--json",
                "-o",
                str(peer_out),
                "--parallel",
                str(args.parallel),
                "--config-file",
                str(peer_config),
            ],
            base,
            work / "peer.log",
        )
        peer_articles = len(files_in(peer_out, ".json"))

        before_files = files_in(archive, "")
        second = measured(
            [str(BIN / "news-worker"), "fetch", "--config", str(config)], base, work / "second.log"
        )
        after_files = files_in(archive, "")
        written = sum(1 for p, m in after_files.items() if before_files.get(p) != m)
    finally:
        server.terminate()
        server.wait(timeout=30)

    def row(name: str, result: dict[str, object], count: int) -> str:
        wall = float(result["wall_s"])  # type: ignore[arg-type]
        cpu = float(result["cpu_s"])  # type: ignore[arg-type]
        server_side = result["server"]
        return (
            f"{name:<28} {count:>8} {wall:>8.1f} {count / wall:>10.1f} "
            f"{cpu * 1000 / max(count, 1):>12.1f} {float(result['peak_rss_mb']):>10.0f} "  # type: ignore[arg-type]
            f"{float(result['peak_sum_mb']):>8.0f} {result['processes']:>5} "  # type: ignore[arg-type]
            f"{server_side['requests']:>9}"  # type: ignore[index]
        )

    print(
        f"mirror: {args.feeds} feeds x {args.items} items = {articles} articles, "
        f"{size / articles / 1000:.0f} KB per page, served from {base}"
    )
    print(
        f"{'run':<28} {'articles':>8} {'wall s':>8} {'articles/s':>10} "
        f"{'CPU ms/art.':>12} {'peak MB':>10} {'sum MB':>8} {'procs':>5} {'requests':>9}"
    )
    print(row("1. news-worker fetch", ours, ours_articles))
    print(row("2. trafilatura --feed", peer, peer_articles))
    ratio = (ours_articles / float(ours["wall_s"])) / max(
        peer_articles / float(peer["wall_s"]), 1e-9
    )  # type: ignore[arg-type]
    print(
        f"3. second news-worker fetch on the unchanged mirror: requests "
        f"{second['server']['by_status']}, "  # type: ignore[index]
        f"bytes received {second['server']['bytes']}, files written {written}, "  # type: ignore[index]
        f"wall {float(second['wall_s']):.2f} s"
    )  # type: ignore[arg-type]
    print(f"4. articles per second, news-worker / trafilatura: {ratio:.1f}x")
    print(
        f"exit codes: news-worker {ours['exit']}, trafilatura {peer['exit']}, second {second['exit']}"
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
