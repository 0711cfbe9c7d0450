"""The monitor flow: one poll cycle of DESIGN.md's data path, one Prefect task per stage (never per story).

The topics and models are loaded and checked before anything is fetched, so a broken topics file costs a
cycle nothing. Fetched stories are kept as pending in the same transaction that advances their feeds'
validators, then scored; a cycle that dies at any step leaves them to the next. Task retries sit on I/O only
(fetching, delivering). A failing feed is that feed's error, recorded in feed health; undelivered matches stay
in the outbox and fail the run loudly, to be delivered by the next cycle. A deployment's failed run is retried
once a minute later (a cycle is idempotent, and an outage's alerts then wait one minute, not one interval);
``newsmon run`` and ``serve`` without a server report a failed cycle instead and leave it to the next.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TypeVar, cast

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

from models.scoring import Scorer
from newsmon import pipeline, stages
from newsmon.config import PROJECT_ROOT, FeedConfig, Settings, load_settings
from newsmon.dev.demo import demo_feeds
from newsmon.errors import DeliveryError
from newsmon.fetch import FetchRequest, FetchResult
from newsmon.kafka_io import DeliveryReport
from newsmon.logs import apply_log_policy
from newsmon.store import Store, open_store
from newsmon.story import Story

__all__ = [
    "as_is",
    "cycle_settings",
    "deliver_outbox",
    "deliver_task",
    "fetch_task",
    "load_task",
    "match_task",
    "matches_markdown",
    "monitor_cycle",
    "parse_task",
]

T = TypeVar("T")


def as_is(value: T) -> T:
    """A task argument Prefect passes on without walking it. Prefect visits every element of a task's
    arguments twice (looking for futures to wait on and inputs to record); the settings carry every feed and a
    batch of fetch results every document, so a cycle over 1,000 feeds spent more time there than in its own
    work. None of them holds a future."""
    return cast(T, quote(value))


@task(name="load seeds and model", cache_policy=NO_CACHE)
def load_task(settings: Settings) -> Scorer:
    return pipeline.build_scorer(settings)


@task(name="fetch feeds", retries=1, retry_delay_seconds=[5], cache_policy=NO_CACHE)
def fetch_task(requests: list[FetchRequest], settings: Settings) -> list[FetchResult]:
    return pipeline.fetch_feeds(requests, settings)


@task(name="parse and normalise", cache_policy=NO_CACHE)
def parse_task(results: list[FetchResult], settings: Settings) -> tuple[list[Story], list[pipeline.FeedOutcome]]:
    return pipeline.parse_results(results, settings.parse_timeout_seconds)


@task(name="embed and match", cache_policy=NO_CACHE)
def match_task(store: Store, scorer: Scorer, settings: Settings, run_id: str) -> pipeline.Recorded:
    return pipeline.score_pending(store, scorer, settings, run_id)


@task(name="deliver to kafka", cache_policy=NO_CACHE)
def deliver_task(store: Store, settings: Settings) -> DeliveryReport:
    return pipeline.deliver_retrying(store, settings)


def matches_markdown(summary: pipeline.CycleSummary) -> str:
    """The run's matches as a Markdown table (the Prefect artifact)."""
    lines = [f"# newsmon cycle {summary.short_id}", "", summary.line(), ""]
    if summary.matches:
        lines += ["| relevance | topic | title | evidence |", "|---:|---|---|---|"]
        for m in sorted(summary.matches, key=lambda m: m.score, reverse=True):
            best = m.topics[0]
            title = m.story.title.replace("|", "\\|")
            seed_sentence = best.evidence.seed_sentence.replace("|", "\\|")[:120]
            lines.append(f"| {m.relevance:.2f} | {best.name} | [{title}]({m.story.url}) | {seed_sentence} |")
    for failure in summary.failures:
        lines.append(f"- feed `{failure.feed_id}` failed: {failure.error_kind}: {failure.error}")
    return "\n".join(lines) + "\n"


def deliver_outbox(store: Store, settings: Settings) -> tuple[int, int]:
    """Deliver what waits in the outbox: (delivered, still waiting). A failed delivery is one warning with
    Kafka's reason, not the flow's failure yet: its messages wait, and the caller decides."""
    report = deliver_task(as_is(store), as_is(settings))
    if report.error:
        get_run_logger().warning(f"Kafka did not acknowledge: {report.error}")
    return report.sent, store.undelivered()


@stages.timed("settings")  # newsmon's own work (a thousand feeds' config is read and checked), not Prefect's
def cycle_settings(config_file: str | None, kafka_bootstrap: str | None) -> Settings:
    """A flow run's settings: the config file (and environment), with the broker its caller started. A relative
    config file not found from the working directory is newsmon's own (``config/live.yaml``): a deployment's
    run starts wherever its worker was started."""
    overrides = {"kafka_bootstrap": kafka_bootstrap} if kafka_bootstrap else {}
    path = Path(config_file) if config_file else None
    if path is not None and not path.is_absolute() and not path.exists():
        path = PROJECT_ROOT / path
    return load_settings(path, **overrides)


def _feeds(settings: Settings, demo: bool) -> AbstractContextManager[tuple[tuple[FeedConfig, ...], Settings]]:
    """The configured feeds; with ``demo``, the bundled recorded ones, served on 127.0.0.1 for the block."""
    return demo_feeds(settings) if demo else nullcontext((pipeline.feeds_to_poll(settings), settings))


@flow(name="newsmon-monitor", retries=1, retry_delay_seconds=60, validate_parameters=True)
def monitor_cycle(
    config_file: str | None = None, due_only: bool = True, demo: bool = False, kafka_bootstrap: str | None = None
) -> dict[str, object]:
    """Poll the feeds once: load seeds → fetch → parse → intake → embed and match → record → deliver. ``demo``
    polls the bundled recorded feeds; ``kafka_bootstrap`` is the broker the caller started, if none is set."""
    apply_log_policy()  # a deployment's run is a fresh process: the policy its worker's environment asks for
    before = stages.snapshot()
    logger = get_run_logger()
    settings = cycle_settings(config_file, kafka_bootstrap)
    store = open_store(settings)
    summary = pipeline.CycleSummary(run_id=str(flow_run.get_id() or "local"), carried=store.pending_count())
    scorer = load_task(as_is(settings))  # topics and models checked before anything is fetched
    for note in pipeline.seed_notes(settings, store, scorer.seeds):
        logger.warning(note)
    started = time.time()
    with _feeds(settings, demo) as (feeds, settings):
        pipeline.enrol_feeds(store, feeds)
        while requests := pipeline.plan_fetches(store, feeds, due_only, started, settings.lease_batch):
            results = fetch_task(as_is(requests), as_is(settings))
            stories, outcomes = parse_task(as_is(results), as_is(settings))
            new = pipeline.record_intake(store, results, outcomes, feeds, stories, settings.topic_dlq)
            summary.fetched(results, outcomes, len(stories), new)
    for line in summary.failure_lines():
        logger.warning(line)
    if summary.new or summary.carried:
        summary.recorded = match_task(as_is(store), as_is(scorer), as_is(settings), summary.run_id)
    summary.delivered, summary.undelivered = deliver_outbox(store, settings)
    summary.seconds = stages.since(before)
    logger.info(summary.line())
    create_markdown_artifact(matches_markdown(summary), key="newsmon-matches", description=summary.line())
    if summary.undelivered:
        raise DeliveryError(
            f"{summary.undelivered} alert(s) wait in the outbox: Kafka did not acknowledge them; the next cycle retries"
        )
    return summary.as_dict()
