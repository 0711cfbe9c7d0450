"""The ``newsmon`` command: a thin shell over the library. Each command parses its options, calls the core,
and renders the result; a NewsmonError becomes a readable message and exit code 1.

Heavy parts (torch, Prefect, Kafka clients) are imported inside the commands that need them.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from consumers.commands import archive_app, consume_app
from newsmon.config import Settings, load_settings
from newsmon.errors import NewsmonError

if TYPE_CHECKING:
    from models.assessment import LabelledRun, ThresholdProposal
    from models.scoring import Scorer
    from newsmon.story import Story

__all__ = ["app", "main"]

app = typer.Typer(
    help="Watch news feeds for stories about your seed articles and stream matches to Kafka.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
seeds_app = typer.Typer(help="Seed articles and their topics files.", no_args_is_help=True)
kafka_app = typer.Typer(
    help="The local Apache Kafka broker (used when NEWSMON_KAFKA_BOOTSTRAP is unset).", no_args_is_help=True
)
feeds_app = typer.Typer(help="The feeds being watched and their health.", no_args_is_help=True)
review_app = typer.Typer(
    help="Analyst feedback: export scored stories to a file, label them, then 'newsmon train' on it.",
    no_args_is_help=True,
)
app.add_typer(seeds_app, name="seeds")
app.add_typer(kafka_app, name="kafka")
app.add_typer(feeds_app, name="feeds")
app.add_typer(review_app, name="review")
app.add_typer(consume_app, name="consume")
app.add_typer(archive_app, name="archive")

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (feeds and settings).", exists=True, dir_okay=False),
]


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


def _prefect_environment(settings: Settings) -> None:
    """Prefect's settings for a newsmon process, set before Prefect is first imported (it reads them once):
    its home (run records, the temporary API's database) under newsmon's data dir unless PREFECT_HOME says
    otherwise; no telemetry (it also races the temporary API's database); and time for that API's cold first
    start (imports and database migrations take over 20 s on 2 cores)."""
    home = Path(os.environ.setdefault("PREFECT_HOME", str(settings.prefect_home))).expanduser()
    home.mkdir(parents=True, exist_ok=True)  # Prefect makes only the last folder of it
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


@contextmanager
def _stop_on_signals() -> Iterator[list[int]]:
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


def _stopped(received: list[int]) -> str:
    name = signal.Signals(received[-1]).name if received else "SIGINT"
    return f"stopped by {name}; stories an interrupted cycle fetched stay pending for the next cycle"


def _check_seeds(settings: Settings) -> None:
    """Refuse to start a service on broken topics or model files; say which seed articles have no topics."""
    from models.relevance import load_seed_models
    from models.topics import load_seed_topics, seeds_without_topics

    load_seed_models(settings.seeds_dir, load_seed_topics(settings.seeds_dir))
    for article in seeds_without_topics(settings.seeds_dir):
        err.print(
            f"[yellow]seed article {article} has no topics file, so nothing is matched against it: run "
            "'newsmon seeds build'[/]"
        )


def _one_cycle(config: Path | None, due_only: bool, keep_going: bool) -> None:
    """One monitoring cycle as a flow run, its summary printed. With ``keep_going`` a failed cycle is reported
    and survived (a service must outlive a Kafka outage or a broken topics file); otherwise it is raised."""
    from flows.monitor import monitor_cycle

    try:
        result = monitor_cycle(config_file=str(config.resolve()) if config else None, due_only=due_only)
    except Exception as exc:  # a cycle's failure must never end the service: report it, retry next cycle
        if not keep_going:
            raise
        reason = str(exc) if isinstance(exc, NewsmonError) else f"{type(exc).__name__}: {exc}"
        err.print(f"[red]cycle failed: {escape(reason)}[/] — the next cycle retries")
    else:
        console.print(f"[bold]{escape(str(result['summary']))}[/]")


def _serve_here(config: Path | None, interval: float, due_only: bool) -> None:
    """Cycles every ``interval`` seconds in this process until SIGTERM or Ctrl-C."""
    import time

    from flows.serve import run_on_schedule

    def waiting(at: float) -> None:
        console.print(f"[dim]next cycle at {time.strftime('%H:%M:%S', time.localtime(at))}[/]")

    with _stop_on_signals() as received:
        try:
            run_on_schedule(lambda: _one_cycle(config, due_only, keep_going=True), interval, on_wait=waiting)
        except KeyboardInterrupt:
            console.print(_stopped(received))


@app.command()
def run(
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit (else repeat every interval).")] = False,
    due_only: Annotated[bool, typer.Option("--due-only", help="Poll only feeds whose interval has passed.")] = False,
) -> None:
    """Run the monitor in the foreground: fetch, match, deliver to Kafka. Without --once, a cycle every
    poll_interval_seconds in this process until SIGTERM or Ctrl-C (feeds are polled when due)."""
    settings = _settings(config)
    _prefect_environment(settings)
    if not once:
        _check_seeds(settings)
        _serve_here(config, settings.poll_interval_seconds, due_only=True)
        return
    with _stop_on_signals() as received:
        try:
            _one_cycle(config, due_only, keep_going=False)
        except KeyboardInterrupt:
            err.print(_stopped(received))
            raise typer.Exit(128 + (received[-1] if received else signal.SIGINT)) from None


@app.command()
def serve(
    config: ConfigOption = None,
    interval: Annotated[
        int | None, typer.Option(min=10, help="Seconds between cycles (default: poll_interval_seconds).")
    ] = None,
    name: Annotated[str, typer.Option(help="Deployment name (with a Prefect server).")] = "newsmon",
) -> None:
    """Run the monitor unattended, a cycle every interval, until SIGTERM or Ctrl-C. With PREFECT_API_URL set,
    the flow is served as a deployment on that Prefect server (its scheduler creates the runs, the Prefect UI
    shows them); without, the schedule runs in this process on Prefect's temporary API."""
    settings = _settings(config)
    _prefect_environment(settings)
    _check_seeds(settings)
    every = interval or settings.poll_interval_seconds
    from flows.serve import prefect_api_url, serve_deployment

    api = prefect_api_url()
    if api is None:
        console.print(
            f"serving newsmon: a cycle every {every} s in this process (no PREFECT_API_URL: Prefect's temporary "
            f"API records the runs in {os.environ['PREFECT_HOME']}). SIGTERM or Ctrl-C stops."
        )
        _serve_here(config, every, due_only=True)
        return
    console.print(f"serving deployment newsmon-monitor/{name} on {api}, every {every} s. SIGTERM or Ctrl-C stops.")
    serve_deployment(str(config.resolve()) if config else None, every, name)
    console.print("stopped; stories an interrupted cycle fetched stay pending for the next cycle")


@app.command()
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

    settings = _settings(config)
    try:
        when = parse_since(since, datetime.now(UTC))
    except ValueError as exc:
        raise NewsmonError(f"--since: {exc}") from None
    _prefect_environment(settings)
    from flows.replay import replay_stories

    with _stop_on_signals() as received:
        try:
            result = replay_stories(config_file=str(config.resolve()) if config else None, since=when, seed=seed)
        except KeyboardInterrupt:
            err.print(
                f"stopped by {signal.Signals(received[-1]).name if received else 'SIGINT'}; run it again to finish"
            )
            raise typer.Exit(128 + (received[-1] if received else signal.SIGINT)) from None
    console.print(f"[bold]{escape(str(result['summary']))}[/]")


@app.command()
def tail(
    config: ConfigOption = None,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start at the oldest alert when the group has no offset.")
    ] = False,
    max_messages: Annotated[int | None, typer.Option("--max", min=1, help="Exit after N alerts.")] = None,
    idle_timeout: Annotated[
        float | None, typer.Option("--idle-timeout", min=0, help="Exit once nothing arrived for SECONDS.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print each message exactly as published.")] = False,
    group: Annotated[str | None, typer.Option(help="Consumer group (default: a new one per run).")] = None,
) -> None:
    """Print alerts from the matches topic as they arrive (the same as 'newsmon consume tail')."""
    from consumers.commands import run_tail

    run_tail(config, group, from_beginning, max_messages, idle_timeout, as_json)


LabelledFile = Annotated[
    Path, typer.Argument(help="JSONL with 'title', optional 'summary', 'label' (2 core, 1 related, 0).", exists=True)
]
BackendOption = Annotated[
    str | None,
    typer.Option("--backend", help="Encoder backend: torch, onnx or onnx-int8 (default: the configured one)."),
]


def _labelled_run(file: Path, settings: Settings) -> tuple[LabelledRun, Scorer]:
    """Every labelled headline through the production scorer, with a progress bar."""
    from models.assessment import file_sha256, run_labelled
    from models.evaluation import read_labelled
    from newsmon.pipeline import build_scorer

    headlines, unlabelled = read_labelled(file)
    if unlabelled:
        err.print(f"{file}: {unlabelled} line(s) still unlabelled, left out ('newsmon review label {file}')")
    with err.status(f"loading the model ({settings.model_backend})…"):
        scorer = build_scorer(settings)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("scoring", total=len(headlines))
        run = run_labelled(scorer, headlines, file_sha256(file), lambda n: progress.advance(task, n))
    return run, scorer


def _with_backend(settings: Settings, backend: str | None) -> Settings:
    return settings.model_copy(update={"model_backend": backend}) if backend else settings


@app.command("eval")
def evaluate(
    file: LabelledFile,
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with the figures.")] = False,
    backend: BackendOption = None,
    min_precision: Annotated[
        float, typer.Option(min=0, max=1, help="Precision the suggested margin must keep (lenient).")
    ] = 0.85,
) -> None:
    """Measure matching on labelled headlines with the production scorer, models and thresholds: precision (a
    hit on a 1 is not a false positive), recall of the 2s, F1, average precision, per-topic alerts. Where a
    seed's model learned from this same file, its figures are 5-fold cross-validated, and the report says so."""
    import json
    import statistics

    from models.assessment import recall_at_precision
    from models.evaluation import metrics, suggest_margin

    settings = _with_backend(_settings(config), backend)
    run, scorer = _labelled_run(file, settings)
    margins = run.margins
    found = metrics(run.labels, margins)
    suggested = suggest_margin(run.labels, margins, min_precision)
    applied = [s.thresholds for s in run.seeds]
    report: dict[str, object] = {
        **found.as_dict(),
        "threshold": round(statistics.median(t for per_seed in applied for t in per_seed), 4),
        "thresholds": {f"{ts.seed}/{t.id}": t.threshold for ts in scorer.topic_sets for t in ts.topics},
        "model": scorer.encoder.name,
        "backend": scorer.encoder.backend,
        "cross_validated": [s.seed for s in run.seeds if s.cross_validated],
        "recall_at_precision": round(recall_at_precision(run.labels, margins, min_precision), 4),
        "min_precision": min_precision,
        "suggested": suggested.as_dict() if suggested else None,
        "topics": _per_topic(run),
    }
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    _print_evaluation(report, min_precision)


def _per_topic(run: LabelledRun) -> dict[str, dict[str, int]]:
    """Per deciding topic: alerts, and how many of them were core, related, not relevant."""
    table: dict[str, dict[str, int]] = {}
    for seed in run.seeds:
        for label, topic, margin in zip(run.labels, seed.topics, seed.margins, strict=True):
            counts = table.setdefault(f"{seed.seed}/{topic}", {"hits": 0, "core": 0, "related": 0, "not": 0})
            if margin >= 0:
                counts["hits"] += 1
                counts[("not", "related", "core")[label]] += 1
    return table


def _print_evaluation(report: dict[str, object], min_precision: float) -> None:
    console.print(
        f"{report['n']} headlines ({report['core']} core, {report['related']} related), "
        f"{report['model']} ({report['backend']}), relevance thresholds as configured (median {report['threshold']})"
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


SeedOption = Annotated[str | None, typer.Option("--seed", help="The seed the labels are about (if several).")]


@app.command()
def train(
    file: LabelledFile,
    config: ConfigOption = None,
    seed: SeedOption = None,
    c: Annotated[
        float, typer.Option("--c", min=0.001, help="Inverse regularisation strength (smaller: simpler model).")
    ] = 0.1,
) -> None:
    """Learn a seed's relevance model from an analyst's labels (e.g. feedback on past alerts) and write it to
    seeds/<seed>.model.json; prints its 5-fold cross-validated figures first."""
    import dataclasses

    from models.assessment import average_precision_of, file_sha256, recall_at_precision
    from models.relevance import cross_validated, feature_names, model_path, save_model
    from models.relevance import train as fit

    settings = _settings(config)
    run, scorer = _labelled_run(file, settings)
    index = _one_seed(scorer, seed)
    seed_run, topic_set = run.seeds[index], scorer.topic_sets[index]
    probabilities = [float(p) for p in cross_validated(seed_run.values, run.labels, feature_names(topic_set), c=c)]
    cv = dataclasses.replace(seed_run, relevance=probabilities)
    figures = {
        "average_precision": round(average_precision_of(cv, run.labels), 4),
        "recall_at_precision_0.85": round(recall_at_precision(run.labels, probabilities, 0.85), 4),
    }
    info = {
        "file": file.name,
        "sha256": file_sha256(file),
        "n": len(run.labels),
        "core": run.labels.count(2),
        "c": c,
        "cross_validated": figures,
    }
    model = fit(topic_set, seed_run.values, run.labels, c=c, info=info)
    target = model_path(settings.seeds_dir, topic_set.seed)
    save_model(model, target)
    console.print(
        f"wrote {target}: {len(model.features)} features from {len(run.labels)} labels; 5-fold cross-validated "
        f"average precision {figures['average_precision']:.3f}, recall at precision 0.85 "
        f"{figures['recall_at_precision_0.85']:.3f}. Next: 'newsmon calibrate {file}' to set thresholds."
    )


@app.command()
def calibrate(
    file: LabelledFile,
    config: ConfigOption = None,
    seed: SeedOption = None,
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

    settings = _settings(config)
    run, scorer = _labelled_run(file, settings)
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


@review_app.command("export")
def review_export(
    file: Annotated[Path, typer.Argument(help="JSONL file to write; each line's label is left null.", dir_okay=False)],
    config: ConfigOption = None,
    seed: Annotated[str | None, typer.Option("--seed", help="Only this seed's scores (default: every seed).")] = None,
    days: Annotated[float, typer.Option(min=0, help="Stories scored in the last DAYS.")] = 7,
    near_misses: Annotated[int, typer.Option(min=0, help="The non-alerts closest below their threshold.")] = 50,
    sample: Annotated[int, typer.Option(min=0, help="Drawn at random from the other stories.")] = 25,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE (it may hold labels).")] = False,
) -> None:
    """Write recently scored stories to FILE for labelling: every alert, the near misses, and a random sample of
    the rest (labels on alerts alone never show what the monitor missed)."""
    from datetime import UTC, datetime, timedelta

    from newsmon.review import select_for_review, write_review_file
    from newsmon.state import StateStore

    settings = _settings(config)
    if file.exists() and not force:
        raise NewsmonError(f"{file} exists and may hold labels: choose another name, or pass --force")
    if not settings.state_db.exists():
        raise NewsmonError(f"nothing scored yet ({settings.state_db} does not exist): run 'newsmon run' first")
    scored = StateStore(settings.state_db).scored(datetime.now(UTC) - timedelta(days=days), seed)
    if not scored:
        raise NewsmonError(f"no story was scored in the last {days:g} day(s){f' for seed {seed!r}' if seed else ''}")
    selected = select_for_review(scored, near_misses, sample)
    write_review_file(file, selected)
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


@review_app.command("label")
def review_label(
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


@seeds_app.command("build")
def seeds_build(
    config: ConfigOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing (hand-edited) topics files.")] = False,
    max_topics: Annotated[int, typer.Option(min=1, max=20, help="Topics per seed at most.")] = 6,
) -> None:
    """Derive topics files (seeds/<slug>.topics.yaml) from the seed articles."""
    from models.encoder import load_encoder
    from models.seeding import build_topic_set
    from models.topics import save_topics, topics_path

    settings = _settings(config)
    articles = sorted([*settings.seeds_dir.glob("*.txt"), *settings.seeds_dir.glob("*.md")])
    if not articles:
        raise NewsmonError(f"no seed articles (*.txt, *.md) in {settings.seeds_dir}")
    encoder = None
    for article in articles:
        target = topics_path(article)
        if target.exists() and not force:
            console.print(f"kept {target} (exists; --force regenerates it)")
            continue
        encoder = encoder or load_encoder(settings.model_backend, settings.model_cache_dir)
        topic_set = build_topic_set(article.stem, article.read_text(encoding="utf-8"), encoder, max_topics)
        save_topics(
            topic_set,
            target,
            header=f"# Generated from {article.name} by 'newsmon seeds build'. "
            "Edit freely: this file is what newsmon matches against.\n",
        )
        console.print(f"wrote {target}: {len(topic_set.topics)} topics")


@seeds_app.command("list")
def seeds_list(config: ConfigOption = None) -> None:
    """Show each seed's topics (thresholds, exemplars, exclusions, keywords) and which relevance model it uses."""
    from models.relevance import load_seed_models
    from models.topics import load_seed_topics, seeds_without_topics

    seeds_dir = _settings(config).seeds_dir
    for article in seeds_without_topics(seeds_dir):
        err.print(f"[yellow]{article} has no topics file, so nothing is matched against it: 'newsmon seeds build'[/]")
    topic_sets = load_seed_topics(seeds_dir)
    models, warnings = load_seed_models(seeds_dir, topic_sets)
    table = Table("seed", "topic", "threshold", "exemplars", "exclusions", "keywords")
    for topic_set in topic_sets:
        for topic in topic_set.topics:
            table.add_row(
                topic_set.seed,
                topic.name,
                f"{topic.threshold:.3f}",
                str(len(topic.exemplars)),
                str(len(topic.exclusions)),
                ", ".join(topic.keywords),
            )
    console.print(table)
    for seed, model in models.items():
        trained = model.training
        console.print(
            f"{seed}: relevance model learned from {trained.file} ({trained.n} labels, {trained.core} core)"
            if trained
            else f"{seed}: prior relevance model (no labels yet: 'newsmon train FILE.jsonl' learns one)"
        )
    for warning in warnings:
        err.print(f"[yellow]{warning}[/]")


@kafka_app.command("start")
def kafka_start(config: ConfigOption = None) -> None:
    """Download Kafka's jars on first use, format storage, start the broker and wait until it answers."""
    from newsmon.kafka_io import local_kafka

    broker = local_kafka(_settings(config))
    with console.status("starting Apache Kafka (first use downloads its jars with Maven)…"):
        bootstrap = broker.start()
    console.print(f"Kafka is up at {bootstrap} (data in {broker.data_dir})")


@kafka_app.command("stop")
def kafka_stop(config: ConfigOption = None) -> None:
    """Stop the local broker cleanly (its data stays)."""
    from newsmon.kafka_io import local_kafka

    broker = local_kafka(_settings(config))
    with console.status("stopping Apache Kafka…"):
        broker.stop()
    console.print("Kafka stopped")


@kafka_app.command("status")
def kafka_status(config: ConfigOption = None) -> None:
    """Say whether the local broker runs, on which port, with which data dir."""
    from newsmon.kafka_io import local_kafka

    settings = _settings(config)
    if settings.kafka_bootstrap:
        console.print(f"using the configured broker {settings.kafka_bootstrap} (NEWSMON_KAFKA_BOOTSTRAP)")
    broker = local_kafka(settings)
    for node in broker.status():
        state = f"running (pid {node.pid})" if node.running else "stopped"
        console.print(f"local Kafka node {node.node_id} on 127.0.0.1:{node.port}: {state}; data in {broker.data_dir}")
    if not all(n.running for n in broker.status()):
        raise typer.Exit(3)


def _utc_minute(timestamp: float | None, never: str = "never") -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M") if timestamp else never


@feeds_app.command("status")
def feeds_status(config: ConfigOption = None) -> None:
    """A table of every polled feed: last status, last success, failures, items, share of 304s, next poll,
    last error (and whether it moved or was disabled)."""
    from newsmon.state import StateStore

    table = Table(
        "feed", "status", "last success (UTC)", "failures", "items", "304s", "next poll (UTC)", "last error / note"
    )
    for health in StateStore(_settings(config).state_db).feed_health():
        share = f"{health.not_modified / health.fetches:.0%}" if health.fetches else "-"
        note = health.last_error or ""
        if health.disabled:
            note = f"disabled: {health.disabled} (change its url to poll again)"
        elif health.fetch_url:
            note = f"moved to {health.fetch_url}" + (f"; {note}" if note else "")
        table.add_row(
            health.feed_id,
            str(health.last_status or "-"),
            _utc_minute(health.last_success),
            str(health.failures),
            str(health.items),
            share,
            "-" if health.disabled else _utc_minute(health.next_due, "now"),
            note[:80],
        )
    console.print(table)


@feeds_app.command("list")
def feeds_list(config: ConfigOption = None) -> None:
    """The configured feeds (config file and feeds file): id, name, interval, tags, url."""
    from newsmon.feedlist import configured_feeds

    table = Table("id", "name", "every", "tags", "enabled", "url")
    for feed in configured_feeds(_settings(config)):
        table.add_row(
            feed.id,
            feed.name,
            f"{feed.interval_seconds}s",
            ", ".join(feed.tags),
            "yes" if feed.enabled else "no",
            feed.url,
        )
    console.print(table)


@feeds_app.command("import")
def feeds_import(
    opml: Annotated[Path, typer.Argument(help="OPML file exported by a feed reader.", exists=True, dir_okay=False)],
    config: ConfigOption = None,
    to: Annotated[
        Path | None, typer.Option("--to", help="Feeds file to add to (default: the config's feeds_file).")
    ] = None,
) -> None:
    """Add the feeds of an OPML file to a feeds file (feeds whose URL is already there are skipped)."""
    from newsmon.feedlist import load_feeds, merge_feeds, read_opml, save_feeds

    settings = _settings(config)
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


@feeds_app.command("export")
def feeds_export(
    config: ConfigOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Print the configured feeds as OPML 2.0 (tags as categories), for any feed reader to import."""
    from newsmon.feedlist import configured_feeds, write_opml

    document = write_opml(configured_feeds(_settings(config)))
    if output is None:
        sys.stdout.write(document)
    else:
        output.write_text(document, encoding="utf-8")
        err.print(f"wrote {output}")


@app.command()
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
    from newsmon.messages import story_json
    from newsmon.netguard import NetworkPolicy
    from newsmon.pipeline import fetch_feeds, parse_results

    settings = _settings(config)
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
            body["stories"] = [story_json(s) for s in stories]
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


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning newsmon's errors into a message and exit code 1."""
    try:
        code = app(args=argv, standalone_mode=False)  # click returns an Exit's code instead of raising it
        if isinstance(code, int) and code:
            sys.exit(code)
    except NewsmonError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        raise
