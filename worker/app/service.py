"""The long-running service: the same pipeline as ``fetch``, on an APScheduler schedule.

The schedule lives in the state, so any number of replicas on one state behave as one worker:
each feed's next poll is stored with it (the interval, raised by Cache-Control or an honoured
ttl, or backed off after failures, plus jitter), and a job that runs every ``TICK`` claims the
feeds whose time has come (a claim per poll: one replica polls a feed, whoever is free) and
polls them; another job retries queued articles whose time has come. A restart resumes every
feed where its schedule stands. ``max_instances=1`` and coalescing keep jobs from piling up.

Before anything is fetched the archive and the state must take writes and the operations port
must be bound (:mod:`.preflight`): otherwise the start fails with exit 2 and one line saying why.

Shutdown on SIGTERM/SIGINT: pause the scheduler (nothing new starts), tell the pipeline to start
no further article, wait up to ``shutdown_grace`` for the work in flight, cancel what is left (its
articles stay queued, their leases released), exit 0. The APScheduler jobs only start tasks of
our own and return: a job coroutine cancelled by APScheduler is logged by it as an error with a
traceback, and a stop we asked for is no error. A second signal exits at once; the archive's
atomic writes mean no partial file even then (leftover temporary files are swept at the next
start).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from worker.app import preflight
from worker.app.console import RunConsole
from worker.app.metrics import Metrics
from worker.app.ops import OpsServer
from worker.config import Settings, SourceSettings
from worker.errors import ConfigError, WorkerError
from worker.ingest.outcomes import SourceOutcome
from worker.ingest.pipeline import Pipeline
from worker.net.fetcher import Fetcher
from worker.store import open_archive
from worker.store.offloop import AsyncState

log = logging.getLogger(__name__)
STATE_CHECK_SECONDS = 2.0
TICK = 1.0  # how often due feeds are claimed, at most


class Service:
    def __init__(self, settings: Settings, console: RunConsole | None = None) -> None:
        self.settings = settings
        self.console = console
        self.sources = [s for s in settings.sources if s.enabled]
        self._stop = asyncio.Event()
        self._inflight: set[asyncio.Task[Any]] = set()
        self._polls: set[asyncio.Task[None]] = set()
        self._claiming: asyncio.Task[None] | None = None
        self._retrying: asyncio.Task[None] | None = None
        self._feeds: dict[str, SourceSettings] = {}
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
        await asyncio.to_thread(preflight.check_archive, self.settings, self.archive)
        opened = await asyncio.to_thread(preflight.open_checked_state, self.settings, self.archive)
        state = self.state = AsyncState(opened)
        ops: OpsServer | None = None
        try:
            metrics = Metrics(
                {s.name: s.profile for s in self.sources},
                state.counts,
                await self._last_successes(state),
            )
            ops = OpsServer(
                self.settings.service.host,
                self.settings.service.port,
                ready=self._readiness,
                metrics=metrics.exposition,
            )
            await ops.start()  # the port is bound before anything is fetched
            removed = await asyncio.to_thread(self.archive.sweep)
            async with Fetcher(
                self.settings.http,
                self.settings.retry,
                on_request=metrics.request_done,
                robots_store=state,
                host_book=state,
                capture=self.settings.archive.warc,
            ) as fetcher:
                self.pipeline = Pipeline(self.settings, state, self.archive, fetcher, metrics)
                await self.pipeline.start()
                await self._schedule(state)
                log.info(
                    "service_started",
                    extra={
                        "sources": [s.name for s in self.sources],
                        "swept_temp_files": removed,
                        "port": ops.port,
                    },
                )
                if self.console is not None:
                    feeds = sum(len(s.feeds) for s in self.sources)
                    self.console.listening(ops.host, ops.port, len(self.sources), feeds)
                await self._stop.wait()
                await self._drain()
                await self.pipeline.close()
        finally:
            if ops is not None:
                await ops.stop()
            await state.close()
        log.info("service_stopped")
        if self.console is not None:
            self.console.stopped()
        return 0

    async def _last_successes(self, state: AsyncState) -> dict[str, float]:
        """Each source's last successful poll, as the state recorded it (none: never)."""
        found = {}
        for source in self.sources:
            times = [f.last_success_at for f in await state.feeds_of(source.name)]
            if any(times):
                found[source.name] = max(t for t in times if t)
        return found

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A task of our own, waited for (then cancelled) by the drain."""
        task = asyncio.get_running_loop().create_task(work)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return task

    async def _schedule(self, state: AsyncState) -> None:
        await state.register_feeds((url, s.name) for s in self.sources for url in s.feeds)
        self._feeds = {url: source for source in self.sources for url in source.feeds}
        scheduler = self.scheduler = AsyncIOScheduler(timezone=UTC)
        now = datetime.now(UTC)
        tick = max(0.1, min(TICK, min(s.interval for s in self.sources) / 4))
        scheduler.add_job(
            self._feeds_job,
            "interval",
            seconds=tick,
            id="feeds",
            next_run_time=now,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(tick)),
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
        if self.console is not None:
            self.console.stopping(self.settings.service.shutdown_grace)
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

    async def _feeds_job(self) -> None:
        """The scheduler's job: start the claim, unless one is under way."""
        if self._claiming is None or self._claiming.done():
            self._claiming = self._spawn(self._claim_feeds())

    async def _claim_feeds(self) -> None:
        """Claim the feeds whose time has come (as many as this replica may poll at once)
        and poll each in a task of its own."""
        if self.pipeline is None or self.state is None or self._stop.is_set():
            return
        free = self.settings.http.max_connections - len(self._polls)
        if free <= 0:
            return
        try:
            urls = await self.state.claim_feeds(
                [s.name for s in self.sources],
                time.time(),
                self.pipeline.context.owner,
                self.settings.state.lease_ttl,
                free,
            )
        except WorkerError as exc:  # the state is out of reach: /readyz says so; try again
            log.warning("feeds_unclaimed", extra={"reason": exc.reason, "error": str(exc)})
            return
        for url in urls:
            source = self._feeds.get(url)
            if source is None:
                continue  # a feed another replica's configuration has: its claim expires
            task = self._spawn(self._poll(source, url))
            self._polls.add(task)
            task.add_done_callback(self._polls.discard)

    async def _poll(self, source: SourceSettings, url: str) -> None:
        assert self.pipeline is not None
        try:
            outcome = await self.pipeline.poll(source, feed_urls=[url])
            self._note_archive(outcome)
            if self.console is not None:
                self.console.polled(outcome, url)
        except Exception:
            log.exception("job_failed", extra={"source": source.name, "feed_url": url})

    async def _queue_job(self) -> None:
        """The scheduler's job: start a retry of the queue, unless one is under way."""
        if self._retrying is None or self._retrying.done():
            self._retrying = self._spawn(self._retry_queue())

    async def _retry_queue(self) -> None:
        if self.pipeline is None or self.state is None or self._stop.is_set():
            return
        try:
            self.pipeline.reap_pool()
            for source in self.sources:
                outcome = SourceOutcome(source.name)
                await self.pipeline.process_due(source, outcome)
                self._note_archive(outcome)
                if sum(outcome.articles.values()):
                    outcome.queued = (await self.state.counts(source.name))["queued"]
                    log.info("queue_done", extra={"source": source.name, **outcome.as_dict()})
                    if self.console is not None:
                        self.console.retried(outcome)
        except Exception:
            log.exception("job_failed", extra={"job": "queue"})

    def _note_archive(self, outcome: SourceOutcome) -> None:
        """Remember whether the last writes failed (for /readyz) and clear it once they work."""
        if outcome.archive_errors:
            self._archive_error = outcome.archive_errors[-1]
        elif outcome.articles["new"] or outcome.articles["updated"]:
            self._archive_error = None

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

    async def _archive_check(self) -> str | None:
        try:
            async with asyncio.timeout(STATE_CHECK_SECONDS):
                return await asyncio.to_thread(self.archive.writable)
        except TimeoutError:
            return f"no answer within {STATE_CHECK_SECONDS:g}s"

    async def _readiness(self) -> dict[str, str | None]:
        checks: dict[str, str | None] = {"config": None}
        checks["scheduler"] = (
            None if self.scheduler is not None and self.scheduler.running else "not running"
        )
        checks["state"] = await self._state_check()
        checks["archive"] = self._archive_error or await self._archive_check()
        return checks


def run(settings: Settings, *, console: bool = False) -> int:
    """Run the service until SIGTERM/SIGINT; returns the exit code. ``console``: print where
    it listens and a line per poll (a terminal without ``-v``)."""
    if not any(s.enabled for s in settings.sources):
        raise ConfigError("sources: no enabled source to run")
    return asyncio.run(Service(settings, RunConsole() if console else None).main())
