"""The in-process schedule: a fixed rate that neither drifts with a cycle's duration nor piles up overruns."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flows.serve import next_start, run_on_schedule


class FakeClock:
    """Time that moves only when a cycle works or the schedule sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_cycles_start_every_interval_whatever_each_one_takes() -> None:
    clock = FakeClock()
    starts: list[float] = []
    durations = iter([3.0, 7.0, 1.0, 0.0])

    def cycle() -> None:
        starts.append(clock.now)
        clock.now += next(durations)

    waits: list[float] = []
    run_on_schedule(cycle, 10, on_wait=waits.append, clock=clock, sleep=clock.sleep, cycles=4)
    assert starts == [1000, 1010, 1020, 1030]  # fixed rate: no drift from the cycles' own durations
    assert waits == [1010, 1020, 1030]  # each wait announces the next start


def test_an_overrunning_cycle_is_followed_at_once_and_missed_slots_are_not_made_up() -> None:
    clock = FakeClock()
    starts: list[float] = []
    durations = iter([25.0, 1.0, 1.0])

    def cycle() -> None:
        starts.append(clock.now)
        clock.now += next(durations)

    run_on_schedule(cycle, 10, clock=clock, sleep=clock.sleep, cycles=3)
    assert starts == [1000, 1025, 1035]  # one cycle right after the overrun, not three to catch up


@given(st.floats(0, 1e6), st.floats(10, 86400), st.floats(0, 1e5))
def test_the_next_start_is_never_in_the_past_nor_sooner_than_an_interval(
    started: float, interval: float, took: float
) -> None:
    now = started + took
    at = next_start(started, interval, now)
    assert at >= now and at >= started + interval
    assert at == started + interval or at == now
