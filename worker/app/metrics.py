"""Prometheus metrics of the service, fed by the pipeline's observer events and the fetcher's
request callback, by the Prometheus conventions.

One registry per service instance (not the global default), so tests and repeated starts in one
process never collide. Queue depth and archive counts are read from state at scrape time.

- Every per-source series exists from the start, at 0, so ``rate()`` and ``absent()`` behave and
  an alert on a source that never worked fires: ``news_worker_last_successful_poll_timestamp_seconds``
  is the last success recorded in the state (it survives restarts), 0 before the first one.
- Requests: ``news_worker_requests_total{kind,code}`` counts answers by exact status code;
  ``news_worker_request_errors_total{kind,reason}`` counts requests that raised before a usable
  answer (DNS, connect, TLS, proxy, timeout, cut connection, bad response, deadline, too large),
  every kind and network reason present from the start; ``news_worker_fetch_seconds{kind}``.
- No ``_created`` series (they double the series count and no query here uses them);
  ``news_worker_build_info{version,python}``; the process and platform collectors.
"""

from __future__ import annotations

import asyncio
import platform
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from worker import __version__
from worker.ingest.outcomes import ARTICLE_OUTCOMES, FEED_OUTCOMES, ArticleOutcome, FeedOutcome
from worker.net.hooks import KINDS

COUNTS_SECONDS = 2.0
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# The fetcher's reasons for a request with no usable answer (worker/net/transport.py).
NETWORK_REASONS = (
    "dns_error",
    "connect_error",
    "tls_error",
    "proxy_error",
    "timeout",
    "network",
    "bad_response",
    "deadline",
)


class _StateCollector(Collector):
    """Queue depth and archive counts, as last read from the state (before each scrape)."""

    def __init__(self, sources: Sequence[str]) -> None:
        self.counts: dict[str, dict[str, int]] = {name: {} for name in sources}

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
    """The service's metrics; implements the pipeline's observer interface. ``sources`` maps
    each source to its profile; ``last_success`` holds the state's last successful poll per
    source (absent: never)."""

    def __init__(
        self,
        sources: Mapping[str, str],
        counts: Callable[[str], Awaitable[dict[str, int]]],
        last_success: Mapping[str, float] | None = None,
    ) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self._sources = list(sources)
        self._read_counts = counts
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        build = Gauge(
            "news_worker_build_info",
            "The running version (always 1)",
            ["version", "python"],
            registry=registry,
        )
        build.labels(__version__, platform.python_version()).set(1)
        self.polls = Counter(
            "news_worker_polls", "Feed polls by outcome", ["source", "outcome"], registry=registry
        )
        self.articles = Counter(
            "news_worker_articles", "Articles by outcome", ["source", "outcome"], registry=registry
        )
        self.fetch_seconds = Histogram(
            "news_worker_fetch_seconds",
            "Time of one HTTP request, body included, by what was fetched",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            "news_worker_requests",
            "HTTP requests answered, by what was fetched and the exact status code",
            ["kind", "code"],
            registry=registry,
        )
        self.request_errors = Counter(
            "news_worker_request_errors",
            "HTTP requests that failed before a usable answer, by what was fetched and why",
            ["kind", "reason"],
            registry=registry,
        )
        self.last_success = Gauge(
            "news_worker_last_successful_poll_timestamp_seconds",
            "When a feed of the source was last polled successfully (0: never)",
            ["source"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "news_worker_extraction_fallbacks",
            "Fields a profile did not find and took from a fallback",
            ["profile", "field"],
            registry=registry,
        )
        self.generic_bodies = Counter(
            "news_worker_extraction_generic_bodies",
            "Bodies taken by generic extraction instead of the profile",
            ["profile"],
            registry=registry,
        )
        self.leases_lost = Counter(
            "news_worker_leases_lost",
            "Article claims lost before their outcome was recorded (the write was refused)",
            ["source"],
            registry=registry,
        )
        self.warnings = Counter(
            "news_worker_extraction_warnings",
            "Extraction warnings (profile matched nothing...)",
            ["profile"],
            registry=registry,
        )
        self._state = _StateCollector(self._sources)
        registry.register(self._state)
        self._zeros(sources, last_success or {})

    def _zeros(self, sources: Mapping[str, str], last_success: Mapping[str, float]) -> None:
        """Every series whose labels are known before anything happens, at 0 (or the state's
        last success)."""
        for source, profile in sources.items():
            for feed_outcome in FEED_OUTCOMES:
                self.polls.labels(source, feed_outcome)
            for article_outcome in ARTICLE_OUTCOMES:
                self.articles.labels(source, article_outcome)
            self.leases_lost.labels(source)
            self.last_success.labels(source).set(last_success.get(source, 0.0))
            self.generic_bodies.labels(profile)
            self.warnings.labels(profile)
        for kind in KINDS:
            self.fetch_seconds.labels(kind)
            for reason in NETWORK_REASONS:
                self.request_errors.labels(kind, reason)

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

    def request_done(
        self, host: str, status: int | None, seconds: float, kind: str, reason: str | None
    ) -> None:
        self.fetch_seconds.labels(kind).observe(seconds)
        if status is not None:
            self.requests.labels(kind, str(status)).inc()
        if reason is not None:
            self.request_errors.labels(kind, reason).inc()

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
