"""What the state store keeps, as plain rows: no stage's types, so a second backend needs only these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from newsmon.messages import OutboxMessage

__all__ = ["Alert", "FeedRow", "Keep", "RecentMatch", "ScoredStory", "ScoringRecord", "StreamPick"]


@dataclass(frozen=True, slots=True)
class FeedRow:
    """A feed's HTTP state and health: what ``newsmon.polling`` decides after each fetch and ``newsmon feeds
    status`` shows. ``url`` is the configured URL; ``fetch_url`` where a permanent redirect moved it."""

    feed_id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_status: int | None = None
    last_fetch: float | None = None
    last_success: float | None = None
    failures: int = 0
    last_error: str | None = None
    next_due: float = 0.0
    fetches: int = 0
    not_modified: int = 0
    items: int = 0
    fetch_url: str | None = None
    disabled: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A (story, seed) pair that matched: the lead of its near-duplicate group carries the messages to send;
    a story that joined a group carries none. Recorded once: a pair already alerted queues nothing again."""

    story_id: str
    seed: str
    group_id: str
    messages: tuple[OutboxMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class RecentMatch:
    """A story matched for ``seed``: its title embedding, kept a while so a later repeat joins its group (each
    seed groups its own alerts; a row of an older database has seed '' and counts for every seed)."""

    story_id: str
    group_id: str
    published: datetime
    vector: npt.NDArray[np.float32]
    seed: str = ""


@dataclass(frozen=True, slots=True)
class ScoredStory:
    """One story as one seed judged it, kept for analyst review whether it alerted or not."""

    story_id: str
    seed: str
    title: str
    summary: str
    url: str
    feed_id: str
    published: datetime
    relevance: float
    threshold: float
    topic: str
    alerted: bool


@dataclass(frozen=True, slots=True)
class StreamPick:
    """A story that joined a seed's stream pool (``models.stream``): its unit title embedding and its closeness
    to the seed's article (what ranks the pool)."""

    seed: str
    story_id: str
    title: str
    vector: npt.NDArray[np.float32]
    closeness: float


@dataclass(frozen=True, slots=True)
class ScoringRecord:
    """What scoring a batch of stories decided, written in one transaction: the stories now seen (story id, feed
    id), the alerts, the matched titles' embeddings for later grouping, every story as each seed scored it, and
    the stories that joined a seed's stream pool."""

    seen: Sequence[tuple[str, str]] = ()
    alerts: Sequence[Alert] = ()
    recent: Sequence[RecentMatch] = ()
    scored: Sequence[ScoredStory] = ()
    stream: Sequence[StreamPick] = ()  # each seed's new stream picks


@dataclass(frozen=True, slots=True)
class Keep:
    """What the store keeps: rows recorded before each cutoff are dropped when a scoring is recorded. Pending
    stories are never dropped."""

    recent_since: datetime | None = None  # embeddings of matched titles (near-duplicate grouping)
    scored_since: datetime | None = None  # the scored log (analyst review)
    stories_since: datetime | None = None  # scored stories and their alerts (replay)
    stream_since: datetime | None = None  # stream picks (models.stream)
    stream_most: int = 100  # each seed's stream pool: its closest picks (models.stream.STREAM_MOST)
