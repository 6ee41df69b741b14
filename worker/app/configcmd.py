"""``news-worker config check``, ``config show`` and ``sources``: the configuration as the
program sees it, after the file, the environment and the flags, with each value's origin.

``config show`` prints TOML that loads back (variables that only the environment sets are
comments), secrets masked: keys declared ``secret`` show ``"***"``, URLs show no password.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from worker.config import Settings
from worker.config.schema import SECTIONS
from worker.config.values import format_duration, mask_url
from worker.store import describe_state

COMMENT_AT = 48


def check(settings: Settings) -> str:
    """One line: the configuration is valid (errors never get here: they exit 2 first)."""
    enabled = [s for s in settings.sources if s.enabled]
    feeds = sum(len(s.feeds) for s in enabled)
    where = settings.config_path or "the default configuration"
    archive = settings.archive.url or settings.archive.dir
    return (
        f"configuration OK: {where}: {len(settings.sources)} sources ({len(enabled)} enabled, "
        f"{feeds} feeds); archive {archive}; {describe_state(settings)}"
    )


def _value(kind: str, value: Any, secret: bool) -> str | None:
    """The TOML for a value, None when it has none (an unset path)."""
    if value is None:
        return None
    if secret and value:
        return '"***"'
    if kind == "duration":
        return json.dumps(format_duration(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple):
        return json.dumps(list(value))
    text = str(value)
    return json.dumps(mask_url(text) if "://" in text else text)


def _line(key: str, value: str | None, origin: str) -> str:
    body = f"{key} = {value}" if value is not None else f"# {key} = (unset)"
    return f"{body.ljust(COMMENT_AT - 1)} # {origin}"


def show(settings: Settings) -> str:
    where = settings.config_path or "the packaged default configuration"
    lines = [
        f"# news-worker configuration: {where}, then NEWS_WORKER_* variables, then flags;",
        "# each value's origin follows it. Secrets are masked.",
    ]
    for name, cls in SECTIONS.items():
        section = getattr(settings, name)
        lines += ["", f"[{name}]"]
        for f in dataclasses.fields(cls):
            meta = f.metadata
            value = _value(meta["kind"], getattr(section, f.name), meta["secret"])
            origin = settings.origins.get(f"{name}.{f.name}", "default")
            if meta["only_env"]:
                variables = " or ".join(meta["env"])
                lines.append(f"# {f.name} = {value}  ({origin}; only from {variables})")
            else:
                lines.append(_line(f.name, value, origin))
    for source in settings.sources:
        origin = settings.origins.get(f"sources.{source.name}", "default")
        lines += ["", f"[[sources]]{' ' * (COMMENT_AT - 12)} # {origin}"]
        for key in ("name", "profile", "feeds", "sitemap", "interval", "honour_ttl", "enabled"):
            kind = "duration" if key == "interval" else "value"
            value = _value(kind, getattr(source, key), secret=False)
            lines.append(f"{key} = {value}" if value is not None else f"# {key} = (unset)")
        if source.proxy is not None:
            lines.append(f"proxy = {_value('proxy', source.proxy, secret=False)}")
    return "\n".join(lines) + "\n"


def sources(settings: Settings) -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "profile": s.profile,
            "enabled": s.enabled,
            "interval": format_duration(s.interval),
            "feeds": list(s.feeds),
            "sitemap": s.sitemap,
        }
        for s in settings.sources
    ]


def sources_table(rows: list[dict[str, Any]]) -> str:
    heads = ("NAME", "PROFILE", "ENABLED", "INTERVAL", "FEEDS", "SITEMAP")
    cells = [
        [
            r["name"],
            r["profile"],
            "yes" if r["enabled"] else "no",
            r["interval"],
            str(len(r["feeds"])),
            r["sitemap"] or "-",
        ]
        for r in rows
    ]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(heads)]
    out = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(out)
