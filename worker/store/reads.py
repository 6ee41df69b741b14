"""What waits in a state's queue, read without claiming anything: for the exit code of a run that
archived nothing, ``status``, and ``fetch --list``. Part of :class:`~worker.store.interfaces.StateStore`.
"""

from __future__ import annotations

from typing import Protocol

NEVER_TRIED = ""  # the reason of a queued article that has not failed yet


class QueueReads(Protocol):
    def queue_reasons(self, source: str) -> dict[str, int]:
        """The source's queued articles by the reason of their last failure (``archive_error``,
        ``http_503``...; ``NEVER_TRIED`` for those not tried yet)."""
        ...

    def due_urls(self, source: str, now: float, limit: int) -> list[str]:
        """The URLs of up to ``limit`` queued articles whose next try has come and that nobody
        holds, in the order ``claim_due`` takes them; nothing is claimed."""
        ...
