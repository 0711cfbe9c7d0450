"""``newsmon consume NAME`` and ``newsmon archive query``: the consumers suite on the command line
(``newsmon tail`` is ``consume tail`` under a shorter name).

Every consumer runs on the shared loop with its own consumer group (so each sees every alert), de-duplication
by message id kept under the data dir, poison records to the DLQ topic, and a graceful stop on SIGTERM.
Heavy imports (kafka, httpx) happen inside the commands.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from newsmon.cli.common import ConfigOption, console, err, with_kafka
from newsmon.config import Settings, load_settings

if TYPE_CHECKING:
    from consumers.loop import ConsumeOptions

__all__ = ["archive_app", "consume_app", "tail"]

consume_app = typer.Typer(
    help="Run a downstream consumer of the alerts topic: tail, webhook, digest or archive.", no_args_is_help=True
)
archive_app = typer.Typer(help="The alert archive written by 'newsmon consume archive'.", no_args_is_help=True)


def _group_help(default: str) -> Any:
    """The --group option of a consumer whose group is ``default`` unless one is given."""
    return typer.Option("--group", help=f"Consumer group: its offsets and handled-log (default: {default}).")


MaxOption = Annotated[int | None, typer.Option("--max", min=1, help="Exit after N alerts.")]
IdleOption = Annotated[
    float | None, typer.Option("--idle-timeout", min=0, help="Exit once nothing arrived for SECONDS.")
]


def _options(
    settings: Settings, group: str, from_beginning: bool, max_messages: int | None, idle_timeout: float | None
) -> ConsumeOptions:
    """Loop options for a consumer: the broker (the local one, started if none is configured), its group's
    handled-log, the DLQ."""
    from kafka.errors import KafkaError

    from consumers.loop import ConsumeOptions
    from newsmon.kafka_io import ensure_topics, unreachable

    settings = with_kafka(settings)
    bootstrap = settings.kafka_bootstrap
    try:
        ensure_topics(bootstrap, settings)
    except KafkaError as exc:
        raise unreachable(bootstrap, exc) from None
    return ConsumeOptions(
        bootstrap=bootstrap,
        topic=settings.topic_matches,
        group=group,
        from_beginning=from_beginning,
        max_messages=max_messages,
        idle_timeout=idle_timeout,
        handled_log=settings.data_dir / "consumers" / f"{group}.sqlite3",
        dlq_topic=settings.topic_dlq or None,
    )


def _report(name: str, count: int) -> None:
    err.print(f"[dim]{name}: {count} alert(s) handled[/]")


@consume_app.command("tail")
def tail(
    config: ConfigOption = None,
    group: Annotated[
        str | None,
        typer.Option("--group", help="Consumer group (default: a throwaway one for this run, which starts at now)."),
    ] = None,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start at the oldest alert when the group has no offset.")
    ] = False,
    max_messages: MaxOption = None,
    idle_timeout: IdleOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print each message exactly as published.")] = False,
) -> None:
    """Print alerts as they arrive, in the order they were published to Kafka (not by story date): time,
    relevance, topic, title, evidence, other outlets, link ('newsmon tail' is the same command)."""
    from consumers.tail import tail as print_alerts

    settings = load_settings(config)
    options = _options(
        settings, group or f"newsmon-tail-{uuid.uuid4().hex[:8]}", from_beginning, max_messages, idle_timeout
    )
    if group is None:  # a throwaway group has nothing to de-duplicate against
        options = dataclasses.replace(options, handled_log=None)
    count = print_alerts(options, as_json=as_json)
    if not as_json:
        _report("tail", count)


@consume_app.command("webhook")
def _consume_webhook(
    url: Annotated[str, typer.Argument(help="Where to POST each alert.", envvar="NEWSMON_WEBHOOK_URL")],
    config: ConfigOption = None,
    group: Annotated[str | None, _group_help("newsmon-webhook")] = None,
    slack: Annotated[
        bool, typer.Option("--slack", help="Send Slack-compatible {'text': …} instead of the JSON.")
    ] = False,
    rate: Annotated[float, typer.Option(min=0.01, help="At most this many requests per second to the URL.")] = 1.0,
    attempts: Annotated[int, typer.Option(min=1, help="Tries per alert on transient failures.")] = 5,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per request.")] = 10.0,
    from_beginning: Annotated[bool, typer.Option("--from-beginning", help="Start at the oldest alert.")] = False,
    max_messages: MaxOption = None,
    idle_timeout: IdleOption = None,
) -> None:
    """POST each alert to URL (JSON, or Slack text with --slack), retrying with backoff under a rate limit;
    each request carries Idempotency-Key: <message id>."""
    import httpx

    from consumers.loop import consume
    from consumers.webhook import RateLimiter, WebhookTarget, post_alert

    settings = load_settings(config)
    options = _options(settings, group or "newsmon-webhook", from_beginning, max_messages, idle_timeout)
    target = WebhookTarget(url, "slack" if slack else "json", timeout=timeout, attempts=attempts)
    limiter = RateLimiter(per_second=rate)
    with httpx.Client(follow_redirects=False) as client:
        count = consume(options, lambda message: post_alert(client, target, message, limiter))
    _report("webhook", count)


@consume_app.command("digest")
def _consume_digest(
    config: ConfigOption = None,
    group: Annotated[str | None, _group_help("newsmon-digest")] = None,
    folder: Annotated[Path | None, typer.Option(help="Where digests go (default: <data_dir>/digests).")] = None,
    period: Annotated[Literal["hour", "day", "week"], typer.Option(help="One digest per period.")] = "day",
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning/--from-now", help="A new digest group starts at the oldest alert.")
    ] = True,
    max_messages: MaxOption = None,
    idle_timeout: IdleOption = None,
) -> None:
    """Write Markdown and HTML digests (digest-<period>.md/.html) grouped by seed and topic, kept up to date."""
    from consumers.digest import Digest
    from consumers.loop import consume

    settings = load_settings(config)
    digest = Digest(folder or settings.data_dir / "digests", period)
    options = _options(settings, group or "newsmon-digest", from_beginning, max_messages, idle_timeout)
    count = consume(options, digest.add)
    _report(f"digest ({digest.folder})", count)


@consume_app.command("archive")
def _consume_archive(
    config: ConfigOption = None,
    group: Annotated[str | None, _group_help("newsmon-archive")] = None,
    file: Annotated[Path | None, typer.Option(help="The archive (default: <data_dir>/alerts.sqlite3).")] = None,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning/--from-now", help="A new archive group starts at the oldest alert.")
    ] = True,
    max_messages: MaxOption = None,
    idle_timeout: IdleOption = None,
) -> None:
    """Store every alert in a SQLite file, one row per message id ('newsmon archive query' reads it)."""
    from consumers.archive import Archive
    from consumers.loop import consume

    settings = load_settings(config)
    archive = Archive(file or settings.data_dir / "alerts.sqlite3")
    options = _options(settings, group or "newsmon-archive", from_beginning, max_messages, idle_timeout)
    count = consume(options, archive.add)
    _report(f"archive ({archive.path}, {archive.count()} rows)", count)


@archive_app.command("query")
def _archive_query(
    config: ConfigOption = None,
    file: Annotated[Path | None, typer.Option(help="The archive (default: <data_dir>/alerts.sqlite3).")] = None,
    seed: Annotated[str | None, typer.Option(help="Only this seed (its id, as 'newsmon seeds list' shows).")] = None,
    topic: Annotated[str | None, typer.Option(help="Only this topic: its id or its name.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Published since: a span back from now (7d, 36h) or a date (2026-11-20).")
    ] = None,
    text: Annotated[str | None, typer.Option(help="Title contains this text.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Archived alerts, newest first, filtered by seed, topic, date and title text."""
    from dataclasses import asdict

    from consumers.archive import Archive

    path = file or load_settings(config).data_dir / "alerts.sqlite3"
    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist: run 'newsmon consume archive' first", param_hint="--file")
    archive = Archive(path)
    rows = archive.query(seed=seed, topic=topic, since=_since(since), text=text, limit=limit)
    if as_json:
        sys.stdout.writelines(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in rows)
        return
    if not rows:
        err.print(f"no alerts match (the archive holds {archive.count()})")
        return
    table = Table("published (UTC)", "seed", "relevance", "topic", "title", "source")
    table.add_column("link", overflow="fold")
    for r in rows:
        published = r.published[:16].replace("T", " ")
        cells = (published, r.seed, f"{r.relevance:.2f}", r.topic_name, r.title, r.source, r.url)
        table.add_row(*(escape(c) for c in cells))  # a title's [brackets] are text, not markup
    console.print(table)


def _since(text: str | None) -> str | None:
    """``--since`` as the archive's published text (UTC ISO, ``Z``), or a usage error saying what it accepts."""
    from datetime import UTC, datetime

    from newsmon.messages import utc_text
    from newsmon.timespan import parse_since

    if text is None:
        return None
    try:
        return utc_text(parse_since(text, datetime.now(UTC)).replace(microsecond=0))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
