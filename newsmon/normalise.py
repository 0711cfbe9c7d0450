"""Turn one parsed feed entry into a Story: clean text, UTC times, canonical link, stable id.

Plain functions over plain data; the parser hands in feedparser's entry as a mapping and gets a Story back.
"""

from __future__ import annotations

import calendar
import html
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from newsmon.story import Story, split_publisher, story_id

__all__ = ["FeedMeta", "RejectedEntry", "entry_to_story", "html_to_text", "read_entry"]

_SPACE = re.compile(r"\s+")
_BLOCK_TAGS = frozenset({"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote"})
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "iframe", "object"})
_MAX_SUMMARY_CHARS = 2000


class _TextExtractor(HTMLParser):
    """Collects visible text; block tags become spaces so words never glue together."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS and self._skip_depth:
            self._skip_depth -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def html_to_text(markup: str, limit: int = _MAX_SUMMARY_CHARS) -> str:
    """Visible text of an HTML fragment, whitespace folded, cut at ``limit`` characters on a word."""
    if "<" not in markup and "&" not in markup:
        text = markup
    else:
        extractor = _TextExtractor()
        extractor.feed(markup)
        extractor.close()
        text = html.unescape("".join(extractor.parts))
    text = _SPACE.sub(" ", text).strip()
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + "…"
    return text


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """The facts about a feed every Story of it carries."""

    feed_id: str
    title: str
    url: str
    language: str | None = None


def _entry_time(entry: Mapping[str, Any], fallback: datetime) -> datetime:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return fallback


def _entry_source(entry: Mapping[str, Any]) -> str:
    source = entry.get("source")
    if isinstance(source, Mapping):
        return str(source.get("title") or "").strip()
    return ""


def _declared_language(entry: Mapping[str, Any], meta: FeedMeta) -> str | None:
    for detail_key in ("title_detail", "summary_detail"):
        detail = entry.get(detail_key)
        if isinstance(detail, Mapping) and detail.get("language"):
            return str(detail["language"])
    return meta.language


@dataclass(frozen=True, slots=True)
class RejectedEntry:
    """A feed entry no story can be made of, and why (it goes to the DLQ, so nothing vanishes silently)."""

    reason: str
    title: str
    link: str
    guid: str


def entry_to_story(entry: Mapping[str, Any], meta: FeedMeta, fetched: datetime) -> Story | None:
    """A Story from one feed entry, or None when the entry has neither a title nor an id-able link/guid."""
    found = read_entry(entry, meta, fetched)
    return found if isinstance(found, Story) else None


def read_entry(entry: Mapping[str, Any], meta: FeedMeta, fetched: datetime) -> Story | RejectedEntry:
    """A Story from one feed entry, or the reason it cannot become one."""
    from newsmon.language import detect_language  # loads a model: only where stories are made

    raw_title = html_to_text(str(entry.get("title") or ""), limit=500)
    link = str(entry.get("link") or "").strip()
    guid = str(entry.get("id") or "").strip()
    summary_html = str(entry.get("summary") or "")
    if not summary_html and entry.get("content"):
        summary_html = str(entry["content"][0].get("value") or "")
    summary = html_to_text(summary_html)
    title, source = split_publisher(raw_title, _entry_source(entry))
    if not title:
        title = summary[:120]
    if not title:
        return RejectedEntry("the entry has neither a title nor a summary", "", link[:500], guid[:500])
    try:
        sid = story_id(link, guid)
    except ValueError as exc:
        return RejectedEntry(f"the entry has no usable link or guid: {exc}", title[:500], link[:500], guid[:500])
    if summary == title or summary.startswith(raw_title):
        summary = summary[len(raw_title) :].strip(" -–—|") if summary.startswith(raw_title) else ""
    return Story(
        id=sid,
        title=title,
        url=link or guid,
        summary=summary,
        published=_entry_time(entry, fetched),
        fetched=fetched,
        feed_id=meta.feed_id,
        feed_title=meta.title,
        feed_url=meta.url,
        source=source,
        language=detect_language(f"{title}. {summary}", _declared_language(entry, meta)),
    )
