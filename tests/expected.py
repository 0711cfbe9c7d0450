"""What must alert: the production scorer alone, over the recorded feed documents a test serves, one story per
near-duplicate group. End-to-end and fault tests compare what reached Kafka with exactly this."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from models.duplicates import group_near_duplicates
from models.scoring import matches_of
from newsmon.config import PROJECT_ROOT, Settings
from newsmon.parse import parse_feed
from newsmon.pipeline import build_scorer
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
    cycle, with the settings' encoder backend (and its confirmation): each seed's matches, one per near-duplicate
    group."""
    scorer = build_scorer(settings.model_copy(update={"seeds_dir": seeds_dir}))
    stories = feed_stories(documents)
    assessed, titles = scorer.assess_with_titles(stories)
    row = {story.id: i for i, story in enumerate(stories)}
    matches = matches_of(stories, assessed)
    leads: set[str] = set()
    for name in {m.seed for m in matches if seed in (None, m.seed)}:
        mine = list({m.story.id: m.story for m in matches if m.seed == name}.values())
        leads |= set(group_near_duplicates(mine, titles[[row[s.id] for s in mine]], []).members)
    return leads
