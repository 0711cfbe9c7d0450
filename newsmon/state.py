"""The state store: per-feed HTTP state and health, the stories fetched (pending until scored, then kept for
replay), seen story ids, the alerts raised per (story, seed), the outbox of messages for Kafka, and the log of
scored stories that analyst feedback is drawn from.

SQLite in WAL mode, one short-lived connection per operation, so it is safe to call from Prefect's worker
threads and from several processes on one machine. Two transactions carry a cycle, so a cycle that dies at
any step loses nothing:

- the **intake**: a feed's validators (ETag, Last-Modified), health and next poll time advance in the same
  transaction that keeps its new stories as *pending*; a cycle that dies before it fetches again next time, one
  that dies after it finds the stories pending (even if the feed answers 304 or has dropped them since);
- the **scoring**: a batch of pending stories becomes seen, its alerts and their outbox messages are written,
  all at once. An alert is keyed by (story, seed), so no story alerts twice for one seed, replays included.

The outbox is what makes delivery at-least-once: a message is marked sent only after Kafka acknowledged it.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models.duplicates import Recent
from newsmon.config import FeedConfig
from newsmon.dev.faults import crash_point
from newsmon.fetch import FetchRequest, FetchResult, retry_after_seconds
from newsmon.review import SUMMARY_CHARS, Scored
from newsmon.story import Story

__all__ = [
    "Alert",
    "FeedFetch",
    "FeedHealth",
    "Keep",
    "OutboxMessage",
    "ScoringRecord",
    "StateStore",
    "next_poll_delay",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    feed_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    last_status INTEGER,
    last_fetch REAL,
    last_success REAL,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_due REAL NOT NULL DEFAULT 0,
    fetches INTEGER NOT NULL DEFAULT 0,
    not_modified INTEGER NOT NULL DEFAULT 0,
    items INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS seen (
    story_id TEXT PRIMARY KEY,
    feed_id TEXT NOT NULL,
    first_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    key TEXT NOT NULL,
    topic TEXT NOT NULL,
    value BLOB NOT NULL,
    headers TEXT NOT NULL,
    created REAL NOT NULL,
    sent REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    UNIQUE (message_id, topic)
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (id) WHERE sent IS NULL;
"""

