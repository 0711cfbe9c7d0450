"""Parsing recorded real feeds and feedparser's corpus: stories out, or a FeedError, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsmon.errors import FeedError
from newsmon.parse import parse_feed

from .conftest import FIXTURES

NOW = datetime(2026, 4, 1, tzinfo=UTC)
CORPUS = sorted(p for p in (FIXTURES / "feeds").rglob("*") if p.is_file())


def _parse(path: Path):  # type: ignore[no-untyped-def]
    return parse_feed(
        path.read_bytes(),
        feed_id="f",
        feed_url="http://127.0.0.1/f.xml",
        fetched=NOW,
        headers={"content-type": "application/rss+xml"},
    )


def test_real_ars_technica_feed_gives_twenty_clean_stories() -> None:
    parsed = _parse(FIXTURES / "feeds/real/arstechnica_all_2025-01-16.xml")
    assert len(parsed.stories) == 20 and not parsed.bozo_reason
    story = parsed.stories[0]
    assert story.url.startswith("https://arstechnica.com/") and story.published.tzinfo is UTC
    assert "<" not in story.summary


def test_not_well_formed_feed_keeps_its_entries() -> None:
    parsed = _parse(FIXTURES / "feeds/real/physorg_rss-parser_2021-07-20.xml")
    assert parsed.bozo_reason and len(parsed.stories) == 30


def test_garbage_is_a_parse_error() -> None:
    with pytest.raises(FeedError) as info:
        parse_feed(b"\x00\x01 not a feed <<<", feed_id="f", feed_url="http://127.0.0.1/x", fetched=NOW)
    assert info.value.kind == "parse"


def test_corpus_is_not_empty() -> None:
    assert len(CORPUS) > 300


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_recorded_document_parses_or_fails_cleanly(path: Path) -> None:
    try:
        parsed = _parse(path)
    except FeedError:
        return
    ids = [s.id for s in parsed.stories]
    assert len(ids) == len(set(ids))
    assert all(s.title and s.published.tzinfo is UTC for s in parsed.stories)


def _rss(channel_title: str, item: str) -> bytes:
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{channel_title}</title>{item}</channel></rss>'
    ).encode()


def test_a_summary_keeps_the_text_after_embedded_markup() -> None:
    """feedparser's URI resolver wrote a self-closed <iframe/> back as an open one, and the text after it was lost."""
    item = (
        "<item><title>Chip curbs</title><link>https://news.example/1</link><description>"
        'Before &lt;iframe src="https://x.example/"/&gt; after the frame.</description></item>'
    )
    parsed = parse_feed(_rss("Wire", item), feed_id="f", feed_url="https://news.example/feed", fetched=NOW)
    assert parsed.stories[0].summary == "Before after the frame."


def test_relative_links_resolve_against_the_feed_and_titles_are_text() -> None:
    item = "<item><title>Chip curbs</title><link>/2026/04/chips</link></item>"
    body = _rss("&lt;b&gt;Chip&lt;/b&gt; wire &amp;amp; more", item)
    parsed = parse_feed(body, feed_id="f", feed_url="https://news.example/feeds/all.xml", fetched=NOW)
    story = parsed.stories[0]
    assert story.url == "https://news.example/2026/04/chips"
    assert parsed.title == story.feed_title == "Chip wire & more"
