"""Running the monitor flow on a schedule, unattended (separate from the flow definition).

Two ways, chosen by whether a Prefect server is configured (``PREFECT_API_URL``):

- **a Prefect server**: the flow is served as a deployment with an interval schedule. The server's scheduler
  creates the runs (and one is asked for at once, so a restarted service does not wait an interval), this
  process executes them one at a time (each in a fresh process, as Prefect does), and they show in the
  Prefect UI. Overlapping runs of the deployment are cancelled, never piled up.
- **no server** (the embedded default): Prefect's temporary API has no scheduler, so a served deployment would
  sit idle. The schedule runs in this process instead: every interval, one flow run, recorded by the temporary
  API in Prefect's home. The encoder stays loaded between cycles.

Either way SIGTERM or SIGINT stops it cleanly: a cycle in progress is interrupted, and what it fetched stays
pending in the state store for the next cycle.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments import run_deployment
from prefect.runner import Runner
from prefect.settings import PREFECT_API_URL
from prefect.types.entrypoint import EntrypointType

from flows.monitor import monitor_cycle

__all__ = ["GracefulRunner", "next_start", "prefect_api_url", "run_on_schedule", "serve_deployment"]

log = logging.getLogger(__name__)


def prefect_api_url() -> str | None:
    """The Prefect server this process reports to (``PREFECT_API_URL``, from the environment or the active
    Prefect profile), or None for Prefect's temporary embedded API."""
    url = PREFECT_API_URL.value()
    return str(url) if url else None


def next_start(started: float, interval: float, now: float) -> float:
    """When the cycle after one that started at ``started`` begins: one interval later (a fixed rate, so a
    cycle's own duration does not drift the schedule), or at once if the cycle overran its interval (never a
    pile-up of missed cycles)."""
    return max(started + interval, now)


def run_on_schedule(
    cycle: Callable[[], Any],
    interval: float,
    *,
    on_wait: Callable[[float], None] = lambda _at: None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    cycles: int | None = None,
) -> None:
    """Run ``cycle`` now and then every ``interval`` seconds until stopped (or ``cycles`` times); ``on_wait``
    hears when the next cycle starts. A cycle that raises is the caller's to report: ``cycle`` should catch
    what it can survive."""
    done = 0
    while cycles is None or done < cycles:
        started = clock()
        cycle()
        done += 1
        if cycles is not None and done >= cycles:
            return
        at = next_start(started, interval, clock())
        on_wait(at)
        sleep(max(0.0, at - clock()))


class GracefulRunner(Runner):
    """Prefect's runner, stopped properly by SIGTERM and SIGINT.

    Prefect 3.8.8's own SIGTERM handler calls the runner's async ``stop`` without awaiting it: the runner then
    hangs, and the flow run's process keeps running. Here the signal schedules ``astop`` on the runner's event
    loop, which cancels the run in progress (its process is terminated) and ends ``start``.
    """

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        loop = self._loop
        if loop is None or not self.started:
            raise KeyboardInterrupt
        if not self.stopping:
            self._logger.info("stopping: the cycle in progress (if any) is cancelled; its stories stay pending")
            loop.call_soon_threadsafe(lambda: loop.create_task(self.astop()))


def serve_deployment(
    config_file: str | None, interval_seconds: int, name: str = "newsmon", parameters: dict[str, Any] | None = None
) -> None:
    """Register the deployment with the Prefect server and execute its scheduled runs until stopped;
    ``parameters`` go to every run (``demo``, ``kafka_bootstrap``)."""
    deployment = monitor_cycle.to_deployment(
        name=name,
        interval=interval_seconds,
        parameters={"config_file": config_file, "due_only": True, **(parameters or {})},
        description="Poll the feeds, match stories against the seed topics, deliver alerts to Kafka.",
        tags=["newsmon"],
        entrypoint_type=EntrypointType.MODULE_PATH,
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
    )
    runner = GracefulRunner(name=f"newsmon-{name}", limit=1)
    deployment_id: UUID = runner.add_deployment(deployment)  # type: ignore[arg-type,assignment]  # sync: a UUID
    run_deployment(deployment_id, timeout=0, as_subflow=False, tags=["newsmon", "on-start"])  # a cycle now, as
    # the embedded schedule does: a (re)started service never waits up to an interval for its first cycle
    previous = signal.signal(signal.SIGINT, runner.handle_sigterm)
    try:
        asyncio.run(runner.start())
    finally:
        signal.signal(signal.SIGINT, previous)
