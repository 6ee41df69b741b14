"""The TLS context of every https request: certificates and host names are always verified,
against ``http.ca_bundle`` (or ``SSL_CERT_FILE``) when set, else certifi's authorities."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi

from worker.errors import ConfigError


def context(ca_bundle: Path | None) -> ssl.SSLContext:
    cafile = str(ca_bundle) if ca_bundle is not None else certifi.where()
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"http.ca_bundle: cannot read {cafile}: {exc}") from exc
