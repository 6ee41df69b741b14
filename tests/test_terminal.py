"""What an operator sees on a terminal (a pseudo-terminal here): progress bars per source with
counts, rate and time left, log lines above them (never through them), ``key=value`` text logs,
and a summary within 100 columns."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ptyrun import PtyRun, screen_lines

from conftest import Cli
from worker.app.fetch import summary_line
from worker.ingest.outcomes import SourceOutcome

BAR = "━"
CLOCK = re.compile(r"^\d\d:\d\d:\d\d (info|warning|error) ")


def _bar(lines: list[str], source: str) -> str:
    found = [line for line in lines if line.startswith(source) and BAR in line]
    assert found, "\n".join(lines)
    return found[-1]


def test_fetch_on_a_terminal_draws_a_bar_per_source_and_logs_above_it(config: Path) -> None:
    run = PtyRun(["fetch", "--config", str(config), "-v"])
    assert run.finish() == 0, run.text
    lines = screen_lines(run.text)
    bar = _bar(lines, "moscowtimes")
    assert re.search(r"10/10 articles\s+\d+\.\d/s\s+0?0:00 left\s+feeds 3/3", bar), bar
    logged = [line for line in lines if CLOCK.match(line)]
    events = Counter(line.split()[2] for line in logged)
    assert events["article_archived"] == 10 and events["poll_done"] == 1
    # Every log line is whole, above the bar: no bar drawn into it, no log text in the bar.
    assert not [line for line in logged if BAR in line]
    assert "article_archived" not in bar
    assert lines.index(bar) > max(lines.index(line) for line in logged)
    summary = [line for line in lines if line.startswith("moscowtimes: ")]
    assert summary == ["moscowtimes: 10 new, 0 queued; 3 feeds"]


def test_without_v_the_terminal_shows_the_bar_and_the_summary_only(config: Path) -> None:
    run = PtyRun(["fetch", "--config", str(config)])
    assert run.finish() == 0
    lines = [line for line in screen_lines(run.text) if line]
    assert len(lines) == 2, lines
    assert BAR in lines[0] and "10/10 articles" in lines[0]
    assert lines[1] == "moscowtimes: 10 new, 0 queued; 3 feeds"


def test_reextract_shows_its_progress_over_the_archived_records(cli: Cli, config: Path) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    run = PtyRun(["reextract", "--config", str(config)])
    assert run.finish() == 0, run.text
    lines = screen_lines(run.text)
    assert re.search(r"10/10 records\s+\d+\.\d/s", _bar(lines, "moscowtimes"))
    assert "reextract: 10 checked, 0 changed, 10 unchanged" in run.text


def test_text_logs_are_key_value_pairs_not_python_reprs(cli: Cli, config: Path) -> None:
    code, out, err = cli("fetch", "--config", str(config), "--log-format", "text", "-v")
    assert code == 0
    lines = err.splitlines()
    done = next(line for line in lines if " poll_done " in line)
    assert "feeds.changed=3" in done and "articles.new=10" in done and "still_queued=0" in done
    assert "feed_urls=http://127.0.0.1:" in done and "," in done.split("feed_urls=")[1]
    assert not [line for line in lines if "{'" in line or "['" in line]
    for line in lines:
        for pair in line.split()[3:]:
            assert re.fullmatch(r'[a-z_][a-z0-9_.]*=(?:"[^"]*"|\S+)', pair) or '"' in line, pair


def test_the_summary_fits_100_columns_with_every_count_in_it() -> None:
    outcome = SourceOutcome("moscowtimes")
    outcome.feeds.update(changed=2, not_modified=1, failed=1)
    outcome.articles.update(new=12, updated=3, unchanged=7, failed=1, gone=1)
    outcome.queued = 5
    assert summary_line(outcome) == (
        "moscowtimes: 12 new, 3 updated, 7 unchanged, 2 failed (1 given up), 5 queued; "
        "4 feeds, 1 failed"
    )
    outcome.articles.update(new=12345, updated=5600, unchanged=7000, failed=8900, gone=1200)
    outcome.queued, outcome.warnings = 34567, 3
    lines = summary_line(outcome).splitlines()
    assert lines == [
        "moscowtimes: 12357 new, 5603 updated, 7007 unchanged, 10102 failed (1201 given up), "
        "34567 queued",
        "  4 feeds, 1 failed; 3 warnings",
    ]
    assert all(len(line) <= 100 for line in lines)
