"""Flow runs called in this process (``newsmon run``, ``serve`` without a server, ``replay``), not started by a
worker from a deployment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["in_process"]


@contextmanager
def in_process() -> Iterator[None]:
    """Flow runs in the block send no heartbeats. Prefect's heartbeats let a server tell that a deployment's
    run crashed; a run called here ends with its caller, so they tell nobody anything. And they cost: when a
    run ends, the engine joins the heartbeat thread, which sleeps in whole seconds, so every run waited 0.5 s
    on average (up to 1 s) for nothing: most of Prefect's share of a warm 2,000-story cycle (0.48 s of 5.1 s),
    and of a cycle with nothing new. A served deployment's runs keep them."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
