"""``newsmon run``, ``serve`` and ``replay``: the monitor's flows, started from the command line.

Before anything runs, the steps a user should see: Prefect's environment, the seeds checked, the feeds to poll
(the configured ones, or with ``--demo`` the bundled recorded feeds), and a broker (the configured one, or the
local Apache Kafka, started and named). Then the flows do the work; SIGTERM or Ctrl-C stops them cleanly.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from newsmon.cli.common import (
    ConfigOption,
    check_seeds,
    console,
    err,
    prefect_environment,
    settings_of,
    stop_on_signals,
    stopped,
    with_kafka,
)
from newsmon.config import Settings
from newsmon.errors import NewsmonError

__all__ = ["replay", "run", "serve"]

DemoOption = Annotated[
    bool,
    typer.Option("--demo", help="Poll the bundled recorded feeds, served on 127.0.0.1 (the offline demo)."),
]


@dataclass(frozen=True, slots=True)
class _Monitor:
    """What every cycle of this command is run with: its flow parameters."""

    config: Path | None
    demo: bool
    kafka_bootstrap: str | None  # the local broker this command started, when none is configured

    def parameters(self, due_only: bool) -> dict[str, Any]:
        return {
            "config_file": str(self.config.resolve()) if self.config else None,
            "due_only": due_only,
            "demo": self.demo,
            "kafka_bootstrap": self.kafka_bootstrap,
        }


def _prepare(config: Path | None, demo: bool, service: bool) -> tuple[Settings, _Monitor]:
    """The visible steps before a flow runs: Prefect's environment, the seeds (a service refuses broken ones at
    once), the feeds (none configured is an error unless --demo), and the broker."""
    from newsmon.pipeline import feeds_to_poll

    settings = settings_of(config)
    prefect_environment(settings)
    if service:
        check_seeds(settings)
    if demo:
        err.print(f"[dim]--demo: polling the bundled recorded feeds, served on 127.0.0.1:{settings.demo_feeds_port}[/]")
    else:
        feeds_to_poll(settings)
    started = with_kafka(settings)
    local = started.kafka_bootstrap if not settings.kafka_bootstrap else None
    return started, _Monitor(config, demo, local)


def _one_cycle(monitor: _Monitor, due_only: bool, keep_going: bool) -> None:
    """One monitoring cycle as a flow run (it logs its summary). With ``keep_going`` a failed cycle is reported
    and survived (a service must outlive a Kafka outage or a broken topics file); otherwise it is raised."""
    from flows.local import in_process
    from flows.monitor import monitor_cycle

    try:
        if monitor.kafka_bootstrap:  # the local broker: started again if it died since the last cycle
            with_kafka(settings_of(monitor.config))
        # no flow retry here: this command reports a failed cycle, and the next cycle retries it. The flow run
        # logs its own summary line: printing it here too said it twice
        with in_process():
            monitor_cycle.with_options(retries=0)(**monitor.parameters(due_only))
    except Exception as exc:  # a cycle's failure must never end the service: report it, retry next cycle
        if not keep_going:
            raise
        reason = str(exc) if isinstance(exc, NewsmonError) else f"{type(exc).__name__}: {exc}"
        err.print(f"[red]cycle failed: {escape(reason)}[/] — the next cycle retries")


def _serve_here(monitor: _Monitor, interval: float) -> None:
    """Cycles every ``interval`` seconds in this process until SIGTERM or Ctrl-C."""
    from flows.serve import run_on_schedule

    def waiting(at: float) -> None:
        console.print(f"[dim]next cycle at {time.strftime('%H:%M:%S', time.localtime(at))}[/]")

    with stop_on_signals() as received:
        try:
            run_on_schedule(lambda: _one_cycle(monitor, due_only=True, keep_going=True), interval, on_wait=waiting)
        except KeyboardInterrupt:
            console.print(stopped(received))


def run(
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit (else repeat every interval).")] = False,
    due_only: Annotated[bool, typer.Option("--due-only", help="Poll only feeds whose interval has passed.")] = False,
    demo: DemoOption = False,
) -> None:
    """Run the monitor in the foreground: fetch, match, deliver to Kafka. Without --once, a cycle every
    poll_interval_seconds in this process until SIGTERM or Ctrl-C (feeds are polled when due)."""
    settings, monitor = _prepare(config, demo, service=not once)
    if not once:
        _serve_here(monitor, settings.poll_interval_seconds)
        return
    with stop_on_signals() as received:
        try:
            _one_cycle(monitor, due_only, keep_going=False)
        except KeyboardInterrupt:
            err.print(stopped(received))
            raise typer.Exit(128 + (received[-1] if received else signal.SIGINT)) from None


def serve(
    config: ConfigOption = None,
    interval: Annotated[
        int | None, typer.Option(min=10, help="Seconds between cycles (default: poll_interval_seconds).")
    ] = None,
    name: Annotated[str, typer.Option(help="Deployment name (with a Prefect server).")] = "newsmon",
    demo: DemoOption = False,
) -> None:
    """Run the monitor unattended, a cycle every interval, until SIGTERM or Ctrl-C. With PREFECT_API_URL set,
    the flow is served as a deployment on that Prefect server (its scheduler creates the runs, the Prefect UI
    shows them); without, the schedule runs in this process on Prefect's temporary API."""
    settings, monitor = _prepare(config, demo, service=True)
    every = interval or settings.poll_interval_seconds
    from flows.serve import prefect_api_url, serve_deployment

    api = prefect_api_url()
    if api is None:
        console.print(
            f"serving newsmon: a cycle every {every} s in this process (no PREFECT_API_URL: Prefect's temporary "
            f"API records the runs in {os.environ['PREFECT_HOME']}). SIGTERM or Ctrl-C stops."
        )
        _serve_here(monitor, every)
        return
    console.print(f"serving deployment newsmon-monitor/{name} on {api}, every {every} s. SIGTERM or Ctrl-C stops.")
    parameters = monitor.parameters(due_only=True)
    config_file = parameters.pop("config_file")
    serve_deployment(config_file, every, name, parameters)
    console.print("stopped; stories an interrupted cycle fetched stay pending for the next cycle")


