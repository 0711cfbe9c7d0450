"""The SSRF guard: a feed URL may only make newsmon connect to public addresses, unless a network is allowed.

A feeds file is often written by people other than the operator (an OPML import, a shared list), and a feed
server chooses where it redirects. Without a guard either could make newsmon probe the machine's own services
or the cloud metadata endpoint (169.254.169.254). The check runs where it cannot be dodged: on every resolved
address, at connect time, for every connection including redirect hops, and newsmon then connects to the very
address it checked (no second DNS look-up to rebind). Odd spellings such as ``0177.0.0.1`` or ``2130706433``
resolve to 127.0.0.1 and are refused like it.

Refused unless allowed: loopback, private (RFC 1918, fc00::/7), link-local, CGNAT (100.64/10), multicast,
reserved, unspecified, documentation ranges, and IPv6 forms that embed such an IPv4 address (mapped, NAT64,
6to4). ``allow`` networks are exceptions, nothing more: allowing 127.0.0.0/8 allows no other private range.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from newsmon.errors import FeedError

__all__ = ["NetworkPolicy", "guarded_transport"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), which is where packets really go."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    """Which addresses a fetch may connect to: public ones, plus the ``allow`` networks; ``guard=False`` allows all."""

    allow: tuple[IPNetwork, ...] = ()
    guard: bool = True

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str], guard: bool = True) -> NetworkPolicy:
        """A policy from CIDR strings (``"127.0.0.0/8"``, ``"10.1.2.3"``); a bad one is a ValueError naming it."""
        networks = []
        for cidr in cidrs:
            try:
                networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(f"not an IP network: {cidr!r} ({exc})") from exc
        return cls(allow=tuple(networks), guard=guard)

    def permits(self, address: str | IPAddress) -> bool:
        """Whether a connection to ``address`` is allowed."""
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if not self.guard or any(ip in net for net in self.allow if net.version == ip.version):
            return True
        if isinstance(ip, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(ip)
            if embedded is not None:
                return self.permits(embedded)
        return ip.is_global and not ip.is_multicast


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves the host itself, checks every address, then connects to it."""

    def __init__(self, policy: NetworkPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def _addresses(self, host: str, port: int) -> list[str]:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc.strerror}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        refused = [a for a in addresses if not self._policy.permits(a)]
        if refused:
            raise FeedError(
                "blocked",
                f"refused to connect to {host} ({', '.join(refused)}): not a public address; "
                "allow its network explicitly (fetch_allow_networks / --allow-network) if it is meant",
            )
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last_error: Exception | None = None
        for address in await self._addresses(host, port):
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # try the next address, as a resolver-driven connect would
                last_error = exc
        raise last_error or httpcore.ConnectError(f"no address for {host!r}")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise FeedError("blocked", "unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(policy: NetworkPolicy, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection goes through the policy.

    httpx builds its connection pool in the constructor without a way to pass a network backend, so the pool
    is rebuilt with ours; httpx's request/response mapping and error translation are kept. httpx is pinned
    below 0.29 and ``tests/test_netguard.py`` fails if this wiring stops taking effect.
    """
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_GuardedBackend(policy),
    )
    return transport
