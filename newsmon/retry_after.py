"""``Retry-After``: how long a server asks us to wait, in its two spellings (RFC 9110 §10.2.3). The one parser
for every place that honours it: the fetcher's polling schedule and the webhook consumer's retries."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["retry_after_seconds"]


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` value asks to wait: delta-seconds (``120``) or an HTTP date (``Thu, 01 Jan 2026
    12:10:00 GMT``, counted from ``now``; a past date is 0). None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
