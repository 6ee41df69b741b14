"""The connection pool under the PostgreSQL state, and the one way writes and reads go.

psycopg 3's pool: connections are checked before they are handed out, so after the server
restarts (or an administrator kills the connections) the next call gets a fresh one; a call that
cannot get one within ``CONNECT_SECONDS`` is a :class:`~worker.errors.StateError` naming the
database, never a hang.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from worker.config.values import mask_url
from worker.errors import StateError
from worker.store.postgres.schema import migrate

CONNECT_SECONDS = 5.0
# The server refuses writes: a read-only database or standby, or a role without the rights.
_REFUSED_WRITES = (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)


class Database:
    def __init__(self, url: str, *, max_connections: int = 4) -> None:
        self.url = url
        self.where = mask_url(url)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            kwargs={"autocommit": True, "row_factory": dict_row},
            check=ConnectionPool.check_connection,
            timeout=CONNECT_SECONDS,
            open=False,
            name="news-worker-state",
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_SECONDS)
            with self._pool.connection() as conn:
                self.created = migrate(conn) == 0
        except _REFUSED_WRITES as exc:
            self._pool.close()
            raise StateError(
                f"cannot write the state database {self.where}: {exc}", reason="not_writable"
            ) from exc
        except (PoolTimeout, psycopg.Error) as exc:
            self._pool.close()
            raise StateError(f"state database {self.where}: cannot connect ({exc})") from exc

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise StateError(f"state database {self.where}: unreachable ({exc})") from exc
        except psycopg.Error as exc:
            raise StateError(f"state database {self.where}: {exc}") from exc

    @contextmanager
    def write(self) -> Iterator[Any]:
        with self.connection() as conn, conn.transaction():
            yield conn

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self.connection() as conn:
            rows: list[dict[str, Any]] = conn.execute(sql, args).fetchall()
            return rows

    def writable(self) -> str | None:
        """A write that changes nothing: the server checks privileges and read-only mode (a
        standby, ``default_transaction_read_only``) before it finds no row to update."""
        try:
            with self.connection() as conn:
                conn.execute("UPDATE meta SET value = value WHERE false")
        except StateError as exc:
            return str(exc).removeprefix("state database ")
        return None
