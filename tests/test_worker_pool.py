"""The worker processes: started for big polls only, stopped again when idle."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from worker.archive import Archive
from worker.config import ArchiveSettings, Settings
from worker.pipeline import POOL_BATCH, Pipeline
from worker.state import State


def _pipeline(tmp_path: Path, processes: int) -> Pipeline:
    settings = dataclasses.replace(
        Settings(), archive=ArchiveSettings(dir=tmp_path, processes=processes)
    )
    fetcher: Any = None  # no request is made here
    return Pipeline(settings, State(tmp_path / "s.db"), Archive(tmp_path), fetcher)


def test_pool_starts_for_big_batches_and_stops_when_idle(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, processes=1)
    pipeline._start_pool(POOL_BATCH - 1)
    assert pipeline._pool is None  # a small poll stays in threads
    pipeline._start_pool(POOL_BATCH)
    pool = pipeline._pool
    assert pool is not None
    assert pool.submit(sum, [1, 2, 3]).result(timeout=60) == 6
    pipeline.reap_pool(idle=3600)
    assert pipeline._pool is pool  # recently used: kept
    pipeline._pool_used -= 7200
    pipeline.reap_pool(idle=3600)
    assert pipeline._pool is None
    pipeline.close()


def test_no_pool_when_processes_is_zero(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, processes=0)
    pipeline._start_pool(10_000)
    assert pipeline._pool is None
    pipeline.close()
