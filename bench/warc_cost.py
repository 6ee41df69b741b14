"""What ``archive.warc = true`` costs: the same ``news-worker fetch`` of a local mirror (F feeds x
N items of 100-150 KB Moscow Times-shaped pages, politeness off) with WARC off and on, each into
a fresh archive; wall seconds, CPU seconds per article, peak RSS, and the WARC bytes written
beside the records. Then ``warcio check`` over the WARC files.

    python bench/warc_cost.py [--feeds F] [--items N] [--runs R] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from ingest import measured, mirror_config, start_mirror, write_mirror  # noqa: E402

BIN = Path(sys.executable).parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--runs", type=int, default=2, help="runs of each, alternating")
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="warc-bench-"))
    server = None
    try:
        mirror = base / "mirror"
        articles = write_mirror(mirror, args.feeds, args.items, seed=1)
        server, url = start_mirror(mirror, base / "port", ["--no-log"])
        feeds = [f"{url}/rss/feed{n}" for n in range(args.feeds)]
        results: dict[str, list[dict[str, object]]] = {"off": [], "on": []}
        for run in range(args.runs):
            for mode in ("off", "on"):
                archive = base / f"{mode}{run}"
                shutil.rmtree(archive, ignore_errors=True)
                config = mirror_config(
                    base / f"{mode}{run}.toml",
                    archive,
                    feeds,
                    sections="",
                )
                if mode == "on":
                    text = config.read_text().replace("[archive]\n", "[archive]\nwarc = true\n")
                    config.write_text(text)
                found = measured(
                    [str(BIN / "news-worker"), "fetch", "--config", str(config)],
                    url,
                    base / f"{mode}{run}.log",
                )
                warcs = sorted((archive / "_warc").glob("*/*/*/*.warc.gz"))
                found["warc_mb"] = sum(p.stat().st_size for p in warcs) / 1e6
                found["records"] = sum(1 for _ in archive.glob("mirror/*/*/*/*.json"))
                results[mode].append(found)
                if mode == "on":
                    check = [str(BIN / "warcio"), "check", *map(str, warcs)]
                    found["check"] = subprocess.run(check, capture_output=True).returncode
        for mode, runs in results.items():
            for found in runs:
                cpu = float(found["cpu_s"])  # type: ignore[arg-type]
                print(
                    f"warc {mode:3}: exit {found['exit']}, {found['records']} records, "
                    f"wall {found['wall_s']:.1f}s, CPU {cpu:.1f}s "
                    f"({cpu / articles * 1000:.2f} ms/article), peak RSS "
                    f"{found['peak_rss_mb']:.0f} MB (sum {found['peak_sum_mb']:.0f} MB), "
                    f"WARC {found['warc_mb']:.1f} MB"
                    + (f", warcio check exit {found['check']}" if mode == "on" else "")
                )
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
