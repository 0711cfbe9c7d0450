"""The stages of one poll cycle as plain functions over plain data (DESIGN.md's data path).

load the scorer → plan (which feeds are due) → fetch → parse/normalise → intake (feed state + pending stories,
one transaction) → score the pending stories in chunks (seen + alerts + outbox, one transaction per chunk) →
deliver. The Prefect flows in ``flows/`` call these as tasks; tests and benchmarks call them directly. A cycle
that dies at any step leaves its fetched stories pending for the next one; ``replay`` scores kept stories
again. This is the one module that brings the stages, the models, the store and the contract together.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np

from models.duplicates import Grouping, group_near_duplicates
from models.encoder import Vectors
from models.scoring import Scorer, SeedMatch, matches_of
from models.stream import STREAM_DAYS, STREAM_MOST, StreamPool, joined
from newsmon import __version__, messages, polling, stages
from newsmon.config import FeedConfig, Settings
from newsmon.dev.faults import crash_point
from newsmon.errors import ConfigError, FeedError, KafkaUnreachableError
from newsmon.feedlist import configured_feeds
from newsmon.fetch import FetchLimits, FetchRequest, FetchResult, fetch_all
from newsmon.kafka_io import PRODUCERS, DeliveryReport, bootstrap_servers, deliver_outbox, probe
from newsmon.normalise import RejectedEntry
from newsmon.parse_pool import ParseJob, parse_all
from newsmon.store import Alert, Keep, RecentMatch, ScoredStory, ScoringRecord, Store, StreamPick
from newsmon.story import Story

__all__ = [
    "SCORE_CHUNK",
    "CycleSummary",
    "FeedOutcome",
    "Recorded",
    "Verdicts",
    "alert_message",
    "build_scorer",
    "dead_letter",
    "deliver",
    "deliver_retrying",
    "enrol_feeds",
    "feeds_to_poll",
    "fetch_feeds",
    "fetch_limits",
    "group_matches",
    "judge",
    "parse_results",
    "plan_fetches",
    "record_intake",
    "record_verdicts",
    "replay",
    "score_pending",
    "seed_notes",
    "stream_of",
]

SCORE_CHUNK = 2000  # stories scored and recorded per transaction: bounds memory and the work a crash repeats
DELIVERY_RETRY_DELAYS = (2.0, 10.0)  # seconds between a cycle's delivery attempts while nothing gets through
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
class Recorded:
    """What scoring and recording stories did: stories scored, matches, messages queued, matches folded into a
    near-duplicate group, and matches whose (story, seed) had alerted before (a replay sends those never)."""

    scored: int = 0
    matches: list[SeedMatch] = field(default_factory=list)
    queued: int = 0
    grouped: int = 0
    known: int = 0

    def add(self, other: Recorded) -> None:
        self.scored += other.scored
        self.matches += other.matches
        self.queued += other.queued
        self.grouped += other.grouped
        self.known += other.known


@dataclass(slots=True)
class CycleSummary:
    """What a cycle did, for the log line, the artifact and the CLI."""

    run_id: str
    feeds_due: int = 0
    feeds_failed: int = 0
    not_modified: int = 0
    stories: int = 0
    new: int = 0
    carried: int = 0  # stories a failed earlier cycle had fetched but not scored, scored in this one
    recorded: Recorded = field(default_factory=Recorded)
    delivered: int = 0
    undelivered: int = 0
    failures: list[FeedOutcome] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage (newsmon.stages); Prefect's time is the rest

    def fetched(self, results: Sequence[FetchResult], outcomes: Sequence[FeedOutcome], stories: int, new: int) -> None:
        """Count what the fetch, parse and intake stages did (a cycle polls its feeds in leased batches)."""
        self.feeds_due += len(results)
        self.not_modified += sum(r.not_modified for r in results)
        self.failures += [o for o in outcomes if o.error_kind]
        self.feeds_failed = len(self.failures)
        self.stories += stories
        self.new += new

    @property
    def matches(self) -> list[SeedMatch]:
        return self.recorded.matches

    @property
    def short_id(self) -> str:
        """The run id's last 8 hex digits: Prefect's run ids are time-ordered (UUIDv7), so their first digits
        are the same for weeks and their last are random."""
        return self.run_id.replace("-", "")[-8:]

    def line(self) -> str:
        carried = f" (and {self.carried} left pending by an earlier cycle)" if self.carried else ""
        return (
            f"cycle {self.short_id}: {self.feeds_due} feeds fetched ({self.not_modified} unchanged, "
            f"{self.feeds_failed} failed), {self.stories} stories, {self.new} new{carried}, "
            f"{len(self.matches)} matches ({self.recorded.grouped} folded into near-duplicate groups), "
            f"{self.delivered} delivered, {self.undelivered} waiting in the outbox"
        )

    def failure_lines(self, most: int = 20) -> list[str]:
        """One line per feed that failed this cycle, with its reason, for the log: a person must see them
        without asking. At most ``most``, then how many more (a cycle over thousands of feeds may have many)."""
        lines = [f"feed {f.feed_id} failed: {f.error_kind}: {f.error}" for f in self.failures[:most]]
        if len(self.failures) > most:
            lines.append(f"… and {len(self.failures) - most} more failing feeds: 'newsmon feeds status' lists them")
        return lines

    def as_dict(self) -> dict[str, object]:
        """The flow run's result."""
        return {
            "summary": self.line(),
            "matches": len(self.matches),
            "grouped": self.recorded.grouped,
            "delivered": self.delivered,
            "new": self.new,
            "carried": self.carried,
            "undelivered": self.undelivered,
            "seconds": self.seconds,
        }


