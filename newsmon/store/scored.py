"""The scored log: every story as each seed scored it, alert or not, kept ``review_retention_days`` for
``newsmon review export`` (analyst feedback)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from newsmon.store.rows import ScoredStory
from newsmon.store.sql import Sql

__all__ = ["SUMMARY_CHARS", "forget", "log", "mark_exported", "since"]

SUMMARY_CHARS = 1000  # enough to judge a story by; the log stays small
_COLUMNS = (
    "story_id",
    "seed",
    "title",
    "summary",
    "url",
    "feed_id",
    "published",
    "relevance",
    "threshold",
    "topic",
    "alerted",
    "recorded",
)


def log(conn: Sql, scored: Iterable[ScoredStory], now: float) -> None:
    """Log each (story, seed) scoring, replacing an earlier one of the same pair (a replay rescored it)."""
    replace = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[2:])
    conn.many(
        f"INSERT INTO scored ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
        f" ON CONFLICT (story_id, seed) DO UPDATE SET {replace}",
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


def since(conn: Sql, moment: datetime, seed: str | None = None, unexported: bool = False) -> list[ScoredStory]:
    """Stories scored at or after ``moment``, for one seed or all (only those never exported for review, with
    ``unexported``), most relevant first."""
    where, params = "recorded >= ?", [moment.timestamp(), seed]
    if seed is None:
        params = params[:1]
    else:
        where += " AND seed = ?"
    if unexported:
        where += " AND NOT EXISTS (SELECT 1 FROM exported e WHERE e.story_id = s.story_id AND e.seed = s.seed)"
    rows = conn.rows(
        f"SELECT {', '.join(_COLUMNS[:-1])} FROM scored s WHERE {where} ORDER BY relevance DESC, story_id", params
    )
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


def forget(conn: Sql, before: datetime) -> None:
    conn.run("DELETE FROM scored WHERE recorded < ?", (before.timestamp(),))


def mark_exported(conn: Sql, pairs: Iterable[tuple[str, str]], now: float) -> None:
    """Remember that these (story, seed) pairs went into a review file."""
    conn.many(
        "INSERT INTO exported VALUES (?, ?, ?) ON CONFLICT DO NOTHING", ((story, seed, now) for story, seed in pairs)
    )
