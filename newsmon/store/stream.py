"""Each seed's stream pool (``models.stream``): the recent stories closest to its article, bounded per seed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np

from newsmon.store.rows import StreamPick
from newsmon.store.sql import Sql

__all__ = ["forget", "pools", "remember"]


def pools(conn: Sql) -> dict[str, list[StreamPick]]:
    """Every seed's picks, closest first."""
    found: dict[str, list[StreamPick]] = {}
    query = "SELECT seed, story_id, title, vector, closeness FROM stream ORDER BY seed, closeness DESC, story_id"
    for seed, story_id, title, vector, closeness in conn.rows(query, ()):
        found.setdefault(seed, []).append(
            StreamPick(seed, story_id, title, np.frombuffer(vector, dtype="<f4").copy(), float(closeness))
        )
    return found


def remember(conn: Sql, picks: Iterable[StreamPick], now: float, most: int) -> None:
    """Add the picks (a story picked again takes its newer reading), then keep each seed's ``most`` closest."""
    picks = list(picks)
    conn.many(
        "INSERT INTO stream VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (seed, story_id) DO UPDATE SET"
        " title = excluded.title, vector = excluded.vector, closeness = excluded.closeness,"
        " recorded = excluded.recorded",
        ((p.seed, p.story_id, p.title, p.vector.astype("<f4").tobytes(), p.closeness, now) for p in picks),
    )
    for seed in dict.fromkeys(p.seed for p in picks):
        conn.run(
            "DELETE FROM stream WHERE seed = ? AND story_id NOT IN (SELECT story_id FROM stream WHERE seed = ?"
            " ORDER BY closeness DESC, story_id LIMIT ?)",
            (seed, seed, most),
        )


def forget(conn: Sql, before: datetime) -> None:
    """Let go of the picks recorded before ``before``."""
    conn.run("DELETE FROM stream WHERE recorded < ?", (before.timestamp(),))
