"""Decoding page bytes to text, the way browsers choose the charset.

Bytes are decoded here, not by the HTTP client: many pages declare their charset only in
``<meta>``. Order: BOM; valid UTF-8 (a mislabelled UTF-8 page is far likelier than single-byte
text that happens to be valid UTF-8); the Content-Type header; ``<meta charset>`` /
``http-equiv``; detection.

Only the labels of the WHATWG Encoding Standard count, mapped as browsers map them (``latin1``
and ``ascii`` are windows-1252, ``gb2312`` is GBK...; the table is ``webencodings``'). Any other
label is ignored, as if nothing were declared: Python would decode ``utf-7`` (``+ADw-b+AD4-``
becomes ``<b>``, markup no browser would see), ``unicode_escape``, or fail on ``hex`` and
``rot13``. The "replacement" encoding, which browsers give ISO-2022-KR and the like so that
their shift sequences cannot hide markup, is ignored likewise. :func:`decode` never raises.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer
import webencodings

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


def whatwg_codec(label: str | None) -> codecs.CodecInfo | None:
    """The codec a browser uses for a charset label, or None if browsers know no such label."""
    if not label:
        return None
    encoding = webencodings.lookup(label)
    if encoding is None and "_" in label:
        encoding = webencodings.lookup(label.replace("_", "-"))  # Python's names, from detection
    if encoding is None or encoding.name == "replacement":
        return None
    info: codecs.CodecInfo = encoding.codec_info
    return info


def _codec(label: str | None) -> str | None:
    info = whatwg_codec(label)
    return info.name if info is not None else None


def _decode(body: bytes, name: str, errors: str = "strict") -> str:
    info = whatwg_codec(name) or codecs.lookup(name)
    text, _ = info.decode(body, errors)
    return str(text)


def decode(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, encoding used) for an HTML body; never raises, undecodable bytes are replaced."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, "replace"), name
    declared = _codec(content_charset(content_type))
    match = _META_CHARSET.search(body[:8192])
    meta = _codec(match.group(1).decode("ascii", "replace")) if match else None
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
                return _decode(body, candidate), candidate
            except (UnicodeDecodeError, LookupError):
                continue
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body[:200_000]).best()
    detected = _codec(best.encoding) if best is not None else None
    chosen = detected or declared or meta or "cp1252"
    return _decode(body, chosen, "replace"), chosen
