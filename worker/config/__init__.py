"""Configuration: one frozen settings object, built once at start and passed down.

Sources of values, later ones winning: the declared defaults below, the TOML file, environment
variables ``NEWS_WORKER_<SECTION>_<KEY>`` (for example ``NEWS_WORKER_HTTP_PER_HOST_DELAY``), then
command-line flags (applied by the CLI through :func:`dataclasses.replace`). Every key is declared
once, with its type, default and meaning; an unknown key or a bad value is a :class:`ConfigError`
naming the key. This is the only module, with ``cli``, that reads the environment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from worker.errors import ConfigError

PROFILES = ("moscowtimes", "generic")
SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

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


def _meta(kind: str, doc: str, *, minimum: float | None = None) -> dict[str, Any]:
    return {"kind": kind, "doc": doc, "minimum": minimum}


@dataclass(frozen=True)
class ArchiveSettings:
    dir: Path = field(default=Path("archive"), metadata=_meta("path", "the dated archive"))
    keep_raw: bool = field(
        default=True,
        metadata=_meta("bool", "keep the fetched page gzip-compressed beside the record"),
    )
    processes: int = field(
        default=-1,
        metadata=_meta(
            "int",
            "worker processes that parse feeds, extract and write once many articles wait "
            "(-1: one per core, at least two, on multi-core machines; 0: threads only)",
            minimum=-1,
        ),
    )


@dataclass(frozen=True)
class StateSettings:
    path: Path = field(
        default=Path("archive/.state/news-worker.sqlite3"),
        metadata=_meta("path", "SQLite file: feed validators, seen articles, the queue"),
    )


@dataclass(frozen=True)
class HttpSettings:
    user_agent: str = field(
        default="news-worker/0.1 (news archive ingest; +https://pypi.org/project/news-worker/)",
        metadata=_meta("str", "identifying User-Agent sent with every request"),
    )
    timeout: float = field(
        default=20.0, metadata=_meta("duration", "connect and read timeout", minimum=0.01)
    )
    request_deadline: float = field(
        default=60.0,
        metadata=_meta("duration", "total time one request may take, body included", minimum=0.01),
    )
    max_body_bytes: int = field(
        default=10_000_000,
        metadata=_meta("size", "largest body read, after decompression", minimum=1024),
    )
    per_host_concurrency: int = field(
        default=2, metadata=_meta("int", "requests in flight to one host", minimum=1)
    )
    per_host_delay: float = field(
        default=1.0,
        metadata=_meta("duration", "minimum gap between request starts to one host", minimum=0),
    )
    max_connections: int = field(
        default=32, metadata=_meta("int", "requests in flight in all", minimum=1)
    )
    respect_robots: bool = field(default=True, metadata=_meta("bool", "obey robots.txt"))
    robots_failure_pause: float = field(
        default=600.0,
        metadata=_meta(
            "duration", "how long a host whose robots.txt fails is left alone", minimum=0
        ),
    )
    allow_private_addresses: bool = field(
        default=False,
        metadata=_meta("bool", "allow loopback/private targets (tests and local mirrors only)"),
    )


@dataclass(frozen=True)
class RetrySettings:
    attempts: int = field(
        default=3, metadata=_meta("int", "tries per request within one run", minimum=1)
    )
    backoff: float = field(
        default=1.0, metadata=_meta("duration", "first retry delay within a run", minimum=0)
    )
    max_backoff: float = field(
        default=30.0, metadata=_meta("duration", "longest retry delay within a run", minimum=0)
    )
    retry_after_cap: float = field(
        default=120.0,
        metadata=_meta(
            "duration", "longest Retry-After waited within a run; longer ones requeue", minimum=0
        ),
    )
    requeue_delay: float = field(
        default=300.0,
        metadata=_meta("duration", "first delay before a failed article is tried again", minimum=0),
    )
    requeue_max_delay: float = field(
        default=6 * 3600.0,
        metadata=_meta("duration", "longest delay between tries of a failed article", minimum=0),
    )
    give_up_after: int = field(
        default=30,
        metadata=_meta("int", "tries of one article before it is given up", minimum=1),
    )


@dataclass(frozen=True)
class ServiceSettings:
    host: str = field(
        default="127.0.0.1",
        metadata=_meta("str", "address of the operations endpoint (/healthz, /readyz, /metrics)"),
    )
    port: int = field(
        default=9464, metadata=_meta("int", "port of the operations endpoint (0: any)", minimum=0)
    )
    shutdown_grace: float = field(
        default=20.0,
        metadata=_meta(
            "duration", "time in-flight work may take to finish after SIGTERM", minimum=0
        ),
    )
    jitter: float = field(
        default=0.1,
        metadata=_meta(
            "float", "random delay added to each poll, as a fraction of the interval", minimum=0
        ),
    )
    max_interval: float = field(
        default=6 * 3600.0,
        metadata=_meta(
            "duration", "longest poll interval Cache-Control or a feed's ttl may set", minimum=1
        ),
    )
    failure_backoff_max: float = field(
        default=6 * 3600.0,
        metadata=_meta("duration", "longest delay between polls of a failing feed", minimum=1),
    )
    queue_every: float = field(
        default=60.0,
        metadata=_meta(
            "duration", "how often queued articles whose time has come are retried", minimum=0.1
        ),
    )


@dataclass(frozen=True)
class SourceSettings:
    name: str
    profile: str
    feeds: tuple[str, ...]
    sitemap: str | None = None
    interval: float = 600.0
    honour_ttl: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class Settings:
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    state: StateSettings = field(default_factory=StateSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    sources: tuple[SourceSettings, ...] = ()
    config_path: Path | None = None

    def source(self, name: str) -> SourceSettings:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"--source {name}: no such source in the configuration (known: {known})")


_SECTIONS: dict[str, type[Any]] = {
    "archive": ArchiveSettings,
    "state": StateSettings,
    "http": HttpSettings,
    "retry": RetrySettings,
    "service": ServiceSettings,
}
_SOURCE_KEYS = {"name", "profile", "feeds", "sitemap", "interval", "honour_ttl", "enabled"}


def _convert(kind: str, value: object, key: str, minimum: float | None) -> Any:
    result: Any
    if kind == "duration":
        result = parse_duration(value, key)
    elif kind == "size":
        result = parse_size(value, key)
    elif kind == "float":
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        result = float(value)
    elif kind == "int":
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        result = value
    elif kind == "bool":
        if isinstance(value, str) and value.lower() in {"true", "1", "yes", "on"}:
            value = True
        elif isinstance(value, str) and value.lower() in {"false", "0", "no", "off"}:
            value = False
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        result = value
    elif kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{key}: expected a non-empty string, got {value!r}")
        result = value
    elif kind == "path":
        if not isinstance(value, str) or not value.strip() or "\x00" in value:
            raise ConfigError(f"{key}: expected a path, got {value!r}")
        result = Path(value)
    else:  # pragma: no cover - a declaration error, not user input
        raise AssertionError(kind)
    if minimum is not None and result < minimum:
        raise ConfigError(f"{key}: must be at least {minimum}, got {value!r}")
    return result


def _section(name: str, table: object, env: Mapping[str, str]) -> Any:
    cls = _SECTIONS[name]
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}]: expected a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in fields:
            raise ConfigError(f"{name}.{key}: unknown key (known: {', '.join(fields)})")
    values: dict[str, Any] = {}
    for fname, f in fields.items():
        env_name = f"NEWS_WORKER_{name.upper()}_{fname.upper()}"
        raw: object
        if env_name in env:
            raw, key = env[env_name], env_name
        elif fname in table:
            raw, key = table[fname], f"{name}.{fname}"
        else:
            continue
        values[fname] = _convert(f.metadata["kind"], raw, key, f.metadata["minimum"])
    return cls(**values)


def _source(index: int, table: object) -> SourceSettings:
    where = f"sources[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    for key in table:
        if key not in _SOURCE_KEYS:
            raise ConfigError(
                f"{where}.{key}: unknown key (known: {', '.join(sorted(_SOURCE_KEYS))})"
            )
    name = table.get("name")
    if not isinstance(name, str) or not SOURCE_NAME.match(name):
        raise ConfigError(
            f"{where}.name: expected lower-case letters, digits, '-' or '_' (at most 64), got {name!r}"
        )
    where = f"sources.{name}"
    profile = table.get("profile", "generic")
    if profile not in PROFILES:
        raise ConfigError(
            f"{where}.profile: expected one of {', '.join(PROFILES)}, got {profile!r}"
        )
    feeds = table.get("feeds", [])
    if not isinstance(feeds, list) or not all(isinstance(u, str) for u in feeds):
        raise ConfigError(f"{where}.feeds: expected a list of URLs")
    for url in feeds:
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"{where}.feeds: not an http(s) URL: {url!r}")
    sitemap = table.get("sitemap")
    if sitemap is not None and (
        not isinstance(sitemap, str) or not re.match(r"^https?://", sitemap)
    ):
        raise ConfigError(f"{where}.sitemap: expected an http(s) URL, got {sitemap!r}")
    interval = parse_duration(table.get("interval", "10m"), f"{where}.interval")
    if interval < 1:
        raise ConfigError(f"{where}.interval: must be at least 1s")
    return SourceSettings(
        name=name,
        profile=profile,
        feeds=tuple(dict.fromkeys(feeds)),
        sitemap=sitemap,
        interval=interval,
        honour_ttl=_convert("bool", table.get("honour_ttl", False), f"{where}.honour_ttl", None),
        enabled=_convert("bool", table.get("enabled", True), f"{where}.enabled", None),
    )


def from_mapping(
    data: Mapping[str, object], env: Mapping[str, str] | None = None, path: Path | None = None
) -> Settings:
    """Validate a parsed TOML document (and environment overrides) into :class:`Settings`."""
    env = {} if env is None else env
    for key in data:
        if key not in _SECTIONS and key != "sources":
            raise ConfigError(
                f"{key}: unknown section (known: {', '.join([*_SECTIONS, 'sources'])})"
            )
    sections = {name: _section(name, data.get(name, {}), env) for name in _SECTIONS}
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list):
        raise ConfigError("sources: expected [[sources]] tables")
    sources = tuple(_source(i, t) for i, t in enumerate(raw_sources))
    names = [s.name for s in sources]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"sources.{name}: defined more than once")
    return Settings(sources=sources, config_path=path, **sections)


def packaged_default() -> str:
    """The default configuration shipped inside the package."""
    return resources.files("worker.config").joinpath("news-worker.toml").read_text(encoding="utf-8")


def load(path: Path | None, env: Mapping[str, str] | None = None) -> Settings:
    """Load settings from ``path`` (or the default search) with environment overrides.

    Without a path: ``NEWS_WORKER_CONFIG``, then ``./config/news-worker.toml``, then the copy
    shipped in the package.
    """
    env = dict(os.environ) if env is None else env
    if path is None and env.get("NEWS_WORKER_CONFIG"):
        path = Path(env["NEWS_WORKER_CONFIG"])
    if path is None and Path("config/news-worker.toml").is_file():
        path = Path("config/news-worker.toml")
    try:
        text = packaged_default() if path is None else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"--config {path}: not UTF-8 text") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path or 'default'}: invalid TOML: {exc}") from exc
    return from_mapping(data, env, path)
