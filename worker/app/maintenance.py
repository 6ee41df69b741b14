"""Maintenance commands: rebuild the state from the archive, re-extract from the raw pages."""

from __future__ import annotations

import gzip
import hashlib
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from worker.app.commands import open_state
from worker.config import Settings
from worker.errors import ConfigError, StateError, WorkerError
from worker.extract import extract
from worker.ingest.pipeline import entry_from_json
from worker.parse import dates
from worker.store.folder import Archive
from worker.store.record import CONTENT_FIELDS, FetchInfo, build
from worker.store.sqlite import State


def rebuild_state(settings: Settings) -> str:
    """Rebuild the seen-set from the archive; a corrupt state file is moved aside first."""
    path = settings.state.path
    moved = None
    if path.exists():
        try:
            State(path, check=True).close()
        except StateError:
            moved = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            path.rename(moved)
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    archive = Archive(settings.archive.dir)
    state = State(path)
    try:
        counts = {}
        for source in settings.sources:
            rows = (
                (
                    source.name,
                    str(record["id"]),
                    str(record.get("url") or ""),
                    relative,
                    record.get("feed_url"),
                    str(record.get("content_hash") or ""),
                    int(record.get("revision") or 1),
                )
                for relative, record in archive.records(source.name)
            )
            counts[source.name] = state.restore_archived(rows)
    finally:
        state.close()
    done = ", ".join(f"{name}: {n} archived articles" for name, n in counts.items())
    aside = f"; the unreadable state was moved to {moved}" if moved else ""
    return f"state {path} rebuilt from {settings.archive.dir} ({done}){aside}"


def parse_day(flag: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{flag} {value!r}: expected a date as YYYY-MM-DD") from exc


def reextract(settings: Settings, *, sources: Sequence[str], since: str | None) -> tuple[int, str]:
    """Re-run extraction on the stored raw pages; a new revision only where the record changed."""
    chosen = [settings.source(n) for n in dict.fromkeys(sources)] or list(settings.sources)
    first_day = parse_day("--since", since) if since else None
    archive = Archive(settings.archive.dir, keep_raw=settings.archive.keep_raw)
    state = open_state(settings, archive)
    lines: list[str] = []
    counts = {"checked": 0, "changed": 0, "unchanged": 0, "no_raw_page": 0, "failed": 0}
    try:
        for source in chosen:
            for relative, old in archive.records(source.name):
                published = dates.parse_date(old.get("published_at"))
                if first_day and published is not None and published.date() < first_day:
                    continue
                counts["checked"] += 1
                raw_path = settings.archive.dir / (relative.removesuffix(".json") + ".html.gz")
                try:
                    raw = gzip.decompress(raw_path.read_bytes())
                except (OSError, EOFError):
                    counts["no_raw_page"] += 1
                    continue
                fetch = old.get("fetch") or {}
                row = state.article(source.name, str(old["id"]))
                try:
                    extracted = extract(
                        raw,
                        str(fetch.get("final_url") or old["url"]),
                        source.profile,
                        content_type=fetch.get("content_type"),
                        entry=entry_from_json(row["entry"] if row is not None else None),
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
                state.archived(
                    source.name,
                    str(old["id"]),
                    path=written.path,
                    content_hash=record["content_hash"],
                    revision=written.revision,
                    now=time.time(),
                )
                changed = [k for k in CONTENT_FIELDS if record.get(k) != old.get(k)]
                counts["changed"] += 1
                lines.append(f"{relative}: revision {written.revision}: {', '.join(changed)}")
    finally:
        state.close()
    lines.append(
        f"reextract: {counts['checked']} checked, {counts['changed']} changed, "
        f"{counts['unchanged']} unchanged, {counts['no_raw_page']} without a raw page, "
        f"{counts['failed']} failed"
    )
    return (1 if counts["failed"] else 0), "\n".join(lines) + "\n"
