"""Crash points: inert unless named; ``error`` raises there (the other ways are the fault tests' business)."""

from __future__ import annotations

import pytest

from newsmon.dev.faults import CRASH_POINTS, InjectedFaultError, crash_point


def test_a_crash_point_does_nothing_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSMON_CRASH_AT", "pipeline-sent")
    monkeypatch.setenv("NEWSMON_CRASH_HOW", "error")
    for point in CRASH_POINTS - {"pipeline-sent"}:
        crash_point(point)


def test_error_raises_at_the_named_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSMON_CRASH_AT", "pipeline-embedding")
    monkeypatch.setenv("NEWSMON_CRASH_HOW", "error")
    with pytest.raises(InjectedFaultError, match="pipeline-embedding"):
        crash_point("pipeline-embedding")
