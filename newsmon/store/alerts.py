"""Alerts: each (story, seed) that matched, so none alerts twice, replays included; the title embeddings of
recent matches per seed, for near-duplicate grouping; and when each seed first took part."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np

from newsmon.store import outbox
from newsmon.store.rows import Alert, RecentMatch
from newsmon.store.sql import Sql, chunks, marks

__all__ = ["alerted", "forget", "recent", "record", "register_seeds", "remember"]


def alerted(conn: Sql, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (story id, seed) pairs among ``pairs`` that already alerted (or joined an alert's group)."""
    wanted = set(pairs)
    ids = sorted({story for story, _ in wanted})
    found = {
        (row[0], row[1])
        for part in chunks(ids)
        for row in conn.rows(f"SELECT story_id, seed FROM alerts WHERE story_id IN ({marks(len(part))})", part)
    }
    return wanted & found


def record(conn: Sql, alerts: Iterable[Alert], now: float) -> int:
    """Record each alert whose (story, seed) has not alerted before and queue its messages; returns how many
    messages were queued. The primary key decides, not timing: two writers can never both send one."""
    queued = 0
    for alert in alerts:
        inserted = conn.run(
            "INSERT INTO alerts VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (alert.story_id, alert.seed, alert.group_id, now),
        )
        if inserted:
            queued += outbox.queue(conn, alert.messages, now)
    return queued


def recent(conn: Sql, since: datetime, seed: str | None = None) -> list[RecentMatch]:
    """Stories matched (for ``seed``, or any) and published at or after ``since``."""
    query = "SELECT story_id, group_id, published, vector, seed FROM recent_matches WHERE published >= ?"
    if seed is None:
        rows = conn.rows(query, (since.timestamp(),))
    else:
        rows = conn.rows(query + " AND seed IN (?, '')", (since.timestamp(), seed))
    return [
        RecentMatch(
            r[0], r[1], datetime.fromtimestamp(r[2], UTC), np.frombuffer(r[3], dtype="<f4").astype(np.float32), r[4]
        )
        for r in rows
    ]


def remember(conn: Sql, matches: Iterable[RecentMatch], now: float) -> None:
    conn.many(
        "INSERT INTO recent_matches VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (story_id, seed) DO UPDATE SET"
        " group_id = excluded.group_id, published = excluded.published, vector = excluded.vector,"
        " recorded = excluded.recorded",
        (
            (m.story_id, m.seed, m.group_id, m.published.timestamp(), m.vector.astype("<f4").tobytes(), now)
            for m in matches
        ),
    )


def forget(conn: Sql, alerts_before: datetime | None, recent_before: datetime | None) -> None:
    """Drop alerts recorded before ``alerts_before`` (their stories are no longer kept to replay) and
    embeddings recorded before ``recent_before``."""
    if alerts_before is not None:
        conn.run("DELETE FROM alerts WHERE recorded < ?", (alerts_before.timestamp(),))
    if recent_before is not None:
        conn.run("DELETE FROM recent_matches WHERE recorded < ?", (recent_before.timestamp(),))


def register_seeds(conn: Sql, seeds: Iterable[str], now: float) -> list[str]:
    """Remember the seeds taking part from now on; returns those not seen before."""
    return [seed for seed in seeds if conn.run("INSERT INTO seeds VALUES (?, ?) ON CONFLICT DO NOTHING", (seed, now))]
