"""``newsmon consume archive``: every alert into a queryable SQLite file.

One row per message id (insert-or-ignore), so a record redelivered after a crash can never make a second row.
The columns are what people filter on; ``message`` holds the whole JSON for anything else:

    sqlite3 alerts.sqlite3 "SELECT published, relevance, title FROM alerts WHERE seed = 'huawei-korea-chips'
                            AND published >= '2026-03-01' ORDER BY relevance DESC LIMIT 20"
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from consumers.sqlite import transaction
from newsmon.messages import MatchMessage

__all__ = ["Archive", "ArchivedAlert"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    message_id TEXT PRIMARY KEY,
    story_id TEXT NOT NULL,
    seed TEXT NOT NULL,
    topic TEXT NOT NULL,
    topic_name TEXT NOT NULL,
    relevance REAL NOT NULL,
    title TEXT NOT NULL,
    url TEXT NOT NULL,
    source TEXT NOT NULL,
    published TEXT NOT NULL,
    produced_at TEXT NOT NULL,
    duplicate_group TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_published ON alerts (published);
CREATE INDEX IF NOT EXISTS alerts_seed_topic ON alerts (seed, topic);
"""


@dataclass(frozen=True, slots=True)
class ArchivedAlert:
    published: str
    seed: str
    topic_name: str
    relevance: float
    title: str
    url: str
    source: str
    message_id: str


class Archive:
    """The archive file: ``add`` an alert, ``query`` them back."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with transaction(self.path) as conn:
            conn.executescript(_SCHEMA)

    def add(self, message: MatchMessage) -> bool:
        """Store one alert; False when its message id is already there."""
        story, best = message.story, message.deciding
        row = (
            message.message_id,
            story.id,
            message.seed.id,
            best.id,
            best.name,
            float(message.score),
            story.title,
            story.url,
            story.source or story.feed.title,
            story.published,
            message.produced_at,
            message.duplicate_group,
            message.encode().decode("utf-8"),
        )
        with transaction(self.path) as conn:
            cursor = conn.execute(f"INSERT OR IGNORE INTO alerts VALUES ({', '.join('?' * len(row))})", row)
            return cursor.rowcount == 1

    def count(self) -> int:
        with transaction(self.path) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])

    def query(
        self,
        *,
        seed: str | None = None,
        topic: str | None = None,
        since: str | None = None,
        text: str | None = None,
        limit: int = 50,
    ) -> list[ArchivedAlert]:
        """Alerts newest first, filtered by seed, topic (its id, or its name in any case), published-since (the
        contract's UTC ISO text, which sorts as time) and title text."""
        clauses: list[str] = []
        params: list[str] = []
        for column, value in (("seed = ?", seed), ("published >= ?", since)):
            if value:
                clauses.append(column)
                params.append(value)
        if topic:
            clauses.append("(topic = ? OR lower(topic_name) = lower(?))")
            params += [topic, topic]
        if text:
            clauses.append("title LIKE ?")
            params.append(f"%{text}%")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = (
            "SELECT published, seed, topic_name, relevance, title, url, source, message_id FROM alerts "
            f"{where} ORDER BY published DESC, relevance DESC LIMIT ?"
        )
        with transaction(self.path) as conn:
            rows = conn.execute(sql, (*params, limit)).fetchall()
        return [ArchivedAlert(*row) for row in rows]
