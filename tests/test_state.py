"""The state store: seen ids, the outbox lifecycle, and feed scheduling with backoff."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from newsmon.config import FeedConfig
from newsmon.fetch import FetchResult
from newsmon.state import OutboxMessage, StateStore


def _message(n: int) -> OutboxMessage:
    return OutboxMessage(
        message_id=f"{n:032x}:seed", key=f"{n:032x}", topic="t", value=b"{}", headers=(("schema", b"newsmon.match/1"),)
    )


def test_recording_marks_seen_and_queues_once(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    assert store.unseen(["a", "b"]) == {"a", "b"}
    assert store.record_stories([("a", "f")], [_message(1)]) == 1
    assert store.unseen(["a", "b"]) == {"b"}
    assert store.record_stories([("a", "f")], [_message(1)]) == 0  # a replayed cycle queues nothing twice
    assert store.outbox_counts() == (0, 1)


def test_outbox_rows_stay_until_acknowledged(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    store.record_stories([], [_message(1), _message(2)])
    pending = store.pending()
    assert [m.key for m in pending] == [f"{1:032x}", f"{2:032x}"]
    assert pending[0].headers == (("schema", b"newsmon.match/1"),)
    store.mark_failed([pending[0].id or 0], "broker down")
    store.mark_sent([pending[1].id or 0])
    assert [m.message_id for m in store.pending()] == [pending[0].message_id]
    assert StateStore(tmp_path / "s.db").outbox_counts() == (1, 1)  # survives a restart


def test_feeds_are_due_by_interval_and_back_off_after_failures(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    feed = FeedConfig(url="http://127.0.0.1:1/a.xml", name="a", interval_seconds=60)
    assert [r.feed_id for r in store.due_requests([feed], now=0)] == ["a"]
    now = datetime.now(UTC)
    ok = FetchResult("a", feed.url, now, status=200, headers={"etag": '"v1"'})
    store.record_fetch(ok, 60, items=3)
    assert store.due_requests([feed]) == []
    request = store.due_requests([feed], now=now.timestamp() + 61)[0]
    assert request.etag == '"v1"'
    failed = FetchResult("a", feed.url, now, error_kind="timeout", error="slow")
    for _ in range(4):
        store.record_fetch(failed, 60, items=0)
    assert store.due_requests([feed], now=now.timestamp() + 61 * 4) == []  # 8x interval (±20%) not yet passed
    health = store.feed_health()[0]
    assert (health.failures, health.items, health.last_error) == (4, 3, "slow")


def test_disabled_feeds_are_never_due(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    assert store.due_requests([FeedConfig(url="http://127.0.0.1/x", enabled=False)], now=1e12) == []