# Each entry upgrades a database from version i to i + 1 (PRAGMA user_version); never edit a released one.
_MIGRATIONS = (
    # 1: a permanent redirect moves where a feed is fetched, not what it is (``url`` stays the configured one);
    #    a 410 Gone disables the feed until its configured URL changes.
    "ALTER TABLE feeds ADD COLUMN fetch_url TEXT; ALTER TABLE feeds ADD COLUMN disabled TEXT;",
    # 2: title embeddings of recently matched stories, so a repost in a later cycle joins the earlier alert's
    #    near-duplicate group instead of alerting again.
    "CREATE TABLE recent_matches (story_id TEXT PRIMARY KEY, group_id TEXT NOT NULL, published REAL NOT NULL,"
    " vector BLOB NOT NULL, recorded REAL NOT NULL);"
    " CREATE INDEX recent_matches_published ON recent_matches (published);"
    " CREATE INDEX recent_matches_recorded ON recent_matches (recorded);",
    # 3: every story as each seed scored it, alert or not, for 'newsmon review export' (analyst feedback).
    "CREATE TABLE scored (story_id TEXT NOT NULL, seed TEXT NOT NULL, title TEXT NOT NULL, summary TEXT NOT NULL,"
    " url TEXT NOT NULL, feed_id TEXT NOT NULL, published REAL NOT NULL, relevance REAL NOT NULL,"
    " threshold REAL NOT NULL, topic TEXT NOT NULL, alerted INTEGER NOT NULL, recorded REAL NOT NULL,"
    " PRIMARY KEY (story_id, seed));"
    " CREATE INDEX scored_recorded ON scored (recorded);",
    # 4: fetched stories, pending (scored IS NULL) until a scoring transaction takes them, so a cycle that dies
    #    after fetching leaves them to the next; once scored, kept for 'newsmon replay'. alerts: every (story,
    #    seed) that alerted or joined an alert's near-duplicate group, so a replay never alerts a pair twice.
    #    seeds: when each seed first took part in a cycle, to say which stories it never saw.
    "CREATE TABLE stories (seq INTEGER PRIMARY KEY AUTOINCREMENT, story_id TEXT NOT NULL UNIQUE,"
    " title TEXT NOT NULL, url TEXT NOT NULL, summary TEXT NOT NULL, published REAL NOT NULL, fetched REAL NOT NULL,"
    " feed_id TEXT NOT NULL, feed_title TEXT NOT NULL, feed_url TEXT NOT NULL, source TEXT NOT NULL,"
    " language TEXT, recorded REAL NOT NULL, scored REAL);"
    " CREATE INDEX stories_pending ON stories (seq) WHERE scored IS NULL;"
    " CREATE INDEX stories_recorded ON stories (recorded);"
    " CREATE TABLE alerts (story_id TEXT NOT NULL, seed TEXT NOT NULL, group_id TEXT NOT NULL,"
    " recorded REAL NOT NULL, PRIMARY KEY (story_id, seed));"
    " CREATE INDEX alerts_recorded ON alerts (recorded);"
    " CREATE TABLE seeds (seed TEXT PRIMARY KEY, first_seen REAL NOT NULL);"
    # ... and near-duplicate groups per seed: a story matching one seed must not fold into another seed's alert.
    #     Rows of older databases keep seed '' and count for every seed.
    " CREATE TABLE recent_by_seed (story_id TEXT NOT NULL, seed TEXT NOT NULL, group_id TEXT NOT NULL,"
    " published REAL NOT NULL, vector BLOB NOT NULL, recorded REAL NOT NULL, PRIMARY KEY (story_id, seed));"
    " INSERT INTO recent_by_seed SELECT story_id, '', group_id, published, vector, recorded FROM recent_matches;"
    " DROP TABLE recent_matches;"
    " ALTER TABLE recent_by_seed RENAME TO recent_matches;"
    " CREATE INDEX recent_matches_published ON recent_matches (seed, published);"
    " CREATE INDEX recent_matches_recorded ON recent_matches (recorded);",
)

_MAX_BACKOFF_SECONDS = 6 * 3600
_MAX_RETRY_AFTER_SECONDS = 24 * 3600
_THROTTLED = frozenset({429, 503})


def next_poll_delay(interval: float, failures: int, status: int | None, retry_after: float | None) -> float:
    """Seconds until a feed is polled again.

    A success waits one interval. After the n-th failure in a row the wait doubles per failure (capped at six
    hours) with ±20 % jitter, so feeds that failed together do not retry together. A 429 or 503 that says
    ``Retry-After`` is obeyed when it asks for longer (up to a day).
    """
    if failures == 0:
        return float(interval)
    backoff: float = min(_MAX_BACKOFF_SECONDS, interval * 2.0 ** min(failures - 1, 16)) * random.uniform(0.8, 1.2)
    if status in _THROTTLED and retry_after is not None:
        return max(backoff, min(retry_after, _MAX_RETRY_AFTER_SECONDS))
    return backoff


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One Kafka record waiting for (or past) delivery; ``key`` is the story id, ``message_id`` is unique."""

    message_id: str
    key: str
    topic: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    id: int | None = None


@dataclass(frozen=True, slots=True)
class FeedFetch:
    """One feed's fetch this cycle as the intake records it: the result, and what parsing made of it."""

    result: FetchResult
    feed: FeedConfig
    items: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A (story, seed) pair that matched: the lead of its near-duplicate group carries the messages to send;
    a story that joined a group carries none. Recorded once: a pair already alerted queues nothing again."""

    story_id: str
    seed: str
    group_id: str
    messages: tuple[OutboxMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoringRecord:
    """What scoring a batch of stories decided, written in one transaction: the stories now seen (story id, feed
    id), the alerts, the matched titles' embeddings for later grouping, and every story as each seed scored it."""

    seen: Sequence[tuple[str, str]] = ()
    alerts: Sequence[Alert] = ()
    recent: Sequence[Recent] = ()
    scored: Sequence[Scored] = ()


