"""Analyst feedback: choosing what to review, the scored log in the state store, and labelling a review file."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from newsmon.cli import app
from newsmon.errors import ConfigError, NewsmonError
from newsmon.review import label_file, read_labelled, read_review_file, select_for_review, write_review_file
from newsmon.store import Keep, ScoredStory, ScoringRecord, SQLiteStore

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def _scored(n: int, relevance: float, alerted: bool = False, seed: str = "s") -> ScoredStory:
    return ScoredStory(
        f"id-{n}", seed, f"Headline {n}", "A summary.", f"https://x.test/{n}", "feed", NOW, relevance, 0.7, "t", alerted
    )


def test_a_review_holds_every_alert_the_nearest_misses_and_a_random_sample_of_the_rest() -> None:
    rows = [_scored(i, i / 100, alerted=i >= 90) for i in range(100)]
    rows[80] = replace(rows[80], relevance=0.88, threshold=0.99)  # relevant, yet far below its own threshold
    selected = select_for_review(rows, near_misses=5, sample=10)
    whys = [why for why, _ in selected]
    assert sorted(whys) == ["alert"] * 10 + ["near miss"] * 5 + ["sample"] * 10
    assert whys[2::3] == ["sample"] * 8  # every third from the random sample, the rest nearest their threshold
    nearest = [s for why, s in selected if why != "sample"]
    assert [s.story_id for s in nearest[:3]] == ["id-85", "id-86", "id-87"]  # threshold 0.7: closest first
    gaps = [abs(s.relevance - s.threshold) for s in nearest]
    assert gaps == sorted(gaps)
    assert {s.story_id for why, s in selected if why == "near miss"} == {f"id-{i}" for i in range(89, 84, -1)}
    assert "id-80" not in [s.story_id for why, s in selected if why == "near miss"]
    sampled = [s for why, s in selected if why == "sample"]
    assert all(s.relevance < 0.85 for s in sampled) and len({s.story_id for s in sampled}) == 10
    assert select_for_review(list(reversed(rows)), near_misses=5, sample=10) == selected  # same log, same file


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1, allow_nan=False), st.booleans()), max_size=40),
    st.integers(0, 10),
    st.integers(0, 10),
)
def test_review_selection_invariants(rows: list[tuple[float, bool]], near: int, sample: int) -> None:
    scored = [_scored(i, r, a) for i, (r, a) in enumerate(rows)]
    selected = select_for_review(scored, near, sample)
    ids = [s.story_id for _, s in selected]
    assert len(ids) == len(set(ids))
    assert {s.story_id for s in scored if s.alerted} <= set(ids)
    others = sum(1 for s in scored if not s.alerted)
    assert len(selected) == sum(1 for s in scored if s.alerted) + min(others, near) + min(max(others - near, 0), sample)
    close = [s.relevance - s.threshold for why, s in selected if why == "near miss"]
    drawn = [s.relevance - s.threshold for why, s in selected if why == "sample"]
    assert not close or not drawn or min(close) >= max(drawn)


def test_labelling_saves_every_answer_and_stops_on_q(tmp_path: Path) -> None:
    path = tmp_path / "review.jsonl"
    write_review_file(
        path, [("alert", _scored(1, 0.9, True)), ("near miss", _scored(2, 0.6)), ("sample", _scored(3, 0.1))]
    )
    answers = iter(["2", "s", "q"])
    assert label_file(path, lambda _row, _i, _n: next(answers)) == {"labelled": 1, "skipped": 1, "left": 1}
    rows = read_review_file(path)
    assert [r["label"] for r in rows] == [2, None, None]
    assert (
        rows[0]["why"] == "alert" and rows[0]["url"] == "https://x.test/1" and rows[0]["published"].startswith("2026")
    )
    answers = iter(["0", "1"])
    assert label_file(path, lambda _row, _i, _n: next(answers)) == {"labelled": 2, "skipped": 0, "left": 0}
    assert [r["label"] for r in read_review_file(path)] == [2, 0, 1]
    headlines, unlabelled = read_labelled(path)
    assert [h.label for h in headlines] == [2, 0, 1] and unlabelled == 0
    write_review_file(path, [("alert", _scored(1, 0.9, True))])
    with pytest.raises(ValueError, match="unknown answer"):
        label_file(path, lambda _row, _i, _n: "maybe")


def test_unlabelled_lines_are_left_out_of_training_files_and_an_all_null_file_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "review.jsonl"
    write_review_file(path, [("alert", _scored(1, 0.9, True)), ("sample", _scored(2, 0.1))])
    with pytest.raises(ConfigError, match="2 still unlabelled: 'newsmon review label"):
        read_labelled(path)
    label_file(path, lambda _row, position, _n: "2" if position == 1 else "q")
    headlines, unlabelled = read_labelled(path)
    assert (len(headlines), unlabelled) == (1, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json\n", ":1: not JSON"),
        ('{"title": "x"}\n[1]\n', ":2: needs a JSON object"),
        ('{"title": "x", "label": 5}\n', "null, 0, 1 or 2"),
    ],
)
def test_a_bad_review_file_names_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "review.jsonl"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_review_file(path)


def test_the_state_store_keeps_scored_stories_until_their_retention_ends(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite3")
    first = [_scored(1, 0.9, True), _scored(2, 0.2), _scored(3, 0.5, seed="other")]
    store.record_scoring(ScoringRecord(seen=[("id-1", "feed")], scored=first))
    assert [s.story_id for s in store.scored(NOW - timedelta(days=3650))] == ["id-1", "id-3", "id-2"]
    assert store.scored(NOW - timedelta(days=3650), seed="s") == [first[0], first[1]]
    with sqlite3.connect(tmp_path / "state.sqlite3") as conn:
        conn.execute("UPDATE scored SET recorded = recorded - 40 * 86400 WHERE story_id = 'id-2'")
    store.record_scoring(
        ScoringRecord(scored=[_scored(4, 0.3)]), Keep(scored_since=datetime.now(UTC) - timedelta(days=30))
    )
    assert {s.story_id for s in store.scored(NOW - timedelta(days=3650))} == {"id-1", "id-3", "id-4"}


def test_review_export_and_label_on_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "newsmon.yaml"
    config.write_text(json.dumps({"data_dir": str(tmp_path / "data"), "feeds": []}))
    runner = CliRunner()
    out = tmp_path / "review.jsonl"
    missing = runner.invoke(app, ["review", "export", str(out), "--config", str(config)])
    assert isinstance(missing.exception, NewsmonError) and "run 'newsmon run' first" in str(missing.exception)
    (tmp_path / "data").mkdir()
    SQLiteStore(tmp_path / "data" / "state.sqlite3").record_scoring(
        ScoringRecord(scored=[_scored(i, i / 10, alerted=i > 7) for i in range(10)])
    )
    done = runner.invoke(
        app, ["review", "export", str(out), "--config", str(config), "--near-misses", "2", "--sample", "3"]
    )
    assert done.exit_code == 0, done.output
    said = " ".join(done.output.split())  # rich wraps lines to the terminal's width
    assert "wrote 7 stories" in said and "2 alert(s), 2 near miss(es), 3 sampled from 6 other(s)" in said
    again = runner.invoke(app, ["review", "export", str(out), "--config", str(config)])
    assert isinstance(again.exception, NewsmonError) and "--force" in str(again.exception)
    labelled = runner.invoke(app, ["review", "label", str(out)], input="2\nmaybe\n0\nq\n")
    assert labelled.exit_code == 0, labelled.output
    said = " ".join(labelled.output.split())
    assert "'maybe' is not one of" in said and "labelled 2, skipped 0, 5 left" in said
    assert [r["label"] for r in read_review_file(out)][:3] == [2, 0, None]
    ended = runner.invoke(app, ["review", "label", str(out)], input="1\n")  # input ends: what was answered stays
    assert ended.exit_code == 0 and "saved" in ended.output
    assert [r["label"] for r in read_review_file(out)][:3] == [2, 0, 1]
    first = {r["story_id"] for r in read_review_file(out)}
    second_file = tmp_path / "review-2.jsonl"
    second = runner.invoke(app, ["review", "export", str(second_file), "--config", str(config)])
    assert second.exit_code == 0, second.output
    assert {r["story_id"] for r in read_review_file(second_file)} == {f"id-{i}" for i in range(10)} - first
    third = runner.invoke(app, ["review", "export", str(tmp_path / "review-3.jsonl"), "--config", str(config)])
    assert isinstance(third.exception, NewsmonError) and "already" in str(third.exception)  # never asked twice
