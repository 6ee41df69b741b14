"""Values as the configuration writes them: durations with a unit, sizes, and the kinds of key
(number, integer, flag, string, path) converted and range-checked with an error naming the key.

A value from the file must have its TOML type (``give_up_after = "30"`` is refused); a value from
an environment variable is text and is parsed. Every number has a range: the key's own bounds,
within the kind's (``KIND_MAXIMUM``), so a typo never reaches the program as an overflow.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from worker.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$")
_SIZE_UNITS = {
    None: 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}
# Beyond these a value is a typo, whatever the key: a year, a million, a gibibyte.
KIND_MAXIMUM: dict[str, float] = {"duration": 366 * 86400.0, "int": 1_000_000, "size": 1024**3}


def parse_duration(value: object, key: str) -> float:
    """Seconds from a duration string such as "500ms", "10s", "10m", "6h"."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    raise ConfigError(f'{key}: expected a duration such as "10s" or "10m", got {value!r}')


def parse_size(value: object, key: str) -> int:
    """Bytes from an integer or a string such as "10MB"."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])
    raise ConfigError(f'{key}: expected a size in bytes or such as "10MB", got {value!r}')


def convert(
    kind: str,
    value: object,
    key: str,
    minimum: float | None,
    maximum: float | None = None,
    *,
    below: float | None = None,
    text: bool = False,
) -> Any:
    """``value`` as the kind of key wants it, within [minimum, maximum] (and under ``below``);
    ``text``: it came from an environment variable, so numbers and flags are parsed from it."""
    result: Any
    if kind == "duration":
        result = parse_duration(value, key)
    elif kind == "size":
        result = parse_size(value, key)
    elif kind == "float":
        if isinstance(value, str) and text:
            with contextlib.suppress(ValueError):
                value = float(value)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        result = float(value)
    elif kind == "int":
        if isinstance(value, str) and text and value.strip().lstrip("-").isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        result = value
    elif kind == "bool":
        if isinstance(value, str) and text and value.lower() in {"true", "1", "yes", "on"}:
            value = True
        elif isinstance(value, str) and text and value.lower() in {"false", "0", "no", "off"}:
            value = False
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        result = value
    elif kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{key}: expected a non-empty string, got {value!r}")
        result = value
    elif kind == "list":
        if isinstance(value, str):
            value = [part for part in (p.strip() for p in value.split(",")) if part]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{key}: expected a list of names, got {value!r}")
        result = tuple(value)
    elif kind == "networks":
        result = convert("list", value, key, None, text=text)
        for network in result:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ConfigError(f"{key}: not a network such as 10.0.0.0/8: {network!r}") from None
    elif kind == "proxy":
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a proxy URL, got {value!r}")
        result = value.strip()
        if result not in ("", "direct"):
            parts = urlsplit(result)
            try:
                _ = parts.port
            except ValueError:
                parts = urlsplit("bad:")
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path
                not in (
                    "",
                    "/",
                )
            ):
                raise ConfigError(
                    f'{key}: expected a proxy URL such as "http://proxy.example:3128", '
                    f"got {mask_url(result)!r}"
                )
    elif kind == "text":
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        result = value.strip()
    elif kind == "state_url":
        result = convert("text", value, key, None)
        if "://" in result and not result.startswith(("postgresql://", "postgres://")):
            raise ConfigError(
                f'{key}: expected a file path or "postgresql://user@host:port/db", '
                f"got {mask_url(result)!r}"
            )
    elif kind == "archive_url":
        result = convert("text", value, key, None)
        if "://" in result and not re.match(r"^s3://[a-z0-9][a-z0-9.-]{1,62}(/|$)", result):
            raise ConfigError(f'{key}: expected a folder or "s3://bucket/prefix", got {result!r}')
    elif kind == "path":
        if not isinstance(value, str) or not value.strip() or "\x00" in value:
            raise ConfigError(f"{key}: expected a path, got {value!r}")
        result = Path(value)
    else:  # pragma: no cover - a declaration error, not user input
        raise AssertionError(kind)
    return _in_range(kind, result, value, key, minimum, maximum, below)


def _in_range(
    kind: str,
    result: Any,
    value: object,
    key: str,
    minimum: float | None,
    maximum: float | None,
    below: float | None,
) -> Any:
    if kind not in KIND_MAXIMUM and kind != "float":
        return result
    top = min(maximum if maximum is not None else math.inf, KIND_MAXIMUM.get(kind, math.inf))
    shown = describe(kind, top)
    if minimum is not None and result < minimum:
        raise ConfigError(f"{key}: must be at least {describe(kind, minimum)}, got {value!r}")
    if result > top:
        raise ConfigError(f"{key}: must be at most {shown}, got {value!r}")
    if below is not None and result >= below:
        raise ConfigError(f"{key}: must be below {describe(kind, below)}, got {value!r}")
    if kind == "float" and not math.isfinite(result):
        raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    return result


def describe(kind: str, number: float) -> str:
    """A bound or a value as the configuration writes it (``"10m"``, ``65535``, ``0.1``)."""
    if kind == "duration":
        return f'"{format_duration(number)}"'
    if kind in ("int", "size"):
        return str(int(number))
    return f"{number:g}"


def format_duration(seconds: float) -> str:
    """The shortest unit that writes ``seconds`` exactly: 600 -> "10m", 0.5 -> "500ms"."""
    if seconds == 0:
        return "0s"
    for unit in ("d", "h", "m", "s"):
        count = seconds / _DURATION_UNITS[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    millis = seconds * 1000
    return f"{int(millis)}ms" if millis == int(millis) else f"{seconds:g}s"


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and ``config show``)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}:***@{hostport}" if ":" in userinfo else parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
