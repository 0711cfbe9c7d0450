"""Stories: those fetched and not yet scored (pending), those scored and kept for replay, and the ids of every
story ever scored (seen), which a feed's later copies of it are checked against."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from newsmon.story import Story

__all__ = [
    "count_kept",
    "forget",
    "keep_pending",
    "kept",
    "mark_seen",
    "oldest",
    "pending",
    "pending_count",
    "unseen",
]

_COLUMNS = "story_id, title, url, summary, published, fetched, feed_id, feed_title, feed_url, source, language"


def keep_pending(conn: sqlite3.Connection, stories: Iterable[Story], now: float) -> int:
    """Keep the stories not seen before as pending (the first copy of a story wins); returns how many."""
    before = conn.total_changes
    conn.executemany(
        f"INSERT OR IGNORE INTO stories ({_COLUMNS}, recorded)"
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
    return conn.total_changes - before


def pending(conn: sqlite3.Connection, limit: int) -> list[Story]:
    """Stories kept and not yet scored, oldest first (a failed cycle's come before the next one's)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM stories WHERE scored IS NULL ORDER BY seq LIMIT ?", (limit,)
    ).fetchall()
    return [_story(row) for row in rows]


def pending_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM stories WHERE scored IS NULL").fetchone()[0])


def kept(conn: sqlite3.Connection, since: datetime, after: int, limit: int) -> list[tuple[int, Story]]:
    """Scored stories recorded at or after ``since``, oldest first, as (position, story) pages."""
    rows = conn.execute(
        f"SELECT seq, {_COLUMNS} FROM stories WHERE scored IS NOT NULL AND recorded >= ? AND seq > ?"
        " ORDER BY seq LIMIT ?",
        (since.timestamp(), after, limit),
    ).fetchall()
    return [(int(row[0]), _story(row[1:])) for row in rows]


def count_kept(conn: sqlite3.Connection, since: datetime) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM stories WHERE scored IS NOT NULL AND recorded >= ?", (since.timestamp(),)
    ).fetchone()
    return int(row[0])


def oldest(conn: sqlite3.Connection) -> datetime | None:
    """When the oldest story still kept was recorded."""
    row = conn.execute("SELECT MIN(recorded) FROM stories").fetchone()
    return datetime.fromtimestamp(row[0], UTC) if row[0] is not None else None


def mark_seen(conn: sqlite3.Connection, pairs: Sequence[tuple[str, str]], now: float) -> None:
    """Record (story id, feed id) pairs as seen, and their kept stories as scored (no longer pending)."""
    conn.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", ((s, f, now) for s, f in pairs))
    conn.executemany(
        "UPDATE stories SET scored = ? WHERE story_id = ? AND scored IS NULL", ((now, s) for s, _ in pairs)
    )


def unseen(conn: sqlite3.Connection, story_ids: Sequence[str]) -> set[str]:
    """The ids in ``story_ids`` that no scoring has recorded."""
    if not story_ids:
        return set()
    conn.execute("CREATE TEMP TABLE candidates (story_id TEXT PRIMARY KEY)")
    conn.executemany("INSERT OR IGNORE INTO candidates VALUES (?)", ((s,) for s in story_ids))
    rows = conn.execute(
        "SELECT c.story_id FROM candidates c LEFT JOIN seen s USING (story_id) WHERE s.story_id IS NULL"
    ).fetchall()
    return {row[0] for row in rows}


def forget(conn: sqlite3.Connection, before: datetime) -> None:
    """Drop the scored stories recorded before ``before`` (pending ones are never dropped)."""
    conn.execute("DELETE FROM stories WHERE scored IS NOT NULL AND recorded < ?", (before.timestamp(),))


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
