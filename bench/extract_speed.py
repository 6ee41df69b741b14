"""Extraction speed: the ``moscowtimes`` profile against ``trafilatura.bare_extraction`` on the
same Moscow Times-shaped pages of realistic size (100-150 KB, the ingest benchmark's mirror).

Both tools get the same bytes; ours includes decoding, parsing, metadata, body and related
insets (the whole ``extract`` call), trafilatura's only its body extraction from the decoded text.
Timing interleaves the two page by page and keeps each page's fastest of ``--repeat`` runs.

    python bench/extract_speed.py [--pages N] [--seed S] [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import trafilatura  # noqa: E402

from mtsite import ORIGIN, synthetic_site  # noqa: E402
from worker.extract import extract  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    feeds = max(1, -(-args.pages // 50))
    files = synthetic_site(feeds, -(-args.pages // feeds), seed=args.seed)
    pages = [(ORIGIN + path, body) for path, body in files.items() if "-a" in path][: args.pages]

    def ours(url: str, body: bytes) -> None:
        record = extract(body, url, "moscowtimes")
        assert record.method == "moscowtimes" and record.body

    def theirs(url: str, body: bytes) -> None:
        trafilatura.bare_extraction(body.decode("utf-8"), url=url, with_metadata=False)

    tools = [("moscowtimes profile", ours), ("trafilatura.bare_extraction", theirs)]
    for _, tool in tools:
        tool(*pages[0])
    times: list[list[float]] = [[], []]
    for index, (url, body) in enumerate(pages):
        order = [0, 1] if index % 2 == 0 else [1, 0]
        best = [float("inf"), float("inf")]
        for _ in range(args.repeat):
            for t in order:
                started = time.perf_counter()
                tools[t][1](url, body)
                best[t] = min(best[t], (time.perf_counter() - started) * 1000)
        for t in (0, 1):
            times[t].append(best[t])
    sizes = sorted(len(body) for _, body in pages)
    print(
        f"{len(pages)} pages, {sizes[0] // 1000}-{sizes[-1] // 1000} KB "
        f"(median {statistics.median(sizes) / 1000:.0f} KB)"
    )
    print(f"{'tool':<30} {'median ms':>10} {'p95 ms':>8}")
    medians = []
    for (name, _), samples in zip(tools, times, strict=True):
        samples.sort()
        median = statistics.median(samples)
        medians.append(median)
        print(f"{name:<30} {median:>10.2f} {samples[int(len(samples) * 0.95) - 1]:>8.2f}")
    print(f"moscowtimes profile is {medians[1] / medians[0]:.1f}x faster than bare_extraction")
    return 0


if __name__ == "__main__":
    sys.exit(main())
