"""The SQLite file behind the store (the embedded default): its schema, its migrations, and the one way to
open a transaction.

WAL mode (readers never block the writer), a 30 s busy timeout, one short-lived connection per transaction
(BEGIN IMMEDIATE: one writer at a time), so the store is safe from Prefect's worker threads and from several
processes on one machine. ``newsmon.store.postgres`` keeps the same tables, version for version.
"""

from __future__ import annotations

import fcntl
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newsmon.store.sql import Sql

__all__ = ["MIGRATIONS", "SQLiteDatabase"]

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
MIGRATIONS = (
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
    # 5: the (story, seed) pairs 'newsmon review export' has written, so no story is asked about twice.
    "CREATE TABLE exported (story_id TEXT NOT NULL, seed TEXT NOT NULL, exported REAL NOT NULL,"
    " PRIMARY KEY (story_id, seed));",
    # 6: several workers on one state: a worker leases the feeds it polls, claims the pending stories it scores
    #    and the outbox messages it sends, each until a moment; an expired one (its worker died) is free again.
    "ALTER TABLE feeds ADD COLUMN leased_by TEXT; ALTER TABLE feeds ADD COLUMN lease_until REAL;"
    " ALTER TABLE stories ADD COLUMN claimed_by TEXT; ALTER TABLE stories ADD COLUMN claim_until REAL;"
    " ALTER TABLE outbox ADD COLUMN claimed_by TEXT; ALTER TABLE outbox ADD COLUMN claim_until REAL;",
    # 7: each seed's stream pool (models.stream): the title embeddings of the recent stories closest to its
    #    article, which its relevance reads alongside the article's own sentences.
    "CREATE TABLE stream (seed TEXT NOT NULL, story_id TEXT NOT NULL, title TEXT NOT NULL, vector BLOB NOT NULL,"
    " closeness REAL NOT NULL, recorded REAL NOT NULL, PRIMARY KEY (seed, story_id));",
)


class SQLiteDatabase:
    """The state in one SQLite file, created and migrated on first open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _migrate(path)

    @property
    def where(self) -> str:
        return str(self.path)

    @contextmanager
    def transaction(self) -> Iterator[Sql]:
        """One write transaction (BEGIN IMMEDIATE), committed when the block ends, rolled back if it raises."""
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Sql(conn, "sqlite")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    @contextmanager
    def exclusive(self, key: int) -> Iterator[None]:
        """A lock file beside the database (every process on this machine honours it)."""
        with open(f"{self.path}.lock{key}", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def close(self) -> None:
        """Nothing stays open between transactions."""


def _migrate(path: Path) -> None:
    """Create the file and its tables if missing, and bring an older one up to date (PRAGMA user_version).
    One process at a time (a lock file): workers that start together would otherwise each read the old version
    and run the same migration, and all but one fail on a column that already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.migrate.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn = sqlite3.connect(path, timeout=30)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                conn.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")
        finally:
            conn.close()
            fcntl.flock(lock, fcntl.LOCK_UN)
