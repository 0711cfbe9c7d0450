"""The Kafka message contract: build, encode and validate ``newsmon.match/1`` messages.

The JSON Schema in ``newsmon/schemas/`` is the published contract; every message is built here and tests
validate every produced message against that file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from models.scoring import SeedMatch, TopicScore
from newsmon.config import FeedConfig
from newsmon.normalise import RejectedEntry
from newsmon.state import OutboxMessage
from newsmon.story import Story

__all__ = [
    "DLQ_SCHEMA",
    "MATCH_SCHEMA",
    "dead_letter",
    "dlq_schema_validator",
    "match_message",
    "match_schema_validator",
    "story_json",
    "to_outbox",
]

MATCH_SCHEMA = "newsmon.match/1"
DLQ_SCHEMA = "newsmon.dlq/1"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def story_json(story: Story) -> dict[str, Any]:
    """A story as the ``story`` object of the message contract (also what ``newsmon fetch --json`` prints)."""
    return {
        "id": story.id,
        "title": story.title,
        "url": story.url,
        "summary": story.summary,
        "published": _utc(story.published),
        "fetched": _utc(story.fetched),
        "language": story.language,
        "source": story.source,
        "feed": {"id": story.feed_id, "title": story.feed_title, "url": story.feed_url},
    }


def _evidence(topic: TopicScore) -> dict[str, Any]:
    evidence = topic.evidence
    found: dict[str, Any] = {
        "seed_sentence": evidence.seed_sentence,
        "story_sentence": evidence.story_sentence,
        "similarity": evidence.similarity,
        "keywords": list(evidence.keywords),
    }
    if evidence.exclusion:
        found["exclusion"] = {"sentence": evidence.exclusion, "similarity": evidence.exclusion_similarity}
    return found


def _other_source(story: Story) -> dict[str, Any]:
    """A near-duplicate's entry in ``duplicates``: the identifying part of its story object."""
    whole = story_json(story)
    return {key: whole[key] for key in ("id", "title", "url", "source", "feed")}


def match_message(
    match: SeedMatch,
    *,
    model: str,
    backend: str,
    run_id: str,
    version: str,
    duplicate_group: str | None = None,
    duplicates: Sequence[Story] = (),
) -> dict[str, Any]:
    """The JSON-ready ``newsmon.match/1`` message for one seed match; ``duplicates`` are the other outlets'
    copies of the same story, grouped under ``duplicate_group``."""
    story = match.story
    return {
        "schema": MATCH_SCHEMA,
        "message_id": f"{story.id}:{match.seed}",
        "story": story_json(story),
        "seed": {"id": match.seed, "title": match.seed_title},
        "topics": [
            {
                "id": t.topic_id,
                "name": t.name,
                "score": t.score,
                "contribution": t.contribution,
                "threshold": t.threshold,
                "evidence": _evidence(t),
            }
            for t in match.topics
        ],
        "score": match.relevance,
        "threshold": match.threshold,
        "model": {"name": model, "backend": backend},
        "duplicate_group": duplicate_group or story.id,
        "duplicates": [_other_source(d) for d in duplicates],
        "pipeline": {"version": version, "run_id": run_id},
        "produced_at": _utc(datetime.now(UTC)),
    }


def to_outbox(message: dict[str, Any], topic: str, routed: bool = False) -> OutboxMessage:
    """The outbox row (key = story id; headers = schema, seed, topic ids) for a built message. A ``routed`` copy
    (the same message on a per-topic alert topic) gets its own outbox id, so both are delivered."""
    headers = (
        ("schema", MATCH_SCHEMA.encode()),
        ("seed", message["seed"]["id"].encode()),
        ("topics", ",".join(t["id"] for t in message["topics"]).encode()),
    )
    value = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    outbox_id = f"{message['message_id']}>{topic}" if routed else message["message_id"]
    return OutboxMessage(message_id=outbox_id, key=message["story"]["id"], topic=topic, value=value, headers=headers)


def dead_letter(feed: FeedConfig, document_url: str, entry: RejectedEntry, topic: str) -> OutboxMessage:
    """The DLQ record for a feed entry no story could be made of (key = feed id). Its outbox id hashes the feed
    and the entry, so a bad entry that stays in a feed is dead-lettered once, not every cycle."""
    message = {
        "schema": DLQ_SCHEMA,
        "stage": "normalise",
        "reason": entry.reason,
        "feed": {"id": feed.id, "name": feed.name, "url": document_url},
        "entry": {"title": entry.title, "link": entry.link, "guid": entry.guid},
        "produced_at": _utc(datetime.now(UTC)),
    }
    identity = json.dumps([feed.id, message["entry"], entry.reason]).encode()
    return OutboxMessage(
        message_id=f"dlq:{hashlib.sha256(identity).hexdigest()[:32]}",
        key=feed.id,
        topic=topic,
        value=json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        headers=(("schema", DLQ_SCHEMA.encode()), ("reason", entry.reason.encode()[:1000])),
    )


def _validator(name: str) -> Draft202012Validator:
    text = resources.files("newsmon.schemas").joinpath(name).read_text(encoding="utf-8")
    return Draft202012Validator(json.loads(text))


@cache
def match_schema_validator() -> Draft202012Validator:
    """A validator for the committed ``match.schema.json``."""
    return _validator("match.schema.json")


@cache
def dlq_schema_validator() -> Draft202012Validator:
    """A validator for the committed ``dlq.schema.json`` (what the pipeline dead-letters)."""
    return _validator("dlq.schema.json")
