"""Alerts: each (story, seed) that matched, so none alerts twice, replays included; the title embeddings of
recent matches per seed, for near-duplicate grouping; and when each seed first took part."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np

from newsmon.store import outbox
from newsmon.store.rows import Alert, RecentMatch

__all__ = ["alerted", "forget", "recent", "record", "register_seeds", "remember"]


def alerted(conn: sqlite3.Connection, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (story id, seed) pairs among ``pairs`` that already alerted (or joined an alert's group)."""
    wanted = list(pairs)
    if not wanted:
        return set()
    conn.execute("CREATE TEMP TABLE wanted (story_id TEXT, seed TEXT)")
    conn.executemany("INSERT INTO wanted VALUES (?, ?)", wanted)
    rows = conn.execute("SELECT w.story_id, w.seed FROM wanted w JOIN alerts a USING (story_id, seed)").fetchall()
    return {(row[0], row[1]) for row in rows}


def record(conn: sqlite3.Connection, alerts: Iterable[Alert], now: float) -> int:
    """Record each alert whose (story, seed) has not alerted before and queue its messages; returns how many
    messages were queued. The primary key decides, not timing: two writers can never both send one."""
    queued = 0
    for alert in alerts:
        inserted = conn.execute(
            "INSERT OR IGNORE INTO alerts VALUES (?, ?, ?, ?)", (alert.story_id, alert.seed, alert.group_id, now)
        ).rowcount
        if inserted:
            queued += outbox.queue(conn, alert.messages, now)
    return queued


def recent(conn: sqlite3.Connection, since: datetime, seed: str | None = None) -> list[RecentMatch]:
    """Stories matched (for ``seed``, or any) and published at or after ``since``."""
    rows = conn.execute(
        "SELECT story_id, group_id, published, vector, seed FROM recent_matches WHERE published >= ?"
        " AND (? IS NULL OR seed IN (?, ''))",
        (since.timestamp(), seed, seed),
    ).fetchall()
    return [
        RecentMatch(
            r[0], r[1], datetime.fromtimestamp(r[2], UTC), np.frombuffer(r[3], dtype="<f4").astype(np.float32), r[4]
        )
        for r in rows
    ]


def remember(conn: sqlite3.Connection, matches: Iterable[RecentMatch], now: float) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO recent_matches VALUES (?, ?, ?, ?, ?, ?)",
        (
            (m.story_id, m.seed, m.group_id, m.published.timestamp(), m.vector.astype("<f4").tobytes(), now)
            for m in matches
        ),
    )


def forget(conn: sqlite3.Connection, alerts_before: datetime | None, recent_before: datetime | None) -> None:
    """Drop alerts recorded before ``alerts_before`` (their stories are no longer kept to replay) and
    embeddings recorded before ``recent_before``."""
    if alerts_before is not None:
        conn.execute("DELETE FROM alerts WHERE recorded < ?", (alerts_before.timestamp(),))
    if recent_before is not None:
        conn.execute("DELETE FROM recent_matches WHERE recorded < ?", (recent_before.timestamp(),))


def register_seeds(conn: sqlite3.Connection, seeds: Iterable[str], now: float) -> list[str]:
    """Remember the seeds taking part from now on; returns those not seen before."""
    return [seed for seed in seeds if conn.execute("INSERT OR IGNORE INTO seeds VALUES (?, ?)", (seed, now)).rowcount]
