"""Polling policy, pure: which feeds are due, and what each fetch does to a feed's state (backoff with jitter,
Retry-After, permanent redirects, 410 Gone, validators). No database: the store only persists these rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmon.config import FeedConfig
from newsmon.fetch import FetchRequest, FetchResult
from newsmon.polling import after_fetch, due_requests, next_poll_delay
from newsmon.retry_after import retry_after_seconds
from newsmon.store import FeedRow


class Feeds:
    """The rows of a few feeds, changed by fetches exactly as a cycle's intake changes them."""

    def __init__(self) -> None:
        self.rows: dict[str, FeedRow] = {}

    def record_fetch(self, result: FetchResult, feed: FeedConfig, items: int, error: str | None = None) -> None:
        self.rows[feed.id] = after_fetch(self.rows.get(feed.id), feed, result, items, error)

    def due_requests(self, feeds: Iterable[FeedConfig], now: float | None = None) -> list[FetchRequest]:
        return due_requests(feeds, self.rows, datetime.now(UTC).timestamp() if now is None else now)

    def feed_health(self) -> list[FeedRow]:
        return list(self.rows.values())


def test_feeds_are_due_by_interval_and_back_off_after_failures() -> None:
    store = Feeds()
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


def test_disabled_feeds_are_never_due() -> None:
    store = Feeds()
    assert store.due_requests([FeedConfig(url="http://127.0.0.1/x", enabled=False)], now=1e12) == []


def _result(feed: FeedConfig, status: int | None, at: float, **kw: object) -> FetchResult:
    return FetchResult(feed.id, kw.pop("url", feed.url), datetime.fromtimestamp(at, UTC), status=status, **kw)  # type: ignore[arg-type]


def test_a_permanent_redirect_moves_where_the_feed_is_fetched_not_what_it_is() -> None:
    store = Feeds()
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


def test_410_gone_disables_the_feed_until_its_url_changes() -> None:
    store = Feeds()
    feed = FeedConfig(url="http://x.example/feed", name="a")
    store.record_fetch(_result(feed, 410, 1000, error_kind="http_status", error="HTTP 410"), feed, 0)
    assert store.due_requests([feed], now=float("inf")) == []
    assert (store.feed_health()[0].disabled or "").startswith("HTTP 410 Gone")
    assert store.due_requests([FeedConfig(url="http://y.example/feed", name="a")], now=1001) != []


@pytest.mark.parametrize(
    ("status", "header", "expected"), [(429, "7200", 7200), (503, "7200", 7200), (500, "7200", None)]
)
def test_retry_after_is_honoured_on_429_and_503(status: int, header: str, expected: float | None) -> None:
    store = Feeds()
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


@given(
    st.lists(
        st.sampled_from(["ok", "ok-etag", "not-modified", "timeout", "throttled", "moved"]), min_size=1, max_size=12
    )
)
def test_a_feeds_state_follows_its_fetches(outcomes: list[str]) -> None:
    """Whatever happens: the next poll is never before the fetch, failures count the failures since the last
    success, and the validators sent back are those of the latest fetch that gave one, since any move."""
    feed = FeedConfig(url="http://x.example/feed", name="a", interval_seconds=60)
    row, streak, etag = None, 0, None
    for n, outcome in enumerate(outcomes):
        at = datetime.fromtimestamp(1_000_000 + 1000 * n, UTC)
        result = {
            "ok": FetchResult("a", feed.url, at, status=200),
            "ok-etag": FetchResult("a", feed.url, at, status=200, headers={"etag": f'"v{n}"'}),
            "not-modified": FetchResult("a", feed.url, at, status=304),
            "timeout": FetchResult("a", feed.url, at, error_kind="timeout", error="slow"),
            "throttled": FetchResult(
                "a", feed.url, at, status=429, error_kind="http_status", error="429", retry_after="90"
            ),
            "moved": FetchResult("a", feed.url, at, status=200, permanent_url=f"https://moved.example/{n}"),
        }[outcome]
        row = after_fetch(row, feed, result, 0)
        streak = streak + 1 if outcome in ("timeout", "throttled") else 0
        etag = None if outcome == "moved" else f'"v{n}"' if outcome == "ok-etag" else etag
        assert row.next_due >= at.timestamp() and row.failures == streak and row.fetches == n + 1
        assert row.etag == etag