def replay(
    config: ConfigOption = None,
    since: Annotated[
        str, typer.Option(help="How far back: a span (7d, 36h, 90m, 2w) or a date (2026-11-20, 2026-11-20T08:00Z).")
    ] = "7d",
    seed: Annotated[str | None, typer.Option(help="Only this seed (default: every seed).")] = None,
) -> None:
    """Score the stories kept from recent cycles against today's seeds and topics, and alert the matches never
    alerted before: a new seed article, or edited topics, catch up on the recent past. Stories are kept
    story_retention_days (default 7); a story alerts at most once per seed, replays included."""
    from datetime import UTC, datetime

    from newsmon.timespan import parse_since

    settings = settings_of(config)
    try:
        when = parse_since(since, datetime.now(UTC))
    except ValueError as exc:
        raise NewsmonError(f"--since: {exc}") from None
    prefect_environment(settings)
    started = with_kafka(settings)
    from flows.local import in_process
    from flows.replay import replay_stories

    with stop_on_signals() as received, in_process():
        try:
            result = replay_stories(
                config_file=str(config.resolve()) if config else None,
                since=when,
                seed=seed,
                kafka_bootstrap=started.kafka_bootstrap if not settings.kafka_bootstrap else None,
            )
        except KeyboardInterrupt:
            err.print(
                f"stopped by {signal.Signals(received[-1]).name if received else 'SIGINT'}; run it again to finish"
            )
            raise typer.Exit(128 + (received[-1] if received else signal.SIGINT)) from None
    console.print(f"[bold]{escape(str(result['summary']))}[/]")
