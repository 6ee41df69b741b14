"""The store implementations the contract tests run against, each opened fresh per test.

Every implementation of :class:`~worker.store.interfaces.StateStore` and
:class:`~worker.store.interfaces.ArchiveStore` is listed here; the contract tests take the
``state_store`` and ``make_archive`` fixtures and so run once per implementation. PostgreSQL is
the machine's server on 127.0.0.1:5432 (each test gets a database of its own); the S3 store is
``rclone serve s3`` on loopback (tests/s3srv.py), each test under a prefix of its own.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from s3srv import S3Server

from worker.config import ArchiveSettings
from worker.store import open_archive
from worker.store.folder import FolderArchive
from worker.store.interfaces import ArchiveStore, StateStore
from worker.store.postgres import PostgresState
from worker.store.sqlite import SqliteState

STATE_KINDS = ["sqlite", "postgresql"]
ARCHIVE_KINDS = ["folder", "s3"]
POSTGRES = "postgresql://postgres@127.0.0.1:5432"

MakeArchive = Callable[..., ArchiveStore]


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database on the local server; dropped afterwards."""
    name = f"news_worker_test_{secrets.token_hex(6)}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("s3")).start()
    try:
        yield server
    finally:
        server.stop()


def s3_settings(
    server: S3Server, *, keep_raw: bool = True, url: str | None = None
) -> ArchiveSettings:
    env = server.env()
    return ArchiveSettings(
        url=url or server.url(),
        keep_raw=keep_raw,
        aws_endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_region=env["AWS_REGION"],
        aws_allow_http=True,
    )


@pytest.fixture(params=STATE_KINDS)
def state_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    state: StateStore
    if request.param == "postgresql":
        with postgres_database() as url:
            state = PostgresState(url)
            try:
                yield state
            finally:
                state.close()
        return
    state = SqliteState(tmp_path / "state.sqlite3")
    try:
        yield state
    finally:
        state.close()


@pytest.fixture(params=ARCHIVE_KINDS)
def make_archive(request: pytest.FixtureRequest, tmp_path: Path) -> MakeArchive:
    """Opens the archive under test (``keep_raw`` as asked); the same one on every call."""
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        url = server.url()

        def make_s3(*, keep_raw: bool = True) -> ArchiveStore:
            return open_archive(s3_settings(server, keep_raw=keep_raw, url=url))

        return make_s3

    def make(*, keep_raw: bool = True) -> ArchiveStore:
        return FolderArchive(tmp_path / "archive", keep_raw=keep_raw)

    return make
