"""Prometheus metrics of the service, fed by the pipeline's observer events.

One registry per service instance (not the global default), so tests and repeated starts in one
process never collide. Queue depth and archive counts are read from state at scrape time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from worker.ingest.outcomes import ArticleOutcome, FeedOutcome

COUNTS_SECONDS = 2.0
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _StateCollector(Collector):
    """Queue depth and archive counts, as last read from the state (before each scrape)."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = {}

    def collect(self) -> Iterator[Metric]:
        queued = GaugeMetricFamily(
            "news_worker_queue_depth", "Articles discovered but not yet archived", labels=["source"]
        )
        archived = GaugeMetricFamily(
            "news_worker_archived_articles", "Articles in the archive", labels=["source"]
        )
        given_up = GaugeMetricFamily(
            "news_worker_given_up_articles", "Articles given up with a reason", labels=["source"]
        )
        for source, values in self.counts.items():
            queued.add_metric([source], values.get("queued", 0))
            archived.add_metric([source], values.get("archived", 0))
            given_up.add_metric([source], values.get("gone", 0))
        yield queued
        yield archived
        yield given_up


class Metrics:
    """The service's metrics; implements the pipeline's observer interface."""

    def __init__(
        self, sources: list[str], counts: Callable[[str], Awaitable[dict[str, int]]]
    ) -> None:
        self._sources = sources
        self._read_counts = counts
        self.registry = CollectorRegistry()
        self.polls = Counter(
            "news_worker_polls",
            "Feed polls by outcome",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.articles = Counter(
            "news_worker_articles",
            "Articles by outcome",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.fetch_seconds = Histogram(
            "news_worker_fetch_seconds",
            "Time of one HTTP request, body included",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "news_worker_requests",
            "HTTP requests sent by status class",
            ["status"],
            registry=self.registry,
        )
        self.last_success = Gauge(
            "news_worker_last_successful_poll_timestamp_seconds",
            "When a feed of the source was last polled successfully",
            ["source"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "news_worker_extraction_fallbacks",
            "Fields a profile did not find and took from a fallback",
            ["profile", "field"],
            registry=self.registry,
        )
        self.generic_bodies = Counter(
            "news_worker_extraction_generic_bodies",
            "Bodies taken by generic extraction instead of the profile",
            ["profile"],
            registry=self.registry,
        )
        self.leases_lost = Counter(
            "news_worker_leases_lost",
            "Article claims lost before their outcome was recorded (the write was refused)",
            ["source"],
            registry=self.registry,
        )
        self.warnings = Counter(
            "news_worker_extraction_warnings",
            "Extraction warnings (profile matched nothing...)",
            ["profile"],
            registry=self.registry,
        )
        self._state = _StateCollector()
        self.registry.register(self._state)

    def feed_done(self, source: str, feed_url: str, outcome: FeedOutcome) -> None:
        self.polls.labels(source, outcome).inc()
        if outcome != "failed":
            self.last_success.labels(source).set_to_current_time()

    def articles_claimed(self, source: str, count: int) -> None:
        return

    def article_done(self, source: str, outcome: ArticleOutcome, reason: str | None) -> None:
        self.articles.labels(source, outcome).inc()

    def article_extracted(
        self, source: str, profile: str, method: str, fallbacks: Sequence[str], warnings: int
    ) -> None:
        for name in fallbacks:
            self.fallbacks.labels(profile, name).inc()
        if method != profile:
            self.generic_bodies.labels(profile).inc()
        if warnings:
            self.warnings.labels(profile).inc(warnings)

    def request_done(self, host: str, status: int | None, seconds: float) -> None:
        self.fetch_seconds.observe(seconds)
        self.requests.labels(f"{status // 100}xx" if status else "error").inc()

    def lease_lost(self, source: str) -> None:
        self.leases_lost.labels(source).inc()

    async def exposition(self) -> bytes:
        """The metrics; the state's counts read first (kept counters: a few rows per source),
        within a bound so that a busy state never holds a scrape."""
        try:
            async with asyncio.timeout(COUNTS_SECONDS):
                self._state.counts = {name: await self._read_counts(name) for name in self._sources}
        except Exception:  # a scrape must not fail because state is busy or broken
            pass  # the counts of the last scrape that could read them
        return generate_latest(self.registry)
