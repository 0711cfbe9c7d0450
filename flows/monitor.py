"""The monitor flow: one poll cycle of DESIGN.md's data path, one Prefect task per stage (never per story).

The topics and models are loaded and checked before anything is fetched, so a broken topics file costs a
cycle nothing. Fetched stories are kept as pending in the same transaction that advances their feeds'
validators, then scored; a cycle that dies at any step leaves them to the next. Retries sit on I/O only
(fetching, delivering). A failing feed is that feed's error, recorded in feed health; undelivered matches stay
in the outbox and fail the run loudly, to be delivered by the next cycle.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from models.scoring import Scorer
from newsmon import pipeline
from newsmon.config import Settings, load_settings
from newsmon.dev.demo import demo_feeds
from newsmon.dev.faults import crash_point
from newsmon.errors import DeliveryError
from newsmon.fetch import FetchRequest, FetchResult
from newsmon.kafka_io import DeliveryReport
from newsmon.state import StateStore
from newsmon.story import Story

__all__ = [
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
def match_task(store: StateStore, scorer: Scorer, settings: Settings, run_id: str) -> pipeline.Recorded:
    return pipeline.score_pending(store, scorer, settings, run_id)


@task(name="deliver to kafka", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def deliver_task(store: StateStore, settings: Settings) -> DeliveryReport:
    report = pipeline.deliver(store, settings)
    if report.failed and report.sent == 0:
        raise DeliveryError(report.error or "Kafka did not acknowledge")
    return report


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


def deliver_outbox(store: StateStore, settings: Settings) -> tuple[int, int]:
    """Deliver what waits in the outbox: (delivered, still waiting). A failed delivery is not the flow's
    failure yet: its messages wait, and the caller decides."""
    state = deliver_task(store, settings, return_state=True)
    report = state.result(raise_on_failure=False) if state.is_completed() else None
    return (report.sent if isinstance(report, DeliveryReport) else 0), store.outbox_counts()[1]


def cycle_settings(config_file: str | None, kafka_bootstrap: str | None) -> Settings:
    """A flow run's settings: the config file (and environment), with the broker its caller started."""
    overrides = {"kafka_bootstrap": kafka_bootstrap} if kafka_bootstrap else {}
    return load_settings(Path(config_file) if config_file else None, **overrides)


@flow(name="newsmon-monitor", retries=0, validate_parameters=True)
def monitor_cycle(
    config_file: str | None = None, due_only: bool = True, demo: bool = False, kafka_bootstrap: str | None = None
) -> dict[str, Any]:
    """Poll the feeds once: load seeds → fetch → parse → intake → embed and match → record → deliver. ``demo``
    polls the bundled recorded feeds, served on 127.0.0.1 meanwhile; ``kafka_bootstrap`` is the broker the
    caller started when none is configured."""
    logger = get_run_logger()
    settings = cycle_settings(config_file, kafka_bootstrap)
    summary = pipeline.CycleSummary(run_id=str(flow_run.get_id() or "local"))
    store = StateStore(settings.state_db)
    scorer = load_task(settings)
    for note in pipeline.seed_notes(settings, store, [ts.seed for ts in scorer.topic_sets]):
        logger.warning(note)
    summary.carried = store.pending_count()
    with (
        demo_feeds(settings) if demo else nullcontext((pipeline.feeds_to_poll(settings), settings)) as (
            feeds,
            settings,
        )
    ):
        requests = pipeline.plan_fetches(store, feeds, due_only)
        results = fetch_task(requests, settings)
        crash_point("pipeline-fetched")
        stories, outcomes = parse_task(results, settings)
        crash_point("pipeline-parsed")
        summary.new = pipeline.record_intake(store, results, outcomes, feeds, stories, settings.topic_dlq)
        crash_point("pipeline-pending")
    summary.feeds_due = len(requests)
    summary.not_modified = sum(r.not_modified for r in results)
    summary.failures = [o for o in outcomes if o.error_kind]
    summary.feeds_failed = len(summary.failures)
    summary.stories = len(stories)
    if summary.new or summary.carried:
        summary.recorded = match_task(store, scorer, settings, summary.run_id)
    summary.delivered, summary.undelivered = deliver_outbox(store, settings)
    logger.info(summary.line())
    create_markdown_artifact(matches_markdown(summary), key="newsmon-matches", description=summary.line())
    if summary.undelivered:
        raise DeliveryError(
            f"{summary.undelivered} alert(s) wait in the outbox: Kafka did not acknowledge them; the next cycle retries"
        )
    return {
        "summary": summary.line(),
        "matches": len(summary.matches),
        "grouped": summary.recorded.grouped,
        "delivered": summary.delivered,
        "new": summary.new,
        "carried": summary.carried,
        "undelivered": summary.undelivered,
    }
