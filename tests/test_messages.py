"""The message contract: every built message validates against the committed JSON Schema, is refused if it
would not, and decodes back to exactly itself."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import ValidationError

from models.scoring import Evidence, SeedMatch, TopicScore
from newsmon.messages import MATCH_SCHEMA, MatchMessage, MessageError, ModelRef, match_schema_validator
from newsmon.pipeline import alert_message
from newsmon.story import Story, story_id

MODEL = ModelRef("m", "torch")

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
    message = alert_message(_match(), MODEL, "r1").to_json()
    match_schema_validator().validate(message)
    assert message["schema"] == MATCH_SCHEMA and message["story"]["published"] == "2026-04-01T08:30:00Z"
    assert message["topics"][0]["evidence"]["keywords"] == ["Huawei"]
    assert message["topics"][0]["evidence"]["exclusion"] == {"sentence": "Shares of X rose", "similarity": 0.21}
    assert (message["score"], message["threshold"], message["topics"][0]["contribution"]) == (0.83, 0.6, 1.3)


def test_outbox_row_is_keyed_by_story_id_with_schema_headers() -> None:
    message = alert_message(_match(), MODEL, "r1")
    row = message.to_outbox("newsmon.matches")
    assert row.key == message.story.id and json.loads(row.value) == message.to_json()
    assert MatchMessage.decode(row.value) == message
    assert dict(row.headers) == {
        "schema": b"newsmon.match/1",
        "seed": b"huawei-korea-chips",
        "topics": b"huawei-us-sanctions",
    }


def test_schema_rejects_a_message_without_evidence() -> None:
    message = alert_message(_match(), MODEL, "r1").to_json()
    del message["topics"][0]["evidence"]
    with pytest.raises(ValidationError):
        match_schema_validator().validate(message)
    with pytest.raises(MessageError, match=r"not a newsmon\.match/1 message"):
        MatchMessage.decode(json.dumps(message).encode())


def test_a_message_the_schema_would_refuse_is_never_encoded() -> None:
    message = alert_message(_match(), MODEL, "r1")
    bad = dataclasses.replace(message, score=1.7)  # relevance is a probability
    with pytest.raises(MessageError, match=r"1\.7"):
        bad.encode()


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(
    title=_text.filter(str.strip),
    summary=_text,
    source=_text,
    relevance=st.floats(0, 1),
    keywords=st.lists(_text, max_size=3),
    exclusion=st.one_of(st.none(), st.tuples(_text, st.floats(-1, 1))),
)
def test_decoding_an_encoded_message_gives_it_back_exactly(
    title: str, summary: str, source: str, relevance: float, keywords: list[str], exclusion: tuple[str, float] | None
) -> None:
    match = _match()
    story = dataclasses.replace(match.story, title=title, summary=summary, source=source)
    topic = match.topics[0]
    evidence = Evidence("seed", title, 0.5, tuple(keywords), *(exclusion or ("", 0.0)))
    match = dataclasses.replace(
        match, story=story, relevance=relevance, topics=(dataclasses.replace(topic, evidence=evidence),)
    )
    message = alert_message(match, MODEL, "r1", duplicates=[story])
    value = message.encode()
    assert MatchMessage.decode(value) == message and MatchMessage.decode(value).encode() == value


def test_the_console_alert_shows_relevance_evidence_exclusion_and_other_outlets() -> None:
    from dataclasses import replace

    from consumers.tail import render_alert

    match = _match()
    copy = replace(match.story, id=story_id("https://example.com/b"), source="Yonhap", url="https://example.com/b")
    message = alert_message(match, MODEL, "r", duplicates=[copy])
    match_schema_validator().validate(message.to_json())
    text = render_alert(message)
    assert "0.83" in text and "Huawei under US chip sanctions" in text
    assert "closest exclusion: “Shares of X rose”" in text
    assert "same story from 1 more: Yonhap" in text


def test_the_console_alert_marks_a_cut_sentence_with_an_ellipsis() -> None:
    from dataclasses import replace

    from consumers.tail import clip, render_alert

    match = _match()
    long = "Huawei " + "expands chip output " * 20
    topic = replace(match.topics[0], evidence=replace(match.topics[0].evidence, story_sentence=long))
    text = render_alert(alert_message(replace(match, topics=(topic,)), MODEL, "r"))
    assert f"why: “{long[:139].rstrip()}…”" in text
    assert clip("short", 140) == "short" and clip("abcdef", 4) == "abc…"
