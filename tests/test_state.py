"""The state store: seen ids, the outbox lifecycle, and feed scheduling with backoff."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmon.config import FeedConfig
from newsmon.fetch import FetchRequest, FetchResult, retry_after_seconds
from newsmon.state import Alert, FeedFetch, Keep, OutboxMessage, ScoringRecord, StateStore, next_poll_delay
from newsmon.story import Story


def _message(n: int) -> OutboxMessage:
    return OutboxMessage(
        message_id=f"{n:032x}:seed", key=f"{n:032x}", topic="t", value=b"{}", headers=(("schema", b"newsmon.match/1"),)
    )


def _story(n: int, feed: str = "f") -> Story:
    now = datetime(2026, 3, 5, 12, tzinfo=UTC)
    return Story(f"{n:032x}", f"Headline {n}", f"https://news.test/{n}", "", now, now, feed, "Feed", "http://x/f")


def _ok(feed: FeedConfig, etag: str) -> FeedFetch:
    return FeedFetch(FetchResult(feed.id, feed.url, datetime.now(UTC), status=200, headers={"etag": etag}), feed, 2)


FEED = FeedConfig(url="http://127.0.0.1:1/a.xml", name="a", interval_seconds=60)


def test_the_intake_keeps_new_stories_pending_with_their_feeds_validators(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    assert store.record_intake([_ok(FEED, '"v1"')], [_story(1), _story(2), _story(1, feed="other")]) == 2
    assert [(s.id, s.feed_id) for s in store.pending_stories()] == [(f"{1:032x}", "f"), (f"{2:032x}", "f")]
    assert store.pending_stories()[0] == _story(1)  # kept whole: a later cycle scores exactly this story
    assert store.due_requests([FEED], now=float("inf"))[0].etag == '"v1"'
    assert store.record_intake([], [_story(1), _story(3)]) == 1  # already pending: not new again
    store.record_scoring(ScoringRecord(seen=[(f"{n:032x}", "f") for n in (1, 2, 3)]))
    assert store.pending_stories() == [] and store.pending_count() == 0
    assert store.record_intake([], [_story(2)]) == 0  # seen: never pending again


def test_a_failed_intake_advances_no_validator(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")

    def stories() -> Iterator[Story]:
        yield _story(1)
        raise RuntimeError("died half-way")

    with pytest.raises(RuntimeError):
        store.record_intake([_ok(FEED, '"v2"')], stories())
    assert store.due_requests([FEED], now=0) == [FetchRequest("a", FEED.url)]  # no etag: the feed is fetched whole
    assert store.pending_stories() == []


def test_a_failed_scoring_leaves_its_stories_pending_and_queues_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    store.record_intake([], [_story(1), _story(2)])

    def seen() -> Iterator[tuple[str, str]]:
        yield (f"{1:032x}", "f")
        raise RuntimeError("died while recording")

    alert = Alert(f"{1:032x}", "seed", f"{1:032x}", (_message(1),))
    with pytest.raises(RuntimeError):
        store.record_scoring(ScoringRecord(seen=seen(), alerts=[alert]))  # type: ignore[arg-type]
    assert len(store.pending_stories()) == 2 and store.outbox_counts() == (0, 0)
    assert store.unseen([f"{1:032x}"]) == {f"{1:032x}"}


def test_a_story_alerts_once_per_seed_whatever_records_it_again(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    lead = Alert(f"{1:032x}", "seed", f"{1:032x}", (_message(1),))
    joined = Alert(f"{2:032x}", "seed", f"{1:032x}")  # a near-duplicate of the lead: no message of its own
    assert store.record_scoring(ScoringRecord(alerts=[lead, joined])) == 1
    assert store.alerted([(lead.story_id, "seed"), (joined.story_id, "seed"), (lead.story_id, "x")]) == {
        (lead.story_id, "seed"),
        (joined.story_id, "seed"),
    }
    changed = Alert(lead.story_id, "seed", lead.story_id, (_message(1), _message(3)))  # a replay, new topics
    assert store.record_scoring(ScoringRecord(alerts=[changed])) == 0
    other_seed = Alert(lead.story_id, "other", lead.story_id, (_message(4),))
    assert store.record_scoring(ScoringRecord(alerts=[other_seed])) == 1
    assert store.outbox_counts() == (0, 2)


def test_scored_stories_and_their_alerts_are_kept_for_replay_then_dropped_but_pending_ones_never(
    tmp_path: Path,
) -> None:
    store = StateStore(tmp_path / "s.db")
    store.record_intake([], [_story(n) for n in range(5)])
    store.record_scoring(
        ScoringRecord(seen=[(f"{n:032x}", "f") for n in range(3)], alerts=[Alert(f"{0:032x}", "s", f"{0:032x}")])
    )
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    page = store.scored_stories(long_ago, limit=2)
    assert [s.id for _, s in page] == [f"{0:032x}", f"{1:032x}"]
    assert [s.id for _, s in store.scored_stories(long_ago, after=page[-1][0])] == [f"{2:032x}"]
    assert store.count_scored_stories(long_ago) == 3
    store.record_scoring(ScoringRecord(), Keep(stories_since=datetime.now(UTC) + timedelta(seconds=1)))
    assert store.scored_stories(long_ago) == [] and store.alerted([(f"{0:032x}", "s")]) == set()
    assert len(store.pending_stories()) == 2  # never scored: never dropped


def test_a_new_seed_hears_how_many_kept_stories_it_never_saw(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    assert store.register_seeds(["huawei"]) == {"huawei": 0}
    store.record_intake([], [_story(1), _story(2)])
    store.record_scoring(ScoringRecord(seen=[(f"{1:032x}", "f")]))
    assert store.register_seeds(["huawei", "memory"]) == {"memory": 1}  # one scored story, before it existed
    assert store.register_seeds(["huawei", "memory"]) == {}


def test_outbox_rows_stay_until_acknowledged(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    store.queue([_message(1), _message(2)])
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
