"""Render an archived record for a reader: Markdown in the spirit of the reference article.

Headline, byline with real links, date, lead image with caption and credit, the body with its
subheadings, quotes, links and images, the site's disclaimer (in italics, after the body and
apart from it), then the related articles (listed after the body, not spliced into it) and the
original URL, unbroken.
"""

from __future__ import annotations

from typing import Any

from worker.parse import dates


def _byline(record: dict[str, Any]) -> str | None:
    people = record.get("author_details") or [{"name": n, "url": None} for n in record["authors"]]
    names = [f"[{p['name']}]({p['url']})" if p.get("url") else p["name"] for p in people]
    if not names:
        return None
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"By {joined}"


def _day(value: str | None) -> str | None:
    parsed = dates.parse_date(value)
    return f"{parsed:%B} {parsed.day}, {parsed.year}" if parsed else None


def _image(url: str, caption: str | None, credit: str | None) -> list[str]:
    lines = [f"![{caption or ''}]({url})"]
    under = "  \n".join(part for part in (caption, credit) if part)
    if under:
        lines.append(under)
    return ["\n\n".join(lines)]


def _block(block: dict[str, Any]) -> list[str]:
    kind = block["type"]
    text = block.get("markdown") or block.get("text") or ""
    if kind == "heading":
        return [f"{'#' * max(2, min(block.get('level', 2), 6))} {text}"]
    if kind == "quote":
        quote = "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))
        return [quote + (f"\n>\n> — {block['cite']}" if block.get("cite") else "")]
    if kind == "table":
        rows = block.get("items", [])
        if not rows:
            return []
        width = rows[0].count(" | ") + 1
        return [
            "\n".join([f"| {rows[0]} |", "|" + " --- |" * width, *(f"| {r} |" for r in rows[1:])])
        ]
    if kind == "list":
        return ["\n".join(f"- {item}" for item in block.get("items", []))]
    if kind == "image":
        return _image(block["url"], block.get("caption"), block.get("credit"))
    if kind == "embed":
        url = block.get("url")
        return [f"[Embedded content]({url})" if url else f"> {block.get('text', '')}"]
    if kind == "aside":
        return ["\n".join(f"> {line}" for line in text.split("\n"))]
    return [text] if text else []


def markdown(record: dict[str, Any]) -> str:
    """The record as a Markdown document."""
    parts: list[str] = []
    if record.get("label"):
        parts.append(f"**{record['label']}**")
    parts.append(f"# {record.get('title') or record['url']}")
    if record.get("subtitle"):
        parts.append(f"*{record['subtitle']}*")
    byline = _byline(record)
    if byline:
        parts.append(byline)
    day = _day(record.get("published_at"))
    updated = _day(record.get("updated_at"))
    if day:
        parts.append(day + (f" (updated {updated})" if updated and updated != day else ""))
    image = record.get("lead_image")
    if image:
        parts.extend(_image(image["url"], image.get("caption"), image.get("credit")))
    for block in record.get("body", []):
        parts.extend(_block(block))
    if record.get("disclaimer"):
        parts.append(f"*{record['disclaimer']}*")
    if record.get("related"):
        related = "\n".join(f"- [{r['title']}]({r['url']})" for r in record["related"])
        parts.append(f"**Related articles:**\n\n{related}")
    if record.get("tags"):
        parts.append("Tags: " + ", ".join(record["tags"]))
    parts.append(f"Original URL: <{record['url']}>")
    return "\n\n".join(parts) + "\n"
