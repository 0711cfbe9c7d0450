"""The state store: seen ids, the outbox lifecycle, and feed scheduling with backoff."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmon.config import FeedConfig
from newsmon.fetch import FetchRequest, FetchResult, retry_after_seconds
from newsmon.state import OutboxMessage, StateStore, next_poll_delay


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
    store.record_fetch(ok, feed, items=3)
    assert store.due_requests([feed]) == []
    request = store.due_requests([feed], now=now.timestamp() + 61)[0]
    assert request.etag == '"v1"'
    failed = FetchResult("a", feed.url, now, error_kind="timeout", error="slow")
    for _ in range(4):
        store.record_fetch(failed, feed, items=0)
    assert store.due_requests([feed], now=now.timestamp() + 61 * 4) == []  # 8x interval (±20%) not yet passed
    health = store.feed_health()[0]
    assert (health.failures, health.items, health.last_error) == (4, 3, "slow")


def test_disabled_feeds_are_never_due(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    assert store.due_requests([FeedConfig(url="http://127.0.0.1/x", enabled=False)], now=1e12) == []


def _result(feed: FeedConfig, status: int | None, at: float, **kw: object) -> FetchResult:
    return FetchResult(feed.id, kw.pop("url", feed.url), datetime.fromtimestamp(at, UTC), status=status, **kw)  # type: ignore[arg-type]


def test_a_permanent_redirect_moves_where_the_feed_is_fetched_not_what_it_is(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    feed = FeedConfig(url="http://old.example/feed", name="a", interval_seconds=60)
    store.record_fetch(
        _result(feed, 200, 1000, permanent_url="https://new.example/feed", headers={"etag": '"n"'}), feed, 1
    )
    (request,) = store.due_requests([feed], now=2000)
    assert (request.url, request.etag) == ("https://new.example/feed", '"n"')
    store.record_fetch(_result(feed, 304, 2000, url=request.url), feed, 0)
    assert store.due_requests([feed], now=3000)[0].url == "https://new.example/feed"  # the move is remembered
    edited = FeedConfig(url="http://other.example/feed", name="a", interval_seconds=60)
    assert store.due_requests([edited], now=3000)[0] == FetchRequest("a", edited.url)  # a new URL starts afresh


def test_410_gone_disables_the_feed_until_its_url_changes(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    feed = FeedConfig(url="http://x.example/feed", name="a")
    store.record_fetch(_result(feed, 410, 1000, error_kind="http_status", error="HTTP 410"), feed, 0)
    assert store.due_requests([feed], now=float("inf")) == []
    assert (store.feed_health()[0].disabled or "").startswith("HTTP 410 Gone")
    assert store.due_requests([FeedConfig(url="http://y.example/feed", name="a")], now=1001) != []


@pytest.mark.parametrize(
    ("status", "header", "expected"), [(429, "7200", 7200), (503, "7200", 7200), (500, "7200", None)]
)
def test_retry_after_is_honoured_on_429_and_503(
    tmp_path: Path, status: int, header: str, expected: float | None
) -> None:
    store = StateStore(tmp_path / "s.db")
    feed = FeedConfig(url="http://x.example/feed", name="a", interval_seconds=60)
    failed = _result(feed, status, 1000, error_kind="http_status", error=f"HTTP {status}", retry_after=header)
    store.record_fetch(failed, feed, 0)
    next_due = store.feed_health()[0].next_due or 0
    if expected is None:
        assert 1000 + 48 <= next_due <= 1000 + 72  # plain backoff: one interval ±20 %
    else:
        assert next_due == 1000 + expected


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("Thu, 01 Jan 2026 12:10:00 GMT", now) == 600
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None
    assert retry_after_seconds("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0


@given(st.integers(10, 86400), st.integers(1, 200))
def test_backoff_grows_with_failures_and_stays_capped(interval: int, failures: int) -> None:
    delay = next_poll_delay(interval, failures, 500, None)
    assert 0.8 * min(6 * 3600, interval) <= delay <= 1.2 * 6 * 3600
    assert next_poll_delay(interval, 0, 200, None) == interval
    assert next_poll_delay(interval, failures, 429, 10**9) == 24 * 3600  # obeyed, but never past a day


def test_an_old_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as conn:  # the version-0 feeds table, as 0.1.0 created it
        conn.execute(
            "CREATE TABLE feeds (feed_id TEXT PRIMARY KEY, url TEXT NOT NULL, etag TEXT, last_modified TEXT,"
            " last_status INTEGER, last_fetch REAL, last_success REAL, failures INTEGER NOT NULL DEFAULT 0,"
            " last_error TEXT, next_due REAL NOT NULL DEFAULT 0, fetches INTEGER NOT NULL DEFAULT 0,"
            " not_modified INTEGER NOT NULL DEFAULT 0, items INTEGER NOT NULL DEFAULT 0)"
        )
        conn.execute("INSERT INTO feeds (feed_id, url, etag) VALUES ('a', 'http://x.example/f', '\"v\"')")
    store = StateStore(path)
    assert store.due_requests([FeedConfig(url="http://x.example/f", name="a")], now=1)[0].etag == '"v"'
    StateStore(path)  # opening again migrates nothing twice
