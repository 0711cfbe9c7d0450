"""Derive a seed article's topics automatically: sentences embedded, clustered into themes, themes named by
their key phrases. The result is a starting point that people review and edit (``seeds/<slug>.topics.yaml``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.background import Background, load_background
from models.encoder import Encoder, Vectors
from models.sentences import split_sentences
from models.topics import Topic, TopicSet, save_topics, seed_articles, topics_path
from newsmon.errors import ConfigError

__all__ = ["SeedBuild", "article_title", "build_seeds", "build_topic_set", "cluster", "key_phrases", "phrases"]

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


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "topic"


_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.&'’-]*")
# Words that say little about a topic however rarely headlines use them: reporting and hedging verbs, vague
# quantities, time words. (Scikit-learn's English stop words are added to these.)
_VAGUE_WORDS = """
said says say told report reports reported stated mentioned noted added revealed according asked wants
want plans plan aims aim seeks seek bets bet decide decides decided expects expected hopes believes
thinks sees seen looks makes made gets got goes went comes came gives gave takes took keeps kept puts
put including include includes become becomes became remain remains remained continue continues
continued year years month months week weeks day days today time times decade decades quarter recently
currently several various certain many number numbers lot lots part parts way ways thing things matter
question questions issue issues level levels area areas people company companies firm firms official
officials spokesperson analysts analyst investors global new big small large major key top latest first
second third last next early late high higher low lower hard difficult difficulties possible able
unclear however although despite though even also still already just only notably undoubtedly
hypothetical
"""
_VAGUE = frozenset(_VAGUE_WORDS.split())


def _content(word: str) -> bool:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    lowered = word.lower()
    return len(lowered) > 2 and lowered not in ENGLISH_STOP_WORDS and lowered not in _VAGUE and not lowered.isdigit()


def _words(sentence: str) -> list[str]:
    text = re.sub(r"\bU\.S\.(?=\W|$)|\bU\.S\b", "US", sentence)
    return [w for w in (re.sub(r"['’]s$", "", t).strip(".'’-") for t in _WORD.findall(text)) if w]


def phrases(sentence: str) -> list[str]:
    """Candidate key phrases of a sentence, in order: runs of capitalised words or acronyms as one entity
    ("SK Hynix", "Section 232", "CHIPS Act"), acronyms and codes ("HBM", "5.5G"), content words, and pairs
    of adjacent content words ("memory chip", "export controls")."""
    words = _words(sentence)
    found: list[str] = []
    run: list[str] = []
    for index, word in enumerate([*words, ""]):
        entity = bool(word) and (
            (word[:1].isupper() and (index > 0 or word.isupper() or len(run) > 0))
            or (any(c.isdigit() for c in word[:1]) and any(c.isalpha() for c in word))
            or (run and word.isdigit())
        )
        if entity and word.lower() not in _VAGUE:
            run.append(word)
            continue
        if run:
            found.append(" ".join(run))  # a name whole: "SK Hynix", never "SK" alone
        run = []
    lowered = [w.lower() if i == 0 and not w.isupper() else w for i, w in enumerate(words)]  # names keep case
    for first, second in itertools.pairwise(lowered):
        if _content(first) and _content(second) and not first[:1].isupper() and not second[:1].isupper():
            found.append(f"{first} {second}")
    found += [w for w in lowered if _content(w) and not w[:1].isupper()]
    return [p for p in found if p.lower() not in _VAGUE]


def _specific(phrase: str, background: Background | None) -> float:
    """How specific a phrase is against ordinary news: its inverse document frequency over the background
    headlines, zero when no headline names it at all (unattested words are no evidence), except for names
    (capitalised or coded), which count at the median of names that do occur."""
    if background is None:
        return 1.0
    frequency = background.document_frequency(phrase)
    if frequency == 0:
        return 3.0 if _is_name(phrase) else 0.0
    return background.specificity(phrase)


def _is_name(phrase: str) -> bool:
    return phrase[:1].isupper() or any(c.isdigit() for c in phrase)


def key_phrases(
    cluster_sentences: Sequence[str],
    background: Background | None = None,
    top: int = 6,
    floor: float = 2.0,
    recurring: Collection[str] | None = None,
) -> list[str]:
    """The cluster's phrases ranked by how often it uses them times how specific they are (at least ``floor``:
    phrases in more than one ordinary headline in seven say nothing particular), none contained in a better one.
    With ``recurring`` (phrases the whole article uses more than once), a plain word or pair must be one of
    them: a word such as "booked" is rare in headlines yet says nothing about the topic, while a name ("SK
    Hynix", "Section 232") is specific the first time."""
    counts: Counter[str] = Counter(p for sentence in cluster_sentences for p in phrases(sentence))
    weight = {p: (1 + math.log(c)) * _specific(p, background) for p, c in counts.items()}
    allowed = [p for p in weight if recurring is None or _is_name(p) or p.lower() in recurring]
    ranked = sorted((p for p in allowed if weight[p] >= floor), key=lambda p: (-weight[p], p))
    chosen: list[str] = []
    for phrase in ranked:
        if not any(phrase.lower() in c.lower() or c.lower() in phrase.lower() for c in chosen):
            chosen.append(phrase)
        if len(chosen) == top:
            break
    return chosen


def _informative(sentence: str, background: Background | None) -> bool:
    """Whether a sentence names anything specific (chatter such as "one of the company's officials has shed
    light on this matter" does not, and would match any headline about chips)."""
    return bool(key_phrases([sentence], background, top=1, floor=3.0))


def _name(phrases_of_topic: Sequence[str]) -> str:
    """A topic name from its best phrases: "HBM, SK Hynix and Nvidia"."""
    shown = [p[:1].upper() + p[1:] if i == 0 else p for i, p in enumerate(phrases_of_topic[:3])]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def article_title(article: str, default: str) -> str:
    """The article's headline: its first line, unless that is a short kicker ("Huawei", "Memory chip
    supercycle") above a headline. A headline has four words or more and does not end like a sentence, so the
    first paragraph of an article whose title is short is never taken for it."""
    lines = [line.strip() for line in article.splitlines() if line.strip()]
    for line in lines[:2]:
        if len(line.split()) >= 4 and not line.endswith((".", "!", "?")):
            return line
    return lines[0] if lines else default


def build_topic_set(
    seed: str,
    article: str,
    encoder: Encoder,
    max_topics: int = 6,
    background: Background | None = None,
    threshold: float | None = None,
) -> TopicSet:
    """Topics of one article: its informative sentences clustered into themes, each named by its most specific
    key phrases (against ``background``, default the bundled ordinary news), with those phrases as keywords and
    ``threshold`` (default: the one the transfer model starts new seeds at)."""
    from models.relevance import transfer_threshold

    background = background or load_background(encoder)
    threshold = transfer_threshold() if threshold is None else threshold
    title = article_title(article, seed)
    sentences = split_sentences(article)
    if not sentences:
        raise ValueError(f"seed {seed!r} has no sentences to build topics from")
    informative = [s for s in sentences if _informative(s, background)] or sentences
    vectors = encoder.encode(informative)
    used_phrases = Counter(p.lower() for sentence in sentences for p in phrases(sentence))
    recurring = {p for p, count in used_phrases.items() if count > 1}
    topics = []
    used: set[str] = set()
    for members in cluster(vectors, max_topics):
        member_sentences = [informative[i] for i in members]
        found = key_phrases(member_sentences, background, recurring=recurring) or key_phrases(member_sentences, None)
        centroid = vectors[members].mean(axis=0)
        central = member_sentences[int(np.argmax(vectors[members] @ centroid))]
        topic_id = _slug("-".join(found[:2]) or central)
        while topic_id in used:
            topic_id += "-x"
        used.add(topic_id)
        topics.append(
            Topic(
                id=topic_id,
                name=_name(found) if found else central[:60],
                description=central,
                exemplars=tuple(member_sentences),
                keywords=tuple(found),
                threshold=round(threshold, 3),
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
    seeds_dir: Path,
    encoder: Callable[[], Encoder],
    max_topics: int = 6,
    force: bool = False,
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
