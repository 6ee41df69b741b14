"""Prometheus metrics of the service, fed by the pipeline's observer events.

One registry per service instance (not the global default), so tests and repeated starts in one
process never collide. Queue depth and archive counts are read from state at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from worker.ingest.outcomes import ArticleOutcome, FeedOutcome

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _StateCollector(Collector):
    def __init__(self, read: Callable[[], dict[str, dict[str, int]]]) -> None:
        self._read = read

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
        try:
            counts = self._read()
        except Exception:  # a scrape must not fail because state is busy or broken
            counts = {}
        for source, values in counts.items():
            queued.add_metric([source], values.get("queued", 0))
            archived.add_metric([source], values.get("archived", 0))
            given_up.add_metric([source], values.get("gone", 0))
        yield queued
        yield archived
        yield given_up


class Metrics:
    """The service's metrics; implements the pipeline's observer interface."""

    def __init__(self, state_counts: Callable[[], dict[str, dict[str, int]]]) -> None:
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
        self.warnings = Counter(
            "news_worker_extraction_warnings",
            "Extraction warnings (profile matched nothing...)",
            ["profile"],
            registry=self.registry,
        )
        self.registry.register(_StateCollector(state_counts))

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

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
