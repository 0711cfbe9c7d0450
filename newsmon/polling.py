"""When each feed is polled, and what a fetch does to its state: plain functions over plain rows, as a feed
reader's model schedules its next check and its storage only persists what was decided.

- Due: a feed whose next poll time has come, unless disabled; one whose configured URL changed starts afresh
  (no validators, no memory of a move or a 410).
- After a fetch: a success waits one interval; the n-th failure in a row doubles the wait per failure (capped
  at six hours) with ±20 % jitter, so feeds that failed together do not retry together; a 429 or 503 whose
  ``Retry-After`` asks for longer is obeyed (up to a day). A 301/308 moves where the feed is fetched, not what
  it is; a 410 Gone disables it until its configured URL changes. The validators (ETag, Last-Modified) are kept
  from the last fetch that sent them, dropped when the feed moved or its URL changed.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Mapping

from newsmon.config import FeedConfig
from newsmon.fetch import FetchRequest, FetchResult
from newsmon.retry_after import retry_after_seconds
from newsmon.store.rows import FeedRow

__all__ = ["after_fetch", "due_requests", "next_poll_delay"]

_MAX_BACKOFF_SECONDS = 6 * 3600
_MAX_RETRY_AFTER_SECONDS = 24 * 3600
_THROTTLED = frozenset({429, 503})


def due_requests(feeds: Iterable[FeedConfig], rows: Mapping[str, FeedRow], now: float) -> list[FetchRequest]:
    """Fetch requests for the enabled feeds due at ``now`` (``inf``: every enabled one), with their validators."""
    requests = []
    for feed in feeds:
        row = rows.get(feed.id)
        if not feed.enabled:
            continue
        if row is None or row.url != feed.url:
            requests.append(FetchRequest(feed.id, feed.url))
        elif row.next_due <= now and not row.disabled:
            requests.append(FetchRequest(feed.id, row.fetch_url or feed.url, row.etag, row.last_modified))
    return requests


def next_poll_delay(
    interval: float, failures: int, status: int | None, retry_after: float | None, rng: random.Random | None = None
) -> float:
    """Seconds until a feed is polled again (see the module's docstring)."""
    if failures == 0:
        return float(interval)
    jitter = (rng or random).uniform(0.8, 1.2)
    backoff: float = min(_MAX_BACKOFF_SECONDS, interval * 2.0 ** min(failures - 1, 16)) * jitter
    if status in _THROTTLED and retry_after is not None:
        return max(backoff, min(retry_after, _MAX_RETRY_AFTER_SECONDS))
    return backoff


def after_fetch(
    row: FeedRow | None,
    feed: FeedConfig,
    result: FetchResult,
    items: int,
    error: str | None = None,
    rng: random.Random | None = None,
) -> FeedRow:
    """The feed's state after ``result`` (``items`` new entries parsed from it; ``error`` when parsing failed)."""
    now = result.fetched.timestamp()
    failed = error is not None or not result.ok
    same_feed = row is not None and row.url == feed.url
    before = row if row is not None and same_feed else None
    failures = (before.failures if before else 0) + 1 if failed else 0
    retry_after = retry_after_seconds(result.retry_after, result.fetched)
    keep_validators = before is not None and not result.permanent_url
    counters = row or FeedRow(feed.id, feed.url)
    return dataclasses.replace(
        counters,
        url=feed.url,
        fetch_url=result.permanent_url or (before.fetch_url if before else None),
        disabled=f"HTTP 410 Gone at {result.fetched:%Y-%m-%d %H:%M} UTC" if result.status == 410 else None,
        last_status=result.status,
        last_fetch=now,
        failures=failures,
        last_error=error or result.error,
        next_due=now + next_poll_delay(feed.interval_seconds, failures, result.status, retry_after, rng),
        fetches=counters.fetches + 1,
        not_modified=counters.not_modified + int(result.not_modified),
        items=counters.items + items,
        etag=result.headers.get("etag") or (before.etag if before and keep_validators else None),
        last_modified=result.headers.get("last-modified")
        or (before.last_modified if keep_validators and before else None),
        last_success=counters.last_success if failed else now,
    )
