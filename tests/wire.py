"""A test feed written from real headlines: the core stories of the labelled dev set, one item each, with
stable links and publication times, so a test can publish more of them as a live feed would."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from .conftest import FIXTURES


def core_headlines() -> list[str]:
    """The dev set's headlines labelled core (2), in file order."""
    lines = (FIXTURES / "headlines" / "dev-labelled.jsonl").read_text(encoding="utf-8").splitlines()
    return [row["title"] for row in map(json.loads, lines) if row["label"] == 2]


def write_feed(folder: Path, titles: Sequence[str], name: str = "feed.xml", first: int = 0) -> Path:
    """Write an RSS document of ``titles`` (item n links to https://news.test/n, counting from ``first``),
    atomically, so a server never serves half of it."""
    start = datetime(2026, 4, 1, tzinfo=UTC)
    items = "".join(
        f"<item><title>{escape(t)}</title><link>https://news.test/{n}</link>"
        f"<pubDate>{format_datetime(start + timedelta(hours=n))}</pubDate></item>"
        for n, t in enumerate(titles, start=first)
    )
    partial = folder / f"{name}.partial"
    partial.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>')
    return partial.replace(folder / name)
