"""Crash points for the fault tests: ``NEWSMON_CRASH_AT=<point>`` makes the process SIGKILL itself there.

A SIGKILL at an exact step is the only honest way to test what a crash at that step does to delivery; a mock
cannot tell. Unset (always, outside the fault tests), a crash point is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_POINTS", "crash_point"]

CRASH_POINTS = frozenset(
    {
        "pipeline-recorded",  # seen-marks and outbox rows committed (one transaction), nothing sent yet
        "pipeline-sent",  # records handed to the producer, acknowledgements not awaited
        "pipeline-acked",  # the broker acknowledged, the outbox rows not yet marked sent
        "consumer-handled",  # the handler's effect done, not yet in the handled log, offset not committed
        "consumer-logged",  # in the handled log, offset not committed
    }
)


def crash_point(name: str) -> None:
    """SIGKILL this process if ``NEWSMON_CRASH_AT`` names this point."""
    if os.environ.get("NEWSMON_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
