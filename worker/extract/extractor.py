"""Extraction: page bytes in, :class:`Extracted` out, by the source's profile.

The bytes are capped and decoded here; the profile (:mod:`worker.extract.registry`) reads the
text. One parse of the page (lexbor) serves a profile and the metadata; only the generic body
extractor (trafilatura) parses again, and only when it is needed. A profile that matches nothing
on a page is not an error: the record falls back to generic extraction and carries a warning,
which the pipeline logs and counts, so a site redesign becomes visible instead of silent.
"""

from __future__ import annotations

import dataclasses

from worker.errors import ExtractError
from worker.extract import registry
from worker.extract.html import check_markup
from worker.model import Extracted
from worker.parse.charset import decode
from worker.parse.feeds import FeedEntry

MAX_PAGE_BYTES = 20_000_000


def extract(
    body: bytes,
    url: str,
    profile: str,
    *,
    content_type: str | None = None,
    entry: FeedEntry | None = None,
) -> Extracted:
    """Extract an article from page bytes fetched from ``url``. Raises :class:`ExtractError`."""
    if len(body) > MAX_PAGE_BYTES:
        raise ExtractError(f"page of {len(body)} bytes is over the limit of {MAX_PAGE_BYTES}")
    if not body or body.isspace():
        raise ExtractError("empty page")
    text, _ = decode(body, content_type)
    check_markup(text)  # before lexbor or trafilatura builds a tree of it
    result = registry.get(profile).read_page(text, url, entry)
    if not result.title and not result.body:
        raise ExtractError("no title and no body text found on the page")
    return _tidy(result)


def _tidy(result: Extracted) -> Extracted:
    """Drop a leading heading that repeats the title; write languages as BCP 47 (en-GB)."""
    body = result.body
    title = (result.title or "").casefold()
    if body and body[0].type == "heading" and body[0].text.casefold() == title:
        body = body[1:]
    language = result.language.replace("_", "-") if result.language else None
    if body is result.body and language == result.language:
        return result
    return dataclasses.replace(result, body=body, language=language)
