"""Score stories against seed topics, with the evidence for every score.

Per topic, a story's score is the best cosine between any of its sentences (title first) and any exemplar
of the topic, plus a small bonus per distinct keyword the story names. The pair of sentences behind the best
cosine and the keywords hit are the evidence an alert shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.encoder import Encoder, Vectors
from models.sentences import keyword_hits, split_sentences
from models.topics import Topic, TopicSet
from newsmon.story import Story

__all__ = ["Evidence", "Scorer", "SeedMatch", "TopicScore", "story_sentences"]

KEYWORD_BONUS = 0.04
MAX_KEYWORD_BONUS = 0.12
STORY_SENTENCES = 4


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a story scored as it did against one topic."""

    seed_sentence: str
    story_sentence: str
    similarity: float
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TopicScore:
    topic_id: str
    name: str
    score: float
    threshold: float
    evidence: Evidence

    @property
    def matched(self) -> bool:
        return self.score >= self.threshold


@dataclass(frozen=True, slots=True)
class SeedMatch:
    """A story that matched one or more topics of one seed; ``topics`` best first."""

    story: Story
    seed: str
    seed_title: str
    topics: tuple[TopicScore, ...]

    @property
    def score(self) -> float:
        return self.topics[0].score


def story_sentences(story: Story) -> list[str]:
    """What the scorer compares: the title, then the first few sentences of the summary."""
    return [story.title, *split_sentences(story.summary, limit=STORY_SENTENCES - 1)]


class Scorer:
    """Holds the exemplar embeddings of every topic of every seed, computed once."""

    def __init__(self, topic_sets: Sequence[TopicSet], encoder: Encoder, batch_size: int = 64) -> None:
        self.topic_sets = tuple(topic_sets)
        self.encoder = encoder
        self.batch_size = batch_size
        self._exemplars: dict[tuple[str, str], Vectors] = {
            (ts.seed, topic.id): encoder.encode(topic.exemplars, batch_size)
            for ts in self.topic_sets
            for topic in ts.topics
        }

    def _topic_score(self, seed: str, topic: Topic, sentences: list[str], vectors: Vectors, text: str) -> TopicScore:
        sims = vectors @ self._exemplars[(seed, topic.id)].T
        story_index, exemplar_index = np.unravel_index(int(np.argmax(sims)), sims.shape)
        similarity = float(sims[story_index, exemplar_index])
        hits = keyword_hits(text, topic.keywords)
        score = similarity + min(MAX_KEYWORD_BONUS, KEYWORD_BONUS * len(hits))
        evidence = Evidence(topic.exemplars[exemplar_index], sentences[story_index], round(similarity, 4), hits)
        return TopicScore(topic.id, topic.name, round(score, 4), topic.threshold, evidence)

    def score_all(self, stories: Sequence[Story]) -> list[list[tuple[TopicSet, list[TopicScore]]]]:
        """Every topic score of every story (for evaluation); one sentence batch for all stories."""
        per_story = [story_sentences(s) for s in stories]
        flat = [sentence for sentences in per_story for sentence in sentences]
        vectors = self.encoder.encode(flat, self.batch_size)
        results = []
        start = 0
        for sentences in per_story:
            block = vectors[start : start + len(sentences)]
            start += len(sentences)
            text = " ".join(sentences)
            results.append(
                [
                    (ts, [self._topic_score(ts.seed, t, sentences, block, text) for t in ts.topics])
                    for ts in self.topic_sets
                ]
            )
        return results

    def matches(self, stories: Sequence[Story]) -> list[SeedMatch]:
        """The (story, seed) pairs where at least one topic reached its threshold, best topic first."""
        found = []
        for story, per_seed in zip(stories, self.score_all(stories), strict=True):
            for ts, scores in per_seed:
                matched = sorted((s for s in scores if s.matched), key=lambda s: s.score, reverse=True)
                if matched:
                    found.append(SeedMatch(story, ts.seed, ts.title, tuple(matched)))
        return found
