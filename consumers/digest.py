"""``newsmon consume digest``: a Markdown and an HTML digest per period (a day by default), grouped by seed and
topic, written to a folder.

Alerts are kept in a small SQLite file in that folder, one row per message id; after each alert the digest of its
period is rendered again from those rows and replaced atomically. So a redelivered alert never adds a second
line, a crash never leaves half a file, and the current period's digest is always up to date.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Literal

from consumers.sqlite import transaction
from newsmon.files import replace_file
from newsmon.messages import MatchMessage

__all__ = ["PERIODS", "Digest", "DigestLine", "period_of"]

Period = Literal["hour", "day", "week"]
PERIODS: tuple[Period, ...] = ("hour", "day", "week")


def period_of(timestamp: str, period: Period) -> str:
    """The period an ISO-8601 UTC time falls in: ``2026-03-05T14`` (hour), ``2026-03-05`` (day), ``2026-W10``."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if period == "hour":
        return moment.strftime("%Y-%m-%dT%H")
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return moment.strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class DigestLine:
    seed: str
    seed_title: str
    topic: str
    relevance: float
    title: str
    url: str
    source: str
    published: str
    others: int


class Digest:
    """The digest folder: its alert store and the rendered ``digest-<period>.md`` / ``.html`` files."""

    def __init__(self, folder: Path, period: Period = "day") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.period = period
        with transaction(self.folder / ".digest.sqlite3") as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS lines (message_id TEXT PRIMARY KEY, period TEXT NOT NULL, seed TEXT,"
                " seed_title TEXT, topic TEXT, relevance REAL, title TEXT, url TEXT, source TEXT, published TEXT,"
                " others INTEGER)"
            )

    def add(self, message: MatchMessage) -> Path:
        """Record one alert in its period (by when it was produced) and re-render that period; returns the
        Markdown file."""
        story = message.story
        period = period_of(message.produced_at, self.period)
        row = (
            message.message_id,
            period,
            message.seed.id,
            message.seed.title,
            message.deciding.name,
            float(message.score),
            story.title,
            story.url,
            story.source or story.feed.title,
            story.published,
            len(message.duplicates),
        )
        with transaction(self.folder / ".digest.sqlite3") as conn:
            conn.execute("INSERT OR IGNORE INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        return self.render(period)

    def lines(self, period: str) -> list[DigestLine]:
        with transaction(self.folder / ".digest.sqlite3") as conn:
            rows = conn.execute(
                "SELECT seed, seed_title, topic, relevance, title, url, source, published, others FROM lines"
                " WHERE period = ? ORDER BY seed, topic, relevance DESC, published",
                (period,),
            ).fetchall()
        return [DigestLine(*row) for row in rows]

    def render(self, period: str) -> Path:
        """Write ``digest-<period>.md`` and ``.html`` from the stored lines, each replaced atomically."""
        lines = self.lines(period)
        target = self.folder / f"digest-{period}.md"
        replace_file(target, _markdown(period, lines))
        replace_file(target.with_suffix(".html"), _html(period, lines))
        return target


def _markdown(period: str, lines: list[DigestLine]) -> str:
    out = [f"# newsmon digest {period}", "", f"{len(lines)} alert(s)."]
    for (_seed, seed_title), by_seed in groupby(lines, key=lambda x: (x.seed, x.seed_title)):
        out += ["", f"## {seed_title}"]
        for topic, items in groupby(by_seed, key=lambda x: x.topic):
            out += ["", f"### {topic}", ""]
            for x in items:
                also = f" (+{x.others} more outlets)" if x.others else ""
                title = x.title.replace("[", "\\[").replace("]", "\\]")
                out.append(
                    f"- **{x.relevance:.2f}** [{title}]({x.url}) — {x.source or 'unknown'}, {x.published[:10]}{also}"
                )
    return "\n".join(out) + "\n"


def _html(period: str, lines: list[DigestLine]) -> str:
    e = html.escape
    out = [
        "<!doctype html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>newsmon digest {e(period)}</title></head><body>',
        f"<h1>newsmon digest {e(period)}</h1><p>{len(lines)} alert(s).</p>",
    ]
    for (_seed, seed_title), by_seed in groupby(lines, key=lambda x: (x.seed, x.seed_title)):
        out.append(f"<h2>{e(seed_title)}</h2>")
        for topic, items in groupby(by_seed, key=lambda x: x.topic):
            out.append(f"<h3>{e(topic)}</h3><ul>")
            for x in items:
                also = f" (+{x.others} more outlets)" if x.others else ""
                out.append(
                    f'<li><b>{x.relevance:.2f}</b> <a href="{e(x.url)}">{e(x.title)}</a> — '
                    f"{e(x.source or 'unknown')}, {e(x.published[:10])}{e(also)}</li>"
                )
            out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