# -- fetch, parse, intake ------------------------------------------------------------------------------------
def feeds_to_poll(settings: Settings) -> tuple[FeedConfig, ...]:
    """The configured feeds (config file and feeds file); none is an error that says how to add some."""
    feeds = configured_feeds(settings)
    if not feeds:
        raise ConfigError(
            "no feeds configured: list them under 'feeds:' in a config file (--config) or a feeds_file, e.g. with "
            "'newsmon feeds import FILE.opml'; or poll the bundled recorded feeds with --demo"
        )
    return feeds


@stages.timed("leases")
def enrol_feeds(store: Store, feeds: Sequence[FeedConfig]) -> None:
    """Give each enabled feed that is new, or whose configured URL changed, a row to lease (once per cycle)."""
    rows = store.feed_rows()
    store.enrol_feeds([(f.id, f.url) for f in feeds if f.enabled and (f.id not in rows or rows[f.id].url != f.url)])


@stages.timed("leases")
def plan_fetches(
    store: Store, feeds: Sequence[FeedConfig], due_only: bool, since: float, limit: int
) -> list[FetchRequest]:
    """Requests for the next feeds this worker polls: up to ``limit`` of the due ones (or, with
    ``due_only=False``, of every enabled one), not fetched since ``since`` (the cycle's start), each leased so
    that no other worker polls it too. An empty list: this cycle has polled everything there is to poll."""
    now = time.time()
    due_by = now if due_only else float("inf")
    wanted = polling.due_requests(feeds, store.feed_rows(), due_by)
    if not wanted:
        return []
    leased = set(store.lease_feeds([r.feed_id for r in wanted], due_by, since, limit))
    return [r for r in wanted if r.feed_id in leased]


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


@stages.timed("fetch")
def fetch_feeds(requests: Sequence[FetchRequest], settings: Settings) -> list[FetchResult]:
    results = fetch_all(requests, fetch_limits(settings))
    crash_point("pipeline-fetched")
    return results


@stages.timed("parse")
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
    crash_point("pipeline-parsed")
    return stories, outcomes


