"""What a fetch gives back: the response (and, kept on request, the exchange as it went over the
wire); the body read within its cap, and what a status means."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from worker.errors import GoneError, PermanentFetchError, TransientFetchError
from worker.net.decoding import BodyDecoder
from worker.net.headers import now_utc, retry_delay
from worker.net.transport import Exchange

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504, 507, 509, 520, 521, 522, 523, 524}


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


async def read_body(url: str, raw: Exchange, received: list[bytes] | None, cap: int) -> bytes:
    """The body, its Content-Encoding undone, at most ``cap`` bytes (else ``too_large``);
    ``received`` gets the chunks as they came over the wire."""
    length = raw.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap and 200 <= raw.status < 300:
        raise PermanentFetchError(
            f"{url}: body of {length} bytes is over the cap of {cap}",
            reason="too_large",
            status=raw.status,
        )
    decoder = BodyDecoder(raw.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = 0
    async for chunk in raw.body:
        if received is not None:
            received.append(chunk)
        out = decoder.feed(chunk, cap - size)
        size += len(out)
        if size > cap:
            raise PermanentFetchError(
                f"{url}: body over the cap of {cap} bytes",
                reason="too_large",
                status=raw.status,
            )
        chunks.append(out)
    return b"".join(chunks)


def classify(response: Response) -> Response:
    """The response, or the error its status means: 404 and 410 gone, the transient statuses
    (with their Retry-After) to be tried again, any other failure permanent."""
    status = response.status
    if 200 <= status < 300 or status == 304 or status in REDIRECT_STATUSES:
        return response
    where = f"{response.url}: HTTP {status}"
    if status in (404, 410):
        raise GoneError(where, reason=f"http_{status}", status=status)
    if status in TRANSIENT_STATUSES or status >= 500:
        raise TransientFetchError(
            where,
            reason=f"http_{status}",
            status=status,
            retry_after=retry_delay(response.headers, now_utc()),
        )
    raise PermanentFetchError(where, reason=f"http_{status}", status=status)
