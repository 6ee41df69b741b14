"""Extraction quality and speed on the article-extraction benchmark (181 real pages).

Scores the ``text`` our generic extraction produces, and, in the same run, trafilatura alone
(``trafilatura.extract`` with its defaults) as the comparator, with the benchmark's published
method: tokens are ``\\w+`` runs, shingles are runs of 4 tokens counted as a multiset (a text under
4 tokens is one shingle); per page precision and recall from the shared shingles; each is the
mean over pages where it is defined (an empty prediction costs recall, not precision); F1 is the
harmonic mean of the two means. Also ms per page (median, p95) for both.

    python bench/extraction.py DATA_DIR [--limit N] [--misses K] [--repeat R]

DATA_DIR holds ``ground-truth.json`` and ``html/<id>.html.gz`` (the Zyte/Scrapinghub
article-extraction-benchmark layout).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from worker.errors import ExtractError  # noqa: E402
from worker.extract import extract  # noqa: E402

_TOKEN = re.compile(r"\w+")


def shingles(text: str, size: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    if not tokens:
        return Counter()
    if len(tokens) < size:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def page_scores(predicted: str, truth: str) -> tuple[float | None, float | None]:
    """(precision, recall) of one page; None where undefined."""
    pred, true = shingles(predicted), shingles(truth)
    tp = sum((pred & true).values())
    fp = sum(pred.values()) - tp
    fn = sum(true.values()) - tp
    if fp == 0 and fn == 0:
        return 1.0, 1.0
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return precision, recall


def summarize(scores: list[tuple[float | None, float | None]]) -> tuple[float, float, float]:
    precisions = [p for p, _ in scores if p is not None]
    recalls = [r for _, r in scores if r is not None]
    p = statistics.fmean(precisions) if precisions else 0.0
    r = statistics.fmean(recalls) if recalls else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return f1, p, r


def ours(html: bytes, url: str) -> str:
    try:
        return extract(html, url, "generic").text
    except ExtractError:
        return ""


def trafilatura_alone(html: bytes, url: str) -> str:
    return trafilatura.extract(html.decode("utf-8", "replace"), url=url) or ""


def run_all(
    tools: list[tuple[str, Callable[[bytes, str], str]]],
    pages: list[tuple[str, bytes, str, str]],
    repeat: int,
) -> list[dict[str, object]]:
    """Score every tool on every page. Timing interleaves the tools page by page (alternating
    which goes first) and keeps each page's fastest of ``repeat`` runs, so machine noise falls on
    all tools alike."""
    times: list[list[float]] = [[] for _ in tools]
    scores: list[list[tuple[float | None, float | None]]] = [[] for _ in tools]
    for index, (_, html, url, truth) in enumerate(pages):
        order = list(range(len(tools)))
        if index % 2:
            order.reverse()
        best = [float("inf")] * len(tools)
        texts = [""] * len(tools)
        for _ in range(repeat):
            for t in order:
                started = time.perf_counter()
                texts[t] = tools[t][1](html, url)
                best[t] = min(best[t], (time.perf_counter() - started) * 1000)
        for t in range(len(tools)):
            times[t].append(best[t])
            scores[t].append(page_scores(texts[t], truth))
    results = []
    for t, (name, _) in enumerate(tools):
        f1, p, r = summarize(scores[t])
        ordered = sorted(times[t])
        results.append(
            {
                "tool": name,
                "f1": f1,
                "precision": p,
                "recall": r,
                "median_ms": statistics.median(ordered),
                "p95_ms": ordered[max(0, int(len(ordered) * 0.95) - 1)],
                "scores": scores[t],
            }
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="folder with ground-truth.json and html/")
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages")
    parser.add_argument("--misses", type=int, default=0, help="list our K worst pages")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs per page (fastest kept)")
    args = parser.parse_args()
    truth = json.loads((args.data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth)[: args.limit or None]:
        html = gzip.decompress((args.data / "html" / f"{page_id}.html.gz").read_bytes())
        pages.append((page_id, html, truth[page_id]["url"], truth[page_id]["articleBody"]))
    # Warm both up (imports, lazy tables) so the first page's time is not counted.
    ours(pages[0][1], pages[0][2])
    trafilatura_alone(pages[0][1], pages[0][2])
    results = run_all(
        [("news-worker generic", ours), ("trafilatura alone", trafilatura_alone)],
        pages,
        args.repeat,
    )
    print(f"{len(pages)} pages from {args.data}")
    print(
        f"{'tool':<22} {'F1':>6} {'precision':>10} {'recall':>7} {'ms/page median':>15} {'p95':>7}"
    )
    for result in results:
        print(
            f"{result['tool']:<22} {result['f1']:>6.3f} {result['precision']:>10.3f} "
            f"{result['recall']:>7.3f} {result['median_ms']:>15.1f} {result['p95_ms']:>7.1f}"
        )
    ratio = results[0]["median_ms"] / results[1]["median_ms"]  # type: ignore[operator]
    print(f"median time ratio (ours / trafilatura alone): {ratio:.2f}")
    if args.misses:
        mine = results[0]
        ranked = sorted(
            zip(pages, mine["scores"], strict=True),  # type: ignore[arg-type]
            key=lambda item: (
                min(x for x in item[1] if x is not None)
                if any(x is not None for x in item[1])
                else 0
            ),
        )
        print(f"\nour {args.misses} worst pages (precision, recall, url):")
        for (page_id, _, url, _), (p, r) in ranked[: args.misses]:
            print(
                f"  {p if p is None else round(p, 3)}  {r if r is None else round(r, 3)}  {url}  [{page_id[:12]}]"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