def dead_letter(feed: FeedConfig, document_url: str, entry: RejectedEntry) -> messages.DeadLetter:
    """The DLQ message for a feed entry no story could be made of."""
    return messages.DeadLetter(
        reason=entry.reason,
        feed=messages.FeedRef(feed.id, feed.name, document_url),
        entry_title=entry.title,
        entry_link=entry.link,
        entry_guid=entry.guid,
        produced_at=messages.utc_text(datetime.now(UTC)),
    )


@stages.timed("intake")
def record_intake(
    store: Store,
    results: Sequence[FetchResult],
    outcomes: Sequence[FeedOutcome],
    feeds: Sequence[FeedConfig],
    stories: Sequence[Story] = (),
    dlq_topic: str = "",
) -> int:
    """In one transaction: every feed's health, validators and next poll time (``newsmon.polling`` decides), the
    stories no earlier cycle has seen (kept as pending until scored), and the entries no story could be made
    of (queued once each for the DLQ topic). A feed's validators never advance without its stories. Returns
    how many stories are new."""
    by_id = {f.id: f for f in feeds}
    rows = store.feed_rows()
    states = [
        polling.after_fetch(rows.get(result.feed_id), by_id[result.feed_id], result, outcome.items, outcome.error)
        for result, outcome in zip(results, outcomes, strict=True)
    ]
    letters = [
        dead_letter(by_id[result.feed_id], result.final_url or result.url, entry).to_outbox(dlq_topic)
        for result, outcome in zip(results, outcomes, strict=True)
        for entry in outcome.rejected
        if dlq_topic
    ]
    new = store.record_intake(states, stories, letters)
    crash_point("pipeline-pending")
    return new


# -- seeds and the scorer ------------------------------------------------------------------------------------
@lru_cache(maxsize=2)  # one scorer per configuration in use; an edited topics file replaces the old one
def _scorer(
    seeds_dir: Path,
    backend: str,
    cache_dir: Path,
    batch_size: int | None,
    band: float,
    stamp: tuple[tuple[str, float], ...],
) -> Scorer:
    from models.encoder import EXACT, load_encoder
    from models.relevance import load_seed_models
    from models.scoring import Confirmation
    from models.topics import load_seed_topics

    topic_sets = load_seed_topics(seeds_dir)
    models, warnings = load_seed_models(seeds_dir, topic_sets)
    for warning in warnings:
        log.warning("%s", warning)
    confirm = None
    if band > 0 and backend in EXACT:
        confirm = Confirmation(Scorer(topic_sets, load_encoder(EXACT[backend], cache_dir), models, batch_size), band)
    return Scorer(topic_sets, load_encoder(backend, cache_dir), models, batch_size, confirm=confirm)


@stages.timed("load seeds and model")
def build_scorer(settings: Settings) -> Scorer:
    """The scorer for the current topics and model files; rebuilt when one changes, so edits apply next cycle.
    A broken topics or model file is a ConfigError here, before a cycle fetches anything."""
    files = [*settings.seeds_dir.glob("*.topics.yaml"), *settings.seeds_dir.glob("*.model.json")]
    stamp = tuple((p.name, p.stat().st_mtime) for p in sorted(files))
    return _scorer(
        settings.seeds_dir,
        settings.model_backend,
        settings.model_cache_dir,
        settings.embed_batch_size,
        settings.model_confirm_band,
        stamp,
    )


def seed_notes(settings: Settings, store: Store, seeds: Sequence[str]) -> list[str]:
    """What a user must hear about the seeds before a cycle: articles nothing matches against yet (no topics
    file), and seeds new since the last cycle, which never saw the stories kept from before them."""
    from models.topics import seeds_without_topics

    notes = [
        f"seed article {article} has no topics file, so nothing is matched against it: run 'newsmon seeds build'"
        for article in seeds_without_topics(settings.seeds_dir)
    ]
    missed = store.register_seeds(seeds)
    days = f"{settings.story_retention_days:g}d"
    notes += [
        f"seed {seed!r} is new: the {count} stories kept from earlier cycles were not scored against it; "
        f"'newsmon replay --since {days} --seed {seed}' catches up"
        for seed, count in missed.items()
        if count
    ]
    return notes


