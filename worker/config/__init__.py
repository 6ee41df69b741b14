"""Configuration: one frozen settings object, built once at start and passed down.

Sources of values, later ones winning: the defaults declared in ``schema``, the TOML file, environment
variables ``NEWS_WORKER_<SECTION>_<KEY>`` (for example ``NEWS_WORKER_HTTP_PER_HOST_DELAY``), then
command-line flags (applied by the CLI through :func:`dataclasses.replace`). Every key is declared
once, with its type, default and meaning; an unknown key or a bad value is a :class:`ConfigError`
naming the key. This package, with the command line, is the only code that reads the environment.
"""

from worker.config.loading import from_mapping, load, packaged_default
from worker.config.network import HttpSettings, RetrySettings
from worker.config.schema import (
    SOURCE_NAME,
    ArchiveSettings,
    BackfillSettings,
    LimitSettings,
    ServiceSettings,
    Settings,
    SourceSettings,
    StateSettings,
)
from worker.config.values import parse_duration, parse_size

__all__ = [
    "SOURCE_NAME",
    "ArchiveSettings",
    "BackfillSettings",
    "HttpSettings",
    "LimitSettings",
    "RetrySettings",
    "ServiceSettings",
    "Settings",
    "SourceSettings",
    "StateSettings",
    "from_mapping",
    "load",
    "packaged_default",
    "parse_duration",
    "parse_size",
]
