"""The store implementations the contract tests run against, each opened fresh per test.

Every implementation of :class:`~worker.store.interfaces.StateStore` and
:class:`~worker.store.interfaces.ArchiveStore` is listed here; the contract tests take the
``state_store`` and ``archive_store`` fixtures and so run once per implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from worker.store.folder import FolderArchive
from worker.store.interfaces import ArchiveStore, StateStore
from worker.store.sqlite import SqliteState

STATE_KINDS = ["sqlite"]
ARCHIVE_KINDS = ["folder"]

MakeArchive = Callable[..., ArchiveStore]


@pytest.fixture(params=STATE_KINDS)
def state_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    state = SqliteState(tmp_path / "state.sqlite3")
    try:
        yield state
    finally:
        state.close()


@pytest.fixture(params=ARCHIVE_KINDS)
def make_archive(request: pytest.FixtureRequest, tmp_path: Path) -> MakeArchive:
    """Opens the archive under test (``keep_raw`` as asked); the same one on every call."""

    def make(*, keep_raw: bool = True) -> ArchiveStore:
        return FolderArchive(tmp_path / "archive", keep_raw=keep_raw)

    return make
