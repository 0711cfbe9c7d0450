"""The state store: the entity modules composed over one database (SQLite or PostgreSQL), one transaction per
operation."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

from newsmon.dev.faults import crash_point
from newsmon.messages import OutboxMessage
from newsmon.store import alerts, feeds, leases, outbox, scored, stories, stream
from newsmon.store.postgres import PostgresDatabase
from newsmon.store.rows import FeedRow, Keep, RecentMatch, ScoredStory, ScoringRecord, StreamPick
from newsmon.store.sql import Database
from newsmon.store.sqlite import SQLiteDatabase
from newsmon.story import Story

__all__ = ["PostgresStore", "SQLiteStore", "StateStore"]

_RECORDING_LOCK = 0x6E65_7772


class StateStore:
    """All durable pipeline state in one database (``newsmon.store.Store``), shared by any number of workers:
    ``worker`` names this one in the leases it takes (default host:pid), each held ``lease_seconds``."""

    def __init__(self, database: Database, worker: str | None = None, lease_seconds: float = 300.0) -> None:
        self.database = database
        self.worker = worker or leases.holder_name()
        self.lease_seconds = lease_seconds

    @property
    def where(self) -> str:
        """Where the state is: a file path, or the database URL without its password."""
        return self.database.where

    def close(self) -> None:
        self.database.close()

    # -- feeds -----------------------------------------------------------------------------------------------
    def feed_rows(self) -> dict[str, FeedRow]:
        with self.database.transaction() as conn:
            return feeds.load(conn)

    def save_feeds(self, rows: Iterable[FeedRow]) -> None:
        with self.database.transaction() as conn:
            feeds.save(conn, rows)

    # -- leases: which worker does what ----------------------------------------------------------------------
    def enrol_feeds(self, feeds: Sequence[tuple[str, str]]) -> None:
        """Give new feeds ((id, configured URL) pairs), and feeds whose URL changed, a row that is due now."""
        with self.database.transaction() as conn:
            leases.enrol_feeds(conn, feeds)

    def lease_feeds(self, feed_ids: Sequence[str], due_by: float, since: float, limit: int) -> list[str]:
        """Lease up to ``limit`` of ``feed_ids`` to poll: due by ``due_by``, not fetched since ``since``, held by
        no live worker. The intake that records their fetch ends the leases."""
        now = time.time()
        with self.database.transaction() as conn:
            return leases.lease_feeds(conn, feed_ids, self.worker, now + self.lease_seconds, now, due_by, since, limit)

    def claim_pending(self, limit: int = 1000) -> list[Story]:
        """Claim up to ``limit`` pending stories no live worker is scoring, oldest first."""
        now = time.time()
        with self.database.transaction() as conn:
            seqs = leases.claim_pending(conn, self.worker, now + self.lease_seconds, now, limit)
            return stories.by_position(conn, seqs)

    def claim_unsent(self, limit: int = 1000) -> list[OutboxMessage]:
        """Claim up to ``limit`` unsent outbox messages no live worker is sending, oldest first."""
        now = time.time()
        with self.database.transaction() as conn:
            ids = leases.claim_unsent(conn, self.worker, now + self.lease_seconds, now, limit)
            return outbox.by_id(conn, ids)

    def exclusive(self) -> AbstractContextManager[None]:
        """One worker at a time records verdicts: grouping a match with the recent ones and recording it must
        see every other worker's recorded matches, or two outlets' copies of one story could both alert."""
        return self.database.exclusive(_RECORDING_LOCK)

    # -- a cycle's two transactions ----------------------------------------------------------------------------
    def record_intake(
        self, feed_rows: Iterable[FeedRow], fetched: Iterable[Story], letters: Iterable[OutboxMessage] = ()
    ) -> int:
        """In one transaction: the feeds' new state (validators, health, next poll), their stories not seen
        before kept as pending, and the dead letters of entries no story could be made of. Returns how many
        stories were new."""
        now, rows = time.time(), list(feed_rows)
        with self.database.transaction() as conn:
            feeds.save(conn, rows)
            leases.release_feeds(conn, [row.feed_id for row in rows])
            new = stories.keep_pending(conn, fetched, now)
            outbox.queue(conn, letters, now)
        return new

    def record_scoring(self, record: ScoringRecord, keep: Keep | None = None) -> int:
        """In one transaction: the stories seen (and no longer pending), each alert whose (story, seed) has not
        alerted before with its messages, the matched titles' embeddings, every story as each seed scored it,
        each seed's new stream picks, and what ``keep`` no longer keeps dropped. Returns how many messages were
        queued."""
        now, keep = time.time(), keep or Keep()
        with self.database.transaction() as conn:
            stories.mark_seen(conn, record.seen, now)
            scored.log(conn, record.scored, now)
            alerts.remember(conn, record.recent, now)
            queued = alerts.record(conn, record.alerts, now)
            stream.remember(conn, record.stream, now, keep.stream_most)
            if keep.scored_since is not None:
                scored.forget(conn, keep.scored_since)
            if keep.stories_since is not None:
                stories.forget(conn, keep.stories_since)
            alerts.forget(conn, keep.stories_since, keep.recent_since)
            if keep.stream_since is not None:
                stream.forget(conn, keep.stream_since)
            crash_point("pipeline-recording")  # everything written, nothing committed
        return queued

    # -- stories -----------------------------------------------------------------------------------------------
    def pending_stories(self, limit: int = 1000) -> list[Story]:
        with self.database.transaction() as conn:
            return stories.pending(conn, limit)

    def pending_count(self) -> int:
        with self.database.transaction() as conn:
            return stories.pending_count(conn)

    def kept_stories(self, since: datetime, after: int = 0, limit: int = 1000) -> list[tuple[int, Story]]:
        """Scored stories recorded at or after ``since``, oldest first, as (position, story) pages: pass the last
        position as ``after`` for the next page (what ``newsmon replay`` scores again)."""
        with self.database.transaction() as conn:
            return stories.kept(conn, since, after, limit)

    def count_kept(self, since: datetime) -> int:
        with self.database.transaction() as conn:
            return stories.count_kept(conn, since)

    def oldest_kept(self) -> datetime | None:
        with self.database.transaction() as conn:
            return stories.oldest(conn)

    def unseen(self, story_ids: Sequence[str]) -> set[str]:
        with self.database.transaction() as conn:
            return stories.unseen(conn, story_ids)

    # -- seeds and alerts --------------------------------------------------------------------------------------
    def register_seeds(self, seeds: Iterable[str]) -> dict[str, int]:
        """Remember the seeds taking part from now on. For each seed not seen before: how many kept stories were
        scored before it existed (stories it never saw; ``newsmon replay`` catches up on them)."""
        with self.database.transaction() as conn:
            new = alerts.register_seeds(conn, seeds, time.time())
            count = stories.count_kept(conn, datetime.fromtimestamp(0, UTC)) if new else 0
        return dict.fromkeys(new, count)

    def alerted(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        with self.database.transaction() as conn:
            return alerts.alerted(conn, pairs)

    def recent_matches(self, since: datetime, seed: str | None = None) -> list[RecentMatch]:
        with self.database.transaction() as conn:
            return alerts.recent(conn, since, seed)

    def stream_pools(self) -> dict[str, list[StreamPick]]:
        with self.database.transaction() as conn:
            return stream.pools(conn)

    # -- outbox ------------------------------------------------------------------------------------------------
    def queue(self, messages: Iterable[OutboxMessage]) -> int:
        with self.database.transaction() as conn:
            return outbox.queue(conn, messages, time.time())

    def unsent(self, limit: int = 1000) -> list[OutboxMessage]:
        with self.database.transaction() as conn:
            return outbox.unsent(conn, limit)

    def mark_sent(self, ids: Iterable[int]) -> None:
        with self.database.transaction() as conn:
            outbox.mark_sent(conn, ids, time.time())

    def mark_failed(self, ids: Iterable[int], error: str) -> None:
        with self.database.transaction() as conn:
            outbox.mark_failed(conn, ids, error)

    def undelivered(self) -> int:
        """Unsent messages no other live worker is sending: what this worker leaves undelivered."""
        with self.database.transaction() as conn:
            return outbox.waiting(conn, self.worker, time.time())

    def outbox_counts(self) -> tuple[int, int]:
        with self.database.transaction() as conn:
            return outbox.counts(conn)

    # -- scored log --------------------------------------------------------------------------------------------
    def scored(self, since: datetime, seed: str | None = None, unexported: bool = False) -> list[ScoredStory]:
        with self.database.transaction() as conn:
            return scored.since(conn, since, seed, unexported)

    def mark_exported(self, pairs: Iterable[tuple[str, str]]) -> None:
        with self.database.transaction() as conn:
            scored.mark_exported(conn, pairs, time.time())


class SQLiteStore(StateStore):
    """The state in one SQLite file (the embedded default: one machine)."""

    def __init__(self, path: Path, worker: str | None = None, lease_seconds: float = 300.0) -> None:
        super().__init__(SQLiteDatabase(path), worker, lease_seconds)
        self.path = path


class PostgresStore(StateStore):
    """The state in PostgreSQL (several workers, several machines)."""

    def __init__(self, url: str, worker: str | None = None, lease_seconds: float = 300.0) -> None:
        super().__init__(PostgresDatabase(url), worker, lease_seconds)
