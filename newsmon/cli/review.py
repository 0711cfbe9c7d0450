"""``newsmon review``: export recently scored stories to label, and label them one at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newsmon.cli.common import ConfigOption, console, err, settings_of
from newsmon.errors import NewsmonError

__all__ = ["app", "export", "label"]

app = typer.Typer(
    help="Analyst feedback: export scored stories to a file, label them, then 'newsmon train' on it.",
    no_args_is_help=True,
)


@app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="JSONL file to write; each line's label is left null.", dir_okay=False)],
    config: ConfigOption = None,
    seed: Annotated[str | None, typer.Option("--seed", help="Only this seed's scores (default: every seed).")] = None,
    days: Annotated[float, typer.Option(min=0, help="Stories scored in the last DAYS.")] = 7,
    near_misses: Annotated[int, typer.Option(min=0, help="The non-alerts closest below their threshold.")] = 50,
    sample: Annotated[int, typer.Option(min=0, help="Drawn at random from the other stories.")] = 25,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE (it may hold labels).")] = False,
) -> None:
    """Write recently scored stories to FILE for labelling: every alert, the near misses, and a random sample of
    the rest (labels on alerts alone never show what the monitor missed), those nearest their threshold first.
    A story already exported is never exported again."""
    from datetime import UTC, datetime, timedelta

    from newsmon.review import select_for_review, write_review_file
    from newsmon.store import open_store

    settings = settings_of(config)
    if file.exists() and not force:
        raise NewsmonError(f"{file} exists and may hold labels: choose another name, or pass --force")
    if not settings.shared_state and not settings.state_db.exists():
        raise NewsmonError(f"nothing scored yet ({settings.state_db} does not exist): run 'newsmon run' first")
    store = open_store(settings)
    scored = store.scored(datetime.now(UTC) - timedelta(days=days), seed, unexported=True)
    if not scored:
        raise NewsmonError(
            f"no story scored in the last {days:g} day(s){f' for seed {seed!r}' if seed else ''} "
            "that an earlier export did not already hold"
        )
    selected = select_for_review(scored, near_misses, sample)
    write_review_file(file, selected)
    store.mark_exported((story.story_id, story.seed) for _, story in selected)
    kinds = {why: sum(1 for w, _ in selected if w == why) for why in ("alert", "near miss", "sample")}
    console.print(
        f"wrote {len(selected)} stories to {file}: {kinds['alert']} alert(s), {kinds['near miss']} near miss(es), "
        f"{kinds['sample']} sampled from {len(scored) - kinds['alert'] - kinds['near miss']} other(s). "
        f"Next: 'newsmon review label {file}'."
    )


def _ask_label(row: dict[str, object], position: int, total: int) -> str:
    """Show one story and read a valid answer (2, 1, 0, s or q), asking again after anything else."""
    console.rule(
        f"{position}/{total} · {row.get('why', '')} · relevance {row.get('relevance', '?')} · {row.get('topic', '')}"
    )
    console.print(f"[bold]{row['title']}[/bold]")
    if row.get("summary"):
        console.print(str(row["summary"])[:400], style="dim")
    if row.get("url"):
        console.print(str(row["url"]), style="blue")
    while True:
        answer = str(typer.prompt("2 core · 1 related · 0 not relevant · s skip · q quit")).strip().lower()
        if answer in ("2", "1", "0", "s", "q"):
            return answer
        err.print(f"'{answer}' is not one of 2, 1, 0, s, q")


@app.command("label")
def label(
    file: Annotated[Path, typer.Argument(help="A file from 'newsmon review export'.", exists=True, dir_okay=False)],
) -> None:
    """Label FILE's unlabelled stories one at a time (2 core, 1 related, 0 not relevant). Every answer is saved
    at once, so q (or Ctrl-C) keeps what is done; run again to continue."""
    from newsmon.review import label_file

    try:
        counts = label_file(file, _ask_label)
    except typer.Abort:
        console.print("\nstopped; every answer so far is saved")
        return
    console.print(
        f"labelled {counts['labelled']}, skipped {counts['skipped']}, {counts['left']} left. Next: 'newsmon train "
        f"{file}' (to keep earlier labels too, train on both: cat old.jsonl {file} > all.jsonl)."
    )
