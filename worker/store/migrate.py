"""Copying a SQLite state into PostgreSQL (``news-worker state migrate --to URL``): every feed,
article, robots.txt answer, host booking and backfill mark, so that nothing is fetched again
afterwards. The archive is copied with the usual tools (``rclone copy``, ``aws s3 sync``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from worker.errors import ConfigError
from worker.store.postgres import PostgresState
from worker.store.sqlite import SqliteState

TABLES = {
    "feeds": ("url",),
    "articles": ("source", "id"),
    "robots": ("origin",),
    "hosts": ("host",),
    "backfill_files": ("source", "url", "range_key"),
}


def copy_state(path: Path, url: str) -> dict[str, int]:
    """Copy the SQLite state at ``path`` into the PostgreSQL database at ``url`` (which must
    hold no articles yet); returns the rows copied per table."""
    if not path.is_file():
        raise ConfigError(f"state.path: no state file at {path} to migrate")
    source = SqliteState(path)
    target = PostgresState(url)
    try:
        if target.query("SELECT 1 FROM articles LIMIT 1"):
            raise ConfigError(
                f"--to {target.where}: holds articles already; migrate into a new database"
            )
        copied = {}
        with target.write() as conn:
            for table, key in TABLES.items():
                columns = _common_columns(source, target, table)
                rows = [
                    tuple(row[c] for c in columns) for row in source.query(f"SELECT * FROM {table}")
                ]
                names = ", ".join(columns)
                marks = ", ".join(["%s"] * len(columns))
                with conn.cursor() as cursor:
                    cursor.executemany(
                        f"INSERT INTO {table} ({names}) VALUES ({marks}) "
                        f"ON CONFLICT ({', '.join(key)}) DO NOTHING",
                        [_values(table, columns, row) for row in rows],
                    )
                copied[table] = len(rows)
        return copied
    finally:
        source.close()
        target.close()


def _common_columns(source: SqliteState, target: PostgresState, table: str) -> list[str]:
    mine = [row[1] for row in source.query(f"PRAGMA table_info({table})")]
    theirs = {
        row["column_name"]
        for row in target.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
        )
    }
    return [c for c in mine if c in theirs]


def _values(table: str, columns: list[str], row: tuple[Any, ...]) -> tuple[Any, ...]:
    if table == "feeds" and "active" in columns:
        at = columns.index("active")
        return (*row[:at], bool(row[at]), *row[at + 1 :])
    return row
