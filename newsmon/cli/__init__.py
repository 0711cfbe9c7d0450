"""The ``newsmon`` command: a thin shell over the library, one module per command group. Each command parses its
options, calls the core, and renders the result; a NewsmonError becomes a readable message and exit code 1.

This package is the only part of ``newsmon`` that imports ``flows``, ``consumers`` or the CLI toolkit; heavy
parts (torch, Prefect, Kafka clients) are imported inside the commands that need them.
"""

from __future__ import annotations

import inspect
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape

from newsmon.cli import consume, feeds, kafka, matching, monitor, review, seeds
from newsmon.cli.common import err
from newsmon.errors import NewsmonError
from newsmon.logs import apply_log_policy

__all__ = ["app", "command", "main"]

app = typer.Typer(
    help="Watch news feeds for stories about your seed articles and stream matches to Kafka.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _everywhere(
    loud: Annotated[
        bool,
        typer.Option("--verbose", help="Show the libraries' own logs too (kafka-python, transformers, torch)."),
    ] = False,
) -> None:
    """Watch news feeds for stories about your seed articles and stream matches to Kafka."""
    apply_log_policy(loud)


app.command()(monitor.run)
app.command()(monitor.serve)
app.command()(monitor.replay)
app.command("tail", help="Print alerts as they arrive (the same as 'newsmon consume tail').")(consume.tail)
app.command("eval")(matching.evaluate)
app.command()(matching.train)
app.command()(matching.calibrate)
app.command()(feeds.fetch)
app.add_typer(seeds.app, name="seeds")
app.add_typer(kafka.app, name="kafka")
app.add_typer(feeds.app, name="feeds")
app.add_typer(review.app, name="review")
app.add_typer(consume.consume_app, name="consume")
app.add_typer(consume.archive_app, name="archive")


def _plain_help(cmd: Any) -> Any:
    """typer 0.29 labels every flag ``<bool>``, names arguments by their Python names (``{file}``) and keeps a
    docstring's line breaks in the commands list, splitting sentences. newsmon's help shows a flag bare, an
    argument in capitals (FILE, URL), and each paragraph as one flowing line, as click and most CLIs do."""
    if cmd.help:
        paragraphs = inspect.cleandoc(cmd.help).split("\n\n")
        cmd.help = "\n\n".join(" ".join(p.split()) for p in paragraphs)
    help_option = cmd.get_help_option(cmd.context_class(cmd))
    for param in [*cmd.params, *([help_option] if help_option else [])]:
        if param.param_type_name == "option" and param.is_flag and param.metavar is None:
            param.metavar = ""
        elif param.param_type_name == "argument" and param.metavar is None:
            param.metavar = (param.name or "value").upper()
    for sub in getattr(cmd, "commands", {}).values():
        _plain_help(sub)
    return cmd


def command() -> Any:
    """The click command tree behind ``newsmon``, with its help made plain."""
    return _plain_help(typer.main.get_command(app))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning newsmon's errors into a message and exit code 1."""
    try:
        # standalone_mode=False: click returns an Exit's code instead of raising it
        code = command().main(args=argv, prog_name="newsmon", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except NewsmonError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")  # a message's [brackets] are text, not markup
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors (a bad option, a missing file): the message, no traceback
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        sys.exit(getattr(exc, "exit_code", 2))
