"""The monitor flow: one poll cycle of DESIGN.md's data path, one Prefect task per stage (never per story).

Retries sit on I/O only (fetching, delivering). A failing feed is that feed's error, recorded in feed health;
undelivered matches stay in the outbox and fail the run loudly, to be delivered by the next cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from newsmon import pipeline
from newsmon.config import FeedConfig, Settings, load_settings
from newsmon.errors import DeliveryError
from newsmon.fetch import FetchRequest, FetchResult
from newsmon.kafka_io import DeliveryReport
from newsmon.state import StateStore
from newsmon.story import Story

__all__ = ["matches_markdown", "monitor_cycle"]


@task(name="fetch feeds", retries=1, retry_delay_seconds=[5], cache_policy=NO_CACHE)
def fetch_task(requests: list[FetchRequest], settings: Settings) -> list[FetchResult]:
    return pipeline.fetch_feeds(requests, settings)


@task(name="parse and normalise", cache_policy=NO_CACHE)
def parse_task(
    store: StateStore, results: list[FetchResult], feeds: tuple[FeedConfig, ...], settings: Settings
) -> tuple[list[Story], list[pipeline.FeedOutcome]]:
    stories, outcomes = pipeline.parse_results(results, settings.parse_timeout_seconds)
    pipeline.record_outcomes(store, results, outcomes, feeds, settings.topic_dlq)
    return stories, outcomes


@task(name="embed and match", cache_policy=NO_CACHE)
def match_task(stories: list[Story], settings: Settings) -> tuple[pipeline.Scoring, Any]:
    scorer = pipeline.build_scorer(settings)
    return pipeline.match_stories(scorer, stories), scorer


@task(name="deliver to kafka", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def deliver_task(store: StateStore, settings: Settings) -> DeliveryReport:
    report = pipeline.deliver(store, settings)
    if report.failed and report.sent == 0:
        raise DeliveryError(report.error or "Kafka did not acknowledge")
    return report


def matches_markdown(summary: pipeline.CycleSummary) -> str:
    """The run's matches as a Markdown table (the Prefect artifact)."""
    lines = [f"# newsmon cycle {summary.run_id[:8]}", "", summary.line(), ""]
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


@flow(name="newsmon-monitor", retries=0, validate_parameters=True)
def monitor_cycle(config_file: str | None = None, due_only: bool = True) -> dict[str, Any]:
    """Poll the feeds once: fetch → parse → dedupe → embed and match → record → deliver."""
    logger = get_run_logger()
    settings = load_settings(Path(config_file) if config_file else None)
    summary = pipeline.CycleSummary(run_id=str(flow_run.get_id() or "local"))
    store = StateStore(settings.state_db)
    with pipeline.active_feeds(settings) as (feeds, settings):
        requests = pipeline.plan_fetches(store, feeds, due_only)
        results = fetch_task(requests, settings)
        stories, outcomes = parse_task(store, results, feeds, settings)
    summary.feeds_due = len(requests)
    summary.not_modified = sum(r.not_modified for r in results)
    summary.failures = [o for o in outcomes if o.error_kind]
    summary.feeds_failed = len(summary.failures)
    summary.stories = len(stories)
    fresh = pipeline.new_stories(store, stories)
    summary.new = len(fresh)
    if fresh:
        scoring, scorer = match_task(fresh, settings)
        summary.matches = scoring.matches
        recorded = pipeline.record_matches(
            store, fresh, summary.matches, settings, scorer, summary.run_id, scoring.scored
        )
        summary.queued, summary.grouped = recorded.queued, recorded.grouped
    report = deliver_task.submit(store, settings).result(raise_on_failure=False)
    if isinstance(report, DeliveryReport):
        summary.delivered = report.sent
    summary.undelivered = store.outbox_counts()[1]
    logger.info(summary.line())
    create_markdown_artifact(matches_markdown(summary), key="newsmon-matches", description=summary.line())
    if summary.undelivered:
        raise DeliveryError(
            f"{summary.undelivered} alert(s) wait in the outbox: Kafka did not acknowledge them; the next cycle retries"
        )
    return {
        "summary": summary.line(),
        "matches": len(summary.matches),
        "grouped": summary.grouped,
        "delivered": summary.delivered,
        "new": summary.new,
        "undelivered": summary.undelivered,
    }
