"""The state store, on both backends (SQLite, and a real PostgreSQL server the session starts): the intake and
the scoring transactions, pending and kept stories, alerts keyed by (story, seed), the outbox lifecycle, feed
rows kept exactly, retention, migrations, and concurrent writers decided by unique keys."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace as dataclass_replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from newsmon.config import FeedConfig
from newsmon.errors import ConfigError
from newsmon.fetch import FetchRequest, FetchResult
from newsmon.messages import OutboxMessage
from newsmon.polling import after_fetch, due_requests
from newsmon.store import Alert, FeedRow, Keep, PostgresStore, ScoringRecord, SQLiteStore, StateStore, StreamPick
from newsmon.store import postgres as pg_schema
from newsmon.store import sqlite as sqlite_schema
from newsmon.story import Story


def _message(n: int) -> OutboxMessage:
    return OutboxMessage(
        message_id=f"{n:032x}:seed", key=f"{n:032x}", topic="t", value=b"{}", headers=(("schema", b"newsmon.match/1"),)
    )


def _story(n: int, feed: str = "f") -> Story:
    now = datetime(2026, 3, 5, 12, tzinfo=UTC)
    return Story(f"{n:032x}", f"Headline {n}", f"https://news.test/{n}", "", now, now, feed, "Feed", "http://x/f")


def _ok(feed: FeedConfig, etag: str) -> FeedRow:
    return after_fetch(
        None, feed, FetchResult(feed.id, feed.url, datetime.now(UTC), status=200, headers={"etag": etag}), 2
    )


FEED = FeedConfig(url="http://127.0.0.1:1/a.xml", name="a", interval_seconds=60)
Opener = Callable[[], StateStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the one store of this test (again and again, as a restarted process would) on either backend."""
    opened: list[StateStore] = []

    def open_sqlite() -> StateStore:
        return SQLiteStore(tmp_path / "s.db")

    def open_postgres() -> StateStore:
        opened.append(PostgresStore(url))
        return opened[-1]

    url = request.getfixturevalue("state_url") if request.param == "postgresql" else ""
    yield open_postgres if url else open_sqlite
    for store in opened:
        store.close()


def test_the_intake_keeps_new_stories_pending_with_their_feeds_validators(reopen: Opener) -> None:
    store = reopen()
    assert store.record_intake([_ok(FEED, '"v1"')], [_story(1), _story(2), _story(1, feed="other")]) == 2
    assert [(s.id, s.feed_id) for s in store.pending_stories()] == [(f"{1:032x}", "f"), (f"{2:032x}", "f")]
    assert store.pending_stories()[0] == _story(1)  # kept whole: a later cycle scores exactly this story
    assert due_requests([FEED], store.feed_rows(), now=float("inf"))[0].etag == '"v1"'
    assert store.record_intake([], [_story(1), _story(3)]) == 1  # already pending: not new again
    store.record_scoring(ScoringRecord(seen=[(f"{n:032x}", "f") for n in (1, 2, 3)]))
    assert store.pending_stories() == [] and store.pending_count() == 0
    assert store.record_intake([], [_story(2)]) == 0  # seen: never pending again


def test_a_failed_intake_advances_no_validator(reopen: Opener) -> None:
    store = reopen()

    def stories() -> Iterator[Story]:
        yield _story(1)
        raise RuntimeError("died half-way")

    with pytest.raises(RuntimeError):
        store.record_intake([_ok(FEED, '"v2"')], stories())
    assert due_requests([FEED], store.feed_rows(), now=0) == [FetchRequest("a", FEED.url)]  # fetched whole
    assert store.pending_stories() == []


def test_a_failed_scoring_leaves_its_stories_pending_and_queues_nothing(reopen: Opener) -> None:
    store = reopen()
    store.record_intake([], [_story(1), _story(2)])

    def seen() -> Iterator[tuple[str, str]]:
        yield (f"{1:032x}", "f")
        raise RuntimeError("died while recording")

    alert = Alert(f"{1:032x}", "seed", f"{1:032x}", (_message(1),))
    with pytest.raises(RuntimeError):
        store.record_scoring(ScoringRecord(seen=seen(), alerts=[alert]))  # type: ignore[arg-type]
    assert len(store.pending_stories()) == 2 and store.outbox_counts() == (0, 0)
    assert store.unseen([f"{1:032x}"]) == {f"{1:032x}"}


