"""Logging set-up, done once by the CLI: JSON lines off a terminal, ``key=value`` lines on one.

Modules log events with stable snake_case keys through ``extra=``; the formatters below turn every
non-standard record attribute into a field. The text format is logfmt: nested values are
flattened (``feeds.changed=2``), lists joined with commas, values with spaces quoted. While
progress bars are on the terminal, log lines are printed above them (:func:`above`), never
through them.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from typing import Any, Protocol

import orjson

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        event.update(fields(record))
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(event, default=str).decode("utf-8")


def _pairs(key: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for inner, item in value.items():
            yield from _pairs(f"{key}.{inner}", item)
    elif isinstance(value, list | tuple | set | frozenset):
        yield key, ",".join(str(v) for v in value)
    elif isinstance(value, bool):
        yield key, "true" if value else "false"
    else:
        yield key, str(value)


def logfmt(value: str) -> str:
    if value and not any(c in value for c in ' "=\\\n\t'):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(
            f"{k}={logfmt(v)}"
            for key, value in fields(record).items()
            if value not in (None, "", [], {})
            for k, v in _pairs(key, value)
        )
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        line = f"{stamp} {record.levelname.lower():7} {record.getMessage()} {extra}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class Console(Protocol):
    """Where log lines go while progress bars are shown (a rich console)."""

    def print(self, *objects: Any, markup: bool, highlight: bool, soft_wrap: bool) -> None: ...


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    console: Console | None = None

    def emit(self, record: logging.LogRecord) -> None:
        console = self.console
        if console is None:
            super().emit(record)
            return
        try:
            console.print(self.format(record), markup=False, highlight=False, soft_wrap=True)
        except Exception:
            self.handleError(record)


def above(console: Console | None) -> None:
    """Print log lines through ``console`` (above its live display); None: to stderr again."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _Handler):
            handler.console = console


def configure(*, json_lines: bool, level: int) -> None:
    handler = _Handler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp", "trafilatura", "htmldate", "courlan", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
