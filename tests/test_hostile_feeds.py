"""The hostile-server suite (tests/netns), run where a broken SSRF guard could not reach anything: a network
namespace with loopback only. This test starts it there and fails when any of it fails; it never skips."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.integration


def _unshare() -> list[str]:
    """A new network namespace: as root directly, otherwise inside a user namespace that maps us to root."""
    return ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--net", "--map-root-user"]


def test_hostile_feeds_suite_passes_in_a_loopback_only_network_namespace() -> None:
    inner = f"ip link set lo up && exec {sys.executable} -m pytest tests/netns -q -s -p no:cacheprovider"
    result = subprocess.run(
        [*_unshare(), "sh", "-c", inner], cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False
    )
    print(result.stdout[-6000:])
    assert result.returncode == 0, f"{result.stdout[-8000:]}\n{result.stderr[-3000:]}"
    assert " passed" in result.stdout and " failed" not in result.stdout
