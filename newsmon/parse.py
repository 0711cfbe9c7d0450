"""Parse fetched feed bytes with feedparser and normalise every entry into a Story.

feedparser is only ever given bytes we fetched ourselves (never a URL or path: its own HTTP client has no
timeout or size cap and reads local files), with the DOCTYPE defused first (:mod:`newsmon.doctype`).
Bozo feeds keep the entries feedparser could recover; a document with no entries at all and a bozo exception
is a FeedError of kind ``parse``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import feedparser

from newsmon.doctype import defuse_doctype
from newsmon.errors import FeedError
from newsmon.normalise import FeedMeta, RejectedEntry, html_to_text, read_entry
from newsmon.story import Story

__all__ = ["ParsedFeed", "parse_feed"]


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """The stories of one document, its title, and why feedparser flagged it (empty when well-formed)."""

    title: str
    stories: tuple[Story, ...]
    bozo_reason: str = ""
    rejected: tuple[RejectedEntry, ...] = ()


def parse_feed(
    body: bytes,
    *,
    feed_id: str,
    feed_url: str,
    fetched: datetime,
    headers: Mapping[str, str] | None = None,
) -> ParsedFeed:
    """Stories of one fetched document, de-duplicated by story id within the document."""
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    response_headers.setdefault("content-location", feed_url)
    # Links (an entry's link, a permalink guid) are resolved against the document's base either way. What
    # resolve_relative_uris adds is a pass of feedparser's HTML parser over every title and summary to rewrite
    # the URLs inside their markup. Stories keep only the visible text, so the pass bought nothing; it cost about
    # 7 % of feedparser's time, and it re-serialised markup it could not close (a self-closed <iframe/> came
    # back open and swallowed the text after it).
    parsed = feedparser.parse(
        defuse_doctype(body), response_headers=response_headers, sanitize_html=False, resolve_relative_uris=False
    )
    bozo_reason = str(parsed.get("bozo_exception") or "") if parsed.get("bozo") else ""
    if not parsed.entries and bozo_reason and not parsed.feed:
        raise FeedError("parse", f"not a feed: {bozo_reason}")
    feed_info = parsed.feed
    meta = FeedMeta(
        feed_id=feed_id,
        title=html_to_text(str(feed_info.get("title") or ""), limit=500) or feed_id,  # text, as entry titles are
        url=feed_url,
        language=str(feed_info.get("language") or "") or None,
    )
    stories: dict[str, Story] = {}
    rejected: list[RejectedEntry] = []
    for entry in parsed.entries:
        found = read_entry(entry, meta, fetched)
        if isinstance(found, RejectedEntry):
            rejected.append(found)
        elif found.id not in stories:
            stories[found.id] = found
    return ParsedFeed(meta.title, tuple(stories.values()), bozo_reason, tuple(rejected))
