"""The private-address guard: news-worker fetches only from public addresses unless told
otherwise, so a feed cannot point it at the machine's own network (loopback, private,
link-local, reserved ranges), on any redirect hop."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from worker.errors import PermanentFetchError, TransientFetchError

Resolver = Callable[[str, int], Awaitable[Any]]


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    blocked = (
        not ip.is_global  # also catches shared (100.64/10) and documentation ranges
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )
    if isinstance(ip, ipaddress.IPv6Address):
        blocked = blocked or ip.is_site_local
    return not blocked


class AddressGuard:
    """Refuses URLs whose host resolves to a non-public address (answers cached a minute)."""

    def __init__(self, *, allow_private: bool, resolver: Resolver | None = None) -> None:
        self.allow_private = allow_private
        self._resolver = resolver
        self._resolved: dict[str, tuple[float, bool]] = {}

    async def check(self, url: str) -> None:
        if self.allow_private:
            return
        parts = urlsplit(url)
        host = parts.hostname or ""
        cached = self._resolved.get(host)
        now = time.monotonic()
        if cached and cached[0] > now:
            allowed = cached[1]
        else:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            try:
                addresses = await self._resolve(host, port)
            except OSError as exc:
                raise TransientFetchError(
                    f"{host}: cannot resolve: {exc}", reason="dns_error"
                ) from exc
            allowed = bool(addresses) and all(is_public_address(a) for a in addresses)
            self._resolved[host] = (now + 60.0, allowed)
        if not allowed:
            raise PermanentFetchError(
                f"{url}: refused: {host} is a loopback, private or reserved address "
                "(set http.allow_private_addresses to allow)",
                reason="private_address",
            )

    async def _resolve(self, host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            pass
        if self._resolver is not None:
            return list(await self._resolver(host, port))
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]
