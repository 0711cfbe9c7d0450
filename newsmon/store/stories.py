"""Stories: those fetched and not yet scored (pending), those scored and kept for replay, and the ids of every
story ever scored (seen), which a feed's later copies of it are checked against."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from newsmon.store.sql import Sql, chunks, marks
from newsmon.story import Story

__all__ = [
    "by_position",
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


def keep_pending(conn: Sql, stories: Iterable[Story], now: float) -> int:
    """Keep the stories not seen before as pending (the first copy of a story wins); returns how many."""
    return conn.many(
        f"INSERT INTO stories ({_COLUMNS}, recorded)"
        " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM seen WHERE story_id = ?)"
        " ON CONFLICT DO NOTHING",
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


def pending(conn: Sql, limit: int) -> list[Story]:
    """Stories kept and not yet scored, oldest first (a failed cycle's come before the next one's)."""
    rows = conn.rows(f"SELECT {_COLUMNS} FROM stories WHERE scored IS NULL ORDER BY seq LIMIT ?", (limit,))
    return [_story(row) for row in rows]


def by_position(conn: Sql, seqs: Sequence[int]) -> list[Story]:
    """The stories at these positions, in that order."""
    found: dict[int, Story] = {}
    for part in chunks(seqs):
        for row in conn.rows(f"SELECT seq, {_COLUMNS} FROM stories WHERE seq IN ({marks(len(part))})", part):
            found[int(row[0])] = _story(row[1:])
    return [found[s] for s in seqs if s in found]


def pending_count(conn: Sql) -> int:
    return int(conn.one("SELECT COUNT(*) FROM stories WHERE scored IS NULL")[0])


def kept(conn: Sql, since: datetime, after: int, limit: int) -> list[tuple[int, Story]]:
    """Scored stories recorded at or after ``since``, oldest first, as (position, story) pages."""
    rows = conn.rows(
        f"SELECT seq, {_COLUMNS} FROM stories WHERE scored IS NOT NULL AND recorded >= ? AND seq > ?"
        " ORDER BY seq LIMIT ?",
        (since.timestamp(), after, limit),
    )
    return [(int(row[0]), _story(row[1:])) for row in rows]


def count_kept(conn: Sql, since: datetime) -> int:
    row = conn.one("SELECT COUNT(*) FROM stories WHERE scored IS NOT NULL AND recorded >= ?", (since.timestamp(),))
    return int(row[0])


def oldest(conn: Sql) -> datetime | None:
    """When the oldest story still kept was recorded."""
    row = conn.one("SELECT MIN(recorded) FROM stories")
    return datetime.fromtimestamp(row[0], UTC) if row[0] is not None else None


def mark_seen(conn: Sql, pairs: Sequence[tuple[str, str]], now: float) -> None:
    """Record (story id, feed id) pairs as seen, and their kept stories as scored (no longer pending)."""
    conn.many("INSERT INTO seen VALUES (?, ?, ?) ON CONFLICT DO NOTHING", ((s, f, now) for s, f in pairs))
    conn.many("UPDATE stories SET scored = ? WHERE story_id = ? AND scored IS NULL", ((now, s) for s, _ in pairs))


def unseen(conn: Sql, story_ids: Sequence[str]) -> set[str]:
    """The ids in ``story_ids`` that no scoring has recorded."""
    wanted = list(dict.fromkeys(story_ids))
    found = {
        row[0]
        for part in chunks(wanted)
        for row in conn.rows(f"SELECT story_id FROM seen WHERE story_id IN ({marks(len(part))})", part)
    }
    return set(wanted) - found


def forget(conn: Sql, before: datetime) -> None:
    """Drop the scored stories recorded before ``before`` (pending ones are never dropped)."""
    conn.run("DELETE FROM stories WHERE scored IS NOT NULL AND recorded < ?", (before.timestamp(),))


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
