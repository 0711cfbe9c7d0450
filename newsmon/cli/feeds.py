"""``newsmon feeds`` (the feeds watched and their health, OPML in and out) and ``newsmon fetch`` (one feed
through the production path)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from newsmon.cli.common import ConfigOption, console, err, settings_of, utc_minute
from newsmon.errors import NewsmonError

if TYPE_CHECKING:
    from newsmon.story import Story

__all__ = ["app", "export", "fetch", "import_opml", "list_feeds", "status"]

app = typer.Typer(help="The feeds being watched and their health.", no_args_is_help=True)


@app.command("status")
def status(config: ConfigOption = None) -> None:
    """A table of every feed, configured or polled before: last status, last success, failures, items, share
    of 304s, next poll, and the whole last error (or whether it moved or was disabled)."""
    from rich.markup import escape

    from newsmon.feedlist import configured_feeds
    from newsmon.store import open_store

    settings = settings_of(config)
    rows = open_store(settings).feed_rows()
    table = Table("feed", "status", "last success (UTC)", "failures", "items", "304s", "next poll (UTC)")
    table.add_column("last error / note", overflow="fold")  # wrapped, never cut: the fix is often at its end
    for health in rows.values():
        share = f"{health.not_modified / health.fetches:.0%}" if health.fetches else "-"
        note = health.last_error or ""
        if health.disabled:
            note = f"disabled: {health.disabled} (change its url to poll again)"
        elif health.fetch_url:
            note = f"moved to {health.fetch_url}" + (f"; {note}" if note else "")
        table.add_row(
            health.feed_id,
            str(health.last_status or "-"),
            utc_minute(health.last_success),
            str(health.failures),
            str(health.items),
            share,
            "-" if health.disabled else utc_minute(health.next_due, "now"),
            escape(note),
        )
    for feed in configured_feeds(settings):
        if feed.id not in rows:
            table.add_row(feed.id, "-", "-", "0", "0", "-", "now", "not polled yet")
    console.print(table)


@app.command("list")
def list_feeds(config: ConfigOption = None) -> None:
    """The configured feeds (config file and feeds file): id, name, interval, tags, url."""
    from newsmon.feedlist import configured_feeds

    table = Table("id", "name", "every", "tags", "enabled", "url")
    for feed in configured_feeds(settings_of(config)):
        table.add_row(
            feed.id,
            feed.name,
            f"{feed.interval_seconds}s",
            ", ".join(feed.tags),
            "yes" if feed.enabled else "no",
            feed.url,
        )
    console.print(table)


@app.command("import")
def import_opml(
    opml: Annotated[Path, typer.Argument(help="OPML file exported by a feed reader.", exists=True, dir_okay=False)],
    config: ConfigOption = None,
    to: Annotated[
        Path | None, typer.Option("--to", help="Feeds file to add to (default: the config's feeds_file).")
    ] = None,
) -> None:
    """Add the feeds of an OPML file to a feeds file (feeds whose URL is already there are skipped)."""
    from newsmon.feedlist import load_feeds, merge_feeds, read_opml, save_feeds

    settings = settings_of(config)
    target = to or settings.feeds_file
    if target is None:
        raise NewsmonError("say where to write the feeds: --to FEEDS.yaml (or set feeds_file in the config)")
    existing = load_feeds(target) if target.exists() else ()
    incoming, skipped = read_opml(opml.read_bytes(), source=str(opml))
    merged, added = merge_feeds(existing, incoming)
    save_feeds(target, merged)
    console.print(f"{added} feed(s) added, {len(incoming) - added} already there; {len(merged)} in {target}")
    for url in skipped:
        err.print(f"[yellow]skipped[/] {url}: only http:// and https:// feeds are polled")
    if to is not None and settings.feeds_file != target:
        err.print(f"[dim]poll them with feeds_file: {target} in your config, or NEWSMON_FEEDS_FILE={target}[/]")


@app.command("export")
def export(
    config: ConfigOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Print the configured feeds as OPML 2.0 (tags as categories), for any feed reader to import."""
    from newsmon.feedlist import configured_feeds, write_opml

    document = write_opml(configured_feeds(settings_of(config)))
    if output is None:
        sys.stdout.write(document)
    else:
        output.write_text(document, encoding="utf-8")
        err.print(f"wrote {output}")


def fetch(
    url: Annotated[str, typer.Argument(help="The feed's http(s) URL.")],
    config: ConfigOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: status and stories, or the error.")
    ] = False,
    allow_network: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-network", metavar="CIDR", help="Also allow this network past the SSRF guard (repeatable)."
        ),
    ] = None,
) -> None:
    """Run one feed through the production path (guarded fetch, parse worker, normalise) and print its stories."""
    import json

    from newsmon.fetch import FetchRequest
    from newsmon.messages import StoryPart
    from newsmon.netguard import NetworkPolicy
    from newsmon.pipeline import fetch_feeds, parse_results

    settings = settings_of(config)
    try:
        NetworkPolicy.from_cidrs(allow_network or [])
    except ValueError as exc:
        raise NewsmonError(str(exc)) from exc
    settings = settings.model_copy(
        update={"fetch_allow_networks": (*settings.fetch_allow_networks, *(allow_network or []))}
    )
    with err.status(f"fetching {url}…"):
        (result,) = fetch_feeds([FetchRequest("cli", url)], settings)
        stories, (outcome,) = parse_results([result], settings.parse_timeout_seconds)
    if as_json:
        body: dict[str, object] = {"url": url, "status": result.status, "final_url": result.final_url or None}
        if outcome.error_kind:
            body |= {"error_kind": outcome.error_kind, "error": outcome.error}
        else:
            body["stories"] = [StoryPart.of(s).to_json() for s in stories]
        sys.stdout.write(json.dumps(body, ensure_ascii=False) + "\n")
    elif not outcome.error_kind:
        _print_stories(stories, result.status)
    if outcome.error_kind:
        if not as_json:
            err.print(f"[bold red]error:[/] {outcome.error_kind}: {outcome.error}")
        raise typer.Exit(1)


def _print_stories(stories: list[Story], status: int | None) -> None:
    table = Table("published (UTC)", "lang", "title", "source", "link", title=f"HTTP {status}: {len(stories)} stories")
    for story in stories:
        table.add_row(f"{story.published:%Y-%m-%d %H:%M}", story.language or "-", story.title, story.source, story.url)
    console.print(table)
