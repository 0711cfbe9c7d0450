"""The scored log: every story as each seed scored it, alert or not, kept ``review_retention_days`` for
``newsmon review export`` (analyst feedback)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

from newsmon.store.rows import ScoredStory

__all__ = ["SUMMARY_CHARS", "forget", "log", "mark_exported", "since"]

SUMMARY_CHARS = 1000  # enough to judge a story by; the log stays small


def log(conn: sqlite3.Connection, scored: Iterable[ScoredStory], now: float) -> None:
    """Log each (story, seed) scoring, replacing an earlier one of the same pair (a replay rescored it)."""
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


def since(
    conn: sqlite3.Connection, moment: datetime, seed: str | None = None, unexported: bool = False
) -> list[ScoredStory]:
    """Stories scored at or after ``moment``, for one seed or all (only those never exported for review, with
    ``unexported``), most relevant first."""
    rows = conn.execute(
        "SELECT story_id, seed, title, summary, url, feed_id, published, relevance, threshold, topic, alerted"
        " FROM scored s WHERE recorded >= ? AND (? IS NULL OR seed = ?) AND (? = 0 OR NOT EXISTS"
        " (SELECT 1 FROM exported e WHERE e.story_id = s.story_id AND e.seed = s.seed))"
        " ORDER BY relevance DESC, story_id",
        (moment.timestamp(), seed, seed, int(unexported)),
    ).fetchall()
    return [
        ScoredStory(
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


def forget(conn: sqlite3.Connection, before: datetime) -> None:
    conn.execute("DELETE FROM scored WHERE recorded < ?", (before.timestamp(),))


def mark_exported(conn: sqlite3.Connection, pairs: Iterable[tuple[str, str]], now: float) -> None:
    """Remember that these (story, seed) pairs went into a review file."""
    conn.executemany("INSERT OR IGNORE INTO exported VALUES (?, ?, ?)", ((story, seed, now) for story, seed in pairs))
