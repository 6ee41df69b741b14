"""``news-worker render``: an archived article, found by its ID or its path inside the archive,
as Markdown or JSON.

Only records inside the archive are read (a path elsewhere is refused). Sources may share an ID
(the same link under two sources): ``--source`` chooses; without it, an ID archived under more
than one source is a usage error naming them. A file that is not a record is a one-line error.
"""

from __future__ import annotations

from typing import Any

import orjson

from worker.app import markdown
from worker.config import Settings
from worker.errors import ArchiveError, ConfigError
from worker.parse.urls import SAFE_ID
from worker.store import existing_state, open_archive
from worker.store.interfaces import ArchiveStore

# What rendering reads of a record, and the type each must have.
_SHAPE: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "source": (str,),
    "url": (str,),
    "title": (str, type(None)),
    "authors": (list,),
    "body": (list,),
    "related": (list,),
}


def _source_of(relative: str) -> str:
    return relative.split("/", 1)[0]


def _by_id(settings: Settings, archive: ArchiveStore, target: str) -> list[str]:
    """Relative paths of the current records of article ``target``, one per source."""
    found: dict[str, str] = {}
    state = existing_state(settings)
    if state is not None:
        try:
            rows = state.find_article(target)
        finally:
            state.close()
        for row in rows:
            if row.path and archive.read(row.path) is not None:
                found.setdefault(row.source, row.path)
    for relative in archive.find(target):
        found.setdefault(_source_of(relative), relative)
    return [found[source] for source in sorted(found)]


def find_record(
    settings: Settings, archive: ArchiveStore, target: str, source: str | None = None
) -> str:
    """The relative path of a record named by its path (inside the archive) or its article ID
    (looked up in state, then in the archive), of ``source`` when given."""
    if target.endswith(".json") or "/" in target:
        relative = archive.locate(target)
        if relative is None:
            raise ConfigError(
                f"PATH_OR_ID {target!r}: not a record inside the archive {archive.location}"
            )
        if source is not None and _source_of(relative) != source:
            raise ConfigError(f"PATH_OR_ID {target!r}: a record of {_source_of(relative)}")
        return relative
    if not SAFE_ID.match(target):
        raise ConfigError(f"PATH_OR_ID {target!r}: no such file, and not an article ID")
    paths = _by_id(settings, archive, target)
    if source is not None:
        paths = [p for p in paths if _source_of(p) == source]
    if len(paths) > 1:
        names = ", ".join(_source_of(p) for p in paths)
        raise ConfigError(
            f"PATH_OR_ID {target!r}: archived under several sources ({names}); "
            "choose one with --source"
        )
    if not paths:
        where = f" of source {source}" if source else ""
        raise ConfigError(
            f"PATH_OR_ID {target!r}: no archived article{where} with that ID in {archive.location}"
        )
    return paths[0]


def _checked(relative: str, record: dict[str, Any] | None) -> dict[str, Any]:
    if record is None:
        raise ArchiveError(f"{relative}: not a readable record (not a JSON object)")
    wrong = [key for key, kinds in _SHAPE.items() if not isinstance(record.get(key, ...), kinds)]
    if wrong:
        raise ArchiveError(
            f"{relative}: not a news-worker record (missing or bad: {', '.join(wrong)})"
        )
    return record


def render(settings: Settings, target: str, fmt: str, source: str | None = None) -> str:
    archive = open_archive(settings.archive)
    relative = find_record(settings, archive, target, source)
    record = _checked(relative, archive.read(relative))
    if fmt == "json":
        return orjson.dumps(record, option=orjson.OPT_INDENT_2).decode() + "\n"
    try:
        return markdown.markdown(record)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ArchiveError(f"{relative}: not a news-worker record ({exc!r})") from exc
