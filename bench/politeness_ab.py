"""Politeness A/B: this tree against another, interleaved on one hosts' process, CPU by process.

Runs ``news-worker fetch`` (one source of every feed, as run 2 of ``bench/politeness.py``)
alternately with this tree and with the tree at ``--base``, which is put first on PYTHONPATH so
the same interpreter and dependencies run the other code (make one with ``git worktree add DIR
COMMIT``). The order alternates every round (AB, BA, AB...). Each run writes a fresh archive and
every archive is kept until the end: deleting one slows the file creation of the next runs for
minutes (see docs/PERFORMANCE.md). For each tree it prints the median score (limit / span, as
``bench/politeness.py`` reckons it) with every run's, the median CPU seconds of the event loop's
process and of the worker processes (polled from ``/proc``), and the smallest gap on a host.

    python bench/politeness_ab.py --base DIR [--hosts 400] [--articles 5] [--gap 1] [--rounds 6]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hostsrv import host_name
from ingest import BIN, mirror_config
from politeness import Run, control, ensure_hosts, figures, start_server

TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    score: float
    min_gap: float
    main_cpu: float
    worker_cpu: float


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                found += [int(child) for child in children.read().split()]
    except OSError:
        pass  # gone meanwhile
    return found


def _cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def run_once(command: list[str], env: dict[str, str], ports: dict[str, int], gap: float) -> Sample:
    """One fetch; the CPU of each of its processes as last seen alive (every 50 ms)."""
    control(ports["control"], "/reset")
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    seen: dict[int, float] = {}
    while process.poll() is None:
        pending = [process.pid]
        while pending:
            pid = pending.pop()
            pending += _children(pid)
            cpu = _cpu(pid)
            if cpu is not None:
                seen[pid] = cpu
        time.sleep(0.05)
    wall = time.monotonic() - started
    run = Run("ab", wall, 0.0, 0.0, process.returncode, started, control(ports["control"], "/log"))
    f = figures(run, gap)
    main = seen.pop(process.pid, 0.0)
    # The resource tracker's few ms count with the workers: both are the pool's.
    return Sample(f.get("score", 0.0), f.get("min_gap", 0.0), main, sum(seen.values()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the other tree (its root)")
    parser.add_argument("--hosts", type=int, default=400)
    parser.add_argument("--articles", type=int, default=5)
    parser.add_argument("--gap", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--parallel", type=int, default=32, help="requests on the wire at most")
    args = parser.parse_args()
    if not (args.base / "worker" / "__init__.py").is_file():
        parser.error(f"--base {args.base}: no worker package there")
    ensure_hosts(args.hosts)
    work = Path(tempfile.mkdtemp(prefix="politeness-ab-"))
    server, ports = start_server(work, args.hosts, args.articles)
    feeds = [f"http://{host_name(k)}:{ports['port']}/rss/news" for k in range(1, args.hosts + 1)]
    base_env = {**os.environ, "PYTHONPATH": str(args.base.resolve())}
    variants = {"this tree": dict(os.environ), "base": base_env}
    samples: dict[str, list[Sample]] = {name: [] for name in variants}
    try:
        runs = 0
        for round_ in range(args.rounds):
            order = list(variants) if round_ % 2 == 0 else list(variants)[::-1]
            for name in order:
                runs += 1
                config = mirror_config(
                    work / f"run-{runs}.toml",
                    work / f"archive-{runs}",
                    feeds,
                    concurrency=args.parallel,
                    per_host_delay=args.gap,
                    per_host_concurrency=1,
                    respect_robots=True,
                    sources={"all": feeds},
                )
                command = [str(BIN / "news-worker"), "fetch", "--config", str(config)]
                samples[name].append(run_once(command, variants[name], ports, args.gap))
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{args.hosts} hosts x {args.articles} articles at {args.gap:g} s, {args.rounds} rounds "
        f"interleaved; base: {args.base}; load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'tree':<12} {'score':>6}  {'main CPU s':>10} {'workers CPU s':>13} {'min gap':>7}  runs"
    )
    for name, got in samples.items():
        scores = " ".join(f"{s.score:.3f}" for s in got)
        print(
            f"{name:<12} {statistics.median(s.score for s in got):>6.3f}  "
            f"{statistics.median(s.main_cpu for s in got):>10.2f} "
            f"{statistics.median(s.worker_cpu for s in got):>13.2f} "
            f"{min(s.min_gap for s in got):>7.3f}  {scores}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
