"""The stages of one poll cycle as plain functions over plain data (DESIGN.md's data path).

fetch → parse/normalise → dedupe → embed+match → record (seen + outbox, one transaction) → deliver.
The Prefect flow in ``flows/monitor.py`` calls these as tasks; tests and benchmarks call them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from models.duplicates import Grouping, Recent, group_near_duplicates
from models.scoring import Scorer, SeedMatch, matches_of
from newsmon import __version__
from newsmon.config import FeedConfig, Settings
from newsmon.errors import FeedError
from newsmon.faults import crash_point
from newsmon.feedlist import configured_feeds
from newsmon.feedserver import serve_feeds
from newsmon.fetch import FetchLimits, FetchRequest, FetchResult, fetch_all
from newsmon.kafka_io import DeliveryReport, bootstrap_servers, deliver_outbox, ensure_topics, make_producer
from newsmon.messages import dead_letter, match_message, to_outbox
from newsmon.normalise import RejectedEntry
from newsmon.parse_pool import ParseJob, parse_all
from newsmon.review import Scored
from newsmon.state import StateStore
from newsmon.story import Story

__all__ = [
    "DEMO_FEEDS_DIR",
    "CycleSummary",
    "FeedOutcome",
    "Recorded",
    "Scoring",
    "active_feeds",
    "build_scorer",
    "deliver",
    "fetch_feeds",
    "fetch_limits",
    "group_matches",
    "match_stories",
    "new_stories",
    "parse_results",
    "plan_fetches",
    "record_matches",
    "record_outcomes",
]

DEMO_FEEDS_DIR = Path(__file__).parent / "demo" / "feeds"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    """How one feed fared this cycle: its new items, or why it failed."""

    feed_id: str
    status: int | None
    items: int
    error_kind: str | None = None
    error: str | None = None
    rejected: tuple[RejectedEntry, ...] = ()


@dataclass(slots=True)
class CycleSummary:
    """What a cycle did, for the log line, the artifact and the CLI."""

    run_id: str
    feeds_due: int = 0
    feeds_failed: int = 0
    not_modified: int = 0
    stories: int = 0
    new: int = 0
    matches: list[SeedMatch] = field(default_factory=list)
    queued: int = 0
    grouped: int = 0
    delivered: int = 0
    undelivered: int = 0
    failures: list[FeedOutcome] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"cycle {self.run_id[:8]}: {self.feeds_due} feeds fetched ({self.not_modified} unchanged, "
            f"{self.feeds_failed} failed), {self.stories} stories, {self.new} new, {len(self.matches)} "
            f"matches ({self.grouped} folded into near-duplicate groups), {self.delivered} delivered, "
            f"{self.undelivered} waiting in the outbox"
        )


@contextmanager
def active_feeds(settings: Settings) -> Iterator[tuple[tuple[FeedConfig, ...], Settings]]:
    """The configured feeds (config and feeds file) and settings. With no feeds configured: the bundled
    recorded feeds served on 127.0.0.1, with settings that let the SSRF guard through to that one address."""
    configured = configured_feeds(settings)
    if configured:
        yield configured, settings
        return
    with serve_feeds(DEMO_FEEDS_DIR, port=settings.demo_feeds_port) as server:
        feeds = tuple(
            FeedConfig(url=server.url(path.name), name=f"demo: {path.stem}", id=f"demo-{path.stem}")
            for path in sorted(DEMO_FEEDS_DIR.glob("*.xml"))
        )
        allow = (*settings.fetch_allow_networks, "127.0.0.1/32")
        yield feeds, settings.model_copy(update={"fetch_allow_networks": allow})


def plan_fetches(store: StateStore, feeds: Sequence[FeedConfig], due_only: bool) -> list[FetchRequest]:
    """Requests for the feeds to poll now: the due ones, or (``due_only=False``) every enabled one."""
    return store.due_requests(feeds, now=None if due_only else float("inf"))


def fetch_limits(settings: Settings) -> FetchLimits:
    """The fetcher's limits and network policy, from the settings."""
    return FetchLimits(
        timeout_seconds=settings.fetch_timeout_seconds,
        max_bytes=settings.fetch_max_bytes,
        max_redirects=settings.fetch_max_redirects,
        concurrency=settings.fetch_concurrency,
        per_host_concurrency=settings.fetch_per_host_concurrency,
        user_agent=settings.user_agent,
        policy=settings.network_policy,
    )


