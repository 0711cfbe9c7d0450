"""Leases, so any number of workers share one state without doing one job twice: a worker leases the feeds it
polls, claims the pending stories it scores and the outbox messages it sends, each until a moment.

A lease is taken in one transaction that reads and marks the rows (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so
workers leasing at once each get different rows and never wait on each other; SQLite: its single writer).
The intake and scoring transactions end the leases they used. A lease is free again when it expires (its
worker died elsewhere), or at once when its holder was a process on this machine that is gone (or is this
very process, after a failed cycle): a restarted worker never waits out its own dead predecessor's leases.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence

from newsmon.store.sql import Sql, chunks, marks

__all__ = ["claim_pending", "claim_unsent", "enrol_feeds", "holder_name", "lease_feeds", "release_feeds", "vacated"]


def holder_name() -> str:
    """This worker's default name: host and process id (unique among live workers)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def vacated(holders: Sequence[str]) -> list[str]:
    """The holders among ``holders`` that were processes on this host and are gone, or are this process."""
    host = socket.gethostname()
    free = []
    for holder in holders:
        name, _, pid = holder.rpartition(":")
        if name == host and pid.isdigit() and (int(pid) == os.getpid() or _gone(int(pid))):
            free.append(holder)
    return free


def _free(conn: Sql, table: str, holder: str, until: str, now: float) -> tuple[str, list[object]]:
    """The SQL condition (and its values) for a row of ``table`` no live worker holds."""
    live = [row[0] for row in conn.rows(f"SELECT DISTINCT {holder} FROM {table} WHERE {until} >= ?", (now,))]
    gone = vacated(live)
    condition = f"({until} IS NULL OR {until} < ?"
    if gone:
        condition += f" OR {holder} IN ({marks(len(gone))})"
    return condition + ")", [now, *gone]


def enrol_feeds(conn: Sql, feeds: Sequence[tuple[str, str]]) -> None:
    """Give each feed ((id, configured URL) pairs) a row to lease: a new feed's row is due at once, and so is
    one whose configured URL changed (its row keeps the old URL, so ``newsmon.polling`` starts it afresh)."""
    conn.many("INSERT INTO feeds (feed_id, url) VALUES (?, ?) ON CONFLICT DO NOTHING", feeds)
    conn.many("UPDATE feeds SET next_due = 0 WHERE feed_id = ? AND url <> ?", feeds)


def lease_feeds(
    conn: Sql, feed_ids: Sequence[str], worker: str, until: float, now: float, due_by: float, since: float, limit: int
) -> list[str]:
    """Lease up to ``limit`` of ``feed_ids`` for ``worker`` until ``until``: those no live worker holds, due by
    ``due_by`` and not fetched since ``since`` (so a feed another worker polled while this one planned is not
    polled twice). Returns the leased feed ids."""
    free, values = _free(conn, "feeds", "leased_by", "lease_until", now)
    leased: list[str] = []
    for part in chunks(feed_ids):
        if len(leased) >= limit:
            break
        rows = conn.rows(
            f"SELECT feed_id FROM feeds WHERE feed_id IN ({marks(len(part))}) AND next_due <= ?"
            f" AND (last_fetch IS NULL OR last_fetch < ?) AND {free} ORDER BY next_due, feed_id LIMIT ?"
            f"{conn.skip_locked}",
            [*part, due_by, since, *values, limit - len(leased)],
        )
        leased += [row[0] for row in rows]
    conn.many("UPDATE feeds SET leased_by = ?, lease_until = ? WHERE feed_id = ?", ((worker, until, f) for f in leased))
    return leased


def release_feeds(conn: Sql, feed_ids: Sequence[str]) -> None:
    """End the leases of feeds whose fetch has been recorded."""
    conn.many("UPDATE feeds SET leased_by = NULL, lease_until = NULL WHERE feed_id = ?", ((f,) for f in feed_ids))


def claim_pending(conn: Sql, worker: str, until: float, now: float, limit: int) -> list[int]:
    """Claim up to ``limit`` pending stories no live worker holds, oldest first; returns their positions."""
    return _claim(conn, "stories", "seq", "scored IS NULL", worker, until, now, limit)


def claim_unsent(conn: Sql, worker: str, until: float, now: float, limit: int) -> list[int]:
    """Claim up to ``limit`` unsent outbox messages no live worker is sending, oldest first; returns their ids."""
    return _claim(conn, "outbox", "id", "sent IS NULL", worker, until, now, limit)


def _claim(
    conn: Sql, table: str, key: str, waiting: str, worker: str, until: float, now: float, limit: int
) -> list[int]:
    """Claim up to ``limit`` rows of ``table`` matching ``waiting`` that no live worker holds, in ``key`` order."""
    free, values = _free(conn, table, "claimed_by", "claim_until", now)
    rows = conn.rows(
        f"SELECT {key} FROM {table} WHERE {waiting} AND {free} ORDER BY {key} LIMIT ?{conn.skip_locked}",
        [*values, limit],
    )
    keys = [int(row[0]) for row in rows]
    conn.many(f"UPDATE {table} SET claimed_by = ?, claim_until = ? WHERE {key} = ?", ((worker, until, k) for k in keys))
    return keys
