"""Pipeline stages as plain functions: feed selection, parsing outcomes, de-duplication."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsmon.config import FeedConfig
from newsmon.dev.demo import DEMO_FEEDS_DIR, demo_feeds
from newsmon.errors import ConfigError
from newsmon.fetch import FetchResult
from newsmon.pipeline import feeds_to_poll, parse_results, record_intake, seed_notes
from newsmon.store import ScoringRecord, SQLiteStore
from newsmon.story import Story


def test_the_demo_serves_the_bundled_feeds_on_loopback_and_opens_only_that_address(settings_factory) -> None:  # type: ignore[no-untyped-def]
    settings = settings_factory(demo_feeds_port=0)
    with demo_feeds(settings) as (feeds, demo_settings):
        assert len(feeds) == len(list(DEMO_FEEDS_DIR.glob("*.xml"))) >= 5
        assert all(f.url.startswith("http://127.0.0.1:") and f.id.startswith("demo-") for f in feeds)
        assert demo_settings.network_policy.permits("127.0.0.1")
        assert not demo_settings.network_policy.permits("127.0.0.2")
    assert not settings.network_policy.permits("127.0.0.1")


def test_with_no_feeds_configured_a_cycle_says_how_to_add_some_or_use_the_demo(settings_factory) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=r"no feeds configured.*--demo"):
        feeds_to_poll(settings_factory())


def test_a_broken_feed_is_an_outcome_and_the_others_still_give_stories(settings_factory) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    good = FetchResult(
        "ars",
        "http://127.0.0.1/a",
        now,
        status=200,
        body=(DEMO_FEEDS_DIR / "arstechnica.xml").read_bytes(),
        headers={"content-type": "text/xml", "etag": '"ars-1"'},
    )
    garbage = FetchResult("bad", "http://127.0.0.1/b", now, status=200, body=b"\x00 nope")
    down = FetchResult("down", "http://127.0.0.1/c", now, error_kind="timeout", error="slow")
    stories, outcomes = parse_results([garbage, down, good])
    assert len(stories) == 20
    assert [(o.feed_id, o.error_kind) for o in outcomes] == [("bad", "parse"), ("down", "timeout"), ("ars", None)]
    store = SQLiteStore(settings_factory().state_db)
    feeds = [FeedConfig(url=r.url, id=r.feed_id) for r in (garbage, down, good)]
    assert record_intake(store, [garbage, down, good], outcomes, feeds, stories + stories) == 20
    assert {h.feed_id: h.failures for h in store.feed_rows().values()} == {"bad": 1, "down": 1, "ars": 0}
    assert record_intake(store, [], [], feeds, stories) == 0  # pending already: not new twice
    assert len(store.pending_stories()) == 20


def test_a_user_hears_of_seed_articles_without_topics_and_of_new_seeds_that_missed_stories(
    settings_factory,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "chips.txt").write_text("An article.")
    (seeds / "chips.topics.yaml").write_text("seed: chips\n")
    (seeds / "memory.md").write_text("Another article, no topics file yet.")
    settings = settings_factory(seeds_dir=seeds)
    store = SQLiteStore(settings.state_db)
    notes = seed_notes(settings, store, ["chips"])
    assert len(notes) == 1 and "memory.md has no topics file" in notes[0] and "newsmon seeds build" in notes[0]
    now = datetime.now(UTC)
    stories = [Story(f"{n:032x}", f"t{n}", f"https://x.test/{n}", "", now, now, "f", "F", "u") for n in range(3)]
    store.record_intake([], stories)
    store.record_scoring(ScoringRecord(seen=[(s.id, "f") for s in stories]))
    (seeds / "memory.topics.yaml").write_text("seed: memory\n")
    notes = seed_notes(settings, store, ["chips", "memory"])
    assert notes == [
        "seed 'memory' is new: the 3 stories kept from earlier cycles were not scored against it; "
        "'newsmon replay --since 7d --seed memory' catches up"
    ]
    assert seed_notes(settings, store, ["chips", "memory"]) == []  # said once


def test_a_stage_adds_its_wall_time_even_when_it_fails_and_since_counts_only_the_new() -> None:
    import time

    from newsmon import stages

    @stages.timed("test-stage")
    def work(fail: bool) -> None:
        time.sleep(0.02)
        if fail:
            raise ValueError("boom")

    before = stages.snapshot()
    work(False)
    with pytest.raises(ValueError, match="boom"):
        work(True)
    took = stages.since(before)
    assert set(took) == {"test-stage"} and took["test-stage"] >= 0.04
    assert stages.since(stages.snapshot()) == {}
