"""bench/crash.py on a small scale: kill -9 at random moments loses, duplicates, corrupts nothing.

Forty articles in one poll: enough (32 or more) for the worker processes to extract and write.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_crash_benchmark_small(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "crash.py"),
            "--runs",
            "4",
            "--articles",
            "40",
            "--seed",
            "3",
            "--keep",
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["kills"] == 4
    assert summary["lost"] == summary["corrupt"] == summary["duplicated"] == 0
    assert summary["temporary_left"] == 0
    assert summary["orphaned_workers"] == 0
    assert summary["archived"] == summary["articles"] == 40
