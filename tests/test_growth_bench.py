"""bench/growth.py on a tiny scale: it runs, and its table has a row per measured quantity.

A hundred articles really fetched (two feeds) and a synthetic state of 3,000 rows; one run of each
command, a few scrapes. Figures are printed, never asserted: only that every quantity is there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

QUANTITIES = (
    "feeds",
    "article rows in the state",
    "state file, MB",
    "first pass: `fetch` of every article",
    "first pass: peak RSS",
    "unchanged second pass: `fetch` wall s",
    "unchanged second pass: the poll's own ms",
    "unchanged second pass: wall ms per feed",
    "unchanged second pass: requests",
    "unchanged second pass: peak RSS",
    "`status` wall s",
    "`status` peak RSS",
    "start-up: spawn of `run` to `/readyz` 200",
    "`/metrics` scrape ms",
    "`/readyz` ms",
    "`run` RSS MB",
    "`state rebuild`",
    "`reextract` ms per article",
    "`reextract` peak RSS",
)


def test_growth_benchmark_tiny(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "growth.py"),
            "--sizes",
            "100",
            "--million",
            "--rows",
            "3000",
            "--repeat",
            "1",
            "--scrapes",
            "3",
            "--keep",
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "consistent with COUNT(*)" in result.stdout
    header = next(line for line in lines if line.startswith("| quantity |"))
    assert [c.strip() for c in header.strip("|").split("|")[1:]] == [
        "100 articles",
        "3,000 rows (synthetic)",
    ]
    rows = {}
    for line in lines:
        if line.startswith("| ") and not line.startswith(("| quantity", "|---")):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    for quantity in QUANTITIES:
        found = [cells for name, cells in rows.items() if name.startswith(quantity)]
        assert len(found) == 1, (quantity, list(rows))
        real, synthetic = found[0]
        assert real != "n/a", quantity  # measured for the articles really fetched
        if quantity.startswith(("first pass", "`state rebuild`", "`reextract`")):
            assert synthetic == "n/a", quantity  # no records behind the synthetic rows
        else:
            assert synthetic != "n/a", quantity
    assert len(rows) == len(QUANTITIES)
    assert rows["article rows in the state (archived / given up / queued)"][1].startswith("3,000")
    requests = next(
        cells for name, cells in rows.items() if name.startswith("unchanged second pass: requests")
    )
    assert requests == ["2 (2 x 304); 0 files written"] * 2
