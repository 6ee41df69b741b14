"""Storage: the state store (what was seen, the queue, leases) and the archive store (the
records and raw pages), and the record they hold.

Everything else opens them here and talks to them through the interfaces in
:mod:`worker.store.interfaces`; which implementation is behind them (a SQLite file and a folder
by default) is decided here from the settings alone.

May import: ``worker.config``, ``worker.parse``, ``worker.model``, ``worker.errors``.
"""

from __future__ import annotations

import time
from pathlib import Path

from worker.config import ArchiveSettings, Settings
from worker.errors import StateError
from worker.store.folder import FolderArchive
from worker.store.interfaces import ArchiveSpec, ArchiveStore, StateStore
from worker.store.sqlite import SqliteState

_from_spec: dict[ArchiveSpec, ArchiveStore] = {}


def open_archive(settings: ArchiveSettings) -> ArchiveStore:
    return FolderArchive(settings.dir, keep_raw=settings.keep_raw)


def archive_from_spec(spec: ArchiveSpec) -> ArchiveStore:
    """The archive a spec names, opened once per process (worker processes write pages)."""
    archive = _from_spec.get(spec)
    if archive is None:
        archive = _from_spec[spec] = FolderArchive(Path(spec.url), keep_raw=spec.keep_raw)
    return archive


def open_state(settings: Settings, archive: ArchiveStore) -> StateStore:
    """Open the state, creating it if need be; a missing state beside an archive that holds
    records is an error, since starting afresh would fetch everything again (``state rebuild``
    restores it)."""
    path = settings.state.path
    created = not path.exists()
    state = SqliteState(path)
    if created and any(archive.has_records(s.name) for s in settings.sources):
        state.close()
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        raise StateError(
            f"state file {path} is missing, but the archive {archive.location} holds records: "
            "run 'news-worker state rebuild' first, or everything would be fetched again"
        )
    return state


def existing_state(settings: Settings) -> StateStore | None:
    """The state if one exists, else None: reading commands create nothing."""
    path = settings.state.path
    return SqliteState(path) if path.is_file() else None


def state_for_rebuild(settings: Settings) -> tuple[StateStore, str | None]:
    """A state to rebuild from the archive, and where an unusable old one was moved (if so)."""
    path = settings.state.path
    moved = None
    if path.exists():
        try:
            SqliteState(path, check=True).close()
        except StateError:
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            path.rename(aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            moved = str(aside)
    return SqliteState(path), moved


def describe_state(settings: Settings) -> str:
    """Where the state is, for messages."""
    return str(settings.state.path)
