"""Where a cycle's time goes: each stage's plain function adds its wall time to one process-wide tally.

The flow reads the tally before and after a cycle (``since``), so a cycle's summary says how long fetching,
parsing, intake, embedding and matching, and delivery took; what the flow run took beyond their sum is
Prefect's bookkeeping (task runs, states, the API). Stages may run in threads: the tally has a lock.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["since", "snapshot", "timed"]

P = ParamSpec("P")
R = TypeVar("R")

_SECONDS: dict[str, float] = {}
_LOCK = threading.Lock()


def timed(stage: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Add the decorated function's wall time, per call, to ``stage``."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with _LOCK:
                    _SECONDS[stage] = _SECONDS.get(stage, 0.0) + time.perf_counter() - started

        return run

    return decorate


def snapshot() -> dict[str, float]:
    """Every stage's seconds so far in this process."""
    with _LOCK:
        return dict(_SECONDS)


def since(before: dict[str, float]) -> dict[str, float]:
    """Each stage's seconds since ``before`` (a ``snapshot``), rounded to milliseconds; stages that took none
    are left out."""
    now = snapshot()
    return {
        stage: round(now[stage] - before.get(stage, 0.0), 3) for stage in now if now[stage] > before.get(stage, 0.0)
    }
