"""HTML to text, aggregator title splitting, and entry → Story normalisation."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from newsmon.language import detect_language
from newsmon.normalise import FeedMeta, entry_to_story, html_to_text
from newsmon.story import split_publisher

META = FeedMeta("feed-1", "Feed One", "http://127.0.0.1/feed.xml", "en-US")
NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def test_html_to_text_keeps_words_apart_and_drops_scripts() -> None:
    assert html_to_text("<p>Chips</p><p>ban</p><script>alert(1)</script>&amp; more") == "Chips ban & more"


@given(st.text(max_size=300))
def test_html_to_text_output_is_folded_and_bounded(markup: str) -> None:
    text = html_to_text(markup, limit=100)
    assert "  " not in text and text == text.strip()
    assert len(text) <= 101


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_split_publisher_never_loses_the_title(title: str) -> None:
    head, _source = split_publisher(title)
    assert (head.strip() and head in title) or not title.strip()


def test_split_publisher_splits_aggregator_titles_only() -> None:
    assert split_publisher("Huawei wants SK Hynix chips again - Reuters") == (
        "Huawei wants SK Hynix chips again",
        "Reuters",
    )
    assert split_publisher("Chips curbs - what next for Samsung and SK Hynix in their China fabs") == (
        "Chips curbs - what next for Samsung and SK Hynix in their China fabs",
        "",
    )
    assert split_publisher("Export rules tighten - The Korea Herald", "The Korea Herald")[1] == "The Korea Herald"


def test_entry_becomes_a_story_with_utc_time_and_clean_summary() -> None:
    entry = {
        "title": "Huawei resumes talks - Reuters",
        "link": "https://example.com/story?utm_source=rss",
        "summary": "<p>Huawei <b>wants</b> chips.</p>",
        "published_parsed": time.strptime("2026-03-01 10:00:00", "%Y-%m-%d %H:%M:%S"),
    }
    story = entry_to_story(entry, META, NOW)
    assert story is not None
    assert (story.title, story.source, story.summary) == ("Huawei resumes talks", "Reuters", "Huawei wants chips.")
    assert story.published == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert story.language == "en" and story.feed_id == "feed-1"


def test_missing_time_falls_back_to_fetch_time_and_missing_id_drops_the_entry() -> None:
    story = entry_to_story({"title": "A title long enough", "id": "urn:x:1"}, META, NOW)
    assert story is not None and story.published == NOW and story.url == "urn:x:1"
    assert entry_to_story({"title": "No link, no guid"}, META, NOW) is None


def test_language_is_detected_from_the_text_not_the_feeds_blanket_declaration() -> None:
    korean = entry_to_story(
        {"title": "화웨이, 삼성·SK하이닉스와 거래 재개 추진", "link": "https://x.example/1"}, META, NOW
    )
    german = entry_to_story(
        {"title": "Huawei will wieder Chips von Samsung kaufen", "link": "https://x.example/2"}, META, NOW
    )
    assert korean is not None and korean.language == "ko"
    assert german is not None and german.language == "de"


def test_too_little_text_to_tell_falls_back_to_the_declared_language() -> None:
    assert detect_language("SMIC 7nm", "ko-KR") == "ko"
    assert detect_language("", "EN-us") == "en"
    assert detect_language("SMIC 7nm") is None
    assert detect_language("Le gouvernement français interdit les équipements Huawei", "en") == "fr"
