"""The SSRF guard: which addresses a fetch may reach, and that the fetcher really asks it on every connection.

Connections here stay on loopback; the hostile redirects to link-local and private addresses run in a
loopback-only network namespace (tests/netns).
"""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmon.dev.feedserver import serve_feeds
from newsmon.fetch import FetchLimits, FetchRequest, fetch_all
from newsmon.netguard import NetworkPolicy

from .conftest import FIXTURES

REFUSED = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.251",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.10",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",
    "2002:a00:1::1",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "151.101.1.69", "2606:4700:4700::1111", "::ffff:8.8.8.8"]

_PRIVATE_V4 = [ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused_by_default(address: str) -> None:
    assert not NetworkPolicy().permits(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert NetworkPolicy().permits(address)


def test_allowing_loopback_allows_nothing_else() -> None:
    policy = NetworkPolicy.from_cidrs(["127.0.0.0/8"])
    assert policy.permits("127.0.0.1") and policy.permits("127.9.9.9") and policy.permits("::ffff:127.0.0.1")
    assert not any(policy.permits(a) for a in REFUSED if not a.startswith(("127.", "::ffff:127.")))


def test_the_guard_can_be_switched_off_explicitly() -> None:
    assert all(NetworkPolicy(guard=False).permits(a) for a in REFUSED)


def test_a_bad_cidr_names_itself() -> None:
    with pytest.raises(ValueError, match=re.escape("not an IP network: '10.0.0/33'")):
        NetworkPolicy.from_cidrs(["10.0.0/33"])


@given(st.sampled_from(_PRIVATE_V4).flatmap(lambda n: st.integers(int(n.network_address), int(n.broadcast_address))))
def test_every_private_ipv4_address_and_its_ipv6_spellings_are_refused(number: int) -> None:
    v4 = ipaddress.IPv4Address(number)
    policy = NetworkPolicy.from_cidrs(["127.0.0.0/8"])
    assert not policy.permits(v4)
    assert not policy.permits(ipaddress.IPv6Address(f"::ffff:{v4}"))
    assert not policy.permits(ipaddress.IPv6Address((0x64FF9B << 96) | number))


@given(st.integers(0, 2**32 - 1), st.integers(8, 32))
def test_an_allowed_network_admits_exactly_its_own_addresses(number: int, prefix: int) -> None:
    network = ipaddress.IPv4Network((number, prefix), strict=False)
    policy = NetworkPolicy(allow=(network,))
    inside = network.network_address + (number % network.num_addresses)
    assert policy.permits(inside)
    outside = ipaddress.IPv4Address((int(network.broadcast_address) + 1) % 2**32)
    assert policy.permits(outside) == NetworkPolicy().permits(outside)


def test_the_fetcher_refuses_loopback_without_sending_a_request() -> None:
    with serve_feeds(FIXTURES / "feeds" / "real") as server:
        url = server.url("arstechnica_all_2025-01-16.xml")
        spellings = [url, url.replace("127.0.0.1", "localhost"), url.replace("127.0.0.1", "2130706433")]
        results = fetch_all([FetchRequest(str(i), u) for i, u in enumerate(spellings)], FetchLimits())
        assert [r.error_kind for r in results] == ["blocked"] * 3, [r.error for r in results]
        assert "not a public address" in (results[0].error or "")
        assert sum(server.requests.values()) == 0


def test_an_allowed_slash_32_admits_only_that_address_even_on_loopback() -> None:
    with serve_feeds(FIXTURES / "feeds" / "real") as server:
        only_this = NetworkPolicy.from_cidrs(["127.0.0.1/32"])
        target = server.url("arstechnica_all_2025-01-16.xml").replace("127.0.0.1", "127.0.0.2")
        (ok,) = fetch_all(
            [FetchRequest("a", server.url("arstechnica_all_2025-01-16.xml"))], FetchLimits(policy=only_this)
        )
        (refused,) = fetch_all([FetchRequest("b", target)], FetchLimits(policy=only_this))
    assert ok.ok and ok.body
    assert refused.error_kind == "blocked" and "127.0.0.2" in (refused.error or "")
