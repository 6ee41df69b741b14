"""Politeness across processes: a ``fetch`` beside another one on the same state keeps each
host's gap between them all, measured where a site sees it (the arrival of each request)."""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

from conftest import MT_FEEDS, records, write_config
from service_helpers import BIN
from sitesrv import SiteServer

GAP = 0.3


def test_two_processes_on_one_state_keep_one_gap_per_host(
    tmp_path: Path, server: SiteServer, archive_dir: Path
) -> None:
    config = write_config(
        tmp_path / "c.toml",
        feeds=[server.url(f) for f in MT_FEEDS],
        archive=archive_dir,
        http={"per_host_delay": f"{GAP}s", "per_host_concurrency": 2},
    )
    runs = [
        subprocess.Popen(
            [str(BIN), "fetch", "--config", str(config)],
            env={**os.environ, "NEWS_WORKER_HTTP_USER_AGENT": f"news-worker-test/{n}"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in (1, 2)
    ]
    try:
        for run in runs:
            _, err = run.communicate(timeout=120)
            assert run.returncode == 0, err.decode()
    finally:  # one failed: the other is not left running into the next test
        for run in runs:
            if run.poll() is None:
                run.kill()
            run.communicate()
    assert len(records(archive_dir)) == 10
    log = sorted(server.site.requests(), key=lambda r: r.at)
    agents = [r.headers.get("user-agent") for r in log]
    assert set(agents) == {"news-worker-test/1", "news-worker-test/2"}
    # Both were polling the host at once (their requests interleave)...
    first_of_2 = agents.index("news-worker-test/2")
    assert "news-worker-test/1" in agents[first_of_2:] or agents[0] == "news-worker-test/2"
    # ...and no two requests to it, from either, came closer than the gap (less 30% of arrival
    # jitter: a request sent on time may be read late, the next one early).
    gaps = [b.at - a.at for a, b in itertools.pairwise(log)]
    assert min(gaps) >= GAP * 0.7, sorted(gaps)[:5]
