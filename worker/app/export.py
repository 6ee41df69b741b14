"""``news-worker export``: the latest revision of every archived article, one row each, as
JSON Lines, CSV or Parquet, for the tools researchers load data with (DuckDB, pandas, R, Arrow).

Rows stream: records are read one after the other (a few ahead on an object store) and written
as they come (Parquet in row groups of ``BATCH``), so memory does not grow with the archive.
``--since`` / ``--until`` choose archive days (the publication day in UTC, the first-seen day
where a page gave none), and only those days' folders are read. A file named by ``--output`` is
complete or absent (written beside it under a temporary name, then renamed).

Columns (``COLUMNS``): dates in JSON Lines and CSV are the record's text, the source's offset
kept; in Parquet they are instants (``timestamp[us, UTC]``, what DuckDB reads as TIMESTAMPTZ)
with the source's offset in minutes beside them (``published_offset``, ``updated_offset``),
since an Arrow column has one time zone, not one per row. Lists (``authors``, ``tags``) are
lists in JSON Lines and Parquet and JSON arrays in CSV cells.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from worker.app.runs import parse_day
from worker.config import Settings
from worker.errors import ConfigError
from worker.parse import dates
from worker.store import open_archive

log = logging.getLogger(__name__)

BATCH = 2000
COLUMNS = (
    "id",
    "source",
    "url",
    "title",
    "subtitle",
    "authors",
    "published_at",
    "updated_at",
    "section",
    "tags",
    "language",
    "description",
    "lead_image_url",
    "lead_image_caption",
    "lead_image_credit",
    "text",
    "kind",
    "label",
    "disclaimer",
    "revision",
    "fetched_at",
    "feed_url",
    "content_hash",
    "extraction_method",
    "path",
)
LISTS = ("authors", "tags")
DATES = ("published_at", "updated_at", "fetched_at")


def row(relative: str, record: dict[str, Any]) -> dict[str, Any]:
    """One article's row (the record's own values; absent facts are None)."""
    image = record.get("lead_image") or {}
    values = {key: record.get(key) for key in COLUMNS}
    values.update(
        lead_image_url=image.get("url"),
        lead_image_caption=image.get("caption"),
        lead_image_credit=image.get("credit"),
        extraction_method=(record.get("extraction") or {}).get("method"),
        path=relative,
    )
    for key in LISTS:
        values[key] = [str(v) for v in values[key] or []]
    return values


def rows(
    settings: Settings, sources: Iterable[str], since: date | None, until: date | None
) -> Iterator[dict[str, Any]]:
    archive = open_archive(settings.archive)
    for name in sources:
        for relative, record in archive.records(name, (since, until)):
            yield row(relative, record)


def export(
    settings: Settings,
    *,
    sources: Iterable[str],
    since: str | None,
    until: str | None,
    fmt: str,
    output: Path | None,
) -> str:
    """Write the rows; returns a summary line when writing to a file (stdout carries data)."""
    chosen = [settings.source(n).name for n in dict.fromkeys(sources)] or [
        s.name for s in settings.sources
    ]
    first = parse_day("--since", since) if since else None
    last = parse_day("--until", until) if until else None
    if first and last and last < first:
        raise ConfigError(f"--until {until}: before --since {since}")
    write = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet}[fmt]
    if fmt == "parquet":
        _pyarrow()  # a missing extra is a usage error, before anything is written
        if output is None and sys.stdout.isatty():
            raise ConfigError("--output: Parquet is binary; name a file (or redirect stdout)")
    found = rows(settings, chosen, first, last)
    if output is None:
        try:
            count = write(found, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        except BrokenPipeError:  # the reader had enough (| head): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return ""
    else:
        with _complete_or_absent(output) as stream:
            count = write(found, stream)
    log.info("export_done", extra={"format": fmt, "articles": count, "sources": chosen})
    return f"exported {count} articles to {output}\n" if output is not None else ""


@contextlib.contextmanager
def _complete_or_absent(path: Path) -> Iterator[IO[bytes]]:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"--output {path}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _jsonl(found: Iterable[dict[str, Any]], out: IO[bytes]) -> int:
    count = 0
    for values in found:
        out.write(orjson.dumps(values) + b"\n")
        count += 1
    return count


def _csv(found: Iterable[dict[str, Any]], out: IO[bytes]) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    count = 0
    try:
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        for values in found:
            for key in LISTS:
                values[key] = orjson.dumps(values[key]).decode()
            writer.writerow(["" if values[k] is None else values[k] for k in COLUMNS])
            count += 1
    finally:
        text.detach()  # the stream stays open for its owner
    return count


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise ConfigError(
            "--format parquet needs pyarrow: pip install 'news-worker[parquet]'"
        ) from exc
    return pyarrow


def _instant(value: str | None) -> tuple[datetime | None, int | None]:
    """A date's instant (UTC) and its offset in minutes; a date without an offset is taken as
    UTC with no offset stated."""
    parsed = dates.parse_date(value)
    if parsed is None:
        return None, None
    offset = parsed.utcoffset()
    if offset is None:
        return parsed.replace(tzinfo=UTC), None
    return parsed.astimezone(UTC), int(offset.total_seconds() // 60)


def _parquet(found: Iterable[dict[str, Any]], out: IO[bytes]) -> int:
    pa = _pyarrow()
    text, stamp = pa.string(), pa.timestamp("us", tz="UTC")
    types = {key: text for key in COLUMNS}
    types.update({key: pa.list_(text) for key in LISTS})
    types.update({key: stamp for key in DATES}, revision=pa.int32())
    fields = []
    for key in COLUMNS:
        fields.append(pa.field(key, types[key]))
        if key in ("published_at", "updated_at"):  # the source's offset, beside the instant
            fields.append(pa.field(key.replace("_at", "_offset"), pa.int16()))
    schema = pa.schema(fields)
    count = 0
    with pa.parquet.ParquetWriter(out, schema, compression="zstd") as writer:
        batch: list[dict[str, Any]] = []
        for values in found:
            for key in DATES:
                values[key], offset = _instant(values[key])
                if key != "fetched_at":
                    values[key.replace("_at", "_offset")] = offset
            batch.append(values)
            count += 1
            if len(batch) == BATCH:
                writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
                batch = []
        if batch or not count:
            writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
    return count
