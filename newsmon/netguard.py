"""The SSRF guard's rules: a feed URL may only make newsmon connect to public addresses, unless a network is allowed.

A feeds file is often written by people other than the operator (an OPML import, a shared list), and a feed
server chooses where it redirects. Without a guard either could make newsmon probe the machine's own services
or the cloud metadata endpoint (169.254.169.254). These rules are pure (the settings use them to validate);
:mod:`newsmon.transport` enforces them where they cannot be dodged: on every resolved address, at connect time,
for every connection including redirect hops. Odd spellings such as ``2130706433`` resolve to 127.0.0.1 and
are refused like it.

Refused unless allowed: loopback, private (RFC 1918, fc00::/7), link-local, CGNAT (100.64/10), multicast,
reserved, unspecified, documentation ranges, and IPv6 forms that embed such an IPv4 address (mapped, NAT64,
6to4). ``allow`` networks are exceptions, nothing more: allowing 127.0.0.0/8 allows no other private range.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["NetworkPolicy"]

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
