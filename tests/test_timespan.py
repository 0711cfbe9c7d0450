"""``--since``: spans back from now and ISO dates, one parser with one message for every mistake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmon.timespan import parse_since

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("36h", NOW - timedelta(hours=36)),
        (" 90M ", NOW - timedelta(minutes=90)),
        ("2w", NOW - timedelta(weeks=2)),
        ("1.5d", NOW - timedelta(hours=36)),
        ("30s", NOW - timedelta(seconds=30)),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T08:00", datetime(2026, 11, 20, 8, tzinfo=UTC)),
        ("2026-11-20T08:00Z", datetime(2026, 11, 20, 8, tzinfo=UTC)),
        ("2026-11-20T09:00+01:00", datetime(2026, 11, 20, 8, tzinfo=UTC)),
    ],
)
def test_spans_and_dates(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "7", "d7", "-3d", "7 days", "", "2026-13-01", "1e3d"])
def test_anything_else_says_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"7d, 36h, 90m, 2w"):
        parse_since(text, NOW)


def test_a_moment_after_now_is_refused() -> None:
    with pytest.raises(ValueError, match="in the future"):
        parse_since("2026-12-01", NOW)


@given(st.integers(0, 10_000), st.sampled_from(["s", "m", "h", "d", "w"]))
def test_a_span_is_that_long_before_now(amount: int, unit: str) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert NOW - parse_since(f"{amount}{unit}", NOW) == timedelta(seconds=amount * seconds)


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2026, 11, 25),
        timezones=st.just(timezone(timedelta(hours=-5))),
    )
)
def test_an_iso_time_round_trips_in_utc(moment: datetime) -> None:
    parsed = parse_since(moment.isoformat(), NOW)
    assert parsed == moment and parsed.tzinfo == UTC
