"""One connection interface over SQLite and PostgreSQL, so each entity module's SQL is written once.

The entity modules write portable SQL: ``?`` placeholders, ``INSERT … ON CONFLICT … DO NOTHING / DO UPDATE``
(SQLite ≥ 3.24), no temporary tables, no dialect functions. ``Sql`` runs it on either driver and reports
affected rows the same way; the few places where the two must differ ask ``dialect``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Protocol

__all__ = ["CHUNK", "Database", "Dialect", "Sql", "chunks", "marks"]

Dialect = Literal["sqlite", "postgresql"]
CHUNK = 500  # ids per IN (…) list: under SQLite's 999-variable floor, and short statements for PostgreSQL


@lru_cache(maxsize=256)
def _pyformat(sql: str) -> str:
    """psycopg's placeholders: ``?`` becomes ``%s`` (our SQL never holds a literal ``?`` or ``%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


@dataclass(frozen=True, slots=True)
class Sql:
    """A DB-API connection in an open transaction, with the entity modules' three verbs."""

    raw: Any  # sqlite3.Connection or psycopg.Connection
    dialect: Dialect

    def _sql(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else _pyformat(sql)

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute one statement; returns the rows it changed."""
        cursor = self.raw.cursor()
        try:
            cursor.execute(self._sql(sql), params)
            return max(int(cursor.rowcount), 0)
        finally:
            cursor.close()

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Execute one statement per row; returns the rows changed in all."""
        batch = list(rows)
        if not batch:
            return 0
        cursor = self.raw.cursor()
        try:
            cursor.executemany(self._sql(sql), batch)
            return max(int(cursor.rowcount), 0)
        finally:
            cursor.close()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Execute a query; returns its rows."""
        cursor = self.raw.cursor()
        try:
            cursor.execute(self._sql(sql), params)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        """Execute a query that returns exactly one row (an aggregate); returns it."""
        return self.rows(sql, params)[0]

    @property
    def skip_locked(self) -> str:
        """The clause that lets concurrent workers each take different rows: PostgreSQL locks the rows it
        selects and skips those another transaction holds; SQLite's write transaction already excludes every
        other writer, so it needs none."""
        return " FOR UPDATE SKIP LOCKED" if self.dialect == "postgresql" else ""


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """``values`` in slices of at most ``size``, for ``IN (…)`` lists."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def marks(count: int) -> str:
    """``?, ?, …`` for an ``IN (…)`` list of ``count`` values."""
    return ", ".join("?" * count)


class Database(Protocol):
    """Where the state lives: one backend's migrations and the one way to open a transaction."""

    @property
    def where(self) -> str:
        """Where the state is, as a user would name it (a path, or a URL without its password)."""
        ...

    def transaction(self) -> AbstractContextManager[Sql]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        ...

    def exclusive(self, key: int) -> AbstractContextManager[None]:
        """Hold lock ``key`` for the block, across transactions, against every other worker on this state."""
        ...

    def close(self) -> None: ...
