"""Parsing in worker processes: results in order, a slow document abandoned at its deadline, others unharmed."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from newsmon.dev.demo import DEMO_FEEDS_DIR
from newsmon.errors import FeedError
from newsmon.parse import ParsedFeed
from newsmon.parse_pool import ParseJob, parse_all

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _slow_feed(items: int = 500, author_chars: int = 20_000) -> bytes:
    """feedparser issue 562: its author e-mail regex is quadratic on long author fields."""
    author = "a" * author_chars
    entries = "".join(
        f"<item><title>t{i}</title><link>http://x.example/{i}</link><author>{author}</author></item>"
        for i in range(items)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>slow</title>{entries}</channel></rss>'.encode()


def test_results_come_back_in_job_order_with_errors_in_place() -> None:
    ars = (DEMO_FEEDS_DIR / "arstechnica.xml").read_bytes()
    jobs = [ParseJob(ars, "a", "http://a/", NOW), ParseJob(b"\x00 not xml", "b", "http://b/", NOW)] * 3
    results = parse_all(jobs, timeout=30)
    assert [type(r) for r in results] == [ParsedFeed, FeedError] * 3
    assert all(len(r.stories) == 20 for r in results if isinstance(r, ParsedFeed))
    assert all(r.kind == "parse" for r in results if isinstance(r, FeedError))


def test_a_document_past_its_deadline_is_abandoned_and_the_next_one_still_parses() -> None:
    ars = (DEMO_FEEDS_DIR / "arstechnica.xml").read_bytes()
    jobs = [ParseJob(_slow_feed(), "slow", "http://s/", NOW), ParseJob(ars, "ars", "http://a/", NOW)]
    started = time.monotonic()
    slow, fine = parse_all(jobs, timeout=2, workers=1)
    assert time.monotonic() - started < 15
    assert isinstance(slow, FeedError) and slow.kind == "parse_timeout"
    assert isinstance(fine, ParsedFeed) and len(fine.stories) == 20


def test_no_jobs_no_workers() -> None:
    assert parse_all([], timeout=1) == []


def _idle_pids() -> set[int]:
    from newsmon import parse_pool

    return {w.process.pid for w in parse_pool._IDLE if w.process.pid is not None}


def test_workers_serve_the_next_call_until_they_die_or_have_parsed_their_share(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Starting workers cost every cycle 0.2 s, so idle ones wait for the next call; a dead one is replaced
    without losing a document, and one that parsed WORKER_JOBS documents is retired."""
    import os
    import signal

    from newsmon import parse_pool

    ars = (DEMO_FEEDS_DIR / "arstechnica.xml").read_bytes()
    jobs = [ParseJob(ars, "a", "http://a/", NOW)] * 4
    parse_all(jobs, timeout=30)
    first = _idle_pids()
    assert len(first) == 2
    parse_all(jobs, timeout=30)
    assert _idle_pids() == first  # the same processes
    killed = first.pop()
    os.kill(killed, signal.SIGKILL)
    time.sleep(0.2)
    assert all(isinstance(r, ParsedFeed) for r in parse_all(jobs, timeout=30))
    assert killed not in _idle_pids() and first <= _idle_pids()
    monkeypatch.setattr(parse_pool, "WORKER_JOBS", 1)
    parse_all(jobs, timeout=30)
    assert _idle_pids() == set()  # each parsed its share: none kept


def test_a_worker_that_overran_its_deadline_is_killed_not_kept() -> None:
    from newsmon import parse_pool

    while parse_pool._IDLE:
        parse_pool._IDLE.pop().kill()
    ars = (DEMO_FEEDS_DIR / "arstechnica.xml").read_bytes()
    parse_all([ParseJob(ars, "a", "http://a/", NOW)], timeout=30, workers=1)
    (overran,) = parse_pool._IDLE  # the worker the slow document will get
    slow = parse_all([ParseJob(_slow_feed(), "slow", "http://s/", NOW)], timeout=1, workers=1)
    assert isinstance(slow[0], FeedError) and slow[0].kind == "parse_timeout"
    assert not overran.process.is_alive() and overran not in parse_pool._IDLE
