"""Extraction quality and speed on the article-extraction benchmark (181 real pages).

Scores the ``text`` our generic extraction produces, and, in the same run, trafilatura alone
(``trafilatura.extract`` with its defaults) as the comparator, with the benchmark's published
method: tokens are ``\\w+`` runs, shingles are runs of 4 tokens counted as a multiset (a text under
4 tokens is one shingle); per page precision and recall from the shared shingles; each is the
mean over pages where it is defined (an empty prediction costs recall, not precision); F1 is the
harmonic mean of the two means. Also ms per page (median, p95) for both.

The pages are split in two halves by a hash of their id (the first byte of its SHA-256 even: the
tuning half, odd: the check half). Rules are tuned on the tuning half only; the check half
tells whether a rule generalizes. Every figure is printed for both halves and the whole.

Printed: body F1 / precision / recall for both tools; time per page; which rule found the
body's container on how many pages and what it scored there; how often our other fields were
found (the ground truth has only the body, so no scores for them); the pages where trafilatura
alone scores a better F1 than we do, worst first; with ``--misses K`` our K worst pages.

    python bench/extraction.py DATA_DIR [--limit N] [--misses K] [--repeat R] [--losses N]

DATA_DIR holds ``ground-truth.json`` and ``html/<id>.html.gz`` (the Zyte/Scrapinghub
article-extraction-benchmark layout).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402
from selectolax.lexbor import LexborHTMLParser  # noqa: E402

from worker.errors import ExtractError  # noqa: E402
from worker.extract import extract  # noqa: E402
from worker.extract.meta import page_meta  # noqa: E402
from worker.extract.profiles import container, generic  # noqa: E402
from worker.model import Extracted  # noqa: E402
from worker.parse.charset import decode  # noqa: E402

_TOKEN = re.compile(r"\w+")
Score = tuple[float | None, float | None]


@dataclass(frozen=True)
class Page:
    id: str
    html: bytes
    url: str
    truth: str

    @property
    def half(self) -> str:
        return "tuning" if hashlib.sha256(self.id.encode()).digest()[0] % 2 == 0 else "check"


def shingles(text: str, size: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    if not tokens:
        return Counter()
    if len(tokens) < size:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def page_scores(predicted: str, truth: str) -> Score:
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


def summarize(scores: list[Score]) -> tuple[float, float, float]:
    precisions = [p for p, _ in scores if p is not None]
    recalls = [r for _, r in scores if r is not None]
    p = statistics.fmean(precisions) if precisions else 0.0
    r = statistics.fmean(recalls) if recalls else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return f1, p, r


def page_f1(score: Score) -> float:
    p, r = score[0] or 0.0, score[1] or 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def ours(html: bytes, url: str) -> str:
    try:
        return extract(html, url, "generic").text
    except ExtractError:
        return ""


def trafilatura_alone(html: bytes, url: str) -> str:
    return trafilatura.extract(html.decode("utf-8", "replace"), url=url) or ""


def run_all(
    tools: list[tuple[str, Callable[[bytes, str], str]]], pages: list[Page], repeat: int
) -> tuple[list[list[float]], list[list[Score]]]:
    """Per tool, each page's time (ms) and score. Timing interleaves the tools page by page
    (alternating which goes first) and keeps each page's fastest of ``repeat`` runs, so machine
    noise falls on all tools alike."""
    times: list[list[float]] = [[] for _ in tools]
    scores: list[list[Score]] = [[] for _ in tools]
    for index, page in enumerate(pages):
        order = list(range(len(tools)))
        if index % 2:
            order.reverse()
        best = [float("inf")] * len(tools)
        texts = [""] * len(tools)
        for _ in range(repeat):
            for t in order:
                started = time.perf_counter()
                texts[t] = tools[t][1](page.html, page.url)
                best[t] = min(best[t], (time.perf_counter() - started) * 1000)
        for t in range(len(tools)):
            times[t].append(best[t])
            scores[t].append(page_scores(texts[t], page.truth))
    return times, scores


def body_source(page: Page) -> str:
    """Which rule gave the body: the container rule, or ``page`` (read whole), as the generic
    profile decides it (a container where trafilatura found nothing counts as ``page``)."""
    text, _ = decode(page.html)
    tree = LexborHTMLParser(text)
    found = container.find(tree, page_meta(tree, page.url))
    # With an empty page to fall back on, the body is empty where the container gave nothing.
    if found is None or not generic.extract_body("", page.url, found[0]):
        return "page"
    return found[1]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def _fields(records: list[Extracted | None]) -> list[tuple[str, int]]:
    found = [r for r in records if r is not None]
    image = [r.lead_image for r in found if r.lead_image is not None]
    return [
        ("title", sum(bool(r.title) for r in found)),
        ("authors", sum(bool(r.authors) for r in found)),
        ("published_at", sum(bool(r.published_at) for r in found)),
        ("language stated", sum(bool(r.language) and not r.language_detected for r in found)),
        ("language detected", sum(r.language_detected for r in found)),
        ("lead image", len(image)),
        ("lead image caption", sum(bool(i.caption) for i in image)),
        ("lead image credit", sum(bool(i.credit) for i in image)),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="folder with ground-truth.json and html/")
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages")
    parser.add_argument("--misses", type=int, default=0, help="list our K worst pages")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs per page (fastest kept)")
    parser.add_argument("--losses", type=int, default=0, help="list at most N losses (0: all)")
    args = parser.parse_args()
    truth = json.loads((args.data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = [
        Page(
            page_id,
            gzip.decompress((args.data / "html" / f"{page_id}.html.gz").read_bytes()),
            truth[page_id]["url"],
            truth[page_id]["articleBody"],
        )
        for page_id in sorted(truth)[: args.limit or None]
    ]
    # Warm both up (imports, lazy tables, the language model) so no page pays for them.
    ours(pages[0].html, pages[0].url)
    ours(b"<html><body><p>Ceci est un texte en francais sans langue declaree.</p>", "http://x/")
    trafilatura_alone(pages[0].html, pages[0].url)
    names = ["news-worker generic", "trafilatura alone"]
    times, scores = run_all(
        list(zip(names, (ours, trafilatura_alone), strict=True)), pages, args.repeat
    )
    groups = [
        (f"all ({len(pages)})", list(range(len(pages)))),
        *(
            (f"{half} half ({sum(p.half == half for p in pages)})", members)
            for half in ("tuning", "check")
            for members in [[i for i, p in enumerate(pages) if p.half == half]]
        ),
    ]

    print(f"{len(pages)} pages from {args.data}; halves by the first byte of sha256(page id)")
    print(f"\nbody text{'':<17}{'tool':<22}{'F1':>6} {'precision':>10} {'recall':>7}")
    for label, members in groups:
        for t, name in enumerate(names):
            f1, p, r = summarize([scores[t][i] for i in members])
            print(f"{label if t == 0 else '':<26}{name:<22}{f1:>6.3f} {p:>10.3f} {r:>7.3f}")

    print(f"\nms/page{'':<19}{'tool':<22}{'median':>6} {'p95':>10}")
    for label, members in groups:
        for t, name in enumerate(names):
            values = [times[t][i] for i in members]
            print(
                f"{label if t == 0 else '':<26}{name:<22}{statistics.median(values):>6.1f} "
                f"{p95(values):>10.1f}"
            )
    ratio = statistics.median(times[0]) / statistics.median(times[1])
    print(f"median time ratio (ours / trafilatura alone): {ratio:.2f}")

    sources = [body_source(page) for page in pages]
    print(
        f"\nbody from{'':<17}{'pages':>5}  {'ours F1':>8} {'trafilatura F1':>15}  ms ours / theirs"
    )
    for source in ("marked", "article", "declared", "page"):
        members = [i for i, s in enumerate(sources) if s == source]
        if not members:
            continue
        mine = summarize([scores[0][i] for i in members])[0]
        theirs = summarize([scores[1][i] for i in members])[0]
        ms = [statistics.median([times[t][i] for i in members]) for t in (0, 1)]
        print(
            f"{source:<26}{len(members):>5}  {mine:>8.3f} {theirs:>15.3f}  {ms[0]:.1f} / {ms[1]:.1f}"
        )

    records: list[Extracted | None] = []
    for page in pages:
        try:
            records.append(extract(page.html, page.url, "generic"))
        except ExtractError:
            records.append(None)
    print("\nother fields (no ground truth: pages where ours found one)")
    for field, count in _fields(records):
        print(f"  {field:<24}{count:>4} / {len(pages)}")

    losses = sorted(
        (
            (page_f1(scores[0][i]) - page_f1(scores[1][i]), i)
            for i in range(len(pages))
            if page_f1(scores[0][i]) < page_f1(scores[1][i]) - 1e-9
        ),
    )
    shown = losses[: args.losses or None]
    print(f"\npages where trafilatura alone scores a better F1: {len(losses)} (worst first)")
    print(f"  {'ours':>5} {'theirs':>6}  {'half':<6} {'body from':<9} url")
    for _, i in shown:
        page = pages[i]
        print(
            f"  {page_f1(scores[0][i]):>5.3f} {page_f1(scores[1][i]):>6.3f}  {page.half:<6} "
            f"{sources[i]:<9} {page.url}"
        )
    wins = sum(page_f1(scores[0][i]) > page_f1(scores[1][i]) + 1e-9 for i in range(len(pages)))
    print(f"(ours better on {wins} pages, equal on {len(pages) - wins - len(losses)})")

    if args.misses:
        ranked = sorted(range(len(pages)), key=lambda i: page_f1(scores[0][i]))
        print(f"\nour {args.misses} worst pages (F1, precision, recall, url):")
        for i in ranked[: args.misses]:
            p, r = scores[0][i]
            print(
                f"  {page_f1(scores[0][i]):.3f}  {p if p is None else round(p, 3)}  "
                f"{r if r is None else round(r, 3)}  {pages[i].url}  [{pages[i].id[:12]}]"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
