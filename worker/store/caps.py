"""How much of each field a record keeps: every text field and list has a cap, written in the
record's JSON Schema (``record.schema.json``: ``maxLength``, ``maxItems``), so no page, however
it is built, makes an outsized record. Caps are in characters, far above real articles (a long
read is some 100,000 characters of text); what is cut is cut at the cap, and the record's
``extraction.warnings`` says ``truncated``.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from worker.model import Author, Block, Extracted, Image, Link

FIELD = {  # characters
    "title": 2000,
    "subtitle": 2000,
    "description": 10_000,
    "section": 200,
    "language": 35,
    "kind": 50,
    "label": 200,
    "disclaimer": 2000,
    "name": 200,  # an author, a tag
    "caption": 2000,
    "credit": 500,
    "url": 2048,
    "block": 100_000,  # one block's text, or its Markdown, or one item of a list
}
ITEMS = {"authors": 50, "tags": 100, "related": 100, "body": 5000, "items": 1000}
TEXT = 1_000_000  # the body's plain text in all (the record's "text" adds a blank line a block)
TRUNCATED = "truncated"
T = TypeVar("T")


@dataclasses.dataclass
class _Cut:
    cut: bool = False

    def text(self, value: str | None, key: str) -> str | None:
        if value is None or len(value) <= FIELD[key]:
            return value
        self.cut = True
        return value[: FIELD[key]]

    def many(self, values: tuple[T, ...], key: str) -> tuple[T, ...]:
        if len(values) <= ITEMS[key]:
            return values
        self.cut = True
        return values[: ITEMS[key]]


def _block(block: Block, cut: _Cut, room: int) -> Block:
    """``block`` within its caps and within ``room`` characters of text (its items count)."""
    items = block.items
    if items is not None:
        kept: list[str] = []
        wanted = cut.many(items, "items")
        for item in wanted:
            if room <= 0:
                cut.cut = True
                break
            value = cut.text(item, "block") or ""
            if len(value) + 1 > room:
                cut.cut = True
                value = value[: max(0, room - 1)]
            kept.append(value)
            room -= len(value) + 1
        items = tuple(kept)
    text = cut.text(block.text, "block") or ""
    markdown = cut.text(block.markdown, "block") or ""
    if len(text) > max(0, room):
        cut.cut = True
        text, markdown = text[: max(0, room)], markdown[: 2 * max(0, room)]
    return dataclasses.replace(
        block,
        text=text,
        markdown=markdown,
        url=cut.text(block.url, "url"),
        caption=cut.text(block.caption, "caption"),
        credit=cut.text(block.credit, "credit"),
        cite=cut.text(block.cite, "caption"),
        items=items,
    )


def _within(extracted: Extracted) -> bool:
    """Whether every field is within its cap already (most pages): a look, no copies."""
    e = extracted
    if (
        len(e.body) > ITEMS["body"]
        or len(e.authors) > ITEMS["authors"]
        or len(e.tags) > ITEMS["tags"]
        or len(e.related) > ITEMS["related"]
    ):
        return False
    for value, key in (
        (e.title, "title"),
        (e.subtitle, "subtitle"),
        (e.description, "description"),
        (e.section, "section"),
        (e.language, "language"),
        (e.kind, "kind"),
        (e.label, "label"),
        (e.disclaimer, "disclaimer"),
        (e.canonical_url, "url"),
    ):
        if value is not None and len(value) > FIELD[key]:
            return False
    names, block, url, caption = (FIELD[k] for k in ("name", "block", "url", "caption"))
    text = 0
    if any(len(t) > names for t in e.tags) or any(
        len(a.name) > names or len(a.url or "") > url for a in e.authors
    ):
        return False
    for b in e.body:
        if (
            len(b.text) > block
            or len(b.markdown) > block
            or len(b.url or "") > url
            or len(b.caption or "") > caption
            or len(b.cite or "") > caption
            or len(b.credit or "") > FIELD["credit"]
        ):
            return False
        if b.items is not None:
            if len(b.items) > ITEMS["items"] or any(len(item) > block for item in b.items):
                return False
            text += sum(len(item) + 1 for item in b.items)
        text += len(b.text)
    image = e.lead_image
    if image is not None and (
        len(image.url) > url
        or len(image.caption or "") > caption
        or len(image.credit or "") > FIELD["credit"]
    ):
        return False
    return text <= TEXT and all(
        len(link.title) <= FIELD["title"]
        and len(link.url) <= url
        and len(link.label or "") <= FIELD["label"]
        for link in e.related
    )


def capped(extracted: Extracted) -> Extracted:
    """``extracted`` with every field within its cap (the same object when nothing is over)."""
    if _within(extracted):
        return extracted
    cut = _Cut()
    body: list[Block] = []
    room = TEXT
    for block in cut.many(extracted.body, "body"):
        if room <= 0:
            cut.cut = True
            break
        kept = _block(block, cut, room)
        room -= len(kept.text) + sum(len(item) + 1 for item in kept.items or ())
        body.append(kept)
    authors = tuple(
        Author(cut.text(a.name, "name") or "", cut.text(a.url, "url"))
        for a in cut.many(extracted.authors, "authors")
    )
    image = extracted.lead_image
    if image is not None:
        image = Image(
            cut.text(image.url, "url") or "",
            cut.text(image.caption, "caption"),
            cut.text(image.credit, "credit"),
        )
    related = tuple(
        Link(
            cut.text(link.title, "title") or "",
            cut.text(link.url, "url") or "",
            cut.text(link.label, "label"),
        )
        for link in cut.many(extracted.related, "related")
    )
    result = dataclasses.replace(
        extracted,
        title=cut.text(extracted.title, "title"),
        subtitle=cut.text(extracted.subtitle, "subtitle"),
        description=cut.text(extracted.description, "description"),
        section=cut.text(extracted.section, "section"),
        language=cut.text(extracted.language, "language"),
        kind=cut.text(extracted.kind, "kind"),
        label=cut.text(extracted.label, "label"),
        disclaimer=cut.text(extracted.disclaimer, "disclaimer"),
        canonical_url=cut.text(extracted.canonical_url, "url"),
        tags=tuple(cut.text(t, "name") or "" for t in cut.many(extracted.tags, "tags")),
        authors=authors,
        lead_image=image,
        related=related,
        body=tuple(body),
    )
    if not cut.cut:
        return extracted
    return dataclasses.replace(result, warnings=(*result.warnings, TRUNCATED))