# -- judge, group, record ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Verdicts:
    """A batch of stories judged: its alerts, and every story as each seed scored it (kept for review)."""

    matches: list[SeedMatch]
    scored: list[ScoredStory]
    title_vectors: dict[str, Vectors] = field(default_factory=dict)  # matched stories' unit title embeddings
    picks: dict[str, StreamPool] = field(default_factory=dict)  # each seed's new stream picks


def judge(
    scorer: Scorer,
    stories: Sequence[Story],
    progress: Callable[[int], None] | None = None,
    seed: str | None = None,
    stream: Mapping[str, StreamPool] | None = None,
) -> Verdicts:
    """Score stories against every seed (or only ``seed``) with what the ``stream`` showed of each seed;
    ``progress`` hears sentences embedded so far. Each text is embedded once: the matched stories' title
    embeddings are kept for near-duplicate grouping, and the stories that join a seed's stream pool are noted."""
    every_seed, titles = scorer.assess_with_titles(stories, progress, stream)
    assessed = [[a for a in per_seed if seed in (None, a.topic_set.seed)] for per_seed in every_seed]
    scored = [
        ScoredStory(
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
    matches = matches_of(stories, assessed)
    row = {story.id: i for i, story in enumerate(stories)}
    picks = {s: pool for s, pool in scorer.picks(stories, every_seed, titles).items() if seed in (None, s)}
    return Verdicts(matches, scored, {m.story.id: titles[row[m.story.id]] for m in matches}, picks)


def stream_of(store: Store, scorer: Scorer) -> dict[str, StreamPool]:
    """Each seed's stream pool as the store keeps it (nothing to read when no seed's model reads one)."""
    if not scorer.streams:
        return {}
    return {
        seed: StreamPool(
            tuple(p.story_id for p in picks),
            tuple(p.title for p in picks),
            np.stack([p.vector for p in picks]),
            np.asarray([p.closeness for p in picks], dtype=np.float64),
        )
        for seed, picks in store.stream_pools().items()
        if picks
    }


def group_matches(store: Store, verdicts: Verdicts, settings: Settings) -> dict[str, Grouping]:
    """Near-duplicate groups of the matched stories, per seed: against each other and that seed's recent
    matches in the store. A story repeating another seed's alert is still news to this seed."""
    window = timedelta(hours=settings.near_duplicate_window_hours)
    groupings = {}
    for seed in dict.fromkeys(m.seed for m in verdicts.matches):
        mine = [m.story for m in verdicts.matches if m.seed == seed]
        earliest = min(s.published for s in mine) - window
        recent = store.recent_matches(since=earliest, seed=seed)
        rows = np.stack([verdicts.title_vectors[s.id] for s in mine])
        groupings[seed] = group_near_duplicates(mine, rows, recent, settings.near_duplicate_cosine, window)
    return groupings


def alert_message(
    match: SeedMatch,
    model: messages.ModelRef,
    run_id: str,
    duplicate_group: str | None = None,
    duplicates: Sequence[Story] = (),
) -> messages.MatchMessage:
    """The ``newsmon.match/1`` message for one match, scored by ``model``; ``duplicates`` are the other outlets'
    copies of the story, grouped under ``duplicate_group`` (the story's own id when it leads alone)."""
    return messages.MatchMessage(
        message_id=f"{match.story.id}:{match.seed}",
        story=messages.StoryPart.of(match.story),
        seed=messages.SeedRef(match.seed, match.seed_title),
        topics=tuple(
            messages.TopicPart(
                t.topic_id,
                t.name,
                t.score,
                t.contribution,
                t.threshold,
                messages.Evidence(
                    t.evidence.seed_sentence,
                    t.evidence.story_sentence,
                    t.evidence.similarity,
                    t.evidence.keywords,
                    messages.Exclusion(t.evidence.exclusion, t.evidence.exclusion_similarity)
                    if t.evidence.exclusion
                    else None,
                ),
            )
            for t in match.topics
        ),
        score=match.relevance,
        threshold=match.threshold,
        model=model,
        duplicate_group=duplicate_group or match.story.id,
        duplicates=tuple(messages.Outlet.of(s) for s in duplicates),
        pipeline=messages.PipelineRef(__version__, run_id),
        produced_at=messages.utc_text(datetime.now(UTC)),
    )


def _alerts(
    matches: Sequence[SeedMatch], groupings: dict[str, Grouping], scorer: Scorer, settings: Settings, run_id: str
) -> list[Alert]:
    """One Alert per match: a group's lead carries its messages (listing the group's other outlets, and also
    on the deciding topic's own alert topic when routing is on); a story that joined a group carries none."""
    alerts = []
    for m in matches:
        grouping = groupings[m.seed]
        group = grouping.group_of[m.story.id]
        if not grouping.leads(m.story.id):
            alerts.append(Alert(m.story.id, m.seed, group))
            continue
        model = messages.ModelRef(scorer.encoder.name, scorer.encoder.backend)
        message = alert_message(m, model, run_id, group, grouping.members[m.story.id])
        rows = [message.to_outbox(settings.topic_matches)]
        if settings.topic_per_seed_topic:  # the same message on the deciding topic's own alert topic too
            rows.append(message.to_outbox(f"{settings.topic_matches}.{message.deciding.id}", routed=True))
        alerts.append(Alert(m.story.id, m.seed, group, tuple(rows)))
    return alerts


def _keep(settings: Settings) -> Keep:
    now = datetime.now(UTC)
    return Keep(
        recent_since=now - 2 * timedelta(hours=settings.near_duplicate_window_hours),
        scored_since=now - timedelta(days=settings.review_retention_days),
        stories_since=now - timedelta(days=settings.story_retention_days),
        stream_since=now - timedelta(days=STREAM_DAYS),
        stream_most=STREAM_MOST,
    )


def record_verdicts(
    store: Store, stories: Sequence[Story], verdicts: Verdicts, settings: Settings, scorer: Scorer, run_id: str
) -> Recorded:
    """Record a judged batch in one transaction: the stories seen, each match's alert (queued once per (story,
    seed): a pair that alerted before, in a cycle or a replay, queues nothing), the matched titles' embeddings
    for later grouping, and every story as each seed scored it. One worker records at a time, so each groups
    its matches with every match recorded before."""
    with store.exclusive():
        return _record_verdicts(store, stories, verdicts, settings, scorer, run_id)


def _record_verdicts(
    store: Store, stories: Sequence[Story], verdicts: Verdicts, settings: Settings, scorer: Scorer, run_id: str
) -> Recorded:
    known = store.alerted((m.story.id, m.seed) for m in verdicts.matches)
    groupings = group_matches(store, verdicts, settings)
    by_id = {m.story.id: m.story for m in verdicts.matches}
    record = ScoringRecord(
        seen=[(s.id, s.feed_id) for s in stories],
        alerts=_alerts(verdicts.matches, groupings, scorer, settings, run_id),
        recent=[
            RecentMatch(i, grouping.group_of[i], by_id[i].published, vector, seed)
            for seed, grouping in groupings.items()
            for i, vector in grouping.vectors.items()
        ],
        scored=verdicts.scored,
        stream=[
            StreamPick(seed, story, title, vector, float(closeness))
            for seed, pool in verdicts.picks.items()
            for story, title, vector, closeness in zip(pool.ids, pool.titles, pool.vectors, pool.closeness, strict=True)
        ],
    )
    queued = store.record_scoring(record, _keep(settings))
    crash_point("pipeline-recorded")
    fresh = [m for m in verdicts.matches if (m.story.id, m.seed) not in known]
    grouped = sum(1 for m in fresh if not groupings[m.seed].leads(m.story.id))
    return Recorded(len(stories), fresh, queued, grouped, len(verdicts.matches) - len(fresh))


def _embedding_progress(_done: int) -> None:
    crash_point("pipeline-embedding")


@stages.timed("embed and match")
def score_pending(store: Store, scorer: Scorer, settings: Settings, run_id: str) -> Recorded:
    """Score every pending story (this cycle's and any a failed cycle left), oldest first, ``SCORE_CHUNK`` at a
    time, each chunk recorded in its own transaction."""
    total = Recorded()
    stream = stream_of(store, scorer)
    while stories := store.claim_pending(SCORE_CHUNK):
        verdicts = judge(scorer, stories, _embedding_progress, stream=stream)
        total.add(record_verdicts(store, stories, verdicts, settings, scorer, run_id))
        stream = joined(stream, verdicts.picks)
    return total


def replay(
    store: Store,
    scorer: Scorer,
    settings: Settings,
    run_id: str,
    since: datetime,
    seed: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Recorded:
    """Score the stories kept since ``since`` against today's seeds and topics (or only ``seed``) and alert
    the matches whose (story, seed) never alerted; ``progress`` hears how many stories are done."""
    total = Recorded()
    after = 0
    stream = stream_of(store, scorer)
    while page := store.kept_stories(since, after, SCORE_CHUNK):
        after = page[-1][0]
        stories = [story for _, story in page]
        verdicts = judge(scorer, stories, seed=seed, stream=stream)
        total.add(record_verdicts(store, stories, verdicts, settings, scorer, run_id))
        stream = joined(stream, verdicts.picks)
        if progress is not None:
            progress(total.scored)
    return total


# -- deliver -------------------------------------------------------------------------------------------------
def _seed_topic_ids(settings: Settings) -> list[str]:
    from models.topics import load_seed_topics

    return [t.id for ts in load_seed_topics(settings.seeds_dir) for t in ts.topics]


@stages.timed("deliver")
def deliver_retrying(
    store: Store, settings: Settings, delays: Sequence[float] = DELIVERY_RETRY_DELAYS
) -> DeliveryReport:
    """Deliver, and again after each delay while nothing got through: a leader election or a broker still
    starting passes in seconds, and an alert then waits seconds, not a whole interval. A failure is
    reported, not raised, so the flow can say in one line what waits."""
    report = deliver(store, settings)
    for delay in delays:
        if not (report.failed and report.sent == 0):
            break
        time.sleep(delay)
        report = deliver(store, settings)
    return report


def deliver(store: Store, settings: Settings) -> DeliveryReport:
    """Deliver the outbox to the configured Kafka, with the producer the last clean delivery of this process
    left (``kafka_io.PRODUCERS``) or a new one."""
    from kafka.errors import KafkaError

    if store.outbox_counts()[1] == 0:
        return DeliveryReport(sent=0, failed=0)
    try:
        bootstrap = bootstrap_servers(settings)
        probe(bootstrap)
        lease = PRODUCERS.take(bootstrap, settings, _seed_topic_ids(settings) if settings.topic_per_seed_topic else ())
    except KafkaUnreachableError as exc:
        PRODUCERS.clear()  # its connections are gone: after the outage a new producer connects at once
        return DeliveryReport(sent=0, failed=store.outbox_counts()[1], error=str(exc))
    except KafkaError as exc:
        return DeliveryReport(sent=0, failed=store.outbox_counts()[1], error=f"{type(exc).__name__}: {exc}")
    report = None
    try:
        report = deliver_outbox(store, lease.producer, timeout=settings.delivery_timeout_seconds)
        return report
    finally:
        PRODUCERS.give_back(lease, clean=report is not None and report.error is None and report.failed == 0)
