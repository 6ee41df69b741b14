"""``news-worker render``: an archived article, found by its ID or path, as Markdown or JSON."""

from __future__ import annotations

import orjson

from worker.app import markdown
from worker.config import Settings
from worker.errors import ArchiveError, ConfigError
from worker.parse.urls import SAFE_ID
from worker.store import existing_state, open_archive
from worker.store.interfaces import ArchiveStore


def find_record(settings: Settings, archive: ArchiveStore, target: str) -> str:
    """The relative path of a record named by its path (inside the archive) or its article ID
    (looked up in state, then in the archive)."""
    if target.endswith(".json") or "/" in target:
        relative = archive.locate(target)
        if relative is None:
            raise ConfigError(
                f"PATH_OR_ID {target!r}: not a record inside the archive {archive.location}"
            )
        return relative
    if not SAFE_ID.match(target):
        raise ConfigError(f"PATH_OR_ID {target!r}: no such file, and not an article ID")
    state = existing_state(settings)
    if state is not None:
        try:
            rows = state.find_article(target)
        finally:
            state.close()
        for row in rows:
            if row.path and archive.read(row.path) is not None:
                return row.path
    matches = archive.find(target)
    if matches:
        return matches[-1]
    raise ConfigError(
        f"PATH_OR_ID {target!r}: no archived article with that ID in {archive.location}"
    )


def render(settings: Settings, target: str, fmt: str) -> str:
    archive = open_archive(settings.archive)
    relative = find_record(settings, archive, target)
    record = archive.read(relative)
    if record is None:
        raise ArchiveError(f"{relative}: not a readable record")
    if fmt == "json":
        return orjson.dumps(record, option=orjson.OPT_INDENT_2).decode() + "\n"
    return markdown.markdown(record)
