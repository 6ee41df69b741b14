"""bench/politeness_ab.py on a tiny scale: it runs both trees in turn and prints a row for each,
with every run's score. Figures are printed, never asserted beyond their shape."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_politeness_ab_tiny() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "politeness_ab.py"),
            "--base",
            str(ROOT),  # the same tree on both sides
            "--hosts",
            "2",
            "--articles",
            "2",
            "--gap",
            "0.2",
            "--rounds",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {
        line[:12].strip(): line[12:].split()
        for line in result.stdout.splitlines()
        if line.startswith(("this tree ", "base "))
    }
    assert set(rows) == {"this tree", "base"}, result.stdout
    for name, fields in rows.items():
        median, main_cpu, worker_cpu, min_gap, *scores = (float(value) for value in fields)
        assert len(scores) == 2 and all(0.0 < score <= 1.5 for score in scores), (name, fields)
        assert min(scores) <= median <= max(scores), (name, fields)
        assert main_cpu > 0.0 and worker_cpu > 0.0 and min_gap > 0.0, (name, fields)
