"""Derive a seed article's topics automatically: sentences embedded, clustered into themes, themes named by
their key phrases. The result is a starting point that people review and edit (``seeds/<slug>.topics.yaml``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.encoder import Encoder, Vectors
from models.sentences import split_sentences
from models.topics import DEFAULT_THRESHOLD, Topic, TopicSet, save_topics, seed_articles, topics_path
from newsmon.errors import ConfigError

__all__ = ["SeedBuild", "build_seeds", "build_topic_set", "cluster", "key_phrases"]

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "however",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "it's",
        "may",
        "more",
        "most",
        "no",
        "not",
        "now",
        "of",
        "on",
        "one",
        "or",
        "our",
        "over",
        "said",
        "says",
        "she",
        "since",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "though",
        "to",
        "under",
        "up",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "while",
        "who",
        "will",
        "with",
        "would",
        "you",
        "your",
        "also",
        "about",
        "after",
        "again",
        "against",
        "all",
        "any",
        "because",
        "before",
        "being",
        "between",
        "both",
        "during",
        "each",
        "few",
        "further",
        "here",
        "just",
        "like",
        "many",
        "much",
        "must",
        "new",
        "only",
        "other",
        "out",
        "own",
        "same",
        "should",
        "still",
        "through",
        "too",
        "very",
        "via",
        "well",
        "within",
        "without",
        "yet",
        "year",
        "years",
        "recently",
        "notably",
        "further",
        "company",
        "company's",
        "company’s",
        "official",
        "officials",
        "although",
        "despite",
        "however",
        "though",
        "during",
        "regarding",
        "even",
        "another",
        "already",
        "it’s",
    ]
)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9.&'’-]*[A-Za-z0-9]|[0-9]+(?:\.[0-9]+)?[A-Za-z]+")
_MERGE_FLOOR = -0.2


def cluster(vectors: Vectors, max_clusters: int) -> list[list[int]]:
    """Average-linkage agglomerative clustering on cosine of centred vectors: merges the closest pair of
    clusters until at most ``max_clusters`` remain, never merging pairs below a similarity floor."""
    centred = vectors - vectors.mean(axis=0)  # remove what every sentence shares (the article's subject)
    centred /= np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-9)
    groups = [[i] for i in range(len(vectors))]
    sims = centred @ centred.T
    while len(groups) > 1:
        best, pair = -2.0, (0, 1)
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                linkage = float(sims[np.ix_(groups[a], groups[b])].mean())
                if linkage > best:
                    best, pair = linkage, (a, b)
        if len(groups) <= max_clusters or best < _MERGE_FLOOR:
            break
        a, b = pair
        groups[a] = groups[a] + groups.pop(b)
    return sorted(groups, key=min)


def _terms(sentence: str) -> list[str]:
    """Candidate key phrases of a sentence: content words, and runs of capitalised words as one phrase."""
    tokens = [t.strip(".’'") for t in _TOKEN.findall(sentence)]
    terms: list[str] = []
    run: list[str] = []
    for token in [*tokens, ""]:
        if token[:1].isupper() and token.lower() not in _STOPWORDS:
            run.append(token)
            continue
        if len(run) > 1:
            terms.append(" ".join(run))
        terms.extend(run)
        run = []
        if token and token.lower() not in _STOPWORDS and len(token) > 3:
            terms.append(token.lower())
    return terms


def key_phrases(cluster_sentences: Sequence[str], all_sentences: Sequence[str], top: int = 6) -> list[str]:
    """Terms frequent in the cluster and rare in the article (tf-idf over sentences), best first."""
    document_frequency: Counter[str] = Counter()
    for sentence in all_sentences:
        document_frequency.update(set(_terms(sentence)))
    counts = Counter(term for sentence in cluster_sentences for term in _terms(sentence))
    total = len(all_sentences)
    ranked = sorted(counts, key=lambda t: (-counts[t] * math.log(1 + total / document_frequency[t]), t))
    chosen: list[str] = []
    for term in ranked:
        if not any(term.lower() in c.lower() or c.lower() in term.lower() for c in chosen):
            chosen.append(term)
        if len(chosen) == top:
            break
    return chosen


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "topic"


def build_topic_set(seed: str, article: str, encoder: Encoder, max_topics: int = 6) -> TopicSet:
    """Topics of one article: each cluster of its sentences becomes a topic named by its key phrases."""
    lines = [line.strip() for line in article.splitlines() if line.strip()]
    title = max(lines[:2], key=len) if lines else seed
    sentences = split_sentences(article)
    if not sentences:
        raise ValueError(f"seed {seed!r} has no sentences to build topics from")
    vectors = encoder.encode(sentences)
    topics = []
    used: set[str] = set()
    for members in cluster(vectors, max_topics):
        member_sentences = [sentences[i] for i in members]
        phrases = key_phrases(member_sentences, sentences)
        centroid = vectors[members].mean(axis=0)
        central = member_sentences[int(np.argmax(vectors[members] @ centroid))]
        topic_id = _slug("-".join(phrases[:2]))
        while topic_id in used:
            topic_id += "-x"
        used.add(topic_id)
        topics.append(
            Topic(
                id=topic_id,
                name=", ".join(phrases[:3]),
                description=central,
                exemplars=tuple(member_sentences),
                keywords=tuple(phrases),
                threshold=DEFAULT_THRESHOLD,
            )
        )
    return TopicSet(seed=seed, title=title, topics=tuple(topics))


@dataclass(frozen=True, slots=True)
class SeedBuild:
    """What ``build_seeds`` did with one article: wrote ``topics`` topics to ``target``, or kept it (None)."""

    article: Path
    target: Path
    topics: int | None


def build_seeds(
    seeds_dir: Path, encoder: Callable[[], Encoder], max_topics: int = 6, force: bool = False
) -> Iterator[SeedBuild]:
    """A topics file for each seed article of ``seeds_dir`` that has none (every one, with ``force``), as each
    is written. ``encoder`` is called only if some article needs it (loading takes seconds)."""
    articles = seed_articles(seeds_dir)
    if not articles:
        raise ConfigError(f"no seed articles (*.txt, *.md) in {seeds_dir}")
    for article in articles:
        target = topics_path(article)
        if target.exists() and not force:
            yield SeedBuild(article, target, None)
            continue
        try:
            topic_set = build_topic_set(article.stem, article.read_text(encoding="utf-8"), encoder(), max_topics)
        except ValueError as exc:
            raise ConfigError(f"{article}: {exc}") from exc
        header = (
            f"# Generated from {article.name} by 'newsmon seeds build'. "
            "Edit freely: this file is what newsmon matches against.\n"
        )
        save_topics(topic_set, target, header=header)
        yield SeedBuild(article, target, len(topic_set.topics))
