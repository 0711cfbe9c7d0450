"""What every command shares: the consoles, the --config option, settings, and the few process-level steps
(Prefect's environment, signals, the local Kafka broker) that commands take visibly, never a library."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from newsmon.config import Settings, load_settings
from newsmon.logs import OWN, verbose

__all__ = [
    "ConfigOption",
    "check_seeds",
    "console",
    "err",
    "prefect_environment",
    "settings_of",
    "stop_on_signals",
    "stopped",
    "utc_minute",
    "with_kafka",
]

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (feeds and settings).", exists=True, dir_okay=False),
]


def settings_of(config: Path | None) -> Settings:
    return load_settings(config)


def prefect_environment(settings: Settings) -> None:
    """Prefect's settings for a newsmon process, set before Prefect is first imported (it reads them once):
    its home (run records, the temporary API's database) under newsmon's data dir unless PREFECT_HOME says
    otherwise; no telemetry (it also races the temporary API's database); time for that API's cold first
    start (imports and database migrations take over 20 s on 2 cores); and its loggers' levels."""
    home = Path(os.environ.setdefault("PREFECT_HOME", str(settings.prefect_home))).expanduser()
    home.mkdir(parents=True, exist_ok=True)  # Prefect makes only the last folder of it
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", ",".join(OWN))  # their lines reach the run's logs in the UI
    if not verbose():  # the log policy: a flow run's own lines (start, summary, failing feeds, end), not Prefect's
        # bookkeeping (a line per finished task, the temporary server's start and its advice)
        for logger, level in (("PREFECT", "WARNING"), ("PREFECT_TASK_RUNS", "WARNING"), ("PREFECT_FLOW_RUNS", "INFO")):
            os.environ.setdefault(f"PREFECT_LOGGING_LOGGERS_{logger}_LEVEL", level)


@contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """SIGTERM stops the work in hand like Ctrl-C does (a KeyboardInterrupt), so every ``finally`` and exit
    handler runs: Prefect's temporary API server and the parse workers end with us instead of lingering, and
    open transactions roll back (fetched stories stay pending). Yields the signals received."""
    received: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stopped(received: list[int]) -> str:
    name = signal.Signals(received[-1]).name if received else "SIGINT"
    return f"stopped by {name}; stories an interrupted cycle fetched stay pending for the next cycle"


def check_seeds(settings: Settings) -> None:
    """Refuse to start a service on broken topics or model files; say which seed articles have no topics."""
    from models.relevance import load_seed_models
    from models.topics import load_seed_topics, seeds_without_topics

    load_seed_models(settings.seeds_dir, load_seed_topics(settings.seeds_dir))
    for article in seeds_without_topics(settings.seeds_dir):
        err.print(
            f"[yellow]seed article {article} has no topics file, so nothing is matched against it: run "
            "'newsmon seeds build'[/]"
        )


def with_kafka(settings: Settings) -> Settings:
    """The settings with a broker: the configured one; else the local Apache Kafka, started now if it is not
    running (and said so), which later commands find running."""
    if settings.kafka_bootstrap:
        return settings
    from newsmon.dev.local_kafka import local_kafka

    broker = local_kafka(settings)
    if all(node.running for node in broker.status()):
        bootstrap = broker.start()  # running: only waits until it answers
    else:
        with err.status("starting the local Apache Kafka (no kafka_bootstrap is set; a first start fetches its jars)…"):
            bootstrap = broker.start()
        err.print(f"[dim]started the local Apache Kafka at {bootstrap} ('newsmon kafka stop' stops it)[/]")
    return settings.model_copy(update={"kafka_bootstrap": bootstrap})


def utc_minute(timestamp: float | None, never: str = "never") -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M") if timestamp else never
