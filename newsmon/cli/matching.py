"""``newsmon eval``, ``train`` and ``calibrate``: labelled headlines through the production scorer. The commands
parse, call ``models.assessment`` and render; the figures are computed there."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from newsmon.cli.common import ConfigOption, console, err, settings_of
from newsmon.config import Settings
from newsmon.errors import NewsmonError

if TYPE_CHECKING:
    from models.assessment import LabelledRun, ThresholdProposal
    from models.scoring import Scorer

__all__ = ["calibrate", "evaluate", "train"]


SeedOption = Annotated[
    str | None, typer.Option("--seed", help="The seed the labels are about (if several): only it is scored.")
]
SeedsOption = Annotated[
    Path | None,
    typer.Option("--seeds", file_okay=False, exists=True, help="Seeds folder to use instead of the configured one."),
]


LabelledFile = Annotated[
    Path, typer.Argument(help="JSONL with 'title', optional 'summary', 'label' (2 core, 1 related, 0).", exists=True)
]
BackendOption = Annotated[
    str | None,
    typer.Option("--backend", help="Encoder backend: torch, onnx or onnx-int8 (default: the configured one)."),
]


def _labelled_run(
    file: Path, settings: Settings, seed: str | None = None, stream: bool | None = None
) -> tuple[LabelledRun, Scorer]:
    """Every labelled headline through the production scorer (only ``seed``'s, if named), with a progress bar;
    ``stream``: take the file as the stream whatever the current model reads (``run_labelled``)."""
    from models.assessment import file_sha256, run_labelled
    from newsmon.pipeline import build_scorer
    from newsmon.review import read_labelled

    headlines, unlabelled = read_labelled(file)
    if unlabelled:
        err.print(f"{file}: {unlabelled} line(s) still unlabelled, left out ('newsmon review label {file}')")
    with err.status(f"loading the model ({settings.model_backend})…"):
        scorer = build_scorer(settings)
    if seed is not None:
        scorer = scorer.only(scorer.seeds[_one_seed(scorer, seed)])
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("scoring", total=len(headlines))
        run = run_labelled(scorer, headlines, file_sha256(file), lambda n: progress.advance(task, n), stream)
    return run, scorer


def _with_backend(settings: Settings, backend: str | None) -> Settings:
    return settings.model_copy(update={"model_backend": backend}) if backend else settings


def _with_seeds(settings: Settings, seeds: Path | None) -> Settings:
    return settings.model_copy(update={"seeds_dir": seeds}) if seeds else settings


def evaluate(
    file: LabelledFile,
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with the figures.")] = False,
    backend: BackendOption = None,
    seed: SeedOption = None,
    seeds: SeedsOption = None,
    min_precision: Annotated[
        float, typer.Option(min=0, max=1, help="Precision the suggested margin must keep (lenient).")
    ] = 0.85,
) -> None:
    """Measure matching on labelled headlines with the production scorer, models and thresholds: precision (a
    hit on a 1 is not a false positive), recall of the 2s, F1, average precision, per-topic alerts. Where a
    seed's model learned from this same file, its figures are 5-fold cross-validated, and the report says so."""
    from models.assessment import evaluation_report

    settings = _with_seeds(_with_backend(settings_of(config), backend), seeds)
    run, scorer = _labelled_run(file, settings, seed)
    report = evaluation_report(run, scorer, min_precision)
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    _print_evaluation(report, min_precision)


def _print_evaluation(report: dict[str, object], min_precision: float) -> None:
    confirmed = report["confirmed_by"]
    backend = str(report["backend"])
    if isinstance(confirmed, dict):
        backend += f"; {confirmed['backend']} decides again within {confirmed['band']} of a threshold"
    console.print(
        f"{report['n']} headlines ({report['core']} core, {report['related']} related), "
        f"{report['model']} ({backend}), relevance thresholds as configured (median {report['threshold']})"
    )
    if report["cross_validated"]:
        console.print(
            f"[yellow]the relevance model of {', '.join(report['cross_validated'])} learned from this file: "  # type: ignore[arg-type]
            "figures are 5-fold cross-validated (each headline scored by a model that never saw it)[/]"
        )
    table = Table("precision", "recall (core)", "F1", "average precision", "AP, 1s as negatives", "alerts")
    table.add_row(
        f"{report['precision']:.3f}",
        f"{report['recall']:.3f}",
        f"{report['f1']:.3f}",
        f"{report['average_precision']:.3f}",
        f"{report['average_precision_strict']:.3f}",
        str(report["hits"]),
    )
    console.print(table)
    console.print(f"best recall at precision ≥ {min_precision}: {report['recall_at_precision']:.3f}")
    suggested = report["suggested"]
    if isinstance(suggested, dict):
        console.print(
            f"suggested: shift every threshold by {suggested['threshold']:+.3f} for precision "
            f"{suggested['precision']:.3f} at recall {suggested['recall']:.3f} ('newsmon calibrate' sets them)"
        )
    else:
        console.print(f"[yellow]no threshold reaches precision {min_precision}[/]")
    topics = Table("seed/topic", "alerts", "core", "related", "not relevant", title="per deciding topic")
    for topic_id, counts in report["topics"].items():  # type: ignore[attr-defined]
        topics.add_row(topic_id, *(str(counts[k]) for k in ("hits", "core", "related", "not")))
    console.print(topics)


def _one_seed(scorer: Scorer, seed: str | None) -> int:
    """The index of the seed a labelled file is about: named, or the only one."""
    names = [ts.seed for ts in scorer.topic_sets]
    if seed is None and len(names) == 1:
        return 0
    if seed in names:
        return names.index(seed)
    raise NewsmonError(f"name the seed these labels are for with --seed (one of {', '.join(names)})")


def train(
    file: LabelledFile,
    config: ConfigOption = None,
    seed: SeedOption = None,
    seeds: SeedsOption = None,
    c: Annotated[
        float | None,
        typer.Option(
            "--c",
            min=0.001,
            help="Inverse regularisation strength (smaller: simpler model); default: each model family's own.",
        ),
    ] = None,
) -> None:
    """Learn a seed's relevance model from an analyst's labels (e.g. feedback on past alerts) and write it to
    seeds/<seed>.model.json; prints its 5-fold cross-validated figures first."""
    from models.assessment import train_relevance
    from models.relevance import model_path, save_model

    settings = _with_seeds(settings_of(config), seeds)
    run, scorer = _labelled_run(file, settings, seed, stream=True)  # the neighbours family reads seed.stream
    index = _one_seed(scorer, seed)
    model, figures = train_relevance(run, scorer, index, file, c)
    target = model_path(settings.seeds_dir, scorer.topic_sets[index].seed)
    save_model(model, target)
    family = model.training.family if model.training else "?"
    kind = f"{family} model with a title probe" if model.probe else f"{family} model"
    measured = "5-fold cross-validated"
    if family == "transfer" and model.training is not None:
        measured = "on these labels (its weights fitted to none of them, each measured without itself):"
        kind = "the transfer model, its core labels counting as stream picks: these rank it above any fit to them"
        if len(model.training.families) == 1:
            kind = (
                f"the transfer model, its core labels counting as stream picks: {model.training.core} core labels "
                "are too few to fit one; label more"
            )

    console.print(
        f"wrote {target}: {len(model.features)} features from {len(run.labels)} labels; {measured} "
        f"average precision {figures['average_precision']:.3f}, recall at precision 0.85 "
        f"{figures['recall_at_precision_0.85']:.3f} ({kind}). "
        f"Next: 'newsmon calibrate {file}' to set thresholds."
    )


def calibrate(
    file: LabelledFile,
    config: ConfigOption = None,
    seed: SeedOption = None,
    seeds: SeedsOption = None,
    precision: Annotated[float, typer.Option(min=0.01, max=1, help="Target lenient precision per topic.")] = 0.85,
    min_support: Annotated[
        int, typer.Option(min=1, help="Headlines a topic must decide to get its own threshold.")
    ] = 25,
    write: Annotated[bool, typer.Option("--write", help="Write the proposed thresholds into the topics file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the proposal as JSON.")] = False,
) -> None:
    """Propose per-topic relevance thresholds that keep precision at the target on labelled headlines
    (cross-validated where the model learned from the file); --write puts them in the topics file."""
    import json

    from models.assessment import propose_thresholds
    from models.topics import topics_path, write_thresholds

    settings = _with_seeds(settings_of(config), seeds)
    run, scorer = _labelled_run(file, settings, seed)
    index = _one_seed(scorer, seed)
    topic_set = scorer.topic_sets[index]
    current = {t.id: t.threshold for t in topic_set.topics}
    shared, proposals = propose_thresholds(run.seeds[index], run.labels, current, precision, min_support)
    if as_json:
        sys.stdout.write(json.dumps({"seed_threshold": shared, "topics": [p.as_dict() for p in proposals]}) + "\n")
    else:
        _print_proposals(proposals, shared, precision, run.seeds[index].cross_validated)
    if shared is None:
        raise NewsmonError(f"no threshold reaches precision {precision} on {file}; nothing written")
    if write:
        target = topics_path(settings.seeds_dir / f"{topic_set.seed}.txt")
        write_thresholds(target, {p.topic_id: p.proposed for p in proposals})
        err.print(f"wrote {len(proposals)} thresholds into {target}")


def _print_proposals(proposals: list[ThresholdProposal], shared: float | None, target: float, cv: bool) -> None:
    table = Table("topic", "current", "proposed", "decides", "precision", "recall (core)", "basis")
    for p in proposals:
        table.add_row(
            p.topic_id,
            f"{p.current:.3f}",
            f"{p.proposed:.3f}",
            str(p.support),
            f"{p.precision:.3f}",
            f"{p.recall:.3f}",
            "own labels" if p.own else "seed-wide",
        )
    console.print(table)
    basis = "cross-validated relevance" if cv else "relevance"
    console.print(f"seed-wide threshold for precision ≥ {target}: {shared} ({basis})")
