"""The stream pool (models.stream): which stories join it, and what it keeps as newer picks arrive."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from models.stream import STREAM_FLOOR, STREAM_RAMP, StreamPool, joined, picked, weight


def _pool(ids: list[str], closeness: list[float]) -> StreamPool:
    vectors = np.asarray([[c, 0.0] for c in closeness], dtype=np.float32).reshape(len(ids), 2)
    return StreamPool(tuple(ids), tuple(f"title of {i}" for i in ids), vectors, np.asarray(closeness, dtype=np.float64))


def test_a_pick_counts_more_the_closer_it_is_and_stories_below_the_ramp_do_not_join() -> None:
    foot, top = STREAM_FLOOR - STREAM_RAMP, STREAM_FLOOR + STREAM_RAMP
    closeness = np.asarray([foot - 1.0, foot, (foot + top) / 2, top, top + 3.0])
    assert weight(closeness).tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert picked(closeness).tolist() == [2, 3, 4]


@given(st.floats(-5, 10), st.floats(0, 2))
def test_the_weight_never_falls_as_closeness_rises(closeness: float, more: float) -> None:
    lower, higher = weight(np.asarray([closeness, closeness + more]))
    assert 0.0 <= lower <= higher <= 1.0


def test_a_pool_keeps_its_closest_picks_and_a_story_picked_again_takes_its_newer_reading() -> None:
    pool = _pool(["a", "b", "c"], [3.0, 5.0, 4.0]).joined(_pool(["d", "a"], [2.5, 6.0]), most=3)
    assert pool.ids == ("b", "c", "a") and pool.closeness.tolist() == [5.0, 4.0, 6.0]
    assert pool.vectors[:, 0].tolist() == [5.0, 4.0, 6.0]  # each row still belongs to its story


def test_seeds_join_their_own_picks_only() -> None:
    pools = joined({"x": _pool(["a"], [3.0])}, {"x": _pool(["b"], [4.0]), "y": _pool(["c"], [2.5])})
    assert pools["x"].ids == ("a", "b") and pools["y"].ids == ("c",)


@given(
    st.lists(st.tuples(st.sampled_from("abcdefgh"), st.floats(2.0, 9.0)), max_size=20),
    st.lists(st.tuples(st.sampled_from("abcdefgh"), st.floats(2.0, 9.0)), max_size=20),
    st.integers(0, 6),
)
def test_a_joined_pool_holds_each_story_once_at_most_the_bound_and_the_closest(
    first: list[tuple[str, float]], second: list[tuple[str, float]], most: int
) -> None:
    pool = StreamPool.empty(2).joined(_pool([s for s, _ in first], [c for _, c in first]), most=100)
    result = pool.joined(_pool([s for s, _ in second], [c for _, c in second]), most=most)
    latest = dict([*zip(pool.ids, pool.closeness.tolist(), strict=True), *second])
    assert len(set(result.ids)) == len(result) == min(most, len(latest))
    assert all(latest[s] == c for s, c in zip(result.ids, result.closeness.tolist(), strict=True))
    left_out = [c for s, c in latest.items() if s not in result.ids]
    assert not left_out or not len(result) or max(left_out) <= min(result.closeness)
