"""Loading: the TOML file, then environment variables, validated into :class:`Settings`."""

from __future__ import annotations

import dataclasses
import difflib
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
from worker.config.values import convert
from worker.errors import ConfigError


def env_name(section: str, key: str) -> str:
    return f"NEWS_WORKER_{section.upper()}_{key.upper()}"


OTHER_VARIABLES = {"NEWS_WORKER_CONFIG": "the configuration file"}


def variables() -> dict[str, str]:
    """Every ``NEWS_WORKER_`` variable the program reads, and what it sets."""
    names = {
        env_name(section, f.name): f"{section}.{f.name}"
        for section, cls in SECTIONS.items()
        for f in dataclasses.fields(cls)
        if not f.metadata["only_env"]
    }
    return {**names, **OTHER_VARIABLES}


def _check_variables(env: Mapping[str, str]) -> None:
    """A ``NEWS_WORKER_`` variable that sets nothing is a typo: refused, with the nearest name."""
    known = variables()
    for name in sorted(env):
        if name.startswith("NEWS_WORKER_") and name not in known:
            # Compared without the prefix, which every name shares.
            tails = {k.removeprefix("NEWS_WORKER_"): k for k in known}
            close = difflib.get_close_matches(name.removeprefix("NEWS_WORKER_"), tails, 1, 0.6)
            near = [tails[c] for c in close]
            hint = (
                f"did you mean {near[0]} ({known[near[0]]})?"
                if near
                else "they are NEWS_WORKER_<SECTION>_<KEY>, such as NEWS_WORKER_HTTP_TIMEOUT"
            )
            raise ConfigError(f"{name}: environment variable that sets no key; {hint}")


def _unknown(key: str, where: str, known: Collection[str]) -> ConfigError:
    near = difflib.get_close_matches(key.rpartition(".")[2], list(known), n=1, cutoff=0.6)
    hint = f"did you mean {near[0]}? " if near else ""
    return ConfigError(f"{key}{where}: unknown key ({hint}known: {', '.join(known)})")


def _section(
    name: str, table: object, env: Mapping[str, str], where: str, origins: dict[str, str]
) -> Any:
    cls = SECTIONS[name]
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}]{where}: expected a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    keys = [n for n, f in fields.items() if not f.metadata["only_env"]]
    for key in table:
        if key not in keys:
            raise _unknown(f"{name}.{key}", where, keys)
    values: dict[str, Any] = {}
    for fname, f in fields.items():
        meta, only_env = f.metadata, f.metadata["only_env"]
        variable = env_name(name, fname)
        standard = [v for n in meta["env"] for v in (n, n.lower()) if env.get(v)]
        raw: object
        if not only_env and variable in env:
            raw, key, origin = env[variable], f"{name}.{fname} from {variable}", f"from {variable}"
        elif not only_env and fname in table:
            raw, key, origin = (
                table[fname],
                f"{name}.{fname}{where}",
                where.strip() or "in the file",
            )
        elif standard:
            raw, key, origin = env[standard[0]], standard[0], f"from {standard[0]}"
        else:
            continue
        values[fname] = convert(
            meta["kind"],
            raw,
            key,
            meta["minimum"],
            meta["maximum"],
            below=meta["below"],
            text=origin.startswith("from "),
        )
        origins[f"{name}.{fname}"] = origin
    return cls(**values)


def _source(
    index: int, table: object, profiles: Collection[str] | None, origin: str
) -> SourceSettings:
    where = f"sources[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}{origin}: expected a table")
    for key in table:
        if key not in SOURCE_KEYS:
            raise _unknown(f"{where}.{key}", origin, sorted(SOURCE_KEYS))
    name = table.get("name")
    if not isinstance(name, str) or not SOURCE_NAME.match(name):
        raise ConfigError(
            f"{where}.name{origin}: expected lower-case letters, digits, '-' or '_' "
            f"(at most 64), got {name!r}"
        )
    where = f"sources.{name}"

    def at(key: str) -> str:
        return f"{where}.{key}{origin}"

    profile = table.get("profile", "generic")
    if not isinstance(profile, str) or (profiles is not None and profile not in profiles):
        known = f"one of {', '.join(profiles)}" if profiles is not None else "a profile name"
        raise ConfigError(f"{at('profile')}: expected {known}, got {profile!r}")
    feeds = table.get("feeds", [])
    if not isinstance(feeds, list) or not all(isinstance(u, str) for u in feeds):
        raise ConfigError(f"{at('feeds')}: expected a list of URLs")
    for url in feeds:
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"{at('feeds')}: not an http(s) URL: {url!r}")
    sitemap = table.get("sitemap")
    if sitemap is not None and (
        not isinstance(sitemap, str) or not re.match(r"^https?://", sitemap)
    ):
        raise ConfigError(f"{at('sitemap')}: expected an http(s) URL, got {sitemap!r}")
    proxy = table.get("proxy")
    if proxy is not None:
        proxy = convert("proxy", proxy, at("proxy"), None)
    interval = convert("duration", table.get("interval", "10m"), at("interval"), 1)
    return SourceSettings(
        name=name,
        profile=profile,
        feeds=tuple(dict.fromkeys(feeds)),
        sitemap=sitemap,
        interval=interval,
        honour_ttl=convert("bool", table.get("honour_ttl", False), at("honour_ttl"), None),
        enabled=convert("bool", table.get("enabled", True), at("enabled"), None),
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
    _check_variables(env)
    # Messages name the file after the key (" in c.toml"); a mapping from no file, nothing.
    where = f" in {path}" if path is not None else ""
    for key in data:
        if key not in SECTIONS and key != "sources":
            near = difflib.get_close_matches(key, [*SECTIONS, "sources"], n=1)
            hint = f"did you mean [{near[0]}]? " if near else ""
            raise ConfigError(
                f"{key}{where}: unknown section ({hint}known: {', '.join([*SECTIONS, 'sources'])})"
            )
    origins: dict[str, str] = {}
    sections = {name: _section(name, data.get(name, {}), env, where, origins) for name in SECTIONS}
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list):
        raise ConfigError(f"sources{where}: expected [[sources]] tables")
    sources = tuple(_source(i, t, profiles, where) for i, t in enumerate(raw_sources))
    names = [s.name for s in sources]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"sources.{name}{where}: defined more than once")
        origins[f"sources.{name}"] = where.strip() or "in the file"
    return Settings(sources=sources, config_path=path, origins=origins, **sections)


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
    named = f"--config {path}"
    if path is None and env.get("NEWS_WORKER_CONFIG"):
        path = Path(env["NEWS_WORKER_CONFIG"])
        named = f"NEWS_WORKER_CONFIG={path}"
    if path is None and Path("config/news-worker.toml").is_file():
        path = Path("config/news-worker.toml")
        named = f"{path} (found in the working folder)"
    try:
        text = packaged_default() if path is None else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{named}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{named}: not UTF-8 text") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = named if path is not None else "the default configuration"
        raise ConfigError(f"{where}: invalid TOML: {exc}") from exc
    return from_mapping(data, env, path, profiles=profiles)
