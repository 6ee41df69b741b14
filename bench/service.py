"""Steady-state cost of the service: ``news-worker run`` over many unchanged feeds.

Serves F feeds (default 200) of two items each from a separate process on 127.0.0.1, runs
``news-worker run`` polling each feed every second for a set time (default 5 minutes) after a
warm-up, and samples the service's RSS, CPU time and poll count. Prints RSS at start and end of
the measured window, the RSS slope per 1,000 polls, CPU seconds per 1,000 polls, requests per
poll, and the idle CPU that cost means for 100 feeds polled every 10 minutes.

    python bench/service.py [--feeds F] [--seconds S] [--warmup S]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import mirror_config, start_mirror, write_mirror  # noqa: E402

BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        data: bytes = response.read()
    return data


def sample(pid: int, ops: int) -> tuple[float, float, float]:
    """(RSS MB, CPU seconds, polls so far) of the service."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    metrics = get(f"http://127.0.0.1:{ops}/metrics").decode()
    polls = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("news_worker_polls_total{")
    )
    return rss_kb / 1024, cpu, polls


def slope(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--warmup", type=float, default=30.0)
    parser.add_argument("--interval", default="1s")
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="service-"))
    work.mkdir(parents=True, exist_ok=True)
    mirror = work / "mirror"
    shutil.rmtree(mirror, ignore_errors=True)
    write_mirror(mirror, args.feeds, 2, seed=7)
    server, base = start_mirror(
        mirror, work / "port", ["--no-log"], max_seconds=args.seconds + args.warmup + 600
    )
    service = None
    try:
        archive = work / "archive"
        shutil.rmtree(archive, ignore_errors=True)
        ops = free_port()
        feeds = [f"{base}/rss/feed{n}" for n in range(args.feeds)]
        config = mirror_config(
            work / "service.toml",
            archive,
            feeds,
            sections=f'[service]\nport = {ops}\nqueue_every = "5s"',
            source=f'interval = "{args.interval}"',
        )
        log = (work / "service.log").open("wb")
        service = subprocess.Popen(
            [str(BIN / "news-worker"), "run", "--config", str(config)], stdout=log, stderr=log
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                get(f"http://127.0.0.1:{ops}/healthz")
                break
            except OSError:
                if time.monotonic() > deadline or service.poll() is not None:
                    sys.exit("the service did not start")
                time.sleep(0.2)
        time.sleep(args.warmup)
        requests_before = json.loads(get(base + "/__stats"))["requests"]
        samples = []
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            samples.append(sample(service.pid, ops))
            time.sleep(min(10.0, max(1.0, args.seconds / 30)))
        samples.append(sample(service.pid, ops))
        requests_after = json.loads(get(base + "/__stats"))["requests"]
        stats_status = json.loads(get(base + "/__stats"))["by_status"]
    finally:
        if service is not None and service.poll() is None:
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=60)
        server.terminate()
        server.wait(timeout=30)
    rss = [s[0] for s in samples]
    cpu = [s[1] for s in samples]
    polls = [s[2] for s in samples]
    measured_polls = polls[-1] - polls[0]
    cpu_per_1000 = (cpu[-1] - cpu[0]) / measured_polls * 1000 if measured_polls else float("nan")
    rss_slope = slope(polls, rss) * 1000
    idle = cpu_per_1000 / 1000 * (100 / 600) * 100
    print(
        f"{args.feeds} feeds every {args.interval}, measured {args.seconds:.0f} s after "
        f"{args.warmup:.0f} s of warm-up"
    )
    print(f"polls measured: {measured_polls:.0f} ({measured_polls / args.seconds:.0f} per second)")
    print(
        f"RSS: {rss[0]:.1f} MB at start, {rss[-1]:.1f} MB at end, "
        f"slope {rss_slope:+.3f} MB per 1,000 polls ({rss_slope * 10:+.2f} MB per 10,000)"
    )
    print(f"CPU: {cpu_per_1000:.2f} s per 1,000 polls")
    print(
        f"requests per poll: {(requests_after - requests_before) / measured_polls:.2f} "
        f"(server answers so far: {stats_status})"
    )
    print(f"idle CPU for 100 feeds every 10 minutes: {idle:.3f}% of one core")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