def test_a_story_alerts_once_per_seed_whatever_records_it_again(reopen: Opener) -> None:
    store = reopen()
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


def test_scored_stories_and_alerts_are_kept_for_replay_then_dropped_but_pending_ones_never(reopen: Opener) -> None:
    store = reopen()
    store.record_intake([], [_story(n) for n in range(5)])
    store.record_scoring(
        ScoringRecord(seen=[(f"{n:032x}", "f") for n in range(3)], alerts=[Alert(f"{0:032x}", "s", f"{0:032x}")])
    )
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    page = store.kept_stories(long_ago, limit=2)
    assert [s.id for _, s in page] == [f"{0:032x}", f"{1:032x}"]
    assert [s.id for _, s in store.kept_stories(long_ago, after=page[-1][0])] == [f"{2:032x}"]
    assert store.count_kept(long_ago) == 3
    store.record_scoring(ScoringRecord(), Keep(stories_since=datetime.now(UTC) + timedelta(seconds=1)))
    assert store.kept_stories(long_ago) == [] and store.alerted([(f"{0:032x}", "s")]) == set()
    assert len(store.pending_stories()) == 2  # never scored: never dropped


def test_a_new_seed_hears_how_many_kept_stories_it_never_saw(reopen: Opener) -> None:
    store = reopen()
    assert store.register_seeds(["huawei"]) == {"huawei": 0}
    store.record_intake([], [_story(1), _story(2)])
    store.record_scoring(ScoringRecord(seen=[(f"{1:032x}", "f")]))
    assert store.register_seeds(["huawei", "memory"]) == {"memory": 1}  # one scored story, before it existed
    assert store.register_seeds(["huawei", "memory"]) == {}


def test_outbox_rows_stay_until_acknowledged(reopen: Opener) -> None:
    store = reopen()
    store.queue([_message(1), _message(2)])
    pending = store.unsent()
    assert [m.key for m in pending] == [f"{1:032x}", f"{2:032x}"]
    assert pending[0].headers == (("schema", b"newsmon.match/1"),)
    store.mark_failed([pending[0].id or 0], "broker down")
    store.mark_sent([pending[1].id or 0])
    assert [m.message_id for m in store.unsent()] == [pending[0].message_id]
    assert reopen().outbox_counts() == (1, 1)  # survives a restart


def test_a_feed_row_is_kept_exactly_and_replaced_by_the_next(reopen: Opener) -> None:
    store = reopen()
    row = FeedRow(
        "a", "http://x/a", '"e"', "Thu, 01 Jan 2026 12:00:00 GMT", 200, 1.5, 1.5, 0, None, 61.5, 3, 1, 7, None, None
    )
    store.save_feeds([row])
    assert reopen().feed_rows() == {"a": row}
    moved = FeedRow("a", "http://x/a", None, None, 410, 9.0, 1.5, 1, "gone", 99.0, 4, 1, 7, "https://y/a", "HTTP 410")
    store.save_feeds([moved])
    assert store.feed_rows() == {"a": moved}


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
    store = SQLiteStore(path)
    assert due_requests([FeedConfig(url="http://x.example/f", name="a")], store.feed_rows(), now=1)[0].etag == '"v"'
    SQLiteStore(path)  # opening again migrates nothing twice


def _columns_sqlite(path: Path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            t: sorted(r[1] for r in conn.execute(f"PRAGMA table_info({t})"))
            for t in tables
            if not t.startswith("sqlite_")
        }


def test_both_backends_hold_the_same_tables_version_for_version(tmp_path: Path, state_url: str) -> None:
    import psycopg

    assert len(pg_schema.MIGRATIONS) == len(sqlite_schema.MIGRATIONS)
    SQLiteStore(tmp_path / "s.db")
    PostgresStore(state_url).close()
    with psycopg.connect(state_url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        ).fetchall()
        version = conn.execute("SELECT version FROM newsmon_schema").fetchone()
    postgres: dict[str, list[str]] = {}
    for table, column in rows:
        postgres.setdefault(table, []).append(column)
    assert {t: sorted(c) for t, c in postgres.items() if t != "newsmon_schema"} == _columns_sqlite(tmp_path / "s.db")
    assert version == (len(pg_schema.MIGRATIONS),)


