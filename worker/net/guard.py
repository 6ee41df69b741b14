"""The private-address guard: news-worker fetches only from public addresses unless told
otherwise, so a feed cannot point it at the machine's own network (loopback, private,
link-local, reserved ranges).

The guard sits where the connection is made: the connector's resolver (:class:`GuardedResolver`)
checks the very addresses the connection will use, on every redirect hop, so a name that
answers a public address to a check and a private one to the connect (DNS rebinding) has no
second answer to give. Addresses written in the URL never reach a resolver and are checked
before the request; so is the target of a request through a proxy (the proxy, not us, connects
to it: it resolves the name again, under its own rules).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from worker.errors import PermanentFetchError, TransientFetchError

Resolver = Callable[[str, int], Awaitable[Any]]  # (host, port) -> addresses, for tests


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


class PrivateAddressRefused(Exception):
    """Raised inside the connector (not an OSError, so aiohttp passes it through unwrapped)."""


class AddressPolicy:
    """Which addresses may be connected to."""

    def __init__(
        self, *, allow_private: bool, allow_networks: Iterable[str] = (), exempt: Iterable[str] = ()
    ) -> None:
        self.allow_private = allow_private
        self._networks = [ipaddress.ip_network(n, strict=False) for n in allow_networks]
        self.exempt = {h.lower().rstrip(".") for h in exempt}

    def allowed(self, address: str) -> bool:
        if self.allow_private or is_public_address(address):
            return True
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return any(ip in network for network in self._networks)

    def check(self, host: str, addresses: list[str]) -> None:
        """Raise :class:`PrivateAddressRefused` unless every address may be connected to."""
        if host.lower().rstrip(".") in self.exempt:
            return
        if not addresses or not all(self.allowed(a) for a in addresses):
            raise PrivateAddressRefused(refusal(host))


def refusal(host: str) -> str:
    return (
        f"refused: {host} is a loopback, private or reserved address "
        "(set http.allow_private_addresses or http.allow_networks to allow)"
    )


def literal(host: str) -> str | None:
    """The address if ``host`` is an IP literal (``[::1]`` included), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class GuardedResolver(AbstractResolver):
    """The connector's resolver: the name's addresses, each checked by the policy."""

    def __init__(self, policy: AddressPolicy, inner: Resolver | None = None) -> None:
        self.policy = policy
        self._inner = inner
        self._threaded: ThreadedResolver | None = None

    async def addresses(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[str]:
        if self._inner is not None:
            return [str(a) for a in await self._inner(host, port)]
        if self._threaded is None:
            self._threaded = ThreadedResolver()
        return [r["host"] for r in await self._threaded.resolve(host, port, family)]

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self.addresses(host, port, family)
        self.policy.check(host, found)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in found
        ]

    async def close(self) -> None:
        if self._threaded is not None:
            await self._threaded.close()

    async def check_url(self, url: str, *, resolve: bool) -> None:
        """Check what the connector will not: an IP written in the URL, and (``resolve``) the
        target of a request through a proxy. Raises :class:`PermanentFetchError`."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        address = literal(host)
        if address is None and not resolve:
            return
        try:
            if address is not None:
                self.policy.check(host, [address])
            else:
                port = parts.port or (443 if parts.scheme == "https" else 80)
                self.policy.check(host, await self.addresses(host, port))
        except PrivateAddressRefused as exc:
            raise PermanentFetchError(f"{url}: {exc}", reason="private_address") from exc
        except OSError as exc:
            raise TransientFetchError(f"{host}: cannot resolve: {exc}", reason="dns_error") from exc
