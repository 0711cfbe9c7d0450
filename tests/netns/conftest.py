"""The hostile-server suite runs only inside a network namespace that has nothing but loopback.

These tests point the fetcher at redirects to 169.254.169.254, 10.0.0.1 and other addresses that a broken
SSRF guard would really try to reach. Inside ``unshare -n`` (``make test`` does this) there is no route off the
machine, so even a broken guard sends nothing anywhere. Outside such a namespace the suite refuses to run:
it fails, it does not skip.
"""

from __future__ import annotations

import socket

import pytest


def pytest_configure(config: pytest.Config) -> None:
    interfaces = sorted(name for _index, name in socket.if_nameindex())
    if interfaces != ["lo"]:
        raise pytest.UsageError(
            f"tests/netns must run in a loopback-only network namespace, but this one has {interfaces}: "
            "run 'make test' (or: unshare -n sh -c 'ip link set lo up && .venv/bin/pytest tests/netns')"
        )
