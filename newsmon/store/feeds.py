"""Feeds: each feed's HTTP state and health, one row per feed id, exactly as ``newsmon.polling`` decided it."""

from __future__ import annotations

from collections.abc import Iterable

from newsmon.store.rows import FeedRow
from newsmon.store.sql import Sql

__all__ = ["load", "save"]

_COLUMNS = (
    "feed_id, url, etag, last_modified, last_status, last_fetch, last_success, failures, last_error, next_due,"
    " fetches, not_modified, items, fetch_url, disabled"
)


def load(conn: Sql) -> dict[str, FeedRow]:
    """Every feed's row, by feed id."""
    rows = conn.rows(f"SELECT {_COLUMNS} FROM feeds ORDER BY feed_id")
    return {row[0]: FeedRow(*row) for row in rows}


def save(conn: Sql, rows: Iterable[FeedRow]) -> None:
    """Insert or replace each feed's row."""
    names = _COLUMNS.split(", ")
    updates = ", ".join(f"{n} = excluded.{n}" for n in names[1:])
    conn.many(
        f"INSERT INTO feeds ({_COLUMNS}) VALUES ({', '.join('?' * len(names))})"
        f" ON CONFLICT (feed_id) DO UPDATE SET {updates}",
        (
            (
                r.feed_id,
                r.url,
                r.etag,
                r.last_modified,
                r.last_status,
                r.last_fetch,
                r.last_success,
                r.failures,
                r.last_error,
                r.next_due,
                r.fetches,
                r.not_modified,
                r.items,
                r.fetch_url,
                r.disabled,
            )
            for r in rows
        ),
    )
