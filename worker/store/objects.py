"""The archive on an S3-compatible object store (AWS S3, MinIO, Ceph, R2, B2): the same keys as
the folder (:mod:`worker.store.layout`) under ``s3://bucket/prefix``, through obstore.

An object is complete or absent by nature, so there are no temporary files and nothing to
sweep. A revision is written as the folder writes one: the earlier revision's copies first
(created only if absent), then the new raw page, the record last. Where the store supports
conditional writes, a record is replaced only if it is still the one read (``If-Match``) and
created only if absent (``If-None-Match``): a writer that loses the race reads again and takes
the next revision. Stores without them (some S3 implementations ignore the headers) rely on the
state's fenced leases, which already keep two replicas from writing one article at once.
"""

from __future__ import annotations

import contextlib
import gzip
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import obstore
import orjson
from obstore.exceptions import AlreadyExistsError, BaseError, NotSupportedError, PreconditionError
from obstore.store import S3Store

from worker.config import SOURCE_NAME, ArchiveSettings
from worker.errors import ArchiveError
from worker.parse.urls import SAFE_ID
from worker.store import layout
from worker.store.files import gzip_page
from worker.store.interfaces import ArchiveSpec, WriteOutcome, WriteResult
from worker.store.record import dumps

RACE_TRIES = 5
READERS = 8


def s3_options(settings: ArchiveSettings) -> tuple[tuple[str, str], ...]:
    """The store's options from the settings (the standard AWS variables, read by config)."""
    options = {
        "endpoint": settings.aws_endpoint_url,
        "access_key_id": settings.aws_access_key_id,
        "secret_access_key": settings.aws_secret_access_key,
        "session_token": settings.aws_session_token,
        "region": settings.aws_region,
        "allow_http": "true" if settings.aws_allow_http else "",
    }
    return tuple((k, v) for k, v in options.items() if v)


