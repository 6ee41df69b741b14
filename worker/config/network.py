"""The network's sections of the settings, ``[http]`` and ``[retry]``: how the fetcher reaches
sites (politeness, limits, proxies, TLS) and how it tries again. Declared like every other
section (:mod:`worker.config.schema`), which gathers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from worker.config.keys import declare as _meta


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
    allow_networks: tuple[str, ...] = field(
        default=(),
        metadata=_meta(
            "networks", "private networks allowed anyway (CIDR, e.g. a local mirror's address)"
        ),
    )
    proxy: str = field(
        default="",
        metadata=_meta(
            "proxy",
            'proxy for every request, "http://[user:password@]host:port"; empty: the '
            'environment\'s HTTP_PROXY / HTTPS_PROXY; "direct": none at all',
        ),
    )
    no_proxy: tuple[str, ...] = field(
        default=(),
        metadata=_meta(
            "list", "hosts (and their subdomains) never reached through a proxy", env=("NO_PROXY",)
        ),
    )
    http_proxy_env: str = field(
        default="",
        metadata=_meta("proxy", "proxy for http URLs", env=("HTTP_PROXY",), only_env=True),
    )
    https_proxy_env: str = field(
        default="",
        metadata=_meta("proxy", "proxy for https URLs", env=("HTTPS_PROXY",), only_env=True),
    )
    ca_bundle: Path | None = field(
        default=None,
        metadata=_meta(
            "path",
            "PEM file of the certificate authorities to trust (default: certifi's)",
            env=("SSL_CERT_FILE",),
        ),
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
