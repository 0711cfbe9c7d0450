"""The Kafka message contract: ``newsmon.match/1`` and ``newsmon.dlq/1`` as typed objects, one codec each.

The JSON Schema files in ``newsmon/schemas/`` are the published contract. ``encode`` validates every message
against its schema before it leaves (a producer never publishes what a consumer would reject), and
``decode`` validates what arrives and gives typed objects, so consumers read ``message.story.title``
instead of walking JSON paths. Times stay the ISO-8601 UTC strings the contract defines, so a message
decoded and encoded again is the same bytes.

``OutboxMessage`` is a record on its way: what the state store keeps until Kafka acknowledges it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from newsmon.story import Story

__all__ = [
    "DLQ_SCHEMA",
    "MATCH_SCHEMA",
    "DeadLetter",
    "Evidence",
    "Exclusion",
    "FeedRef",
    "MatchMessage",
    "MessageError",
    "ModelRef",
    "OutboxMessage",
    "Outlet",
    "PipelineRef",
    "SeedRef",
    "StoryPart",
    "TopicPart",
    "dlq_schema_validator",
    "match_schema_validator",
    "utc_text",
]

MATCH_SCHEMA = "newsmon.match/1"
DLQ_SCHEMA = "newsmon.dlq/1"


class MessageError(ValueError):
    """Bytes that are not a valid message of the contract; says why (not JSON, or what the schema refused)."""


def utc_text(moment: datetime) -> str:
    """A time as the contract writes it: ISO 8601, UTC, ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One Kafka record waiting for (or past) delivery; ``key`` is the story id (a feed id for dead letters),
    ``message_id`` is unique per topic; ``id`` is the store's row id once kept."""

    message_id: str
    key: str
    topic: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    id: int | None = None


