"""Pipeline stages as plain functions: feed selection, parsing outcomes, de-duplication."""

from __future__ import annotations

from datetime import UTC, datetime

from newsmon.fetch import FetchResult
from newsmon.pipeline import DEMO_FEEDS_DIR, active_feeds, new_stories, parse_results
from newsmon.state import StateStore


def test_with_no_feeds_configured_the_bundled_feeds_are_served_on_loopback(settings_factory) -> None:  # type: ignore[no-untyped-def]
    settings = settings_factory(demo_feeds_port=0)
    with active_feeds(settings) as (feeds, demo_settings):
        assert len(feeds) == len(list(DEMO_FEEDS_DIR.glob("*.xml"))) >= 5
        assert all(f.url.startswith("http://127.0.0.1:") and f.id.startswith("demo-") for f in feeds)
        assert demo_settings.network_policy.permits("127.0.0.1")
        assert not demo_settings.network_policy.permits("127.0.0.2")
    assert not settings.network_policy.permits("127.0.0.1")


def test_a_broken_feed_is_an_outcome_and_the_others_still_give_stories(settings_factory) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    good = FetchResult(
        "ars",
        "http://127.0.0.1/a",
        now,
        status=200,
        body=(DEMO_FEEDS_DIR / "arstechnica.xml").read_bytes(),
        headers={"content-type": "text/xml"},
    )
    garbage = FetchResult("bad", "http://127.0.0.1/b", now, status=200, body=b"\x00 nope")
    down = FetchResult("down", "http://127.0.0.1/c", now, error_kind="timeout", error="slow")
    stories, outcomes = parse_results([garbage, down, good])
    assert len(stories) == 20
    assert [(o.feed_id, o.error_kind) for o in outcomes] == [("bad", "parse"), ("down", "timeout"), ("ars", None)]
    store = StateStore(settings_factory().state_db)
    fresh = new_stories(store, stories + stories)
    assert len(fresh) == 20
    store.record_stories([(s.id, s.feed_id) for s in fresh[:5]], [])
    assert len(new_stories(store, stories)) == 15
