"""An article's revisions: ``render --revisions`` (the history), ``render --revision N`` (one
of them) and ``diff`` (what changed between two). An article found by its ID or its path, as
``render`` finds it."""

from __future__ import annotations

from typing import Any

import orjson

from worker.app import markdown
from worker.app.diff import changed_fields, describe
from worker.app.render import find_record
from worker.config import Settings
from worker.errors import ArchiveError, ConfigError
from worker.store import open_archive
from worker.store.interfaces import ArchiveStore


def history(archive: ArchiveStore, relative: str) -> list[dict[str, Any]]:
    """Every revision kept of the record at ``relative``, oldest first, the latest last."""
    current = archive.read(relative)
    if current is None:
        raise ArchiveError(f"{relative}: not a readable record")
    found = []
    for number in archive.revisions(relative):
        record = archive.read_revision(relative, number)
        if record is not None:
            found.append(record)
    return [*found, current]


def _pick(records: list[dict[str, Any]], number: int, flag: str, relative: str) -> dict[str, Any]:
    for record in records:
        if int(record.get("revision") or 1) == number:
            return record
    kept = ", ".join(str(r.get("revision")) for r in records)
    raise ConfigError(f"{flag} {number}: {relative} has revisions {kept}")


def render(
    settings: Settings, target: str, fmt: str, revision: int | None, *, listing: bool
) -> str:
    """One revision (as ``render`` prints the latest), or with ``listing`` the history."""
    archive = open_archive(settings.archive)
    relative = find_record(settings, archive, target)
    records = history(archive, relative)
    if not listing and revision is not None:
        record = _pick(records, revision, "--revision", relative)
        if fmt == "json":
            return orjson.dumps(record, option=orjson.OPT_INDENT_2).decode() + "\n"
        return markdown.markdown(record)
    rows: list[dict[str, Any]] = []
    for before, record in zip([None, *records], records, strict=False):
        rows.append(
            {
                "revision": record.get("revision"),
                "fetched_at": record.get("fetched_at"),
                "content_hash": record.get("content_hash"),
                "changed": changed_fields(before, record) if before is not None else [],
            }
        )
    if fmt == "json":
        return (
            orjson.dumps({"path": relative, "revisions": rows}, option=orjson.OPT_INDENT_2).decode()
            + "\n"
        )
    lines = [relative, f"{'revision':<9} {'fetched':<33} changed"]
    for entry in rows:
        names: list[str] = entry["changed"]
        changed = ", ".join(names) or ("(first)" if entry is rows[0] else "")
        lines.append(f"{entry['revision']!s:<9} {entry['fetched_at']!s:<33} {changed}")
    return "\n".join(lines) + "\n"


def diff(settings: Settings, target: str, old: int | None, new: int | None, *, colour: bool) -> str:
    """What changed from revision ``old`` (default: the one before ``new``) to ``new``
    (default: the latest)."""
    archive = open_archive(settings.archive)
    relative = find_record(settings, archive, target)
    records = history(archive, relative)
    if len(records) < 2 and old is None:
        only = records[0].get("revision")
        raise ConfigError(f"ID {target}: {relative} has one revision ({only}): nothing to compare")
    after = _pick(records, new, "--to", relative) if new is not None else records[-1]
    if old is None:
        earlier = [r for r in records if int(r.get("revision") or 1) < int(after["revision"])]
        if not earlier:
            raise ConfigError(f"--to {new}: no revision before it to compare with")
        before = earlier[-1]
    else:
        before = _pick(records, old, "--from", relative)
    heading = (
        f"{after.get('id')} ({relative}): revision {before.get('revision')} -> "
        f"{after.get('revision')}"
    )
    return "\n".join(describe(before, after, colour=colour, heading=heading)) + "\n"
