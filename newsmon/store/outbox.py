"""The outbox: messages for Kafka, written in the transaction that decided them, marked sent only once the broker
acknowledged them. What makes delivery at-least-once."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from newsmon.messages import OutboxMessage
from newsmon.store.sql import Sql, chunks, marks

__all__ = ["by_id", "counts", "mark_failed", "mark_sent", "queue", "unsent", "waiting"]


_COLUMNS = "id, message_id, key, topic, value, headers"


def queue(conn: Sql, messages: Iterable[OutboxMessage], now: float) -> int:
    """Add messages (once each: a message id already queued for that topic is ignored); returns how many."""
    return conn.many(
        "INSERT INTO outbox (message_id, key, topic, value, headers, created) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (
            (m.message_id, m.key, m.topic, m.value, json.dumps([[k, v.decode()] for k, v in m.headers]), now)
            for m in messages
        ),
    )


def unsent(conn: Sql, limit: int) -> list[OutboxMessage]:
    """Messages not yet acknowledged, oldest first."""
    rows = conn.rows(f"SELECT {_COLUMNS} FROM outbox WHERE sent IS NULL ORDER BY id LIMIT ?", (limit,))
    return _messages(rows)


def by_id(conn: Sql, ids: Sequence[int]) -> list[OutboxMessage]:
    """The messages with these ids, in that order."""
    rows = [
        r
        for part in chunks(ids)
        for r in conn.rows(f"SELECT {_COLUMNS} FROM outbox WHERE id IN ({marks(len(part))})", part)
    ]
    position = {i: n for n, i in enumerate(ids)}
    return _messages(sorted(rows, key=lambda r: position[int(r[0])]))


def _messages(rows: Sequence[Sequence[Any]]) -> list[OutboxMessage]:
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


def mark_sent(conn: Sql, ids: Iterable[int], now: float) -> None:
    conn.many("UPDATE outbox SET sent = ? WHERE id = ?", ((now, i) for i in ids))


def mark_failed(conn: Sql, ids: Iterable[int], error: str) -> None:
    """Count a failed attempt and free the messages' claims: the next delivery, by any worker, retries them."""
    conn.many(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, claimed_by = NULL, claim_until = NULL WHERE id = ?",
        ((error, i) for i in ids),
    )


def waiting(conn: Sql, worker: str, now: float) -> int:
    """Unsent messages that no other worker is sending right now: what this worker must report undelivered."""
    row = conn.one(
        "SELECT COUNT(*) FROM outbox WHERE sent IS NULL AND (claim_until IS NULL OR claim_until < ? OR claimed_by = ?)",
        (now, worker),
    )
    return int(row[0])


def counts(conn: Sql) -> tuple[int, int]:
    """(sent, unsent) message counts."""
    row = conn.one("SELECT COUNT(sent), COUNT(*) - COUNT(sent) FROM outbox")
    return int(row[0]), int(row[1])
