"""The values extraction produces, shared by the profiles, ``normalize`` and ``render``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The warning of a profile that matched nothing on a page (a redesign, or the wrong profile).
NO_MATCH = "profile_no_match"


@dataclass(frozen=True)
class Author:
    name: str
    url: str | None = None


@dataclass(frozen=True)
class Image:
    url: str
    caption: str | None = None
    credit: str | None = None


@dataclass(frozen=True)
class Link:
    title: str
    url: str
    label: str | None = None


@dataclass(frozen=True)
class Block:
    """One piece of the body, in page order.

    ``type`` is ``paragraph``, ``heading``, ``quote``, ``list``, ``table`` (``items`` are its rows,
    cells joined by `` | ``), ``image``, ``embed`` or ``aside``.
    ``text`` is plain; ``markdown`` keeps links and emphasis.
    """

    type: str
    text: str = ""
    markdown: str = ""
    level: int | None = None
    url: str | None = None
    caption: str | None = None
    credit: str | None = None
    cite: str | None = None
    items: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for key in ("text", "markdown", "level", "url", "caption", "credit", "cite"):
            value = getattr(self, key)
            if value not in (None, ""):
                out[key] = value
        if self.items is not None:
            out["items"] = list(self.items)
        return out


@dataclass(frozen=True)
class Extracted:
    """Everything one page yielded. ``None`` / empty means the page did not say."""

    title: str | None = None
    subtitle: str | None = None
    authors: tuple[Author, ...] = ()
    published_at: str | None = None
    updated_at: str | None = None
    section: str | None = None
    tags: tuple[str, ...] = ()
    language: str | None = None
    # True when ``language`` was identified from the text because the page stated none.
    language_detected: bool = False
    description: str | None = None
    lead_image: Image | None = None
    body: tuple[Block, ...] = ()
    related: tuple[Link, ...] = ()
    kind: str | None = None
    label: str | None = None
    # The site's own note on the piece, kept apart from the body (the Moscow Times' opinion
    # disclaimer: "The views expressed in opinion pieces do not necessarily reflect ...").
    disclaimer: str | None = None
    canonical_url: str | None = None
    method: str = "generic"
    layout: str | None = None  # the profile's layout that read the page; None: none matched
    fallbacks: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def text(self) -> str:
        """Plain text of the body: paragraphs (and headings, quotes, list items) by blank lines."""
        parts: list[str] = []
        for block in self.body:
            if (
                block.type in ("paragraph", "heading", "quote", "aside", "list", "table")
                and block.text
            ):
                parts.append(block.text)
        return "\n\n".join(parts)