@dataclass(frozen=True, slots=True)
class Keep:
    """What the store keeps: rows recorded before each cutoff are dropped when a scoring is recorded. Pending
    stories are never dropped."""

    recent_since: datetime | None = None  # embeddings of matched titles (near-duplicate grouping)
    scored_since: datetime | None = None  # the scored log (analyst review)
    stories_since: datetime | None = None  # scored stories and their alerts (replay)


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """A feed's last fetch as ``newsmon feeds status`` shows it."""

    feed_id: str
    url: str
    last_status: int | None
    last_success: float | None
    failures: int
    last_error: str | None
    fetches: int
    not_modified: int
    items: int
    fetch_url: str | None = None
    disabled: str | None = None
    next_due: float | None = None


class StateStore:
    """All durable pipeline state behind one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
                conn.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")
        finally:
            conn.close()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    # -- feeds ---------------------------------------------------------------------------------------------
    def due_requests(self, feeds: Iterable[FeedConfig], now: float | None = None) -> list[FetchRequest]:
        """Fetch requests for the enabled feeds whose next due time has come, with their validators.

        A feed that moved permanently is fetched at its new address; one that answered 410 Gone is not fetched
        again until its configured URL changes. Changing the URL also drops the old validators.
        """
        now = time.time() if now is None else now
        requests = []
        with self._connect() as conn:
            for feed in feeds:
                if not feed.enabled:
                    continue
                row = conn.execute(
                    "SELECT url, etag, last_modified, next_due, fetch_url, disabled FROM feeds WHERE feed_id = ?",
                    (feed.id,),
                ).fetchone()
                if row is None or row[0] != feed.url:
                    requests.append(FetchRequest(feed.id, feed.url))
                elif row[3] <= now and not row[5]:
                    requests.append(FetchRequest(feed.id, row[4] or feed.url, row[1], row[2]))
        return requests

    def record_fetch(self, result: FetchResult, feed: FeedConfig, items: int, error: str | None = None) -> None:
        """Store one fetch's outcome and schedule the next (:func:`next_poll_delay`), on its own."""
        with self._connect() as conn:
            _record_fetch(conn, FeedFetch(result, feed, items, error))

    def record_intake(
        self, fetches: Iterable[FeedFetch], stories: Iterable[Story], letters: Iterable[OutboxMessage] = ()
    ) -> int:
        """In one transaction: every feed's fetch outcome (validators, health, next poll), its stories not seen
        before kept as pending (the first feed to carry a story wins), and the dead letters of entries no story
        could be made of. Returns how many stories were new."""
        now = time.time()
        with self._connect() as conn:
            for fetch in fetches:
                _record_fetch(conn, fetch)
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO stories (story_id, title, url, summary, published, fetched, feed_id,"
                " feed_title, feed_url, source, language, recorded)"
                " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM seen WHERE story_id = ?)",
                (
                    (
                        s.id,
                        s.title,
                        s.url,
                        s.summary,
                        s.published.timestamp(),
                        s.fetched.timestamp(),
                        s.feed_id,
                        s.feed_title,
                        s.feed_url,
                        s.source,
                        s.language,
                        now,
                        s.id,
                    )
                    for s in stories
                ),
            )
            new = conn.total_changes - before
            _queue(conn, letters, now)
        return new

    def feed_health(self) -> list[FeedHealth]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT feed_id, url, last_status, last_success, failures, last_error, fetches, not_modified,"
                " items, fetch_url, disabled, next_due FROM feeds ORDER BY feed_id"
            ).fetchall()
        return [FeedHealth(*row) for row in rows]

    # -- stories and outbox ----------------------------------------------------------------------------------
    def unseen(self, story_ids: Sequence[str]) -> set[str]:
        """The ids in ``story_ids`` that no earlier cycle has recorded."""
        if not story_ids:
            return set()
        with self._connect() as conn:
            conn.execute("CREATE TEMP TABLE candidates (story_id TEXT PRIMARY KEY)")
            conn.executemany("INSERT OR IGNORE INTO candidates VALUES (?)", ((s,) for s in story_ids))
            rows = conn.execute(
                "SELECT c.story_id FROM candidates c LEFT JOIN seen s USING (story_id) WHERE s.story_id IS NULL"
            ).fetchall()
        return {row[0] for row in rows}

    def pending_stories(self, limit: int = 1000) -> list[Story]:
        """Stories kept by an intake and not yet scored, oldest first (a failed cycle's come before this one's)."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {_STORY_COLUMNS} FROM stories WHERE scored IS NULL ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [_story(row) for row in rows]

    def pending_count(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM stories WHERE scored IS NULL").fetchone()[0])

    def scored_stories(self, since: datetime, after: int = 0, limit: int = 1000) -> list[tuple[int, Story]]:
        """Scored stories recorded at or after ``since``, oldest first, as (position, story) pages: pass the last
        position as ``after`` for the next page (what ``newsmon replay`` scores again)."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT seq, {_STORY_COLUMNS} FROM stories WHERE scored IS NOT NULL AND recorded >= ? AND seq > ?"
                " ORDER BY seq LIMIT ?",
                (since.timestamp(), after, limit),
            ).fetchall()
        return [(int(row[0]), _story(row[1:])) for row in rows]

    def count_scored_stories(self, since: datetime) -> int:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM stories WHERE scored IS NOT NULL AND recorded >= ?", (since.timestamp(),)
            ).fetchone()
        return int(row[0])

    def oldest_story(self) -> datetime | None:
        """When the oldest story still kept was recorded (how far back a replay can reach)."""
        with self._connect() as conn:
            row = conn.execute("SELECT MIN(recorded) FROM stories").fetchone()
        return datetime.fromtimestamp(row[0], UTC) if row[0] is not None else None

    def register_seeds(self, seeds: Iterable[str]) -> dict[str, int]:
        """Remember the seeds taking part from now on. For each seed not seen before: how many kept stories were
        scored before it existed (stories it never saw; ``newsmon replay`` catches up on them)."""
        now = time.time()
        missed: dict[str, int] = {}
        with self._connect() as conn:
            for seed in seeds:
                if conn.execute("INSERT OR IGNORE INTO seeds VALUES (?, ?)", (seed, now)).rowcount:
                    row = conn.execute("SELECT COUNT(*) FROM stories WHERE scored IS NOT NULL").fetchone()
                    missed[seed] = int(row[0])
        return missed

    def alerted(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """The (story id, seed) pairs among ``pairs`` that already alerted (or joined an alert's group)."""
        wanted = list(pairs)
        if not wanted:
            return set()
        with self._connect() as conn:
            conn.execute("CREATE TEMP TABLE wanted (story_id TEXT, seed TEXT)")
            conn.executemany("INSERT INTO wanted VALUES (?, ?)", wanted)
            rows = conn.execute("SELECT w.story_id, w.seed FROM wanted w JOIN alerts a USING (story_id, seed)")
            return {(row[0], row[1]) for row in rows.fetchall()}

    def queue(self, messages: Iterable[OutboxMessage]) -> int:
        """Put messages in the outbox (once each: a message id already there is ignored); returns how many."""
        with self._connect() as conn:
            return _queue(conn, messages, time.time())

    def record_scoring(self, record: ScoringRecord, keep: Keep = Keep()) -> int:
        """In one transaction: mark the stories seen (and no longer pending), record each alert whose (story,
        seed) has not alerted before and queue its messages, remember the matched titles' embeddings, log every
        story as each seed scored it, and drop what ``keep`` no longer keeps. Returns how many messages were
        queued."""
        now = time.time()
        with self._connect() as conn:
            conn.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", ((s, f, now) for s, f in record.seen))
            conn.executemany(
                "UPDATE stories SET scored = ? WHERE story_id = ? AND scored IS NULL",
                ((now, story_id) for story_id, _ in record.seen),
            )
            _log_scored(conn, record.scored, now)
            conn.executemany(
                "INSERT OR REPLACE INTO recent_matches VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (r.story_id, r.seed, r.group_id, r.published.timestamp(), r.vector.astype("<f4").tobytes(), now)
                    for r in record.recent
                ),
            )
            queued = 0
            for alert in record.alerts:
                inserted = conn.execute(
                    "INSERT OR IGNORE INTO alerts VALUES (?, ?, ?, ?)",
                    (alert.story_id, alert.seed, alert.group_id, now),
                ).rowcount
                if inserted:
                    queued += _queue(conn, alert.messages, now)
            _forget(conn, keep)
            crash_point("pipeline-recording")  # everything written, nothing committed
        return queued

    def recent_matches(self, since: datetime, seed: str | None = None) -> list[Recent]:
        """Stories matched earlier (for ``seed``, or any) and published at or after ``since``, for grouping."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT story_id, group_id, published, vector, seed FROM recent_matches WHERE published >= ?"
                " AND (? IS NULL OR seed IN (?, ''))",
                (since.timestamp(), seed, seed),
            ).fetchall()
        return [
            Recent(
                r[0], r[1], datetime.fromtimestamp(r[2], UTC), np.frombuffer(r[3], dtype="<f4").astype(np.float32), r[4]
            )
            for r in rows
        ]

    def scored(self, since: datetime, seed: str | None = None) -> list[Scored]:
        """Stories scored (recorded) at or after ``since``, for one seed or all, most relevant first."""
        query = (
            "SELECT story_id, seed, title, summary, url, feed_id, published, relevance, threshold, topic, alerted"
            " FROM scored WHERE recorded >= ? AND (? IS NULL OR seed = ?) ORDER BY relevance DESC, story_id"
        )
        with self._connect() as conn:
            rows = conn.execute(query, (since.timestamp(), seed, seed)).fetchall()
        return [
            Scored(
                story_id=r[0],
                seed=r[1],
                title=r[2],
                summary=r[3],
                url=r[4],
                feed_id=r[5],
                published=datetime.fromtimestamp(r[6], UTC),
                relevance=r[7],
                threshold=r[8],
                topic=r[9],
                alerted=bool(r[10]),
            )
            for r in rows
        ]

    def pending(self, limit: int = 1000) -> list[OutboxMessage]:
        """Unsent outbox messages, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, message_id, key, topic, value, headers FROM outbox WHERE sent IS NULL ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            OutboxMessage(
                message_id=r[1],
                key=r[2],
                topic=r[3],
                value=bytes(r[4]),
                headers=tuple((k, v.encode()) for k, v in json.loads(r[5])),
                id=r[0],
            )
            for r in rows
        ]

    def mark_sent(self, ids: Iterable[int]) -> None:
        now = time.time()
        with self._connect() as conn:
            conn.executemany("UPDATE outbox SET sent = ? WHERE id = ?", ((now, i) for i in ids))

    def mark_failed(self, ids: Iterable[int], error: str) -> None:
        with self._connect() as conn:
            conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", ((error, i) for i in ids)
            )

    def outbox_counts(self) -> tuple[int, int]:
        """(sent, unsent) message counts."""
        with self._connect() as conn:
            row = conn.execute("SELECT COUNT(sent), COUNT(*) - COUNT(sent) FROM outbox").fetchone()
        return int(row[0]), int(row[1])