@dataclass(frozen=True, slots=True)
class FeedRef:
    id: str
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class StoryPart:
    """The story an alert is about, as the contract carries it."""

    id: str
    title: str
    url: str
    summary: str
    published: str
    fetched: str
    language: str | None
    source: str
    feed: FeedRef

    @classmethod
    def of(cls, story: Story) -> StoryPart:
        return cls(
            story.id,
            story.title,
            story.url,
            story.summary,
            utc_text(story.published),
            utc_text(story.fetched),
            story.language,
            story.source,
            FeedRef(story.feed_id, story.feed_title, story.feed_url),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "summary": self.summary,
            "published": self.published,
            "fetched": self.fetched,
            "language": self.language,
            "source": self.source,
            "feed": _feed_json(self.feed),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoryPart:
        fields = {k: data[k] for k in ("id", "title", "url", "summary", "published", "fetched", "language", "source")}
        return cls(**fields, feed=FeedRef(**data["feed"]))


@dataclass(frozen=True, slots=True)
class Exclusion:
    sentence: str
    similarity: float


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a topic matched: the seed and story sentences behind the best cosine, the keywords named, and the
    topic's exclusion closest to the story (if it lists any)."""

    seed_sentence: str
    story_sentence: str
    similarity: float
    keywords: tuple[str, ...]
    exclusion: Exclusion | None = None


@dataclass(frozen=True, slots=True)
class TopicPart:
    """One matched topic of an alert: ``score`` is the best cosine plus the keyword bonus, ``contribution`` how
    far it moved the relevance logit, ``threshold`` what a story it decides must reach."""

    id: str
    name: str
    score: float
    contribution: float
    threshold: float
    evidence: Evidence

    def to_json(self) -> dict[str, Any]:
        e = self.evidence
        evidence: dict[str, Any] = {
            "seed_sentence": e.seed_sentence,
            "story_sentence": e.story_sentence,
            "similarity": e.similarity,
            "keywords": list(e.keywords),
        }
        if e.exclusion is not None:
            evidence["exclusion"] = {"sentence": e.exclusion.sentence, "similarity": e.exclusion.similarity}
        return {
            "id": self.id,
            "name": self.name,
            "score": self.score,
            "contribution": self.contribution,
            "threshold": self.threshold,
            "evidence": evidence,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TopicPart:
        e = data["evidence"]
        exclusion = Exclusion(**e["exclusion"]) if "exclusion" in e else None
        evidence = Evidence(e["seed_sentence"], e["story_sentence"], e["similarity"], tuple(e["keywords"]), exclusion)
        return cls(data["id"], data["name"], data["score"], data["contribution"], data["threshold"], evidence)


@dataclass(frozen=True, slots=True)
class Outlet:
    """Another outlet's copy of the same story (a member of its near-duplicate group)."""

    id: str
    title: str
    url: str
    source: str
    feed: FeedRef

    @classmethod
    def of(cls, story: Story) -> Outlet:
        return cls(
            story.id, story.title, story.url, story.source, FeedRef(story.feed_id, story.feed_title, story.feed_url)
        )


@dataclass(frozen=True, slots=True)
class SeedRef:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class ModelRef:
    name: str
    backend: str


@dataclass(frozen=True, slots=True)
class PipelineRef:
    version: str
    run_id: str


@dataclass(frozen=True, slots=True)
class MatchMessage:
    """A ``newsmon.match/1`` message: one story that matched topics of one seed, with the evidence.

    ``score`` is the relevance (the seed model's probability), ``threshold`` that of the deciding topic (listed
    first in ``topics``); ``duplicates`` are the other outlets' copies of the story, grouped under
    ``duplicate_group``. ``message_id`` is ``<story id>:<seed id>``: consumers de-duplicate on it."""

    message_id: str
    story: StoryPart
    seed: SeedRef
    topics: tuple[TopicPart, ...]
    score: float
    threshold: float
    model: ModelRef
    duplicate_group: str
    duplicates: tuple[Outlet, ...]
    pipeline: PipelineRef
    produced_at: str

    @property
    def deciding(self) -> TopicPart:
        """The topic that decided the alert (the first)."""
        return self.topics[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": MATCH_SCHEMA,
            "message_id": self.message_id,
            "story": self.story.to_json(),
            "seed": {"id": self.seed.id, "title": self.seed.title},
            "topics": [t.to_json() for t in self.topics],
            "score": self.score,
            "threshold": self.threshold,
            "model": {"name": self.model.name, "backend": self.model.backend},
            "duplicate_group": self.duplicate_group,
            "duplicates": [
                {"id": d.id, "title": d.title, "url": d.url, "source": d.source, "feed": _feed_json(d.feed)}
                for d in self.duplicates
            ],
            "pipeline": {"version": self.pipeline.version, "run_id": self.pipeline.run_id},
            "produced_at": self.produced_at,
        }

    def encode(self) -> bytes:
        """The record's value: compact UTF-8 JSON, checked against the schema first (MessageError if not)."""
        return _encode(self.to_json(), match_schema_validator())

    @classmethod
    def decode(cls, value: bytes) -> MatchMessage:
        """A record's value as a message; MessageError saying why when it is not JSON or not this contract."""
        data = _decode(value, match_schema_validator(), MATCH_SCHEMA)
        return cls(
            message_id=data["message_id"],
            story=StoryPart.from_json(data["story"]),
            seed=SeedRef(**data["seed"]),
            topics=tuple(TopicPart.from_json(t) for t in data["topics"]),
            score=data["score"],
            threshold=data["threshold"],
            model=ModelRef(**data["model"]),
            duplicate_group=data["duplicate_group"],
            duplicates=tuple(
                Outlet(d["id"], d["title"], d["url"], d["source"], FeedRef(**d["feed"])) for d in data["duplicates"]
            ),
            pipeline=PipelineRef(**data["pipeline"]),
            produced_at=data["produced_at"],
        )

    def to_outbox(self, topic: str, routed: bool = False) -> OutboxMessage:
        """The outbox row: key = story id; headers = schema, seed, topic ids. A ``routed`` copy (the same
        message on a per-topic alert topic) gets its own outbox id, so both are delivered."""
        headers = (
            ("schema", MATCH_SCHEMA.encode()),
            ("seed", self.seed.id.encode()),
            ("topics", ",".join(t.id for t in self.topics).encode()),
        )
        outbox_id = f"{self.message_id}>{topic}" if routed else self.message_id
        return OutboxMessage(outbox_id, self.story.id, topic, self.encode(), headers)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A ``newsmon.dlq/1`` message: a feed entry no story could be made of, and why (key = feed id)."""

    reason: str
    feed: FeedRef  # ``title`` is the feed's configured name
    entry_title: str
    entry_link: str
    entry_guid: str
    produced_at: str
    stage: str = "normalise"

    @property
    def message_id(self) -> str:
        """A hash of the feed, the entry and the reason: a bad entry that stays in a feed is dead-lettered once."""
        entry = {"title": self.entry_title, "link": self.entry_link, "guid": self.entry_guid}
        identity = json.dumps([self.feed.id, entry, self.reason]).encode()
        return f"dlq:{hashlib.sha256(identity).hexdigest()[:32]}"

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": DLQ_SCHEMA,
            "stage": self.stage,
            "reason": self.reason,
            "feed": {"id": self.feed.id, "name": self.feed.title, "url": self.feed.url},
            "entry": {"title": self.entry_title, "link": self.entry_link, "guid": self.entry_guid},
            "produced_at": self.produced_at,
        }

    def encode(self) -> bytes:
        return _encode(self.to_json(), dlq_schema_validator())

    @classmethod
    def decode(cls, value: bytes) -> DeadLetter:
        data = _decode(value, dlq_schema_validator(), DLQ_SCHEMA)
        feed, entry = data["feed"], data["entry"]
        return cls(
            data["reason"],
            FeedRef(feed["id"], feed["name"], feed["url"]),
            entry["title"],
            entry["link"],
            entry["guid"],
            data["produced_at"],
            data["stage"],
        )

    def to_outbox(self, topic: str) -> OutboxMessage:
        headers = (("schema", DLQ_SCHEMA.encode()), ("reason", self.reason.encode()[:1000]))
        return OutboxMessage(self.message_id, self.feed.id, topic, self.encode(), headers)


def _feed_json(feed: FeedRef) -> dict[str, str]:
    return {"id": feed.id, "title": feed.title, "url": feed.url}


def _encode(data: dict[str, Any], validator: Draft202012Validator) -> bytes:
    try:
        validator.validate(data)
    except ValidationError as exc:
        raise MessageError(
            f"not a valid {data.get('schema')} message: {exc.message} at {list(exc.absolute_path)}"
        ) from exc
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _decode(value: bytes, validator: Draft202012Validator, schema: str) -> dict[str, Any]:
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MessageError(f"not JSON: {exc}") from exc
    try:
        validator.validate(data)
    except ValidationError as exc:
        raise MessageError(f"not a {schema} message: {exc.message} at {list(exc.absolute_path)}") from exc
    return dict(data)


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
