"""The HTTP transport every feed fetch uses, enforcing the SSRF guard (:mod:`newsmon.netguard`) at connect time.

newsmon resolves each host itself, refuses the connection if any resolved address breaks the policy, and then
connects to the very address it checked: there is no second DNS look-up for a rebinding server to answer
differently. Because it sits under the connection pool, it covers every connection, redirect hops included.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from newsmon.errors import FeedError
from newsmon.netguard import NetworkPolicy

__all__ = ["guarded_transport"]


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
