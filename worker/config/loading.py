"""Loading: the TOML file, then environment variables, validated into :class:`Settings`."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Collection, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from worker.config.schema import (
    SECTIONS,
    SOURCE_KEYS,
    SOURCE_NAME,
    Settings,
    SourceSettings,
)
from worker.config.values import convert, parse_duration
from worker.errors import ConfigError


def _section(name: str, table: object, env: Mapping[str, str]) -> Any:
    cls = SECTIONS[name]
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}]: expected a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    keys = [n for n, f in fields.items() if not f.metadata["only_env"]]
    for key in table:
        if key not in keys:
            raise ConfigError(f"{name}.{key}: unknown key (known: {', '.join(keys)})")
    values: dict[str, Any] = {}
    for fname, f in fields.items():
        kind, only_env = f.metadata["kind"], f.metadata["only_env"]
        env_name = f"NEWS_WORKER_{name.upper()}_{fname.upper()}"
        standard = [v for n in f.metadata["env"] for v in (n, n.lower()) if env.get(v)]
        raw: object
        if not only_env and env_name in env:
            raw, key = env[env_name], env_name
        elif not only_env and fname in table:
            raw, key = table[fname], f"{name}.{fname}"
        elif standard:
            raw, key = env[standard[0]], standard[0]
        else:
            continue
        values[fname] = convert(kind, raw, key, f.metadata["minimum"])
    return cls(**values)


def _source(index: int, table: object, profiles: Collection[str] | None) -> SourceSettings:
    where = f"sources[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    for key in table:
        if key not in SOURCE_KEYS:
            raise ConfigError(
                f"{where}.{key}: unknown key (known: {', '.join(sorted(SOURCE_KEYS))})"
            )
    name = table.get("name")
    if not isinstance(name, str) or not SOURCE_NAME.match(name):
        raise ConfigError(
            f"{where}.name: expected lower-case letters, digits, '-' or '_' (at most 64), got {name!r}"
        )
    where = f"sources.{name}"
    profile = table.get("profile", "generic")
    if not isinstance(profile, str) or (profiles is not None and profile not in profiles):
        known = f"one of {', '.join(profiles)}" if profiles is not None else "a profile name"
        raise ConfigError(f"{where}.profile: expected {known}, got {profile!r}")
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
    proxy = table.get("proxy")
    if proxy is not None:
        proxy = convert("proxy", proxy, f"{where}.proxy", None)
    interval = parse_duration(table.get("interval", "10m"), f"{where}.interval")
    if interval < 1:
        raise ConfigError(f"{where}.interval: must be at least 1s")
    return SourceSettings(
        name=name,
        profile=profile,
        feeds=tuple(dict.fromkeys(feeds)),
        sitemap=sitemap,
        interval=interval,
        honour_ttl=convert("bool", table.get("honour_ttl", False), f"{where}.honour_ttl", None),
        enabled=convert("bool", table.get("enabled", True), f"{where}.enabled", None),
        proxy=proxy,
    )


def from_mapping(
    data: Mapping[str, object],
    env: Mapping[str, str] | None = None,
    path: Path | None = None,
    *,
    profiles: Collection[str] | None = None,
) -> Settings:
    """Validate a parsed TOML document (and environment overrides) into :class:`Settings`.

    ``profiles`` are the known profile names (the application passes the extraction registry's);
    without them a source's profile is only checked to be a name."""
    env = {} if env is None else env
    for key in data:
        if key not in SECTIONS and key != "sources":
            raise ConfigError(
                f"{key}: unknown section (known: {', '.join([*SECTIONS, 'sources'])})"
            )
    sections = {name: _section(name, data.get(name, {}), env) for name in SECTIONS}
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list):
        raise ConfigError("sources: expected [[sources]] tables")
    sources = tuple(_source(i, t, profiles) for i, t in enumerate(raw_sources))
    names = [s.name for s in sources]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"sources.{name}: defined more than once")
    return Settings(sources=sources, config_path=path, **sections)


def packaged_default() -> str:
    """The default configuration shipped inside the package."""
    return resources.files("worker.config").joinpath("news-worker.toml").read_text(encoding="utf-8")


def load(
    path: Path | None,
    env: Mapping[str, str] | None = None,
    *,
    profiles: Collection[str] | None = None,
) -> Settings:
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
    return from_mapping(data, env, path, profiles=profiles)
