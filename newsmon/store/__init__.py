"""The state store: per-feed HTTP state and health, the stories fetched (pending until scored, then kept for
replay), seen story ids, the alerts raised per (story, seed), the outbox of messages for Kafka, and the log of
scored stories that analyst feedback is drawn from, and each seed's stream pool (``models.stream``).

One module per entity (``feeds``, ``stories``, ``alerts``, ``outbox``, ``scored``, ``stream``), each a few functions of
portable SQL over one connection (``sql``); ``sqlite`` and ``postgres`` each hold a backend's tables,
migrations (the same versions) and transactions; ``StateStore`` composes the entities over either, one
transaction per operation; ``Store`` is the interface the pipeline, the flows and the CLI use. The store keeps
plain rows (``rows``) and imports no stage: what a fetch means for a feed's schedule is ``newsmon.polling``'s
decision; the store only persists it.

Two transactions carry a cycle, so a cycle that dies at any step loses nothing:

- the **intake**: a feed's validators (ETag, Last-Modified), health and next poll time advance in the same
  transaction that keeps its new stories as *pending*; a cycle that dies before it fetches again next time, one
  that dies after it finds the stories pending (even if the feed answers 304 or has dropped them since);
- the **scoring**: a batch of pending stories becomes seen, its alerts and their outbox messages are written,
  all at once. An alert is keyed by (story, seed), so no story alerts twice for one seed, replays included.

The outbox is what makes delivery at-least-once: a message is marked sent only after Kafka acknowledged it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from functools import lru_cache
from typing import Protocol

from newsmon.config import Settings
from newsmon.messages import OutboxMessage
from newsmon.store.rows import Alert, FeedRow, Keep, RecentMatch, ScoredStory, ScoringRecord, StreamPick
from newsmon.store.state import PostgresStore, SQLiteStore, StateStore
from newsmon.story import Story

__all__ = [
    "Alert",
    "FeedRow",
    "Keep",
    "PostgresStore",
    "RecentMatch",
    "SQLiteStore",
    "ScoredStory",
    "ScoringRecord",
    "StateStore",
    "Store",
    "StreamPick",
    "open_store",
]


class Store(Protocol):
    """What newsmon keeps between cycles, whatever keeps it. See ``StateStore`` for each operation's contract."""

    @property
    def where(self) -> str: ...
    def close(self) -> None: ...
    def exclusive(self) -> AbstractContextManager[None]: ...

    def enrol_feeds(self, feeds: Sequence[tuple[str, str]]) -> None: ...
    def lease_feeds(self, feed_ids: Sequence[str], due_by: float, since: float, limit: int) -> list[str]: ...
    def claim_pending(self, limit: int = ...) -> list[Story]: ...
    def claim_unsent(self, limit: int = ...) -> list[OutboxMessage]: ...
    def feed_rows(self) -> dict[str, FeedRow]: ...
    def save_feeds(self, rows: Iterable[FeedRow]) -> None: ...
    def record_intake(
        self, feed_rows: Iterable[FeedRow], fetched: Iterable[Story], letters: Iterable[OutboxMessage] = ()
    ) -> int: ...
    def record_scoring(self, record: ScoringRecord, keep: Keep | None = ...) -> int: ...
    def pending_stories(self, limit: int = ...) -> list[Story]: ...
    def pending_count(self) -> int: ...
    def kept_stories(self, since: datetime, after: int = ..., limit: int = ...) -> list[tuple[int, Story]]: ...
    def count_kept(self, since: datetime) -> int: ...
    def oldest_kept(self) -> datetime | None: ...
    def unseen(self, story_ids: Sequence[str]) -> set[str]: ...
    def register_seeds(self, seeds: Iterable[str]) -> dict[str, int]: ...
    def alerted(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]: ...
    def recent_matches(self, since: datetime, seed: str | None = ...) -> list[RecentMatch]: ...
    def stream_pools(self) -> dict[str, list[StreamPick]]: ...
    def queue(self, messages: Iterable[OutboxMessage]) -> int: ...
    def unsent(self, limit: int = ...) -> list[OutboxMessage]: ...
    def mark_sent(self, ids: Iterable[int]) -> None: ...
    def mark_failed(self, ids: Iterable[int], error: str) -> None: ...
    def outbox_counts(self) -> tuple[int, int]: ...
    def undelivered(self) -> int: ...
    def scored(self, since: datetime, seed: str | None = ..., unexported: bool = ...) -> list[ScoredStory]: ...
    def mark_exported(self, pairs: Iterable[tuple[str, str]]) -> None: ...


def open_store(settings: Settings) -> Store:
    """The store the settings name: PostgreSQL at ``state_url``, else the SQLite file (``state_db``)."""
    worker = settings.worker_name or None
    if settings.shared_state:
        return _postgres(settings.state_url, worker, settings.lease_seconds)
    return SQLiteStore(settings.state_db, worker, settings.lease_seconds)


@lru_cache(maxsize=4)
def _postgres(url: str, worker: str | None, lease_seconds: float) -> PostgresStore:
    """One store, and so one connection pool, per database per process: a long-running worker's cycles reuse
    its warm connections instead of opening a pool per cycle."""
    return PostgresStore(url, worker, lease_seconds)