def fetch_feeds(requests: Sequence[FetchRequest], settings: Settings) -> list[FetchResult]:
    return fetch_all(requests, fetch_limits(settings))


def parse_results(results: Sequence[FetchResult], timeout: float = 10.0) -> tuple[list[Story], list[FeedOutcome]]:
    """Stories of every fetched document, and one outcome per feed (a parse error is that feed's error).

    Each document is parsed in a worker process within ``timeout`` seconds (:mod:`newsmon.parse_pool`).
    """
    jobs = [
        ParseJob(r.body, r.feed_id, r.final_url or r.url, r.fetched, r.headers)
        for r in results
        if r.ok and r.body is not None
    ]
    documents = iter(parse_all(jobs, timeout))  # in job order, one per fetched body
    stories: list[Story] = []
    outcomes = []
    for result in results:
        document = next(documents) if result.ok and result.body is not None else None
        if document is None:
            outcomes.append(FeedOutcome(result.feed_id, result.status, 0, result.error_kind, result.error))
        elif isinstance(document, FeedError):
            outcomes.append(FeedOutcome(result.feed_id, result.status, 0, document.kind, str(document)))
        else:
            stories.extend(document.stories)
            outcomes.append(
                FeedOutcome(result.feed_id, result.status, len(document.stories), rejected=document.rejected)
            )
    return stories, outcomes


def record_outcomes(
    store: StateStore,
    results: Sequence[FetchResult],
    outcomes: Sequence[FeedOutcome],
    feeds: Sequence[FeedConfig],
    dlq_topic: str = "",
) -> int:
    """Feed health and conditional-GET validators for the next cycle; entries no story could be made of are
    queued for the DLQ topic (once each: the outbox id is a hash of the feed and the entry). Returns how many."""
    by_id = {f.id: f for f in feeds}
    for result, outcome in zip(results, outcomes, strict=True):
        store.record_fetch(result, by_id[result.feed_id], outcome.items, error=outcome.error)
    if not dlq_topic:
        return 0
    letters = [
        dead_letter(by_id[result.feed_id], result.final_url or result.url, entry, dlq_topic)
        for result, outcome in zip(results, outcomes, strict=True)
        for entry in outcome.rejected
    ]
    return store.record_stories([], letters) if letters else 0


def new_stories(store: StateStore, stories: Sequence[Story]) -> list[Story]:
    """Stories no earlier cycle recorded, one per id (the first feed to carry a syndicated URL wins)."""
    unique: dict[str, Story] = {}
    for story in stories:
        unique.setdefault(story.id, story)
    unseen = store.unseen(list(unique))
    return [s for s in unique.values() if s.id in unseen]


@cache
def _scorer(
    seeds_dir: Path, backend: str, cache_dir: Path, batch_size: int, stamp: tuple[tuple[str, float], ...]
) -> Scorer:
    from models.encoder import load_encoder
    from models.relevance import load_seed_models
    from models.topics import load_seed_topics

    topic_sets = load_seed_topics(seeds_dir)
    models, warnings = load_seed_models(seeds_dir, topic_sets)
    for warning in warnings:
        log.warning("%s", warning)
    return Scorer(topic_sets, load_encoder(backend, cache_dir), models, batch_size)


def build_scorer(settings: Settings) -> Scorer:
    """The scorer for the current topics and model files; rebuilt when one changes, so edits apply next cycle."""
    files = [*settings.seeds_dir.glob("*.topics.yaml"), *settings.seeds_dir.glob("*.model.json")]
    stamp = tuple((p.name, p.stat().st_mtime) for p in sorted(files))
    return _scorer(
        settings.seeds_dir, settings.model_backend, settings.model_cache_dir, settings.embed_batch_size, stamp
    )


@dataclass(frozen=True, slots=True)
class Scoring:
    """A cycle's alerts, and every story as each seed scored it (kept for analyst review)."""

    matches: list[SeedMatch]
    scored: list[Scored]