def test_workers_starting_together_migrate_once(reopen: Opener) -> None:
    """Several processes opening a new state at the same moment (a service's workers starting together): each
    opens it, none fails half-way through a migration another one is running."""
    stores: list[StateStore] = []
    errors: list[BaseException] = []
    together = threading.Barrier(6)

    def start() -> None:
        together.wait()
        try:
            stores.append(reopen())
        except BaseException as exc:  # pragma: no cover - what the assertion reports
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(stores) == 6
    stores[0].record_intake([], [_story(1)])
    assert [len(s.pending_stories()) for s in stores] == [1] * 6


def test_concurrent_writers_of_one_alert_queue_it_once(state_url: str) -> None:
    """Four workers record the same (story, seed) at the same moment: the primary key decides, not timing."""
    stores = [PostgresStore(state_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    queued: list[int] = []

    def record(store: StateStore) -> None:
        alert = Alert(f"{7:032x}", "seed", f"{7:032x}", (_message(7),))
        barrier.wait()
        queued.append(store.record_scoring(ScoringRecord(seen=[(alert.story_id, "f")], alerts=[alert])))

    threads = [threading.Thread(target=record, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(queued) == [0, 0, 0, 1] and stores[0].outbox_counts() == (0, 1)
    for store in stores:
        store.close()


def test_an_unreachable_state_database_is_one_clear_error() -> None:
    with pytest.raises(
        ConfigError, match=r"cannot reach the state database postgresql://newsmon:\*\*\*@127\.0\.0\.1:1/x"
    ):
        PostgresStore("postgresql://newsmon:secret@127.0.0.1:1/x")


# -- leases: several workers, one state ------------------------------------------------------------------------
def _feeds(n: int) -> list[tuple[str, str]]:
    return [(f"feed-{i:03d}", f"http://127.0.0.1:1/{i}.xml") for i in range(n)]


def _worker(reopen: Opener, name: str, lease_seconds: float = 300.0) -> StateStore:
    store = reopen()
    store.worker, store.lease_seconds = name, lease_seconds
    return store


def _dead_pid() -> int:
    import subprocess

    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_workers_lease_disjoint_feeds_and_a_polled_feed_is_not_leased_again(reopen: Opener) -> None:
    a, b = _worker(reopen, "host-a:1"), _worker(reopen, "host-b:1")
    ids = [f for f, _ in _feeds(10)]
    a.enrol_feeds(_feeds(10))
    start = datetime.now(UTC).timestamp()
    first = a.lease_feeds(ids, due_by=start, since=start, limit=4)
    second = b.lease_feeds(ids, due_by=start, since=start, limit=100)
    assert len(first) == 4 and len(second) == 6 and not set(first) & set(second)
    assert b.lease_feeds(ids, due_by=start, since=start, limit=100) == []  # all held
    polled = [dataclass_replace(FeedRow(f, url), last_fetch=start + 1, next_due=start + 60) for f, url in _feeds(10)]
    a.record_intake([r for r in polled if r.feed_id in first], [])  # the intake ends a's leases
    assert b.lease_feeds(ids, due_by=start + 2, since=start, limit=100) == []  # polled since: not again


def test_an_expired_lease_is_free_and_so_is_a_dead_local_workers(reopen: Opener) -> None:
    import socket

    ids = [f for f, _ in _feeds(3)]
    short = _worker(reopen, "elsewhere:1", lease_seconds=0.01)
    short.enrol_feeds(_feeds(3))
    now = datetime.now(UTC).timestamp()
    assert short.lease_feeds(ids[:1], due_by=now, since=now, limit=10) == ids[:1]
    dead = _worker(reopen, f"{socket.gethostname()}:{_dead_pid()}")
    assert dead.lease_feeds(ids[1:2], due_by=now, since=now, limit=10) == ids[1:2]
    alive = _worker(reopen, "elsewhere:2")
    assert alive.lease_feeds(ids[2:], due_by=now, since=now, limit=10) == ids[2:]
    other = _worker(reopen, "elsewhere:3")
    import time

    time.sleep(0.05)
    later = datetime.now(UTC).timestamp()
    assert sorted(other.lease_feeds(ids, due_by=later, since=now, limit=10)) == ids[:2]  # not the live one's


def test_workers_claim_disjoint_pending_stories_and_outbox_messages(reopen: Opener) -> None:
    a, b = _worker(reopen, "host-a:1"), _worker(reopen, "host-b:1")
    a.record_intake([], [_story(n) for n in range(5)])
    assert [s.id for s in a.claim_pending(3)] == [f"{n:032x}" for n in range(3)]
    assert [s.id for s in b.claim_pending(10)] == [f"{n:032x}" for n in range(3, 5)]
    assert b.claim_pending(10) == [] and len(a.pending_stories()) == 5  # claimed, still pending until scored
    a.queue([_message(n) for n in range(4)])
    mine = a.claim_unsent(2)
    theirs = b.claim_unsent(10)
    assert len(mine) == 2 and len(theirs) == 2 and not {m.id for m in mine} & {m.id for m in theirs}
    assert (a.undelivered(), b.undelivered()) == (2, 2)  # the other's in flight are not ours to report
    a.mark_failed([m.id or 0 for m in mine], "broker down")  # a failed send frees its messages for anyone
    assert {m.id for m in b.claim_unsent(10)} == {m.id for m in mine}


def test_concurrent_workers_lease_every_feed_exactly_once(state_url: str) -> None:
    """Four workers lease batches of ten from the same 300 feeds at the same time, as fast as they can."""
    feeds = _feeds(300)
    ids = [f for f, _ in feeds]
    stores = [PostgresStore(state_url, worker=f"w{n}:1") for n in range(4)]
    stores[0].enrol_feeds(feeds)
    start = datetime.now(UTC).timestamp()
    barrier = threading.Barrier(len(stores))
    taken: dict[str, list[str]] = {}

    def work(store: StateStore) -> None:
        barrier.wait()
        mine = taken.setdefault(store.worker, [])
        while batch := store.lease_feeds(ids, due_by=start, since=start, limit=10):
            mine += batch

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [f for batch in taken.values() for f in batch]
    assert sorted(every) == ids  # each feed once, none missed
    assert sum(1 for batch in taken.values() if batch) >= 2  # the work was shared
    for store in stores:
        store.close()


def test_each_seed_keeps_its_closest_recent_stream_picks_and_lets_old_ones_go(reopen: Opener) -> None:
    """The stream pool (models.stream) per seed: the ``stream_most`` closest picks, a story picked again takes
    its newer reading, and picks recorded before ``stream_since`` are let go."""
    store = reopen()

    def pick(seed: str, story: str, closeness: float) -> StreamPick:
        return StreamPick(seed, story, f"title of {story}", np.full(4, closeness, dtype=np.float32), closeness)

    record = ScoringRecord(stream=[*(pick("a", f"s{n}", 2.0 + n) for n in range(5)), pick("b", "s0", 9.0)])
    store.record_scoring(record, Keep(stream_most=3))
    pools = reopen().stream_pools()
    assert [(p.story_id, p.closeness) for p in pools["a"]] == [("s4", 6.0), ("s3", 5.0), ("s2", 4.0)]
    assert pools["a"][0].vector.tolist() == [6.0] * 4 and [p.story_id for p in pools["b"]] == ["s0"]
    store.record_scoring(ScoringRecord(stream=[pick("a", "s2", 7.5)]), Keep(stream_most=3))
    assert [(p.story_id, p.closeness) for p in store.stream_pools()["a"]] == [("s2", 7.5), ("s4", 6.0), ("s3", 5.0)]
    store.record_scoring(ScoringRecord(), Keep(stream_since=datetime.now(UTC) + timedelta(seconds=1)))
    assert store.stream_pools() == {}
