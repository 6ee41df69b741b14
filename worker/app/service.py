"""The long-running service: the same pipeline as ``fetch``, on an APScheduler schedule.

Jobs are rebuilt from config at every start (in-memory job store): one per feed, first run at
start, then at the feed's own next-poll time (the interval, raised by Cache-Control or an honoured
ttl, or backed off after failures) plus jitter; one job that retries queued articles whose time
has come. ``max_instances=1`` and coalescing keep a slow feed from piling up runs.

Shutdown on SIGTERM/SIGINT: pause the scheduler (nothing new starts), tell the pipeline to start
no further article, wait up to ``shutdown_grace`` for the jobs in flight, cancel what is left (its
articles stay queued, their leases released), exit 0. APScheduler would cancel running coroutine
jobs itself on ``shutdown()``, so we drain our own tasks first. A second signal exits at once; the
archive's atomic writes mean no partial file even then (leftover temporary files are swept at the
next start).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from worker.app.metrics import Metrics
from worker.app.ops import OpsServer
from worker.config import Settings, SourceSettings
from worker.errors import ConfigError, WorkerError
from worker.ingest.outcomes import SourceOutcome
from worker.ingest.pipeline import Pipeline
from worker.net.fetcher import Fetcher
from worker.store import open_archive, open_state
from worker.store.offloop import AsyncState

log = logging.getLogger(__name__)
STATE_CHECK_SECONDS = 2.0


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sources = [s for s in settings.sources if s.enabled]
        self._stop = asyncio.Event()
        self._inflight: set[asyncio.Task[object]] = set()
        self._signals = 0
        self._archive_error: str | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.pipeline: Pipeline | None = None
        self.state: AsyncState | None = None
        self.archive = open_archive(settings.archive)

    async def main(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        removed = await asyncio.to_thread(self.archive.sweep)
        state = self.state = AsyncState(open_state(self.settings, self.archive))
        metrics = Metrics([s.name for s in self.sources], state.counts)
        ops = OpsServer(
            self.settings.service.host,
            self.settings.service.port,
            ready=self._readiness,
            metrics=metrics.exposition,
        )
        try:
            async with Fetcher(
                self.settings.http,
                self.settings.retry,
                on_request=metrics.request_done,
                robots_store=state,
                host_book=state,
            ) as fetcher:
                self.pipeline = Pipeline(self.settings, state, self.archive, fetcher, metrics)
                await self.pipeline.start()
                await ops.start()
                await self._schedule(state)
                log.info(
                    "service_started",
                    extra={
                        "sources": [s.name for s in self.sources],
                        "swept_temp_files": removed,
                        "port": ops.port,
                    },
                )
                await self._stop.wait()
                await self._drain()
                await self.pipeline.close()
        finally:
            await ops.stop()
            await state.close()
        log.info("service_stopped")
        return 0

    async def _schedule(self, state: AsyncState) -> None:
        scheduler = self.scheduler = AsyncIOScheduler(timezone=UTC)
        now = datetime.now(UTC)
        for source in self.sources:
            for url in source.feeds:
                # A restart keeps each feed's schedule: its backoff after failures, a
                # Retry-After, a Cache-Control lifetime. Feeds never polled start at once.
                due = (await state.feed(url)).next_poll_at
                first = max(now, datetime.fromtimestamp(due, UTC)) if due else now
                scheduler.add_job(
                    self._feed_job,
                    "interval",
                    seconds=source.interval,
                    jitter=source.interval * self.settings.service.jitter,
                    args=(source, url),
                    id=f"feed {source.name} {url}",
                    next_run_time=first,
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=max(1, int(source.interval)),
                )
        every = self.settings.service.queue_every
        scheduler.add_job(
            self._queue_job,
            "interval",
            seconds=every,
            id="queue",
            next_run_time=now + timedelta(seconds=every),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(every)),
        )
        scheduler.start()

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("shutdown_forced", extra={"signal": signal.Signals(signum).name})
            os._exit(1)
        log.info(
            "shutdown_requested",
            extra={
                "signal": signal.Signals(signum).name,
                "grace_s": self.settings.service.shutdown_grace,
            },
        )
        self._stop.set()

    async def _drain(self) -> None:
        if self.scheduler is not None:
            self.scheduler.pause()
        if self.pipeline is not None:
            self.pipeline.drain()
        pending = {t for t in self._inflight if not t.done()}
        if pending:
            _, pending = await asyncio.wait(pending, timeout=self.settings.service.shutdown_grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            log.warning("shutdown_cancelled_jobs", extra={"jobs": len(pending)})
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)

    async def _feed_job(self, source: SourceSettings, url: str) -> None:
        task = asyncio.current_task()
        if task is None or self.pipeline is None or self._stop.is_set():
            return
        self._inflight.add(task)
        try:
            outcome = await self.pipeline.poll(source, feed_urls=[url])
            self._note_archive(outcome)
            await self._reschedule(source, url)
        except Exception:
            log.exception("job_failed", extra={"source": source.name, "feed_url": url})
        finally:
            self._inflight.discard(task)

    async def _queue_job(self) -> None:
        task = asyncio.current_task()
        if task is None or self.pipeline is None or self._stop.is_set():
            return
        self._inflight.add(task)
        try:
            self.pipeline.reap_pool()
            for source in self.sources:
                outcome = SourceOutcome(source.name)
                await self.pipeline.process_due(source, outcome)
                self._note_archive(outcome)
                if sum(outcome.articles.values()):
                    log.info("queue_done", extra={"source": source.name, **outcome.as_dict()})
        except Exception:
            log.exception("job_failed", extra={"job": "queue"})
        finally:
            self._inflight.discard(task)

    def _note_archive(self, outcome: SourceOutcome) -> None:
        """Remember whether the last writes failed (for /readyz) and clear it once they work."""
        if outcome.archive_errors:
            self._archive_error = outcome.archive_errors[-1]
        elif outcome.articles["new"] or outcome.articles["updated"]:
            self._archive_error = None

    async def _reschedule(self, source: SourceSettings, url: str) -> None:
        """Move the feed's job to its next-poll time (backoff, Cache-Control, ttl)."""
        if self.scheduler is None or self.state is None:
            return
        feed = await self.state.feed(url)
        if feed.next_poll_at is None or feed.last_poll_at is None:
            return
        delay = max(1.0, feed.next_poll_at - feed.last_poll_at)
        job = self.scheduler.get_job(f"feed {source.name} {url}")
        if job is None:
            return
        if abs(job.trigger.interval.total_seconds() - delay) > 0.001:
            job.reschedule("interval", seconds=delay, jitter=delay * self.settings.service.jitter)

    async def _state_check(self) -> str | None:
        """Whether the state answers and can be written; a state locked by another process or
        out of reach makes the worker unready, never the endpoint slow."""
        if self.state is None:
            return "not open"
        try:
            async with asyncio.timeout(STATE_CHECK_SECONDS):
                return await self.state.writable()
        except TimeoutError:
            return f"no answer within {STATE_CHECK_SECONDS:g}s (locked or unreachable)"
        except WorkerError as exc:
            return str(exc)

    async def _readiness(self) -> dict[str, str | None]:
        checks: dict[str, str | None] = {"config": None}
        checks["scheduler"] = (
            None if self.scheduler is not None and self.scheduler.running else "not running"
        )
        checks["state"] = await self._state_check()
        checks["archive"] = self._archive_error or await asyncio.to_thread(self.archive.writable)
        return checks


def run(settings: Settings) -> int:
    """Run the service until SIGTERM/SIGINT; returns the exit code."""
    if not any(s.enabled for s in settings.sources):
        raise ConfigError("sources: no enabled source to run")
    return asyncio.run(Service(settings).main())
