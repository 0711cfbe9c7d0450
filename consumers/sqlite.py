"""The one way consumers open their SQLite files: WAL (readers never block the writer), a 30 s busy timeout, and
one transaction per ``with`` block, committed on success and rolled back on error."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["transaction"]


@contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        with conn:
            yield conn
    finally:
        conn.close()
