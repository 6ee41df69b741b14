"""Which proxy a request goes through: a source's own ``proxy``, else ``http.proxy``, else the
environment's ``HTTPS_PROXY`` / ``HTTP_PROXY`` by the URL's scheme; never for a host listed in
``NO_PROXY`` / ``http.no_proxy`` (the host or a subdomain of it, ``*`` for every host), matched
in both its Unicode and its ASCII (IDNA) spelling. Read once from the settings: choosing costs a
dictionary lookup per request."""

from __future__ import annotations

from urllib.parse import urlsplit

from worker.config import HttpSettings

DIRECT = "direct"


def _ascii(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


class Proxies:
    def __init__(self, http: HttpSettings) -> None:
        self._configured = http.proxy
        self._by_scheme = {"http": http.http_proxy_env, "https": http.https_proxy_env}
        self._bypass = {
            spelling
            for entry in http.no_proxy
            for name in [entry.strip().lower().lstrip(".").split(":")[0]]
            if name
            for spelling in (name, _ascii(name))
        }
        self._cache: dict[tuple[str, str, str | None], str | None] = {}

    def _bypassed(self, host: str) -> bool:
        if "*" in self._bypass:
            return True
        for spelling in {host, _ascii(host)}:
            labels = spelling.split(".")
            if any(".".join(labels[i:]) in self._bypass for i in range(len(labels))):
                return True
        return False

    def for_url(self, url: str, source_proxy: str | None = None) -> str | None:
        """The proxy URL for ``url`` (None: connect directly)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        key = (parts.scheme, host, source_proxy)
        if key in self._cache:
            return self._cache[key]
        chosen = source_proxy or self._configured or self._by_scheme.get(parts.scheme) or None
        if chosen == DIRECT or (chosen and self._bypassed(host)):
            chosen = None
        if len(self._cache) < 10_000:
            self._cache[key] = chosen
        return chosen

    @property
    def hosts(self) -> set[str]:
        """The proxies' own host names (the address guard does not apply to them)."""
        names = {self._configured, *self._by_scheme.values()}
        return {urlsplit(p).hostname or "" for p in names if p and p != DIRECT} - {""}