def match_stories(scorer: Scorer, stories: Sequence[Story]) -> Scoring:
    assessed = scorer.assess(stories)
    scored = [
        Scored(
            story_id=story.id,
            seed=a.topic_set.seed,
            title=story.title,
            summary=story.summary,
            url=story.url,
            feed_id=story.feed_id,
            published=story.published,
            relevance=a.relevance,
            threshold=a.primary.threshold,
            topic=a.primary.topic_id,
            alerted=a.matched,
        )
        for story, per_seed in zip(stories, assessed, strict=True)
        for a in per_seed
    ]
    return Scoring(matches_of(stories, assessed), scored)


@dataclass(frozen=True, slots=True)
class Recorded:
    """What recording a cycle's matches did: messages queued, and matches folded into a near-duplicate group."""

    queued: int
    grouped: int


def group_matches(store: StateStore, matches: Sequence[SeedMatch], scorer: Scorer, settings: Settings) -> Grouping:
    """Near-duplicate groups of the matched stories, against each other and the recent matches in the store."""
    window = timedelta(hours=settings.near_duplicate_window_hours)
    stories = list({m.story.id: m.story for m in matches}.values())
    if not stories:
        return Grouping()
    vectors = scorer.encoder.encode([s.title for s in stories], scorer.batch_size)
    earliest = min(s.published for s in stories) - window
    recent = store.recent_matches(since=earliest)
    return group_near_duplicates(stories, vectors, recent, settings.near_duplicate_cosine, window)


def record_matches(
    store: StateStore,
    stories: Sequence[Story],
    matches: Sequence[SeedMatch],
    settings: Settings,
    scorer: Scorer,
    run_id: str,
    scored: Sequence[Scored] = (),
) -> Recorded:
    """In one transaction: mark the stories seen, queue one message per near-duplicate group lead (listing the
    group's other outlets), remember the matched titles' embeddings for later cycles' grouping, and log every
    story as scored for analyst review."""
    grouping = group_matches(store, matches, scorer, settings)
    built = [
        match_message(
            m,
            model=scorer.encoder.name,
            backend=scorer.encoder.backend,
            run_id=run_id,
            version=__version__,
            duplicate_group=grouping.group_of[m.story.id],
            duplicates=grouping.members[m.story.id],
        )
        for m in matches
        if grouping.leads(m.story.id)
    ]
    messages = [to_outbox(message, settings.topic_matches) for message in built]
    if settings.topic_per_seed_topic:  # the same message on the deciding topic's own alert topic too
        messages += [
            to_outbox(message, f"{settings.topic_matches}.{message['topics'][0]['id']}", routed=True)
            for message in built
        ]
    by_id = {m.story.id: m.story for m in matches}
    recent = [
        Recent(story_id, grouping.group_of[story_id], by_id[story_id].published, vector)
        for story_id, vector in grouping.vectors.items()
    ]
    forget = datetime.now(UTC) - 2 * timedelta(hours=settings.near_duplicate_window_hours)  # bounds the table
    queued = store.record_stories(
        ((s.id, s.feed_id) for s in stories),
        messages,
        recent,
        forget_before=forget,
        scored=scored,
        scored_since=datetime.now(UTC) - timedelta(days=settings.review_retention_days),
    )
    crash_point("pipeline-recorded")
    return Recorded(queued, sum(1 for m in matches if not grouping.leads(m.story.id)))


def _seed_topic_ids(settings: Settings) -> list[str]:
    from models.topics import load_seed_topics

    return [t.id for ts in load_seed_topics(settings.seeds_dir) for t in ts.topics]


def deliver(store: StateStore, settings: Settings) -> DeliveryReport:
    """Deliver the outbox to Kafka (starting the local broker if none is configured)."""
    from kafka.errors import KafkaError

    if store.outbox_counts()[1] == 0:
        return DeliveryReport(sent=0, failed=0)
    try:
        bootstrap = bootstrap_servers(settings)
        ensure_topics(bootstrap, settings, _seed_topic_ids(settings) if settings.topic_per_seed_topic else ())
        producer = make_producer(bootstrap, settings)
    except KafkaError as exc:
        return DeliveryReport(sent=0, failed=store.outbox_counts()[1], error=f"{type(exc).__name__}: {exc}")
    try:
        return deliver_outbox(store, producer, timeout=settings.delivery_timeout_seconds)
    finally:
        producer.close(timeout=5)
