"""Extraction: page bytes in, :class:`Extracted` out, by the source's profile.

One parse of the page (lexbor) serves the profile and the metadata; only the generic body
extractor (trafilatura) parses again, and only when it is needed. A profile that matches nothing
on a page is not an error: the record falls back to generic extraction and carries a warning,
which the pipeline logs and counts, so a site redesign becomes visible instead of silent.
"""

from __future__ import annotations

import dataclasses

from selectolax.lexbor import LexborHTMLParser

from worker.errors import ExtractError
from worker.feeds import FeedEntry
from worker.html import MAX_NESTING, decode, nesting_depth, page_meta
from worker.model import Extracted
from worker.profiles import generic, moscowtimes

MAX_PAGE_BYTES = 20_000_000
NO_MATCH = "profile_no_match"


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
    focused = moscowtimes.focus(text) if profile == moscowtimes.NAME else None
    tree = _parse(focused or text)
    meta = page_meta(tree, url)
    if profile == moscowtimes.NAME:
        extracted, matched = moscowtimes.extract(tree, meta, url, entry)
        if not matched and focused is not None:
            tree = _parse(text)  # the cut missed: read the whole page after all
            meta = page_meta(tree, url)
            extracted, matched = moscowtimes.extract(tree, meta, url, entry)
        if matched and tree.css_first(".article__content") is not None:
            result = extracted
        elif matched:
            blocks = generic.extract_body(text, url)
            result = dataclasses.replace(
                extracted,
                body=blocks,
                method="generic",
                fallbacks=(*extracted.fallbacks, "body"),
                warnings=(*extracted.warnings, "no .article__content on the page"),
            )
        else:
            result = generic.article(tree, text, meta, url, entry)
            result = dataclasses.replace(
                result, warnings=(*result.warnings, f"{NO_MATCH}: {profile} matched nothing")
            )
    else:
        result = generic.article(tree, text, meta, url, entry)
    if not result.title and not result.body:
        raise ExtractError("no title and no body text found on the page")
    return _tidy(result)


def _parse(html: str) -> LexborHTMLParser:
    if nesting_depth(html) >= MAX_NESTING:
        raise ExtractError(f"HTML nested {MAX_NESTING} or more levels deep: refused")
    return LexborHTMLParser(html)


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
