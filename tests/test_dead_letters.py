"""Feed entries no story can be made of go to the DLQ with their reason, once each, valid against the schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from newsmon.config import FeedConfig
from newsmon.fetch import FetchResult
from newsmon.messages import DLQ_SCHEMA, dlq_schema_validator
from newsmon.parse import parse_feed
from newsmon.pipeline import FeedOutcome, record_intake
from newsmon.store import SQLiteStore

NOW = datetime(2026, 3, 5, tzinfo=UTC)
FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
<item><title>Good story</title><link>https://news.test/good</link></item>
<item><description></description><link>https://news.test/empty</link></item>
<item><title>No way to identify me</title></item>
</channel></rss>"""


def test_unusable_entries_are_kept_with_their_reason() -> None:
    parsed = parse_feed(FEED, feed_id="wire", feed_url="http://127.0.0.1/wire.xml", fetched=NOW)
    assert [s.title for s in parsed.stories] == ["Good story"]
    reasons = sorted(r.reason for r in parsed.rejected)
    assert len(reasons) == 2
    assert reasons[0].startswith("the entry has neither a title nor a summary")
    assert reasons[1].startswith("the entry has no usable link or guid")
    assert {r.title for r in parsed.rejected} == {"", "No way to identify me"}


def test_each_unusable_entry_is_dead_lettered_once_and_validates(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite3")
    feed = FeedConfig(url="http://127.0.0.1/wire.xml", name="Wire")
    parsed = parse_feed(FEED, feed_id=feed.id, feed_url=feed.url, fetched=NOW)
    result = FetchResult(feed_id=feed.id, url=feed.url, status=200, body=FEED, fetched=NOW)
    outcome = FeedOutcome(feed.id, 200, len(parsed.stories), rejected=parsed.rejected)
    record_intake(store, [result], [outcome], [feed], parsed.stories, "newsmon.dlq")
    assert store.outbox_counts() == (0, 2)
    record_intake(store, [result], [outcome], [feed], parsed.stories, "newsmon.dlq")
    assert store.outbox_counts() == (0, 2)  # the next cycle: same entries, queued once
    letters = store.unsent()
    assert {m.topic for m in letters} == {"newsmon.dlq"} and {m.key for m in letters} == {feed.id}
    for letter in letters:
        message = json.loads(letter.value)
        dlq_schema_validator().validate(message)
        assert message["schema"] == DLQ_SCHEMA and dict(letter.headers)["reason"].decode() == message["reason"]
    elsewhere = SQLiteStore(tmp_path / "other.sqlite3")
    record_intake(elsewhere, [result], [outcome], [feed], parsed.stories)
    assert elsewhere.outbox_counts() == (0, 0)  # no DLQ topic configured: nothing queued
