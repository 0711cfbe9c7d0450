"""Topics files and the scorer, on the real model and the committed seed topics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.encoder import load_encoder
from models.scoring import Scorer
from models.seeding import build_topic_set
from models.topics import load_seed_topics, load_topics, save_topics
from newsmon.config import PROJECT_ROOT
from newsmon.errors import ConfigError
from newsmon.story import Story, story_id

SEEDS = PROJECT_ROOT / "seeds"
NOW = datetime(2026, 4, 1, tzinfo=UTC)


def _story(title: str, summary: str = "") -> Story:
    return Story(
        id=story_id(f"https://example.com/{abs(hash(title))}"),
        title=title,
        url="https://example.com/",
        summary=summary,
        published=NOW,
        fetched=NOW,
        feed_id="f",
        feed_title="F",
        feed_url="",
    )


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer(load_seed_topics(SEEDS), load_encoder("torch"))


def test_committed_topics_file_loads_with_the_six_design_topics() -> None:
    (topic_set,) = load_seed_topics(SEEDS)
    assert topic_set.seed == "huawei-korea-chips"
    assert len(topic_set.topics) == 6
    assert all(t.exemplars and t.keywords and 0 < t.threshold <= 1 for t in topic_set.topics)


def test_topics_round_trip_and_bad_files_name_the_problem(tmp_path: Path) -> None:
    (topic_set,) = load_seed_topics(SEEDS)
    save_topics(topic_set, tmp_path / "x.topics.yaml")
    assert load_topics(tmp_path / "x.topics.yaml") == topic_set
    (tmp_path / "bad.topics.yaml").write_text("seed: Bad Slug\ntopics: []\n")
    with pytest.raises(ConfigError, match=r"bad\.topics\.yaml"):
        load_topics(tmp_path / "bad.topics.yaml")
    with pytest.raises(ConfigError, match="seeds build"):
        load_seed_topics(tmp_path / "empty")


def test_relevant_headlines_outscore_unrelated_ones_and_carry_evidence(scorer: Scorer) -> None:
    relevant = _story("US move to bar Chinese chips seen as boon to Samsung, SK Hynix")
    unrelated = _story("Barclays initiates coverage of ON Semiconductor with equal-weight rating")
    (rel_scores,), (unrel_scores,) = scorer.score_all([relevant, unrelated])
    assert max(s.score for s in rel_scores[1]) > max(s.score for s in unrel_scores[1]) + 0.1
    matches = scorer.matches([relevant, unrelated])
    assert [m.story.id for m in matches] == [relevant.id]
    best = matches[0].topics[0]
    assert best.evidence.story_sentence == relevant.title
    assert best.evidence.seed_sentence in {e for t in scorer.topic_sets[0].topics for e in t.exemplars}
    assert set(best.evidence.keywords) <= {k for t in scorer.topic_sets[0].topics for k in t.keywords}
    assert [t.score for t in matches[0].topics] == sorted((t.score for t in matches[0].topics), reverse=True)


def test_scores_are_deterministic_and_thresholds_decide(scorer: Scorer) -> None:
    story = _story("Huawei unveils new Ascend AI chip despite US sanctions")
    first = scorer.score_all([story])[0][0][1]
    assert first == scorer.score_all([story])[0][0][1]
    assert all(s.matched == (s.score >= s.threshold) for s in first)


def test_seeds_build_derives_named_topics_from_the_article() -> None:
    article = (SEEDS / "huawei-korea-chips.txt").read_text()
    topic_set = build_topic_set("huawei-korea-chips", article, load_encoder("torch"), max_topics=6)
    assert 2 <= len(topic_set.topics) <= 6
    assert "Korean chip firms" in topic_set.title
    exemplars = [e for t in topic_set.topics for e in t.exemplars]
    assert len(exemplars) == len(set(exemplars)) and all(e in article for e in exemplars)
    assert all(t.name and t.keywords for t in topic_set.topics)