_STORY_COLUMNS = "story_id, title, url, summary, published, fetched, feed_id, feed_title, feed_url, source, language"


def _story(row: Sequence[Any]) -> Story:
    return Story(
        id=str(row[0]),
        title=str(row[1]),
        url=str(row[2]),
        summary=str(row[3]),
        published=datetime.fromtimestamp(float(row[4]), UTC),
        fetched=datetime.fromtimestamp(float(row[5]), UTC),
        feed_id=str(row[6]),
        feed_title=str(row[7]),
        feed_url=str(row[8]),
        source=str(row[9]),
        language=None if row[10] is None else str(row[10]),
    )


def _queue(conn: sqlite3.Connection, messages: Iterable[OutboxMessage], now: float) -> int:
    before = conn.total_changes
    conn.executemany(
        "INSERT OR IGNORE INTO outbox (message_id, key, topic, value, headers, created) VALUES (?, ?, ?, ?, ?, ?)",
        (
            (m.message_id, m.key, m.topic, m.value, json.dumps([[k, v.decode()] for k, v in m.headers]), now)
            for m in messages
        ),
    )
    return conn.total_changes - before


def _log_scored(conn: sqlite3.Connection, scored: Iterable[Scored], now: float) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO scored VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                s.story_id,
                s.seed,
                s.title,
                s.summary[:SUMMARY_CHARS],
                s.url,
                s.feed_id,
                s.published.timestamp(),
                s.relevance,
                s.threshold,
                s.topic,
                int(s.alerted),
                now,
            )
            for s in scored
        ),
    )


