"""The match message contract: every built message validates against the committed JSON Schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from jsonschema import ValidationError

from models.scoring import Evidence, SeedMatch, TopicScore
from newsmon.messages import MATCH_SCHEMA, match_message, match_schema_validator, to_outbox
from newsmon.story import Story, story_id

NOW = datetime(2026, 4, 1, 8, 30, tzinfo=UTC)


def _match() -> SeedMatch:
    story = Story(
        id=story_id("https://example.com/a"),
        title="Huawei wants Korean chips",
        url="https://example.com/a",
        summary="",
        published=NOW,
        fetched=NOW,
        feed_id="f",
        feed_title="F",
        feed_url="http://127.0.0.1/f",
        source="Reuters",
        language="en",
    )
    score = TopicScore(
        "huawei-us-sanctions",
        "Huawei under US chip sanctions",
        0.71,
        1.3,
        0.6,
        Evidence("seed sentence", "Huawei wants Korean chips", 0.67, ("Huawei",), "Shares of X rose", 0.21),
        (0.67, 0.5, 1.0, 0.21),
    )
    return SeedMatch(story, "huawei-korea-chips", "Seed title", 0.83, 0.6, (score,))


def test_built_message_validates_and_carries_evidence() -> None:
    message = match_message(_match(), model="m", backend="torch", run_id="r1", version="0.1.0")
    match_schema_validator().validate(message)
    assert message["schema"] == MATCH_SCHEMA and message["story"]["published"] == "2026-04-01T08:30:00Z"
    assert message["topics"][0]["evidence"]["keywords"] == ["Huawei"]
    assert message["topics"][0]["evidence"]["exclusion"] == {"sentence": "Shares of X rose", "similarity": 0.21}
    assert (message["score"], message["threshold"], message["topics"][0]["contribution"]) == (0.83, 0.6, 1.3)


def test_outbox_row_is_keyed_by_story_id_with_schema_headers() -> None:
    message = match_message(_match(), model="m", backend="torch", run_id="r1", version="0.1.0")
    row = to_outbox(message, "newsmon.matches")
    assert row.key == message["story"]["id"] and json.loads(row.value) == message
    assert dict(row.headers) == {
        "schema": b"newsmon.match/1",
        "seed": b"huawei-korea-chips",
        "topics": b"huawei-us-sanctions",
    }


def test_schema_rejects_a_message_without_evidence() -> None:
    message = match_message(_match(), model="m", backend="torch", run_id="r1", version="0.1.0")
    del message["topics"][0]["evidence"]
    with pytest.raises(ValidationError):
        match_schema_validator().validate(message)


def test_the_console_alert_shows_relevance_evidence_exclusion_and_other_outlets() -> None:
    from dataclasses import replace

    from consumers.tail import render_alert

    match = _match()
    copy = replace(match.story, id=story_id("https://example.com/b"), source="Yonhap", url="https://example.com/b")
    message = match_message(match, model="m", backend="torch", run_id="r", version="0", duplicates=[copy])
    match_schema_validator().validate(message)
    text = render_alert(message)
    assert "0.83" in text and "Huawei under US chip sanctions" in text
    assert "closest exclusion: “Shares of X rose”" in text
    assert "same story from 1 more: Yonhap" in text
