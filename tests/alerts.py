"""Valid ``newsmon.match/1`` messages for consumer tests, built by the production message builder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from models.scoring import Evidence, SeedMatch, TopicScore
from newsmon.messages import match_message
from newsmon.story import Story, story_id

T0 = datetime(2026, 3, 5, 9, tzinfo=UTC)
TOPICS = (("korean-memory-china", "Korean memory chipmakers and China"), ("us-export-controls", "US export controls"))


def alert(n: int, topic: int = 0, relevance: float = 0.9, hours: float = 0) -> dict[str, Any]:
    """Alert number ``n``: its own story id, one of two topics, produced at T0 + ``hours``."""
    when = T0 + timedelta(hours=hours)
    story = Story(
        story_id(f"https://news.test/{n}"),
        f"Headline number {n}",
        f"https://news.test/{n}",
        "",
        when,
        when,
        "feed",
        "Test feed",
        "http://127.0.0.1/feed",
        source=f"Outlet {n % 3}",
        language="en",
    )
    topic_id, name = TOPICS[topic]
    score = TopicScore(
        topic_id, name, 0.7, 1.2, 0.74, Evidence("seed sentence", story.title, 0.66, ("Samsung",)), (0.66, 0.5, 1.0)
    )
    match = SeedMatch(story, "huawei-korea-chips", "Huawei and Korean chips", relevance, 0.74, (score,))
    message = match_message(match, model="m", backend="torch", run_id="test", version="0")
    message["produced_at"] = when.isoformat().replace("+00:00", "Z")
    return message


def with_story(message: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**message, "story": {**message["story"], **changes}}


__all__ = ["T0", "alert", "with_story"]
