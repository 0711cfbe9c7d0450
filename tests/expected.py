"""What must alert: the production scorer alone, over the recorded feed documents a test serves, one story per
near-duplicate group. End-to-end and fault tests compare what reached Kafka with exactly this."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from models.duplicates import group_near_duplicates
from models.encoder import load_encoder
from models.relevance import load_seed_models
from models.scoring import Scorer
from models.topics import load_seed_topics
from newsmon.config import PROJECT_ROOT, Settings
from newsmon.parse import parse_feed
from newsmon.story import Story


def feed_stories(documents: Sequence[Path]) -> list[Story]:
    """The stories of the documents in order, one per id (the first document to carry a story wins)."""
    stories: dict[str, Story] = {}
    for path in documents:
        parsed = parse_feed(path.read_bytes(), feed_id=path.stem, feed_url="", fetched=datetime.now(UTC))
        for story in parsed.stories:
            stories.setdefault(story.id, story)
    return list(stories.values())


def expected_alerts(
    documents: Sequence[Path],
    settings: Settings,
    seeds_dir: Path = PROJECT_ROOT / "seeds",
    seed: str | None = None,
) -> set[str]:
    """Story ids that must alert (for any seed, or ``seed``) when a fresh pipeline polls ``documents`` in one
    cycle, with the settings' encoder backend: each seed's matches, one per near-duplicate group."""
    topic_sets = load_seed_topics(seeds_dir)
    models, _ = load_seed_models(seeds_dir, topic_sets)
    scorer = Scorer(topic_sets, load_encoder(settings.model_backend, settings.model_cache_dir), models)
    matches = scorer.matches(feed_stories(documents))
    leads: set[str] = set()
    for name in {m.seed for m in matches if seed in (None, m.seed)}:
        mine = list({m.story.id: m.story for m in matches if m.seed == name}.values())
        leads |= set(group_near_duplicates(mine, scorer.encoder.encode([s.title for s in mine]), []).members)
    return leads
