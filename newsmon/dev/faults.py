"""Crash points for the fault tests: ``NEWSMON_CRASH_AT=<point>`` makes the process fail exactly there.

A SIGKILL at an exact step is the only honest way to test what a crash at that step does to delivery; a mock
cannot tell. ``NEWSMON_CRASH_HOW`` says how the step fails: ``kill`` (SIGKILL, the default), ``term`` or
``int`` (SIGTERM or SIGINT to itself, as a service manager or Ctrl-C would), ``error`` (the step raises, as a
failing encoder or disk would) or ``hang`` (the step never returns, for a test to stop the process from
outside). Unset (always, outside the fault tests), a crash point is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import time

__all__ = ["CRASH_POINTS", "InjectedFaultError", "crash_point"]

CRASH_POINTS = frozenset(
    {
        "pipeline-fetched",  # feeds fetched, nothing parsed or recorded
        "pipeline-parsed",  # stories parsed, the intake (feed state + pending stories) not yet committed
        "pipeline-pending",  # the intake committed: validators advanced, the stories pending, none scored
        "pipeline-embedding",  # the encoder is embedding a chunk of pending stories
        "pipeline-recording",  # inside the scoring transaction, everything written, not yet committed
        "pipeline-recorded",  # seen-marks and outbox rows committed (one transaction), nothing sent yet
        "pipeline-sent",  # records handed to the producer, acknowledgements not awaited
        "pipeline-acked",  # the broker acknowledged, the outbox rows not yet marked sent
        "consumer-handled",  # the handler's effect done, not yet in the handled log, offset not committed
        "consumer-logged",  # in the handled log, offset not committed
    }
)
_SIGNALS = {"kill": signal.SIGKILL, "term": signal.SIGTERM, "int": signal.SIGINT}


class InjectedFaultError(RuntimeError):
    """The failure ``NEWSMON_CRASH_HOW=error`` raises at a crash point."""


def crash_point(name: str) -> None:
    """Fail here, as ``NEWSMON_CRASH_HOW`` says, if ``NEWSMON_CRASH_AT`` names this point."""
    if os.environ.get("NEWSMON_CRASH_AT") != name:
        return
    how = os.environ.get("NEWSMON_CRASH_HOW", "kill")
    if how == "error":
        raise InjectedFaultError(f"injected failure at {name}")
    if how == "hang":
        while True:
            time.sleep(3600)
    os.kill(os.getpid(), _SIGNALS[how])
    time.sleep(5)  # a signal to oneself is delivered at once; this only keeps the step from going on meanwhile
