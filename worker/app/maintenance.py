"""Maintenance commands: rebuild the state from the archive, copy a SQLite state into
PostgreSQL, re-extract from the raw pages (or, where none was kept, the WARC captures)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from worker.app import preflight
from worker.app.progress import Progress
from worker.app.runs import parse_day
from worker.config import Settings
from worker.config.values import mask_url
from worker.errors import ConfigError, WorkerError
from worker.extract import extract
from worker.ingest.entries import entry_from_dict, entry_from_json
from worker.ingest.pool import WorkerPool
from worker.parse import dates
from worker.store import (
    describe_state,
    is_postgres,
    open_archive,
    state_for_rebuild,
)
from worker.store.captures import read_capture
from worker.store.interfaces import Archived, Restored
from worker.store.record import CONTENT_FIELDS, FetchInfo, build


def rebuild_state(settings: Settings) -> str:
    """Rebuild the seen-set from the archive; an unusable state is moved aside first."""
    archive = open_archive(settings.archive)
    state, moved = state_for_rebuild(settings)
    try:
        counts = {}
        for source in settings.sources:
            rows = (
                Restored(
                    source=source.name,
                    id=str(record["id"]),
                    url=str(record.get("url") or ""),
                    path=relative,
                    feed_url=record.get("feed_url"),
                    content_hash=str(record.get("content_hash") or ""),
                    revision=int(record.get("revision") or 1),
                )
                for relative, record in archive.records(source.name)
            )
            counts[source.name] = state.restore_archived(rows)
    finally:
        state.close()
    done = ", ".join(f"{name}: {n} archived articles" for name, n in counts.items())
    aside = f"; the unreadable state was moved to {moved}" if moved else ""
    return f"{describe_state(settings)} rebuilt from {archive.location} ({done}){aside}"


def migrate_state(settings: Settings, url: str | None) -> str:
    """Copy the SQLite state into the PostgreSQL database at ``url``."""
    if not url or not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError('--to: expected "postgresql://user@host:port/db"')
    if is_postgres(settings):
        raise ConfigError(
            "state.url: the state is in PostgreSQL already; migrate copies a SQLite state"
        )
    try:
        from worker.store.migrate import copy_state
    except ImportError as exc:
        raise ConfigError(
            "state migrate needs the postgresql extra: pip install 'news-worker[postgresql]'"
        ) from exc
    path = settings.state.path if not settings.state.url else Path(settings.state.url)
    copied = copy_state(path, url)
    counts = ", ".join(f"{n} {table}" for table, n in copied.items())
    return (
        f"copied {path} into {mask_url(url)}: {counts}; set state.url (or NEWS_WORKER_STATE_URL) "
        "to it to use it"
    )


def reextract(
    settings: Settings, *, sources: Sequence[str], since: str | None, progress: bool = False
) -> tuple[int, str]:
    """Re-run extraction on the stored raw pages (or the WARC captures where no raw page was
    kept); a new revision only where the record changed. Each page is extracted in a worker
    process inside the item budget, as when it was fetched."""
    pool = WorkerPool(1, settings.limits)
    try:
        return asyncio.run(
            _reextract(settings, pool, sources=sources, since=since, progress=progress)
        )
    finally:
        pool.close()


async def _reextract(
    settings: Settings,
    pool: WorkerPool,
    *,
    sources: Sequence[str],
    since: str | None,
    progress: bool,
) -> tuple[int, str]:
    chosen = [settings.source(n) for n in dict.fromkeys(sources)] or list(settings.sources)
    first_day = parse_day("--since", since) if since else None
    archive = open_archive(settings.archive)
    preflight.check_archive(settings, archive)
    state = preflight.open_checked_state(settings, archive)
    lines: list[str] = []
    counts = {"checked": 0, "changed": 0, "unchanged": 0, "no_raw_page": 0, "failed": 0}
    counts["from_warc"] = 0
    bars = Progress(unit="records") if progress else None
    try:
        for source in chosen:
            if bars is not None:  # every archived record is read, those before --since too
                bars.add_total(source.name, state.counts(source.name)["archived"])
            for relative, old in archive.records(source.name):
                if bars is not None:
                    bars.advance(source.name)
                published = dates.parse_date(old.get("published_at"))
                if first_day and published is not None and published.date() < first_day:
                    continue
                counts["checked"] += 1
                fetch = old.get("fetch") or {}
                raw = archive.read_raw(relative)
                if raw is None and fetch.get("warc"):  # no raw page kept: the WARC capture
                    raw = read_capture(settings.archive, archive, fetch["warc"])
                    if raw is not None and hashlib.sha256(raw).hexdigest() != fetch.get(
                        "raw_sha256"
                    ):
                        counts["failed"] += 1
                        lines.append(f"{relative}: failed: its WARC capture is not the page")
                        continue
                    counts["from_warc"] += raw is not None
                if raw is None:
                    counts["no_raw_page"] += 1
                    continue
                row = state.article(source.name, str(old["id"]))
                try:
                    extracted = await pool.run(
                        functools.partial(
                            extract,
                            content_type=fetch.get("content_type"),
                            entry=entry_from_dict(old.get("feed_entry"))
                            or entry_from_json(row.entry if row is not None else None),
                        ),
                        raw,
                        str(fetch.get("final_url") or old["url"]),
                        source.profile,
                    )
                except WorkerError as exc:
                    counts["failed"] += 1
                    lines.append(f"{relative}: failed: {exc}")
                    continue
                info = FetchInfo(
                    requested_url=str(fetch.get("requested_url") or old["url"]),
                    final_url=str(fetch.get("final_url") or old["url"]),
                    status=int(fetch.get("status") or 200),
                    content_type=fetch.get("content_type"),
                    fetched_at=dates.parse_date(old.get("fetched_at")) or datetime.now(UTC),
                    feed_url=old.get("feed_url"),
                    raw_sha256=hashlib.sha256(raw).hexdigest(),
                    feed_entry=entry_from_dict(old.get("feed_entry")),
                    warc=fetch.get("warc"),
                )
                record = build(
                    extracted,
                    article_id=str(old["id"]),
                    source=source.name,
                    profile=source.profile,
                    fetch=info,
                )
                if record["content_hash"] == old.get("content_hash"):
                    counts["unchanged"] += 1
                    continue
                written = archive.write(record, relative, None)
                # Only where the record is: whether the article is queued (its feed entry
                # changed meanwhile) is not reextract's to decide.
                state.revised(
                    [
                        Archived(
                            source.name,
                            str(old["id"]),
                            written.path,
                            record["content_hash"],
                            written.revision,
                            token=0,
                        )
                    ]
                )
                changed = [k for k in CONTENT_FIELDS if record.get(k) != old.get(k)]
                counts["changed"] += 1
                lines.append(f"{relative}: revision {written.revision}: {', '.join(changed)}")
    finally:
        if bars is not None:
            bars.close()
        state.close()
    lines.append(
        f"reextract: {counts['checked']} checked, {counts['changed']} changed, "
        f"{counts['unchanged']} unchanged, {counts['no_raw_page']} without a raw page, "
        f"{counts['failed']} failed"
        + (f" ({counts['from_warc']} read from WARC captures)" if counts["from_warc"] else "")
    )
    return (1 if counts["failed"] else 0), "\n".join(lines) + "\n"
