"""Decoding page bytes to text, the way browsers choose the charset.

Bytes are decoded here, not by the HTTP client: many pages declare their charset only in
``<meta>``. Order: BOM; valid UTF-8 (a mislabelled UTF-8 page is far likelier than single-byte
text that happens to be valid UTF-8); the Content-Type header; ``<meta charset>`` /
``http-equiv``; detection.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

_META_CHARSET = re.compile(
    rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]{1,40})", re.IGNORECASE
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def content_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, lower-cased."""
    if not content_type:
        return None
    match = re.search(r"charset\s*=\s*\"?([A-Za-z0-9._:-]{1,40})", content_type, re.IGNORECASE)
    return match.group(1).lower() if match else None


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    # Browsers treat latin-1 labels as windows-1252, which is a superset.
    return "cp1252" if info.name in ("latin-1", "iso8859-1", "ascii") else info.name


def decode(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, encoding used) for an HTML body; never raises, undecodable bytes are replaced."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, "replace"), name
    declared = _codec(content_charset(content_type))
    match = _META_CHARSET.search(body[:8192])
    meta = _codec(match.group(1).decode("ascii")) if match else None
    if declared != "utf-8" and meta != "utf-8" and not body.isascii():
        # Valid UTF-8 with non-ASCII bytes is almost never another charset: a page labelled
        # latin-1 that decodes as UTF-8 is a mislabelled UTF-8 page.
        try:
            return body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    for candidate in (declared, meta):
        if candidate:
            try:
                return body.decode(candidate), candidate
            except (UnicodeDecodeError, LookupError):
                continue
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body[:200_000]).best()
    detected = _codec(best.encoding) if best is not None else None
    chosen = detected or declared or meta or "cp1252"
    return body.decode(chosen, "replace"), chosen
