"""Deployment wiring: serve the monitor flow on an interval schedule (separate from the flow definition)."""

from __future__ import annotations

from prefect import serve
from prefect.types.entrypoint import EntrypointType

from flows.monitor import monitor_cycle

__all__ = ["serve_monitor"]


def serve_monitor(config_file: str | None, interval_seconds: int, name: str = "newsmon") -> None:
    """Register the deployment and run its schedule until interrupted (each cycle is one flow run)."""
    deployment = monitor_cycle.to_deployment(
        name=name,
        interval=interval_seconds,
        parameters={"config_file": config_file, "due_only": True},
        description="Poll the feeds, match stories against the seed topics, deliver alerts to Kafka.",
        tags=["newsmon"],
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    serve(deployment)  # type: ignore[arg-type]  # sync flow: to_deployment returns a RunnerDeployment
