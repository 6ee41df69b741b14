"""What a fetch gives back: the response (and, kept on request, the exchange as it went over the
wire), and the booking of request starts that processes on one state share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Capture:
    """The final exchange of a fetch as it went over the wire (kept with ``capture=True``):
    what a WARC ``request`` and ``response`` record hold. ``payload`` is the body as received,
    before any Content-Encoding was undone."""

    method: str
    url: str
    sent_headers: tuple[tuple[str, str], ...]
    version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    payload: bytes
    peer: str | None
    started_at: float  # the request's start, seconds since the epoch


@dataclass(frozen=True)
class Response:
    """What a fetch produced: final URL, status, lower-cased headers, the decoded body, and the
    address it came from."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed: float
    peer: str | None = None
    capture: Capture | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class HostBook(Protocol):
    """Books request starts per host where every process on the same state sees them."""

    async def reserve_host(self, host: str, gap: float) -> float:
        """Book the next start on ``host``; returns the seconds to wait before it."""
        ...
