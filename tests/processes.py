"""Which processes a test's newsmon left behind: every process newsmon starts inherits its environment, so a
unique value in it (the test's own PREFECT_HOME) finds them all, Prefect's temporary API server included."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path


def processes_with(marker: str) -> list[int]:
    """Pids of the processes whose environment holds ``marker`` (e.g. ``PREFECT_HOME=/tmp/x``)."""
    wanted = marker.encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):
            if wanted in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
    return found


def leftovers(marker: str, grace: float = 10.0) -> list[int]:
    """The processes still holding ``marker`` once ``grace`` seconds have passed (exiting takes a moment)."""
    deadline = time.monotonic() + grace
    while (found := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found