class ObjectArchive:
    """The archive store on ``s3://bucket/prefix``."""

    def __init__(self, url: str, options: tuple[tuple[str, str], ...], *, keep_raw: bool) -> None:
        parts = urlsplit(url)
        self.url = url.rstrip("/")
        self.keep_raw = keep_raw
        self._options = options
        values = dict(options)
        config: dict[str, Any] = {"conditional_put": "etag"}
        for key in ("endpoint", "access_key_id", "secret_access_key", "session_token", "region"):
            if key in values:
                config[key] = values[key]
        self._store = S3Store(
            parts.netloc,
            prefix=parts.path.strip("/") or None,
            config=config,  # type: ignore[arg-type]
            client_options={
                "allow_http": values.get("allow_http") == "true",
                "timeout": "30s",
                "connect_timeout": "5s",
            },
            retry_config={"max_retries": 2},
        )

    @property
    def location(self) -> str:
        return self.url

    @property
    def spec(self) -> ArchiveSpec:
        return ArchiveSpec(self.url, self.keep_raw, self._options)

    def _get(self, key: str) -> tuple[bytes, str | None] | None:
        try:
            result = obstore.get(self._store, layout.checked(key))
            return result.bytes().to_bytes(), result.meta.get("e_tag")
        except FileNotFoundError:
            return None
        except BaseError as exc:
            raise ArchiveError(f"{self.url}/{key}: cannot read: {_why(exc)}") from exc

    def _put(self, key: str, data: bytes, mode: Any = "overwrite") -> None:
        try:
            obstore.put(self._store, layout.checked(key), data, mode=mode)
        except NotSupportedError:
            obstore.put(self._store, key, data, mode="overwrite")  # no conditional writes here
        except (AlreadyExistsError, PreconditionError):
            raise
        except BaseError as exc:
            raise ArchiveError(f"{self.url}/{key}: cannot write: {_why(exc)}") from exc

    def upload(self, key: str, path: os.PathLike[str]) -> None:
        """Put a local file at ``key`` (in parts, for large files)."""
        try:
            obstore.put(self._store, layout.checked(key), Path(path))
        except BaseError as exc:
            raise ArchiveError(f"{self.url}/{key}: cannot upload: {_why(exc)}") from exc

    def read_range(self, key: str, offset: int, length: int) -> bytes | None:
        try:
            found = obstore.get_range(self._store, layout.checked(key), start=offset, length=length)
        except FileNotFoundError:
            return None
        except BaseError as exc:
            raise ArchiveError(f"{self.url}/{key}: cannot read: {_why(exc)}") from exc
        return found.to_bytes()

    def writable(self) -> str | None:
        probe = f".ready/{os.getpid()}"
        try:
            obstore.put(self._store, probe, b"ok")
            obstore.delete(self._store, probe)
        except BaseError as exc:
            return f"{self.url}: {_why(exc)}"
        return None

    def _load(self, relative: str) -> tuple[dict[str, Any], str | None] | None:
        found = self._get(relative)
        if found is None:
            return None
        try:
            record = orjson.loads(found[0])
        except orjson.JSONDecodeError:
            return None
        return (record, found[1]) if isinstance(record, dict) else None

    def read(self, relative: str) -> dict[str, Any] | None:
        loaded = self._load(relative)
        return loaded[0] if loaded else None

    def read_raw(self, relative: str) -> bytes | None:
        found = self._get(layout.raw_path(relative))
        try:
            return gzip.decompress(found[0]) if found else None
        except (OSError, EOFError):
            return None

    def revisions(self, relative: str) -> list[int]:
        folder, article_id = layout.stem(relative).rsplit("/", 1)
        names = (key.rsplit("/", 1)[-1] for key in self._keys(folder + "/"))
        return layout.earlier_revisions(names, article_id, self.read(relative))

    def read_revision(self, relative: str, revision: int) -> dict[str, Any] | None:
        current = self.read(relative)
        if current is not None and int(current.get("revision", 1)) == revision:
            return current
        return self.read(layout.revision_path(relative, revision))

    def write(self, record: dict[str, Any], relative: str, raw: bytes | None) -> WriteResult:
        result = self.write_many([(record, relative, raw)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def write_many(
        self, items: Sequence[tuple[dict[str, Any], str, bytes | None]]
    ) -> list[WriteResult | Exception]:
        """Each record written on its own (objects need no shared commit), side by side."""
        if len(items) <= 1:
            return [self._write_one(*item) for item in items]
        with ThreadPoolExecutor(max_workers=min(READERS, len(items))) as pool:
            return list(pool.map(lambda item: self._write_one(*item), items))

    def _write_one(
        self, record: dict[str, Any], relative: str, raw: bytes | None
    ) -> WriteResult | Exception:
        try:
            layout.checked(relative)
            for _ in range(RACE_TRIES):
                try:
                    return self._try_write(record, relative, raw)
                except (AlreadyExistsError, PreconditionError):
                    continue  # another writer replaced the record meanwhile: read it again
            return ArchiveError(f"{self.url}/{relative}: replaced by others {RACE_TRIES} times")
        except ArchiveError as exc:
            return exc

    def _try_write(self, record: dict[str, Any], relative: str, raw: bytes | None) -> WriteResult:
        current = self._load(relative)
        revision, outcome = 1, "new"
        mode: Any = "create"
        if current is not None:
            old, etag = current
            if old.get("content_hash") == record["content_hash"]:
                return WriteResult("unchanged", relative, int(old.get("revision", 1)))
            previous = int(old.get("revision", 1))
            revision, outcome = previous + 1, "updated"
            self._keep(layout.revision_path(relative, previous), dumps(old))
            if raw is not None and self.keep_raw:
                old_raw = self._get(layout.raw_path(relative))
                if old_raw is not None:
                    self._keep(layout.raw_revision_path(relative, previous), old_raw[0])
            mode = {"e_tag": etag} if etag else "overwrite"
        if raw is not None and self.keep_raw:
            self._put(layout.raw_path(relative), gzip_page(raw))
        self._put(relative, dumps({**record, "revision": revision}), mode)
        result_outcome: WriteOutcome = "new" if outcome == "new" else "updated"
        return WriteResult(result_outcome, relative, revision)

    def _keep(self, key: str, data: bytes) -> None:
        """An earlier revision's copy, written only if absent: one left by an interrupted
        write is that same revision."""
        with contextlib.suppress(AlreadyExistsError, PreconditionError):
            self._put(key, data, "create")

    def _keys(self, prefix: str) -> Iterator[str]:
        try:
            for batch in obstore.list(self._store, prefix=prefix):
                for meta in batch:
                    yield str(meta["path"])
        except BaseError as exc:
            raise ArchiveError(f"{self.url}/{prefix}: cannot list: {_why(exc)}") from exc

    def records(
        self, source: str, days: layout.Days = layout.ALL_DAYS
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """The records as the listing brings their keys (in key order), read ahead a few at a
        time: memory does not grow with the archive."""
        if not SOURCE_NAME.match(source):
            return
        keys = (
            key
            for prefix in _prefixes(source, *days)
            for key in self._keys(prefix)
            if layout.is_record_key(key) and _in_range(key, *days)
        )
        ahead: deque[tuple[str, Future[dict[str, Any] | None]]] = deque()
        with ThreadPoolExecutor(max_workers=READERS) as pool:
            for key in keys:
                ahead.append((key, pool.submit(self.read, key)))
                if len(ahead) >= 4 * READERS:
                    yield from _ready(ahead.popleft())
            while ahead:
                yield from _ready(ahead.popleft())

    def has_records(self, source: str) -> bool:
        if not SOURCE_NAME.match(source):
            return False
        return any(layout.is_record_key(k) for k in self._keys(source + "/"))

    def find(self, article_id: str) -> list[str]:
        if not SAFE_ID.match(article_id):
            return []
        name = article_id + layout.RECORD
        return sorted(
            k for k in self._keys("") if k.endswith("/" + name) and layout.is_record_key(k)
        )

    def locate(self, path: str) -> str | None:
        relative = path[len(self.url) + 1 :] if path.startswith(self.url + "/") else path
        return relative if layout.is_record_key(relative) else None

    def sweep(self) -> int:
        return 0  # objects are complete or absent: nothing is ever left half written

    def sweep_all(self) -> int:
        return 0


def _prefixes(source: str, since: date | None, until: date | None) -> list[str]:
    """The listing prefixes that hold the range: its months, when it is bounded and short."""
    if since is None or until is None or until < since or (until - since).days > 3700:
        return [source + "/"]
    months = []
    year, month = since.year, since.month
    while (year, month) <= (until.year, until.month):
        months.append(f"{source}/{year:04d}/{month:02d}/")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _in_range(key: str, since: date | None, until: date | None) -> bool:
    day = layout.day_of(key)
    return day is not None and (since is None or day >= since) and (until is None or day <= until)


def _ready(
    item: tuple[str, Future[dict[str, Any] | None]],
) -> Iterator[tuple[str, dict[str, Any]]]:
    key, future = item
    record = future.result()
    if record is not None and record.get("id") == layout.record_id(key.split("/")[-1]):
        yield key, record


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
