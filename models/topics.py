"""Seed topics: the editable ``seeds/<slug>.topics.yaml`` files, loaded and saved as typed data.

A topics file is the source of truth at run time. It names the seed, and per topic: an id, a name, a
description, exemplar sentences, keywords (evidence an analyst can read), optional exclusions (sentences of
what the topic is *not*, e.g. stock-price chatter) and a threshold: the relevance probability a story
attributed to this topic must reach to alert. People edit these files; errors in them are ConfigErrors that
name the file and the field. ``newsmon calibrate --write`` changes only the threshold lines, keeping comments.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from newsmon.errors import ConfigError, plain_validation

__all__ = [
    "Topic",
    "TopicSet",
    "load_seed_topics",
    "load_topics",
    "save_topics",
    "seed_articles",
    "seeds_without_topics",
    "topics_fingerprint",
    "topics_path",
    "write_thresholds",
]

DEFAULT_THRESHOLD = 0.5
_TOPIC_ID_LINE = re.compile(r"^\s*-\s+id:\s*(\S+)\s*$")
_THRESHOLD_LINE = re.compile(r"^(\s*)threshold:\s*\S+\s*$")


@dataclass(frozen=True, slots=True)
class Topic:
    """One theme of a seed; a story attributed to it alerts when its relevance reaches ``threshold``."""

    id: str
    name: str
    description: str
    exemplars: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    threshold: float = DEFAULT_THRESHOLD


@dataclass(frozen=True, slots=True)
class TopicSet:
    """The topics of one seed article."""

    seed: str
    title: str
    topics: tuple[Topic, ...] = field(default_factory=tuple)


class _TopicModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1)
    description: str = ""
    exemplars: list[str] = Field(min_length=1)
    keywords: list[str] = []
    exclusions: list[str] = []
    threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0, lt=1)


class _TopicSetModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = ""
    topics: list[_TopicModel] = Field(min_length=1)


def topics_path(seed_file: Path) -> Path:
    """``seeds/x.txt`` → ``seeds/x.topics.yaml``."""
    return seed_file.with_name(seed_file.stem + ".topics.yaml")


def load_topics(path: Path) -> TopicSet:
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        model = _TopicSetModel.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read topics file {path}: {exc}") from exc
    except ValidationError as exc:
        known = [*_TopicSetModel.model_fields, *_TopicModel.model_fields]
        raise ConfigError(f"invalid topics file {path}:\n{plain_validation(exc, known)}") from exc
    ids = [t.id for t in model.topics]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"invalid topics file {path}: topic ids must be unique, got {ids}")
    topics = tuple(
        Topic(t.id, t.name, t.description, tuple(t.exemplars), tuple(t.keywords), tuple(t.exclusions), t.threshold)
        for t in model.topics
    )
    return TopicSet(seed=model.seed, title=model.title, topics=topics)


def save_topics(topic_set: TopicSet, path: Path, header: str = "") -> None:
    data = {
        "seed": topic_set.seed,
        "title": topic_set.title,
        "topics": [
            {
                **asdict(t),
                "exemplars": list(t.exemplars),
                "keywords": list(t.keywords),
                "exclusions": list(t.exclusions),
            }
            for t in topic_set.topics
        ],
    }
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    path.write_text(header + text, encoding="utf-8")


def load_seed_topics(seeds_dir: Path) -> list[TopicSet]:
    """Every ``*.topics.yaml`` under ``seeds_dir``; none at all is a ConfigError that says how to make them."""
    files = sorted(seeds_dir.glob("*.topics.yaml"))
    if not files:
        raise ConfigError(f"no topics files in {seeds_dir}: run 'newsmon seeds build' first")
    return [load_topics(f) for f in files]


def seed_articles(seeds_dir: Path) -> list[Path]:
    """The seed articles (``*.txt``, ``*.md``) under ``seeds_dir``."""
    return sorted([*seeds_dir.glob("*.txt"), *seeds_dir.glob("*.md")])


def seeds_without_topics(seeds_dir: Path) -> list[Path]:
    """Seed articles that have no topics file yet: nothing matches against them until 'newsmon seeds build'."""
    return [article for article in seed_articles(seeds_dir) if not topics_path(article).exists()]


def topics_fingerprint(topic_set: TopicSet) -> str:
    """A hash of what a relevance model depends on (ids, exemplars, keywords, exclusions; not thresholds), so a
    model trained on other topics is noticed."""
    content = [(t.id, t.exemplars, t.keywords, t.exclusions) for t in topic_set.topics]
    return hashlib.sha256(json.dumps([topic_set.seed, content]).encode()).hexdigest()[:16]


def write_thresholds(path: Path, thresholds: dict[str, float]) -> None:
    """Set the ``threshold:`` line of the named topics in place, keeping the file's comments and layout."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    current: str | None = None
    pending = dict(thresholds)
    for index, line in enumerate(lines):
        topic = _TOPIC_ID_LINE.match(line)
        if topic:
            current = topic.group(1).strip("'\"")
        threshold = _THRESHOLD_LINE.match(line)
        if threshold and current in pending:
            lines[index] = f"{threshold.group(1)}threshold: {pending.pop(current):.3f}\n"
    if pending:
        raise ConfigError(f"{path}: no 'threshold:' line for topics {sorted(pending)}; add one to each topic")
    path.write_text("".join(lines), encoding="utf-8")
    load_topics(path)  # the edit must leave a valid file
