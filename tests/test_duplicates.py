"""Near-duplicate grouping: reposts within the window fold into the first story's alert; others stay apart."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.duplicates import DEFAULT_COSINE, DEFAULT_WINDOW, group_near_duplicates
from newsmon.store import Keep, RecentMatch, ScoringRecord, SQLiteStore
from newsmon.story import Story, split_publisher, story_id

from .conftest import FIXTURES

T0 = datetime(2026, 3, 7, 9, tzinfo=UTC)


def _story(name: str, hours: float = 0) -> Story:
    when = T0 + timedelta(hours=hours)
    return Story(story_id(f"https://x.test/{name}"), name, f"https://x.test/{name}", "", when, when, "f", "F", "")


def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_a_repost_within_the_window_joins_the_first_story_and_others_stay_apart() -> None:
    stories = [_story("later copy", 5), _story("original", 0), _story("other event", 1), _story("old news", 100)]
    vectors = np.stack([_unit(1, 0.05, 0), _unit(1, 0, 0), _unit(0, 1, 0), _unit(1, 0, 0.01)])
    grouping = group_near_duplicates(stories, vectors, [])
    original = stories[1].id
    assert grouping.group_of[stories[0].id] == original  # the earliest published leads
    assert grouping.leads(original) and not grouping.leads(stories[0].id)
    assert [s.title for s in grouping.members[original]] == ["later copy"]
    assert grouping.group_of[stories[2].id] == stories[2].id  # different story
    assert grouping.group_of[stories[3].id] == stories[3].id  # same words, outside the 72 h window
    assert grouping.joined_earlier == set()


def test_a_story_joining_an_earlier_cycles_group_raises_no_alert() -> None:
    earlier = RecentMatch("a" * 32, "a" * 32, T0, _unit(1, 0, 0))
    story = _story("repost", 30)
    grouping = group_near_duplicates([story], np.stack([_unit(1, 0.02, 0)]), [earlier])
    assert grouping.group_of[story.id] == "a" * 32
    assert not grouping.leads(story.id) and grouping.joined_earlier == {story.id}


def test_below_the_cosine_threshold_nothing_groups() -> None:
    stories = [_story("a"), _story("b", 1)]
    vectors = np.stack([_unit(1, 0, 0), _unit(0.85, 0.53, 0)])  # cosine ≈ 0.85
    assert group_near_duplicates(stories, vectors, [], cosine=0.9).group_of == {s.id: s.id for s in stories}
    assert group_near_duplicates(stories, vectors, [], cosine=0.8).group_of[stories[1].id] == stories[0].id


@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.floats(0, 200, allow_nan=False), st.floats(0.9, 1.1, allow_nan=False)),
        min_size=1,
        max_size=25,
    )
)
def test_every_story_is_in_exactly_one_group_led_by_a_story_of_the_cycle(
    rows: list[tuple[int, float, float]],
) -> None:
    axes = np.eye(4, dtype=np.float32)
    stories = [_story(f"s{i}", hours) for i, (_, hours, _) in enumerate(rows)]
    vectors = np.stack([axes[axis] * scale / abs(scale) for axis, _, scale in rows])
    grouping = group_near_duplicates(stories, vectors, [])
    assert set(grouping.group_of) == {s.id for s in stories}
    for story in stories:
        lead = grouping.group_of[story.id]
        assert grouping.leads(lead)
        assert grouping.leads(story.id) or story in grouping.members[lead]
    members = [s.id for group in grouping.members.values() for s in group]
    assert len(members) == len(set(members)) == len(stories) - len(grouping.members)


def test_the_store_remembers_recent_matches_and_forgets_old_ones(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = SQLiteStore(tmp_path / "state.sqlite3")
    rows = [
        RecentMatch("a" * 32, "a" * 32, T0, _unit(1, 2, 3)),
        RecentMatch("b" * 32, "a" * 32, T0 - timedelta(days=9), _unit(3, 2, 1)),
    ]
    store.record_scoring(ScoringRecord(recent=rows))
    found = sorted(store.recent_matches(since=T0 - timedelta(days=30)), key=lambda r: r.story_id)
    assert [(r.story_id, r.group_id, r.published) for r in found] == [
        (r.story_id, r.group_id, r.published) for r in rows
    ]
    assert np.allclose(found[0].vector, rows[0].vector)
    assert [r.story_id for r in store.recent_matches(since=T0 - timedelta(days=1))] == ["a" * 32]
    store.record_scoring(ScoringRecord(), Keep(recent_since=datetime.now(UTC) - timedelta(hours=1)))
    assert len(store.recent_matches(since=T0 - timedelta(days=30))) == 2  # recorded just now: kept
    store.record_scoring(ScoringRecord(), Keep(recent_since=datetime.now(UTC) + timedelta(seconds=1)))
    assert store.recent_matches(since=T0 - timedelta(days=30)) == []


def test_recent_matches_are_kept_per_seed_and_old_unseeded_rows_count_for_every_seed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = SQLiteStore(tmp_path / "state.sqlite3")
    rows = [
        RecentMatch("a" * 32, "a" * 32, T0, _unit(1, 0, 0), "x"),
        RecentMatch("a" * 32, "a" * 32, T0, _unit(1, 0, 0), "y"),
    ]
    store.record_scoring(ScoringRecord(recent=rows))
    since = T0 - timedelta(days=1)
    assert [r.seed for r in store.recent_matches(since, "x")] == ["x"]
    assert sorted(r.seed for r in store.recent_matches(since)) == ["x", "y"]
    assert store.recent_matches(since, "z") == []
    with sqlite3.connect(tmp_path / "state.sqlite3") as conn:  # as migration 4 carries a row over
        conn.execute("UPDATE recent_matches SET seed = '' WHERE seed = 'y'")
    assert [r.seed for r in store.recent_matches(since, "z")] == [""]


def test_a_story_repeating_another_seeds_alert_is_news_to_its_own_seed(tmp_path) -> None:  # type: ignore[no-untyped-def]

    from models.scoring import SeedMatch
    from newsmon.config import Settings
    from newsmon.pipeline import Verdicts, group_matches

    store = SQLiteStore(tmp_path / "state.sqlite3")
    earlier = _story("Samsung halts HBM shipments to China", 0)
    store.record_scoring(
        ScoringRecord(recent=[RecentMatch(earlier.id, earlier.id, earlier.published, _unit(1, 0, 0), "huawei")])
    )
    repeat = _story("Samsung halts HBM shipments to China - report", 3)
    matches = [SeedMatch(repeat, seed, seed, 0.9, 0.5, ()) for seed in ("huawei", "memory")]
    verdicts = Verdicts(matches, [], {repeat.id: _unit(1, 0.01, 0)})
    groupings = group_matches(store, verdicts, Settings(data_dir=tmp_path))
    assert groupings["huawei"].group_of[repeat.id] == earlier.id  # a repost of huawei's alert: folded
    assert groupings["memory"].leads(repeat.id)  # the memory seed never alerted on it: it alerts


@pytest.mark.model
def test_on_the_recorded_headlines_reposts_group_and_lookalike_events_do_not() -> None:
    """All 2,648 recorded headlines at the production defaults, published at their crawl time."""
    from models.encoder import load_encoder

    rows = [
        json.loads(line) for line in (FIXTURES / "headlines" / "semiconductor-headlines-2026-01-to-04.jsonl").open()
    ]
    stories = []
    for row in rows:
        when = datetime.fromisoformat(row["crawled_at"]).replace(tzinfo=UTC)
        title = split_publisher(row["title"])[0]
        stories.append(Story(story_id(row["url"]), title, row["url"], "", when, when, row["source"], row["source"], ""))
    vectors = load_encoder("torch").encode([s.title for s in stories])
    grouping = group_near_duplicates(stories, vectors, [], DEFAULT_COSINE, DEFAULT_WINDOW)
    by_title = {s.title: grouping.group_of[s.id] for s in stories}
    repost = "Iran war could disrupt supply of semiconductor materials, South Korea warns"
    copies = [s for s in stories if s.title.startswith(repost[:50])]
    assert len(copies) >= 2 and len({grouping.group_of[s.id] for s in copies}) == 1
    lookalikes = [
        t
        for t in by_title
        if t.startswith(
            ("Global Annual Semiconductor Sales Increase 25.6%", "Global Semiconductor Sales Increase 29.8%")
        )
    ]
    assert len(lookalikes) == 2 and len({by_title[t] for t in lookalikes}) == 2
    folded = sum(len(members) for members in grouping.members.values())
    assert 20 <= folded <= 150  # measured: 41 of 2,561 stories in 37 groups; nothing sweeps unrelated ones in


@pytest.mark.model
def test_a_repost_in_a_later_cycle_is_recorded_but_raises_no_second_alert(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Through the pipeline's own recording step: one alert, listing the copy seen in the same cycle."""
    from newsmon.config import Settings
    from newsmon.pipeline import build_scorer, judge, record_verdicts

    settings = Settings(data_dir=tmp_path)
    store = SQLiteStore(settings.state_db)
    scorer = build_scorer(settings)
    title = "Huawei unveils new Ascend AI chip despite US sanctions"
    first = [_story(title, 0), _story(title + " - report", 2), _story("Barclays rates ON Semiconductor", 1)]
    scoring = judge(scorer, first)
    assert {m.story.id for m in scoring.matches} == {first[0].id, first[1].id}
    recorded = record_verdicts(store, first, scoring, settings, scorer, "run-1")
    assert (recorded.queued, recorded.grouped) == (1, 1)
    (message,) = [json.loads(m.value) for m in store.unsent()]
    assert message["story"]["id"] == message["duplicate_group"] == first[0].id
    assert [d["id"] for d in message["duplicates"]] == [first[1].id]
    later = [_story(title + " (updated)", 20)]
    recorded = record_verdicts(store, later, judge(scorer, later), settings, scorer, "run-2")
    assert (recorded.queued, recorded.grouped) == (0, 1)
    assert store.unseen([later[0].id]) == set()
