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
from worker.config.values import mask_url
from worker.errors import ConfigError, StateError
from worker.store.folder import FolderArchive
from worker.store.interfaces import ArchiveSpec, ArchiveStore, StateStore
from worker.store.sqlite import SqliteState

_from_spec: dict[ArchiveSpec, ArchiveStore] = {}


def open_archive(settings: ArchiveSettings) -> ArchiveStore:
    if settings.url.startswith("s3://"):
        from worker.store.objects import s3_options

        return _objects(ArchiveSpec(settings.url, settings.keep_raw, s3_options(settings)))
    return FolderArchive(Path(settings.url or settings.dir), keep_raw=settings.keep_raw)


def _objects(spec: ArchiveSpec) -> ArchiveStore:
    try:
        from worker.store.objects import ObjectArchive
    except ImportError as exc:
        raise ConfigError(
            "archive.url: an S3 archive needs the s3 extra: pip install 'news-worker[s3]'"
        ) from exc
    return ObjectArchive(spec.url, spec.options, keep_raw=spec.keep_raw)


def archive_from_spec(spec: ArchiveSpec) -> ArchiveStore:
    """The archive a spec names, opened once per process (worker processes write pages)."""
    archive = _from_spec.get(spec)
    if archive is None:
        opened = _objects(spec) if spec.url.startswith("s3://") else None
        archive = opened or FolderArchive(Path(spec.url), keep_raw=spec.keep_raw)
        _from_spec[spec] = archive
    return archive


def _postgres(url: str) -> StateStore:
    try:
        from worker.store.postgres import PostgresState
    except ImportError as exc:
        raise ConfigError(
            "state.url: a PostgreSQL state needs the postgresql extra: "
            "pip install 'news-worker[postgresql]'"
        ) from exc
    return PostgresState(url)


def is_postgres(settings: Settings) -> bool:
    return settings.state.url.startswith(("postgresql://", "postgres://"))


def _sqlite_path(settings: Settings) -> Path:
    return Path(settings.state.url) if settings.state.url else settings.state.path


def open_state(settings: Settings, archive: ArchiveStore) -> StateStore:
    """Open the state, creating it if need be; a missing state beside an archive that holds
    records is an error, since starting afresh would fetch everything again (``state rebuild``
    restores it)."""
    if is_postgres(settings):
        state = _postgres(settings.state.url)
        created = getattr(state, "created", False)
        where = describe_state(settings)
    else:
        path = _sqlite_path(settings)
        created = not path.exists()
        state = SqliteState(path)
        where = f"state file {path}"
    if created and any(archive.has_records(s.name) for s in settings.sources):
        state.close()
        if not is_postgres(settings):
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)
        raise StateError(
            f"{where} is missing (or new), but the archive {archive.location} holds records: "
            "run 'news-worker state rebuild' first, or everything would be fetched again"
        )
    return state


def existing_state(settings: Settings) -> StateStore | None:
    """The state if one exists, else None: reading commands create nothing (a PostgreSQL
    database is connected to; its schema is created if need be)."""
    if is_postgres(settings):
        return _postgres(settings.state.url)
    path = _sqlite_path(settings)
    return SqliteState(path) if path.is_file() else None


def state_for_rebuild(settings: Settings) -> tuple[StateStore, str | None]:
    """A state to rebuild from the archive, and where an unusable old one was moved (if so)."""
    if is_postgres(settings):
        return _postgres(settings.state.url), None
    path = _sqlite_path(settings)
    moved = None
    if path.exists():
        try:
            SqliteState(path, check=True).close()
        except StateError as exc:
            if exc.reason == "not_writable":
                raise  # nothing to move aside: the folder takes no writes
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            path.rename(aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            moved = str(aside)
    return SqliteState(path), moved


def describe_state(settings: Settings) -> str:
    """Where the state is, for messages (a database URL without its password)."""
    if is_postgres(settings):
        return f"state database {mask_url(settings.state.url)}"
    return f"state file {_sqlite_path(settings)}"