def _forget(conn: sqlite3.Connection, keep: Keep) -> None:
    if keep.recent_since is not None:
        conn.execute("DELETE FROM recent_matches WHERE recorded < ?", (keep.recent_since.timestamp(),))
    if keep.scored_since is not None:
        conn.execute("DELETE FROM scored WHERE recorded < ?", (keep.scored_since.timestamp(),))
    if keep.stories_since is not None:
        cutoff = keep.stories_since.timestamp()
        conn.execute("DELETE FROM stories WHERE scored IS NOT NULL AND recorded < ?", (cutoff,))
        conn.execute("DELETE FROM alerts WHERE recorded < ?", (cutoff,))


def _record_fetch(conn: sqlite3.Connection, fetch: FeedFetch) -> None:
    """A fetch's outcome: validators, health, and the next poll time (:func:`next_poll_delay`)."""
    result, feed = fetch.result, fetch.feed
    now = result.fetched.timestamp()
    failed = fetch.error is not None or not result.ok
    row = conn.execute("SELECT url, failures, fetch_url FROM feeds WHERE feed_id = ?", (feed.id,)).fetchone()
    same_feed = row is not None and row[0] == feed.url
    failures = (row[1] if same_feed else 0) + 1 if failed else 0
    fetch_url = result.permanent_url or (row[2] if same_feed else None)
    delay = next_poll_delay(
        feed.interval_seconds, failures, result.status, retry_after_seconds(result.retry_after, result.fetched)
    )
    disabled = f"HTTP 410 Gone at {result.fetched:%Y-%m-%d %H:%M} UTC" if result.status == 410 else None
    keep_validators = same_feed and not result.permanent_url
    conn.execute(
        "INSERT INTO feeds (feed_id, url) VALUES (?, ?) ON CONFLICT (feed_id) DO UPDATE SET url = excluded.url",
        (feed.id, feed.url),
    )
    conn.execute(
        """UPDATE feeds SET fetch_url = ?, disabled = ?, last_status = ?, last_fetch = ?, failures = ?,
           last_error = ?, next_due = ?, fetches = fetches + 1, not_modified = not_modified + ?,
           items = items + ?,
           etag = COALESCE(?, CASE WHEN ? THEN etag END),
           last_modified = COALESCE(?, CASE WHEN ? THEN last_modified END),
           last_success = CASE WHEN ? THEN last_success ELSE ? END
           WHERE feed_id = ?""",
        (
            fetch_url,
            disabled,
            result.status,
            now,
            failures,
            fetch.error or result.error,
            now + delay,
            int(result.not_modified),
            fetch.items,
            result.headers.get("etag"),
            keep_validators,
            result.headers.get("last-modified"),
            keep_validators,
            failed,
            now,
            feed.id,
        ),
    )
