"""Valid ``newsmon.match/1`` messages for consumer tests, built by the production message builder."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from models.scoring import Evidence, SeedMatch, TopicScore
from newsmon.messages import MatchMessage, ModelRef, utc_text
from newsmon.pipeline import alert_message
from newsmon.story import Story, story_id

T0 = datetime(2026, 3, 5, 9, tzinfo=UTC)
TOPICS = (("korean-memory-china", "Korean memory chipmakers and China"), ("us-export-controls", "US export controls"))


def alert(n: int, topic: int = 0, relevance: float = 0.9, hours: float = 0) -> MatchMessage:
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
    message = alert_message(match, ModelRef("m", "torch"), "test")
    return dataclasses.replace(message, produced_at=utc_text(when))


def with_story(message: MatchMessage, **changes: Any) -> MatchMessage:
    return dataclasses.replace(message, story=dataclasses.replace(message.story, **changes))


__all__ = ["T0", "alert", "with_story"]
