"""``newsmon seeds``: build topics files from seed articles, and list the seeds' topics."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from newsmon.cli.common import ConfigOption, console, err, settings_of

__all__ = ["app", "build", "list_seeds"]

app = typer.Typer(help="Seed articles and their topics files.", no_args_is_help=True)


@app.command("build")
def build(
    config: ConfigOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing (hand-edited) topics files.")] = False,
    max_topics: Annotated[int, typer.Option(min=1, max=20, help="Topics per seed at most.")] = 6,
) -> None:
    """Derive topics files (seeds/<slug>.topics.yaml) from the seed articles."""
    from models.encoder import load_encoder
    from models.seeding import build_seeds

    settings = settings_of(config)
    for done in build_seeds(
        settings.seeds_dir, lambda: load_encoder(settings.model_backend, settings.model_cache_dir), max_topics, force
    ):
        if done.topics is None:
            console.print(f"kept {done.target} (exists; --force regenerates it)")
        else:
            console.print(f"wrote {done.target}: {done.topics} topics")


@app.command("list")
def list_seeds(config: ConfigOption = None) -> None:
    """Show each seed's topics (thresholds, exemplars, exclusions, keywords) and which relevance model it uses."""
    from models.relevance import load_seed_models
    from models.topics import load_seed_topics, seeds_without_topics

    seeds_dir = settings_of(config).seeds_dir
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
            else f"{seed}: the transfer model (no labels yet: 'newsmon train FILE.jsonl' learns one of its own)"
        )
    for warning in warnings:
        err.print(f"[yellow]{warning}[/]")
