"""Content-Encoding decoded by us, with a bound: a gzip bomb never expands past the body cap."""

from __future__ import annotations

import zlib

from worker.errors import PermanentFetchError, TransientFetchError


class BodyDecoder:
    """Bounded Content-Encoding decoder: never inflates more than the remaining budget."""

    def __init__(self, encoding: str) -> None:
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._inflater = None
        elif encoding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._inflater = zlib.decompressobj()
        else:
            raise PermanentFetchError(
                f"unsupported Content-Encoding {encoding!r}", reason="bad_encoding"
            )

    def feed(self, chunk: bytes, budget: int) -> bytes:
        if self._inflater is None:
            return chunk
        try:
            out = self._inflater.decompress(chunk, budget + 1)
            if self._inflater.unconsumed_tail:
                # More output is waiting than the budget allows: the body is over the cap.
                return out + b"\0" * (budget + 1 - len(out))
        except zlib.error as exc:
            raise TransientFetchError(f"corrupt compressed body: {exc}", reason="bad_body") from exc
        return out
