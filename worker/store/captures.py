"""One process's WARC writer (``archive.warc``): article fetches in, records on disk, durable
before the caller goes on.

Every process that fetches (a service replica, a one-off ``fetch``) writes files of its own,
named by the IIPC convention ``Prefix-Timestamp-Serial-Crawlhost.warc.gz`` with the host, the
process ID and a random token as the crawl host, so no two processes ever share a file. The
records are built, compressed and appended in one thread (warcio's work and zlib's run beside
the event loop; zlib and hashlib let the GIL go), and the writes waiting together share one
fsync. A file is finished at the first write of a new UTC day, at midnight if it is idle then,
past ``archive.warc_max_size`` and when the process stops; finishing (indexing, moving or
uploading) runs in a second thread, so writing goes on meanwhile, and then retries any file left
unfinished (a failed upload, a dead writer's). See :mod:`worker.store.warcfiles`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import queue
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeadersParser

from worker.config import ArchiveSettings
from worker.errors import ArchiveError
from worker.store import layout
from worker.store.interfaces import ArchiveStore
from worker.store.warc import (
    CaptureRef,
    Exchange,
    member,
    metadata_record,
    response_and_request,
    warc_date,
    warcinfo_record,
)
from worker.store.warcfiles import (
    SPOOL_DIR,
    FolderSink,
    ObjectSink,
    OpenFile,
    Sink,
    append,
    create,
    finish,
    recover,
)

log = logging.getLogger(__name__)

PREFIX = "newsworker"


@dataclass
class _Job:
    work: Callable[[], Any]
    future: Future[Any]


def open_captures(settings: ArchiveSettings, archive: ArchiveStore) -> Captures | None:
    """The WARC writer for ``archive`` if ``archive.warc`` is on, else None."""
    if not settings.warc:
        return None
    return Captures(sink_for(settings, archive), max_size=settings.warc_max_size)


def sink_for(settings: ArchiveSettings, archive: ArchiveStore) -> Sink:
    from worker.store.folder import FolderArchive

    if isinstance(archive, FolderArchive):
        return FolderSink(archive.root)
    from worker.store.objects import ObjectArchive

    if isinstance(archive, ObjectArchive):
        return ObjectSink(archive, spool_of(settings.dir, archive.location))
    raise ArchiveError(f"{archive.location}: this archive cannot hold WARC files")


def read_capture(
    settings: ArchiveSettings, archive: ArchiveStore, ref: dict[str, Any]
) -> bytes | None:
    """The page a record's ``fetch.warc`` names, as extracted: the response record's payload
    with its Content-Encoding undone (by warcio). None if the capture is not to be found."""
    try:
        key, offset, length = str(ref["file"]), int(ref["offset"]), int(ref["length"])
    except (KeyError, TypeError, ValueError):
        return None
    data = sink_for(settings, archive).read(layout.checked(key), offset, length)
    if not data:
        return None
    try:
        for record in ArchiveIterator(io.BytesIO(data)):
            if record.rec_headers.get_header("WARC-Record-ID") == ref.get("record_id"):
                page: bytes = record.content_stream().read()
                return page
    except Exception as exc:  # warcio raises what its parsers raise on a damaged member
        raise ArchiveError(f"{key} at {offset}: not a readable WARC record: {exc}") from exc
    return None


def spool_of(local: Path, url: str) -> Path:
    """The spool of the object store at ``url``: a folder of its own, so a file left there is
    never uploaded to another archive that shares the local folder."""
    name = re.sub(r"[^A-Za-z0-9.-]+", "_", url.removeprefix("s3://"))[:64]
    return local / SPOOL_DIR / f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def crawl_host() -> str:
    host = "".join(c if c.isalnum() or c in ".-" else "-" for c in socket.gethostname())
    return f"{host or 'localhost'}~{os.getpid()}~{secrets.token_hex(2)}"


class Captures:
    """Writes WARC records for one process (see the module docstring). ``close`` finishes the
    open file; a process that dies without it leaves the file to the next start's recovery."""

    def __init__(
        self, sink: Sink, *, max_size: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.sink = sink
        self.max_size = max_size
        self._clock = clock
        self._host = crawl_host()
        self._serial = 0
        self._file: OpenFile | None = None
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._finisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warc-finish")
        self._thread = threading.Thread(target=self._run, name="warc", daemon=True)
        self._thread.start()
        self._closed = False

    def recover(self) -> list[str]:
        """Finish the files that writers which are gone left open; returns their keys."""
        return recover(self.sink)

    def keep(self, exchange: Exchange) -> Future[CaptureRef]:
        """Write the fetch's ``response`` and ``request`` records; the future is done when
        they are on disk (fsynced)."""
        return self._submit(lambda: self._keep(exchange))

    def note(self, ref: CaptureRef, fields: Sequence[tuple[str, str]]) -> Future[None]:
        """Write a ``metadata`` record about the response at ``ref``."""
        return self._submit(lambda: self._note(ref, fields))

    def close(self) -> None:
        """Finish the open file (indexed, in its place) and stop."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self._finisher.shutdown(wait=True)

    def _submit(self, work: Callable[[], Any]) -> Future[Any]:
        if self._closed:
            raise ArchiveError("the WARC writer is closed")
        future: Future[Any] = Future()
        self._queue.put(_Job(work, future))
        return future

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self._until_midnight())
            except queue.Empty:
                self._finish_file()  # a new day, and nothing written yet
                continue
            jobs = [first]
            while True:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._do([job for job in jobs if job is not None])
            if None in jobs:
                self._finish_file()
                return

    def _do(self, jobs: list[_Job]) -> None:
        done: list[tuple[_Job, Any]] = []
        for job in jobs:
            try:
                done.append((job, job.work()))
            except Exception as exc:
                job.future.set_exception(exc)
        if not done:
            return
        file = self._file
        try:
            if file is not None:
                os.fsync(file.fd)
        except OSError as exc:
            failure = ArchiveError(f"cannot write {file.path if file else ''}: {exc.strerror}")
            for job, _ in done:
                job.future.set_exception(failure)
            return
        for job, value in done:
            job.future.set_result(value)

    def _until_midnight(self) -> float | None:
        if self._file is None:
            return None
        now = datetime.fromtimestamp(self._clock(), UTC)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        return max(0.5, (midnight - now).total_seconds() + 0.5)

    def _writable(self, size: int) -> OpenFile:
        """The file to append ``size`` bytes to: a new one on a new day or past the size."""
        file = self._file
        today = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y/%m/%d")
        if file is not None and (file.day != today or file.size + size > self.max_size):
            self._finish_file()
            file = None
        if file is None:
            stamp = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y%m%d%H%M%S%f")[:17]
            name = f"{PREFIX}-{stamp}-{self._serial:05d}-{self._host}.warc.gz"
            self._serial += 1
            file = self._file = create(self.sink.open_dir, name)
            append(file, member(warcinfo_record(name)))
        return file

    def _keep(self, exchange: Exchange) -> CaptureRef:
        record_id = StatusAndHeadersParser.make_warc_id()
        response, request, payload_digest = response_and_request(exchange, record_id)
        response, request = member(response), member(request)
        file = self._writable(len(response) + len(request))
        offset = file.size
        append(file, response + request)
        return CaptureRef(
            warc=file.key,
            offset=offset,
            length=len(response),
            record_id=record_id,
            date=warc_date(exchange.started_at),
            payload_digest=payload_digest,
            url=exchange.url,
        )

    def _note(self, ref: CaptureRef, fields: Sequence[tuple[str, str]]) -> None:
        record = member(metadata_record(ref, fields, warc_date(self._clock())))
        append(self._writable(len(record)), record)

    def _finish_file(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                os.fsync(file.fd)
            except OSError as exc:
                log.warning("warc_sync_failed", extra={"file": file.name, "error": str(exc)})
            self._finisher.submit(self._finish, file)

    def _finish(self, file: OpenFile) -> None:
        try:
            finish(self.sink, file)
            log.info("warc_finished", extra={"key": file.key, "bytes": file.size})
        except ArchiveError as exc:
            # Left open and unlocked: the next finish, or the next start, tries it again.
            log.warning("warc_finish_failed", extra={"file": file.name, "error": str(exc)})
        finally:
            os.close(file.fd)
        try:
            recover(self.sink)
        except (ArchiveError, OSError) as exc:
            log.warning("warc_recovery_failed", extra={"error": str(exc)})
