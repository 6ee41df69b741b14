"""The settings: one frozen dataclass per section, every key declared once with its type,
default and meaning (the ``metadata`` of its field), and the source tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.config.keys import declare as _meta
from worker.config.network import HttpSettings, RetrySettings
from worker.errors import ConfigError

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class ArchiveSettings:
    dir: Path = field(default=Path("archive"), metadata=_meta("path", "the dated archive"))
    url: str = field(
        default="",
        metadata=_meta(
            "archive_url",
            'where the archive is: a folder, or "s3://bucket/prefix" on an S3-compatible store '
            "(configured by the AWS_* variables); empty: archive.dir",
        ),
    )
    aws_endpoint_url: str = field(
        default="", metadata=_meta("text", "S3 endpoint", env=("AWS_ENDPOINT_URL",), only_env=True)
    )
    aws_access_key_id: str = field(
        default="",
        metadata=_meta("text", "S3 key ID", env=("AWS_ACCESS_KEY_ID",), only_env=True),
    )
    aws_secret_access_key: str = field(
        default="",
        metadata=_meta(
            "text", "S3 secret", env=("AWS_SECRET_ACCESS_KEY",), only_env=True, secret=True
        ),
    )
    aws_session_token: str = field(
        default="",
        metadata=_meta(
            "text", "S3 session token", env=("AWS_SESSION_TOKEN",), only_env=True, secret=True
        ),
    )
    aws_region: str = field(
        default="",
        metadata=_meta(
            "text", "S3 region", env=("AWS_REGION", "AWS_DEFAULT_REGION"), only_env=True
        ),
    )
    aws_allow_http: bool = field(
        default=False,
        metadata=_meta(
            "bool", "allow a plain-http S3 endpoint", env=("AWS_ALLOW_HTTP",), only_env=True
        ),
    )
    keep_raw: bool = field(
        default=True,
        metadata=_meta("bool", "keep the fetched page gzip-compressed beside the record"),
    )
    warc: bool = field(
        default=False,
        metadata=_meta("bool", "also keep every article fetch as WARC, with CDXJ indexes"),
    )
    warc_max_size: int = field(
        default=1_000_000_000,
        metadata=_meta("size", "a WARC file is finished past this size", minimum=1_000_000),
    )
    processes: int = field(
        default=-1,
        metadata=_meta(
            "int",
            "worker processes that parse feeds and sitemaps, extract and write when many "
            "articles wait (-1: one per core, at least two, on multi-core machines); one of "
            "them is kept warm, so 0 and 1 both mean one",
            minimum=-1,
            maximum=256,
        ),
    )


@dataclass(frozen=True)
class StateSettings:
    path: Path = field(
        default=Path("archive/.state/news-worker.sqlite3"),
        metadata=_meta("path", "SQLite file: feed validators, seen articles, the queue"),
    )
    url: str = field(
        default="",
        metadata=_meta(
            "state_url",
            'where the state is: a SQLite file, or "postgresql://user@host:port/db" for several '
            "processes or machines; empty: state.path",
            secret=True,
        ),
    )
    lease_ttl: float = field(
        default=60.0,
        metadata=_meta(
            "duration",
            "how long a claim on an article lasts without being renewed (it is renewed while "
            "the article is worked on; a process that dies loses its claims after this long)",
            minimum=1,
        ),
    )


@dataclass(frozen=True)
class ServiceSettings:
    host: str = field(
        default="127.0.0.1",
        metadata=_meta("str", "address of the operations endpoint (/healthz, /readyz, /metrics)"),
    )
    port: int = field(
        default=9464,
        metadata=_meta("int", "port of the operations endpoint (0: any)", minimum=0, maximum=65535),
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
            "float",
            "random delay added to each poll, as a fraction of the interval",
            minimum=0,
            below=1,
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
class LimitSettings:
    cpu: float = field(
        default=10.0,
        metadata=_meta(
            "duration",
            "CPU time parsing one feed or sitemap, or extracting one page, may take in its "
            "worker process; past it the item fails with reason cpu_budget",
            minimum=1,
        ),
    )
    memory: int = field(
        default=512_000_000,
        metadata=_meta(
            "size",
            "memory one such item may add to its worker process; past it the item fails "
            "with reason memory_budget",
            minimum=16_000_000,
        ),
    )


@dataclass(frozen=True)
class BackfillSettings:
    max_depth: int = field(
        default=3,
        metadata=_meta(
            "int", "levels of sitemap indexes followed below the source's sitemap", minimum=0
        ),
    )
    max_files: int = field(
        default=1000,
        metadata=_meta(
            "int",
            "sitemap files one backfill reads at most (a resumed backfill reads further ones)",
            minimum=1,
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
    proxy: str | None = None  # this source's proxy, over http.proxy and the environment


@dataclass(frozen=True)
class Settings:
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    state: StateSettings = field(default_factory=StateSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    backfill: BackfillSettings = field(default_factory=BackfillSettings)
    sources: tuple[SourceSettings, ...] = ()
    config_path: Path | None = None
    # Where each value came from, as messages say it ("archive.dir" -> "in c.toml",
    # "from NEWS_WORKER_ARCHIVE_DIR", "from --archive"; absent: the default), for errors that
    # name it and ``config show``.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)

    def source(self, name: str) -> SourceSettings:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"--source {name}: no such source in the configuration (known: {known})")


SECTIONS: dict[str, type[Any]] = {
    "archive": ArchiveSettings,
    "state": StateSettings,
    "http": HttpSettings,
    "retry": RetrySettings,
    "service": ServiceSettings,
    "limits": LimitSettings,
    "backfill": BackfillSettings,
}
SOURCE_KEYS = {
    "name",
    "profile",
    "feeds",
    "sitemap",
    "interval",
    "honour_ttl",
    "enabled",
    "proxy",
}
