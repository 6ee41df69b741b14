"""Pre-flight: before ``fetch``, ``backfill``, ``reextract`` or ``run`` fetches anything, the
archive and the state must take writes (``run`` also binds its port first). Otherwise every page
would be downloaded only to fail at the write, and the next run would wait on a queue it cannot
empty. A failure is a :class:`ConfigError` (exit 2): one line naming the key, where its value
came from, the path or URL, and what the operating system or the server said.

The same ``writable()`` checks answer ``/readyz`` while the service runs.
"""

from __future__ import annotations

from worker.config import Settings
from worker.errors import ConfigError, StateError
from worker.store import is_postgres, open_state
from worker.store.interfaces import ArchiveStore, StateStore

NOT_WRITABLE = "not_writable"


def _named(settings: Settings, key: str) -> str:
    return f"{key} {settings.origins.get(key, '(default)')}"


def archive_key(settings: Settings) -> str:
    return _named(settings, "archive.url" if settings.archive.url else "archive.dir")


def state_key(settings: Settings) -> str:
    url = settings.state.url
    return _named(settings, "state.url" if url or is_postgres(settings) else "state.path")


def check_archive(settings: Settings, archive: ArchiveStore) -> None:
    why = archive.writable()
    if why is not None:
        raise ConfigError(f"{archive_key(settings)}: cannot write {why}", reason=NOT_WRITABLE)


def open_checked_state(settings: Settings, archive: ArchiveStore) -> StateStore:
    """The state, opened and shown to take writes."""
    try:
        state = open_state(settings, archive)
    except StateError as exc:
        if exc.reason != NOT_WRITABLE:
            raise
        raise ConfigError(f"{state_key(settings)}: {exc}", reason=NOT_WRITABLE) from exc
    why = state.writable()
    if why is not None:
        state.close()
        raise ConfigError(f"{state_key(settings)}: cannot write {why}", reason=NOT_WRITABLE)
    return state
