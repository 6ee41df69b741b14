"""What ``run`` prints on a terminal without ``-v``: where it listens, one line per poll (and per
queue retry that did something), the stop. Off a terminal, or with ``-v``, the log events
(``service_started``, ``poll_done``...) say the same."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from worker.ingest.outcomes import SourceOutcome

WIDTH = 100
FEED_WORDS = {"changed": "changed", "not_modified": "not modified", "failed": "failed"}


def _short(url: str, room: int) -> str:
    bare = url.split("://", 1)[-1]
    return bare if len(bare) <= room else "…" + bare[-(room - 1) :]


class RunConsole:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def say(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {text}"
        self.stream.write((line if len(line) <= WIDTH else line[: WIDTH - 1] + "…") + "\n")
        self.stream.flush()

    def listening(self, host: str, port: int, sources: int, feeds: int) -> None:
        self.say(f"listening on http://{host}:{port} (/healthz /readyz /metrics)")
        self.say(
            f"polling {sources} source{'s' * (sources != 1)} ({feeds} feed{'s' * (feeds != 1)}); "
            "Ctrl-C stops"
        )

    def _counts(self, outcome: SourceOutcome) -> str:
        a = outcome.articles
        text = f"{a['new'] + a['updated']} archived, {a['failed'] + a['gone']} failed"
        text += f", {outcome.queued} queued"
        if outcome.errors:
            text += f" ({outcome.errors[-1].rsplit(': ', 1)[-1]})"
        return text

    def polled(self, outcome: SourceOutcome, url: str) -> None:
        result = next((FEED_WORDS[k] for k, n in outcome.feeds.items() if n), "polled")
        head = f"{outcome.source} "
        self.say(f"{head}{_short(url, 40)}: {result}; {self._counts(outcome)}")

    def retried(self, outcome: SourceOutcome) -> None:
        self.say(f"{outcome.source} queue: {self._counts(outcome)}")

    def stopping(self, grace: float) -> None:
        self.say(f"stopping: work in flight has {grace:g}s to finish (a second Ctrl-C: now)")

    def stopped(self) -> None:
        self.say("stopped")
