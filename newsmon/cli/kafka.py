"""``newsmon kafka``: the local Apache Kafka broker (KRaft, one node, 127.0.0.1)."""

from __future__ import annotations

import typer

from newsmon.cli.common import ConfigOption, console, settings_of

__all__ = ["app", "start", "status", "stop"]

app = typer.Typer(
    help="The local Apache Kafka broker (used when NEWSMON_KAFKA_BOOTSTRAP is unset).", no_args_is_help=True
)


@app.command("start")
def start(config: ConfigOption = None) -> None:
    """Download Kafka's jars on first use, format storage, start the broker and wait until it answers."""
    from newsmon.dev.local_kafka import local_kafka

    broker = local_kafka(settings_of(config))
    with console.status("starting Apache Kafka (first use downloads its jars with Maven)…"):
        bootstrap = broker.start()
    console.print(f"Kafka is up at {bootstrap} (data in {broker.data_dir})")


@app.command("stop")
def stop(config: ConfigOption = None) -> None:
    """Stop the local broker cleanly (its data stays)."""
    from newsmon.dev.local_kafka import local_kafka

    broker = local_kafka(settings_of(config))
    with console.status("stopping Apache Kafka…"):
        broker.stop()
    console.print("Kafka stopped")


@app.command("status")
def status(config: ConfigOption = None) -> None:
    """Say whether the local broker runs, on which port, with which data dir."""
    from newsmon.dev.local_kafka import local_kafka

    settings = settings_of(config)
    if settings.kafka_bootstrap:
        console.print(f"using the configured broker {settings.kafka_bootstrap} (NEWSMON_KAFKA_BOOTSTRAP)")
    broker = local_kafka(settings)
    for node in broker.status():
        state = f"running (pid {node.pid})" if node.running else "stopped"
        console.print(f"local Kafka node {node.node_id} on 127.0.0.1:{node.port}: {state}; data in {broker.data_dir}")
    if not all(n.running for n in broker.status()):
        raise typer.Exit(3)
