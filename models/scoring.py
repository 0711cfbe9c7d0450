"""Score stories against seed topics, with the evidence for every score.

Per topic the scorer measures, over a story's sentences (title first): the best cosine to any exemplar, the
best cosine to the exemplars' centroid, the keywords named, and the best cosine to any exclusion. The seed's
relevance model turns those measurements into one probability; the topic the story resembles most (best
cosine plus keyword bonus) is the story's topic, and the story alerts when the probability reaches that
topic's threshold. Every match keeps its
evidence: the exemplar and story sentence behind the best cosine, the keywords hit, the exclusion it was
closest to, and each topic's score and contribution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.background import Background, load_background
from models.encoder import Encoder, Vectors
from models.relevance import RelevanceModel, feature_names, prior_model
from models.sentences import keyword_hits, split_sentences
from models.stream import StreamPool, joined, weight
from models.topics import Topic, TopicSet
from newsmon.errors import ConfigError
from newsmon.story import Story

__all__ = [
    "Confirmation",
    "Evidence",
    "Scorer",
    "SeedAssessment",
    "SeedMatch",
    "TopicScore",
    "matches_of",
    "neighbour_evidence",
    "story_sentences",
    "title_columns",
]

CLOSENESS_TEMPERATURE = 10.0  # soft maximum over a seed's exemplars: several close ones count, one dominates
REREAD_KEPT = 10_000  # stream picks whose title vectors a scorer keeps (``Scorer.reread``) before starting over
KEYWORD_BONUS = 0.04
MAX_KEYWORD_BONUS = 0.12
MAX_KEYWORDS_COUNTED = 3
STORY_SENTENCES = 4
RUNNER_UP_GAP = 0.1
Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a story scored as it did against one topic."""

    seed_sentence: str
    story_sentence: str
    similarity: float
    keywords: tuple[str, ...]
    exclusion: str = ""
    exclusion_similarity: float = 0.0


@dataclass(frozen=True, slots=True)
class TopicScore:
    """One topic's reading of a story: ``score`` is the best cosine plus a small keyword bonus (comparable
    across models); ``contribution`` is how far this topic moved the seed's relevance logit."""

    topic_id: str
    name: str
    score: float
    contribution: float
    threshold: float
    evidence: Evidence
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class SeedAssessment:
    """A story against one seed: every topic's reading, the relevance probability and the deciding topic."""

    topic_set: TopicSet
    topics: tuple[TopicScore, ...]
    relevance: float
    primary: TopicScore
    values: tuple[float, ...]

    @property
    def matched(self) -> bool:
        return self.relevance >= self.primary.threshold

    @property
    def margin(self) -> float:
        """Relevance above (or below) the deciding topic's threshold: what ranks stories for evaluation."""
        return self.relevance - self.primary.threshold


@dataclass(frozen=True, slots=True)
class SeedMatch:
    """A story that alerts for one seed; ``topics`` are those that pushed it up, best first."""

    story: Story
    seed: str
    seed_title: str
    relevance: float
    threshold: float
    topics: tuple[TopicScore, ...]

    @property
    def score(self) -> float:
        return self.relevance


def story_sentences(story: Story) -> list[str]:
    """What the scorer compares: the title, then the first few sentences of the summary."""
    return [story.title, *split_sentences(story.summary, limit=STORY_SENTENCES - 1)]


def _unit(vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return vector / max(float(np.linalg.norm(vector)), 1e-9)


@dataclass(frozen=True, slots=True)
class _TopicVectors:
    topic: Topic
    exemplars: Vectors
    centroid: Vectors
    exclusions: Vectors


@dataclass(frozen=True, slots=True)
class _SeedVectors:
    """What the seed-agnostic features need of one seed: every exemplar with its average cosine to ordinary news,
    how close ordinary headlines come (to express closeness in their standard deviations), the labelled
    neighbours its model learned from (core, and not), and where its model's features sit in the full vector."""

    exemplars: Vectors
    offsets: Vectors
    closeness: tuple[float, float]
    neighbours: Vectors
    neighbour_titles: tuple[str, ...]
    neighbour_labels: tuple[int, ...]
    columns: list[int]
    neighbour_index: dict[str, tuple[int, ...]]  # title_columns(neighbour_titles)
    core_rows: npt.NDArray[np.intp]  # the neighbours labelled core, which seed.stream counts fully
    closeness_column: int  # where seed.closeness sits in the full vector
    streamed: bool  # whether its model reads seed.stream


def _closeness(sv: _SeedVectors, vectors: Vectors) -> npt.NDArray[np.float64]:
    """``seed.closeness`` of unit title vectors: above ordinary news, in the background's standard deviations."""
    result: npt.NDArray[np.float64] = (
        _soft_max(vectors @ sv.exemplars.T - sv.offsets) - sv.closeness[0]
    ) / sv.closeness[1]
    return result


def _own_columns(
    sv: _SeedVectors, ids: Sequence[str], titles: Sequence[str], pool: StreamPool
) -> list[tuple[int, int]]:
    """Where each story meets itself among the columns ``seed.stream`` counts (the exemplars, the labelled core
    stories, then the pool's picks): a labelled story by its title (any case), a pick by its id."""
    core_column = {int(row): len(sv.exemplars) + i for i, row in enumerate(sv.core_rows)}
    pick_column = {story: len(sv.exemplars) + len(core_column) + i for i, story in enumerate(pool.ids)}
    own = [(row, pick_column[story]) for row, story in enumerate(ids) if story in pick_column]
    for row, title in enumerate(titles):
        own += [(row, core_column[c]) for c in sv.neighbour_index.get(title.lower(), ()) if c in core_column]
    return own


def _soft_max(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """Row-wise soft maximum (log-sum-exp at ``CLOSENESS_TEMPERATURE``)."""
    scaled = np.asarray(values, dtype=np.float64) * CLOSENESS_TEMPERATURE
    top = scaled.max(axis=1, keepdims=True)
    result: npt.NDArray[np.float64] = (top[:, 0] + np.log(np.exp(scaled - top).sum(axis=1))) / CLOSENESS_TEMPERATURE
    return result


def title_columns(titles: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Each title (lower case) and the positions it holds in ``titles``."""
    columns: dict[str, list[int]] = {}
    for column, title in enumerate(titles):
        columns.setdefault(title.lower(), []).append(column)
    return {title: tuple(found) for title, found in columns.items()}


def neighbour_evidence(
    vectors: Vectors,
    titles: Sequence[str],
    neighbours: Vectors,
    neighbour_titles: Sequence[str],
    neighbour_labels: Sequence[int],
    index: Mapping[str, tuple[int, ...]] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """For each story: its best cosine to a labelled core neighbour, and to a labelled non-core one. A story is
    never its own neighbour (same title, any case): its own label would leak. ``index`` is
    ``title_columns(neighbour_titles)``, made once by a caller that scores story after story."""
    count = len(vectors)
    if not len(neighbours):
        return np.zeros(count), np.zeros(count)
    sims = (vectors @ neighbours.T).astype(np.float64)
    columns = index if index is not None else title_columns(neighbour_titles)
    for row, title in enumerate(titles):
        for column in columns.get(title.lower(), ()):
            sims[row, column] = -1.0
    core = np.asarray(neighbour_labels) == 2

    def best(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        found: npt.NDArray[np.float64] = sims[:, mask].max(axis=1) if mask.any() else np.zeros(count)
        return found

    return best(core), best(~core)


@dataclass(frozen=True, slots=True)
class _Batch:
    """Stories' sentences embedded together: story i's sentences are rows ``starts[i]`` up to the next start
    (its title first); ``texts`` is each story's sentences joined, where keywords are looked for."""

    sentences: list[str]
    vectors: Vectors
    starts: npt.NDArray[np.intp]
    texts: list[str]
    ids: list[str]


def _best_per_story(
    sims: npt.NDArray[np.float32], starts: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Per story (its sentences are a block of rows of ``sims``, from ``starts``): its highest cosine, and where
    it lies: the row of the first sentence reaching it, and the first column of that row reaching it (what
    ``argmax`` over the story's block alone would say)."""
    row_best, row_column = sims.max(axis=1), sims.argmax(axis=1)
    best = np.maximum.reduceat(row_best, starts)
    owner = np.repeat(np.arange(len(starts)), np.diff([*starts, len(row_best)]))
    rows = np.where(row_best == best[owner], np.arange(len(row_best)), len(row_best))
    first = np.minimum.reduceat(rows, starts)
    return best, first, row_column[first]


@dataclass(frozen=True, slots=True)
class _Reading:
    """One topic's measurements of every story in a batch (rows: stories; columns: ``TOPIC_FEATURES`` it has),
    with what each story's evidence needs: the best sentence row and exemplar, keywords hit, the nearest
    exclusion."""

    topic: Topic
    values: Matrix
    scores: Matrix
    rows: npt.NDArray[np.intp]
    exemplars: npt.NDArray[np.intp]
    hits: list[tuple[str, ...]]
    exclusion: tuple[Matrix, npt.NDArray[np.intp]] | None

    def score_of(self, story: int, sentences: Sequence[str], contribution: float) -> TopicScore:
        similarity = float(self.values[story, 0])
        exclusion, exclusion_similarity = "", 0.0
        if self.exclusion is not None:
            exclusion = self.topic.exclusions[int(self.exclusion[1][story])]
            exclusion_similarity = float(self.exclusion[0][story])
        evidence = Evidence(
            self.topic.exemplars[int(self.exemplars[story])],
            sentences[int(self.rows[story])],
            round(similarity, 4),
            self.hits[story],
            exclusion,
            round(exclusion_similarity, 4),
        )
        return TopicScore(
            self.topic.id,
            self.topic.name,
            round(float(self.scores[story]), 4),
            round(contribution, 4),
            self.topic.threshold,
            evidence,
            tuple(float(v) for v in self.values[story]),
        )


@dataclass(frozen=True, slots=True)
class Confirmation:
    """A second, exact scorer (same seeds and models, an fp32 encoder) that decides again every story the first
    one puts within ``band`` of a threshold, for any seed.

    Why: int8 moves a story's relevance by up to 0.12 from fp32 (most where the logistic is steepest, at the
    threshold), so a quantised encoder alone flips close calls; on an avx2 CPU (no VNNI: coarser integer
    kernels) it flipped 3 of the Huawei dev set's 547 decisions and 8 of the memory seed's 602. Those stories
    are few and all near a threshold. With a band of 0.05, fp32 reads 1.3 % and 4.7 % of those topical dev
    sets again (12 of 2,000 recorded headlines), and 2 of 547 and 0 of 602 decisions differ from torch fp32
    (``scripts/bench_encoders.py``). The band is in relevance, the scale thresholds are set in."""

    scorer: Scorer
    band: float

    def near(self, assessed: Sequence[Sequence[SeedAssessment]]) -> list[int]:
        """The stories some seed decided by less than the band."""
        return [i for i, per_seed in enumerate(assessed) if any(abs(a.margin) < self.band for a in per_seed)]


class Scorer:
    """Holds the exemplar embeddings of every topic of every seed, computed once, and each seed's model; with a
    ``confirm``ation, its exact scorer decides the close calls again."""

    def __init__(
        self,
        topic_sets: Sequence[TopicSet],
        encoder: Encoder,
        models: Mapping[str, RelevanceModel] | None = None,
        batch_size: int | None = None,
        background: Background | None = None,
        confirm: Confirmation | None = None,
    ) -> None:
        self.topic_sets = tuple(topic_sets)
        self.encoder = encoder
        self.batch_size = batch_size
        self.confirm = confirm
        self.background = background or load_background(encoder)
        self.models = {ts.seed: (models or {}).get(ts.seed) or prior_model(ts) for ts in self.topic_sets}
        self._vectors = {ts.seed: [self._topic_vectors(t) for t in ts.topics] for ts in self.topic_sets}
        self._seed_vectors = {ts.seed: self._seed_evidence(ts) for ts in self.topic_sets}
        self._reread: dict[str, npt.NDArray[np.float32]] = {}  # stream picks' title vectors (``reread``)

    @property
    def seeds(self) -> list[str]:
        """The seed ids, in the order of ``topic_sets``."""
        return [ts.seed for ts in self.topic_sets]

    @property
    def streams(self) -> bool:
        """Whether some seed's model reads ``seed.stream`` (what the stream showed of it)."""
        return any(sv.streamed for sv in self._seed_vectors.values())

    def only(self, seed: str) -> Scorer:
        """A scorer for one of these seeds alone (same encoder, background and model)."""
        topic_set = self.topic_sets[self.seeds.index(seed)]
        confirm = Confirmation(self.confirm.scorer.only(seed), self.confirm.band) if self.confirm else None
        return Scorer([topic_set], self.encoder, {seed: self.models[seed]}, self.batch_size, self.background, confirm)

    def _seed_evidence(self, ts: TopicSet) -> _SeedVectors:
        exemplars = np.vstack([tv.exemplars for tv in self._vectors[ts.seed]])
        model = self.models[ts.seed]
        names = feature_names(ts)
        missing = [f for f in model.features if f not in names]
        if missing:
            raise ValueError(f"the relevance model of {ts.seed!r} uses features these topics lack: {missing}")
        if model.probe and len(model.probe) != exemplars.shape[1]:
            raise ConfigError(
                f"the relevance model of {ts.seed!r} has a title probe for {len(model.probe)}-dimensional embeddings "
                f"but the encoder makes {exemplars.shape[1]}: run 'newsmon train' again with this encoder"
            )
        offsets = self.background.offsets(exemplars)
        ordinary = _soft_max(self.background.vectors @ exemplars.T - offsets)
        closeness = (float(ordinary.mean()), max(float(ordinary.std()), 1e-9))
        return _SeedVectors(
            exemplars,
            offsets,
            closeness,
            self.encoder.encode_kept([t for t, _ in model.neighbours], self.batch_size),
            tuple(t for t, _ in model.neighbours),
            tuple(label for _, label in model.neighbours),
            [names.index(f) for f in model.features],
            title_columns([t for t, _ in model.neighbours]),
            np.flatnonzero(np.asarray([label for _, label in model.neighbours], dtype=np.int64) == 2),
            names.index("seed.closeness"),
            "seed.stream" in model.features,
        )

    def agnostic(
        self,
        seed: str,
        titles: Sequence[str],
        vectors: Vectors,
        ids: Sequence[str] | None = None,
        pool: StreamPool | None = None,
    ) -> Matrix:
        """The seed-agnostic features of stories (by their titles; ``ids`` tell them apart), a row each:
        closeness to the seed above ordinary news and how ordinary it is, both in background standard
        deviations, the nearest labelled neighbours, and closeness counting what the stream showed (``pool``)."""
        ids = ids if ids is not None else [str(i) for i in range(len(titles))]
        sv = self._seed_vectors[seed]
        closeness = _closeness(sv, vectors)
        core, other = neighbour_evidence(
            vectors, titles, sv.neighbours, sv.neighbour_titles, sv.neighbour_labels, sv.neighbour_index
        )
        stream = self._stream_closeness(sv, vectors, closeness, ids, titles, pool)
        return np.column_stack([closeness, self.background.ordinary(vectors), core, other, stream])

    def _stream_closeness(
        self,
        sv: _SeedVectors,
        vectors: Vectors,
        closeness: Matrix,
        ids: Sequence[str],
        titles: Sequence[str],
        pool: StreamPool | None,
    ) -> Matrix:
        """``seed.stream`` (see ``models.stream``): closeness to the seed's exemplars and to the stream's stories
        closest to them (the pool, and this batch's own picks) and to the headlines its model keeps labelled
        core, in the same background standard deviations. A labelled headline counts by its label, never by
        its closeness: a core one fully, another one not at all. No story counts itself; with nothing picked
        and no core label, this is the closeness itself."""
        batch = StreamPool.picks_of(ids, titles, vectors, closeness)
        pool = (pool or StreamPool.empty(vectors.shape[1])).joined(batch).without(sv.neighbour_index)
        cores = sv.neighbours[sv.core_rows]  # a labelled story counts by its label: fully if core, else not at all
        if not len(pool) and not len(cores):
            return closeness
        # a pick counts by its weight (models.stream.weight) inside the soft maximum: log-weight off its cosine;
        # the weight is from its closeness to the topics as they are now (an edited topics file re-weighs picks)
        faint = -np.log(np.maximum(weight(_closeness(sv, pool.vectors)), 1e-12)) / CLOSENESS_TEMPERATURE
        counted = np.vstack([sv.exemplars, cores, pool.vectors])
        background = self.background
        offsets = np.concatenate([sv.offsets, background.offsets(cores), background.offsets(pool.vectors) + faint])
        ordinary = _soft_max(background.vectors @ counted.T - offsets)
        raw = vectors @ counted.T - offsets
        own = _own_columns(sv, ids, titles, pool)
        if own:
            rows, columns = zip(*own, strict=True)
            raw[list(rows), list(columns)] = -4.0  # below any cosine: a story is not its own exemplar
        result: Matrix = (_soft_max(raw) - float(ordinary.mean())) / max(float(ordinary.std()), 1e-9)
        return result

    def _topic_vectors(self, topic: Topic) -> _TopicVectors:
        exemplars = self.encoder.encode_kept(topic.exemplars, self.batch_size)
        return _TopicVectors(
            topic,
            exemplars,
            _unit(exemplars.mean(axis=0))[None, :],
            self.encoder.encode_kept(topic.exclusions, self.batch_size),
        )

    def _read_topic(self, tv: _TopicVectors, batch: _Batch) -> _Reading:
        """One topic against every story of the batch at once."""
        similarity, row, exemplar = _best_per_story(batch.vectors @ tv.exemplars.T, batch.starts)
        centroid = np.maximum.reduceat((batch.vectors @ tv.centroid.T)[:, 0], batch.starts)
        hits = [keyword_hits(text, tv.topic.keywords) for text in batch.texts]
        counted = np.asarray([min(len(h), MAX_KEYWORDS_COUNTED) for h in hits], dtype=np.float64)
        columns = [similarity.astype(np.float64), centroid.astype(np.float64), counted]
        exclusion = None
        if tv.topic.exclusions:
            excluded, _, nearest = _best_per_story(batch.vectors @ tv.exclusions.T, batch.starts)
            exclusion = (excluded.astype(np.float64), nearest)
            columns.append(exclusion[0])
        bonus = np.asarray([min(MAX_KEYWORD_BONUS, KEYWORD_BONUS * len(h)) for h in hits])
        return _Reading(tv.topic, np.column_stack(columns), columns[0] + bonus, row, exemplar, hits, exclusion)

    def _assess_seed(self, ts: TopicSet, batch: _Batch, pool: StreamPool | None) -> list[SeedAssessment]:
        """Every story of the batch against one seed: its topics' readings, then the model, as matrices."""
        readings = [self._read_topic(tv, batch) for tv in self._vectors[ts.seed]]
        titles = batch.vectors[batch.starts]
        best = np.max(np.stack([r.values[:, :3] for r in readings]), axis=0)  # seed.similarity, centroid, keywords
        title_texts = [batch.sentences[row] for row in batch.starts]
        agnostic = self.agnostic(ts.seed, title_texts, titles, batch.ids, pool)
        values = np.hstack([*(r.values for r in readings), best, agnostic])
        model = self.models[ts.seed]
        own = values[:, self._seed_vectors[ts.seed].columns]
        relevance = model.probabilities(own, titles)
        pushes = model.contributions(own)
        nothing = np.zeros(len(batch.starts))
        assessments = []
        for story in range(len(batch.starts)):
            scored = tuple(
                r.score_of(story, batch.sentences, float(pushes.get(r.topic.id, nothing)[story])) for r in readings
            )
            primary = max(scored, key=lambda t: (t.score, t.contribution))
            assessments.append(
                SeedAssessment(ts, scored, round(float(relevance[story]), 4), primary, tuple(values[story]))
            )
        return assessments

    def assess(
        self, stories: Sequence[Story], progress: Callable[[int], None] | None = None
    ) -> list[list[SeedAssessment]]:
        """Every seed's assessment of every story; all sentences are embedded together (``progress`` hears how
        many sentences are embedded as the encoder goes)."""
        return self.assess_with_titles(stories, progress)[0]

    def assess_with_titles(
        self,
        stories: Sequence[Story],
        progress: Callable[[int], None] | None = None,
        stream: Mapping[str, StreamPool] | None = None,
    ) -> tuple[list[list[SeedAssessment]], Vectors]:
        """``assess``, and each story's unit title embedding (row i: story i). A story's title is its first
        sentence, so near-duplicate grouping reuses that embedding instead of encoding every matched title again.
        One encoder call for the whole batch: the encoder sorts its texts by length, so batches pad little. Each
        seed then reads all stories at once with matrix operations, never story by story. The close calls are
        then decided again by the confirmation's scorer, if there is one (their title vectors are its too), with
        the same ``stream`` and this batch's picks (``models.stream``)."""
        assessed, titles = self._assess_all(stories, progress, stream or {})
        close = self.confirm.near(assessed) if self.confirm else []
        if self.confirm and close:
            seen = self.confirm.scorer.reread(joined(stream or {}, self.picks(stories, assessed, titles)))
            again, exact = self.confirm.scorer.assess_with_titles([stories[i] for i in close], stream=seen)
            for story, verdicts in zip(close, again, strict=True):
                assessed[story] = verdicts
            titles[close] = exact
        return assessed, titles

    def picks(
        self, stories: Sequence[Story], assessed: Sequence[Sequence[SeedAssessment]], titles: Vectors
    ) -> dict[str, StreamPool]:
        """Each seed's picks among assessed stories (``models.stream``: closeness to its article alone)."""
        found = {}
        for index, ts in enumerate(self.topic_sets):
            column = self._seed_vectors[ts.seed].closeness_column
            closeness = np.asarray([per[index].values[column] for per in assessed], dtype=np.float64)
            found[ts.seed] = StreamPool.picks_of([s.id for s in stories], [s.title for s in stories], titles, closeness)
        return found

    def reread(self, pools: Mapping[str, StreamPool]) -> dict[str, StreamPool]:
        """The pools as this scorer's encoder reads them: each pick's title embedded again (kept per story, so
        a long-running worker embeds each pick once) and its closeness and weight measured again. Why: int8
        moves a pick's vector and closeness a little, enough to flip the close calls fp32 decides again."""
        if not any(sv.streamed for sv in self._seed_vectors.values()):
            return dict(pools)  # no model here reads the pool
        found = dict(pools)  # a seed this scorer does not score keeps its pool as it is
        for seed, pool in pools.items():
            if seed not in self._seed_vectors:
                continue
            if len(self._reread) > REREAD_KEPT:
                self._reread.clear()
            missing = [(i, t) for i, t in zip(pool.ids, pool.titles, strict=True) if i not in self._reread]
            if missing:
                vectors = self.encoder.encode([t for _, t in missing], self.batch_size)
                self._reread.update(zip((i for i, _ in missing), vectors, strict=True))
            vectors = np.stack([self._reread[i] for i in pool.ids]) if len(pool) else pool.vectors
            sv = self._seed_vectors[seed]
            closeness = _closeness(sv, vectors)
            found[seed] = StreamPool(pool.ids, pool.titles, vectors, closeness)
        return found

    def _assess_all(
        self, stories: Sequence[Story], progress: Callable[[int], None] | None, stream: Mapping[str, StreamPool]
    ) -> tuple[list[list[SeedAssessment]], Vectors]:
        """This scorer's own reading of every story, before any confirmation."""
        if not stories:
            return [], np.zeros((0, self.encoder.dimension), dtype=np.float32)
        per_story = [story_sentences(s) for s in stories]
        sentences = [s for per in per_story for s in per]
        starts = np.cumsum([0, *(len(per) for per in per_story[:-1])])
        batch = _Batch(
            sentences,
            self.encoder.encode(sentences, self.batch_size, progress),
            starts,
            [" ".join(per) for per in per_story],
            [s.id for s in stories],
        )
        per_seed = [self._assess_seed(ts, batch, stream.get(ts.seed)) for ts in self.topic_sets]
        return [[seed[story] for seed in per_seed] for story in range(len(stories))], batch.vectors[starts]

    def matches(self, stories: Sequence[Story]) -> list[SeedMatch]:
        """The (story, seed) pairs whose relevance reached the deciding topic's threshold."""
        return matches_of(stories, self.assess(stories))


def matches_of(stories: Sequence[Story], assessments: Sequence[Sequence[SeedAssessment]]) -> list[SeedMatch]:
    """The alerts among stories already assessed (``Scorer.assess``), for callers that keep the rest too."""
    return [
        _as_match(story, assessment)
        for story, per_seed in zip(stories, assessments, strict=True)
        for assessment in per_seed
        if assessment.matched
    ]


def _as_match(story: Story, assessment: SeedAssessment) -> SeedMatch:
    """The topics an alert lists: the deciding one, then runners-up that pushed relevance up and score within
    ``RUNNER_UP_GAP`` of it (a distant topic is not evidence an analyst can use), by score."""
    primary = assessment.primary
    others = [
        t
        for t in assessment.topics
        if t.contribution > 0 and t is not primary and t.score >= primary.score - RUNNER_UP_GAP
    ]
    listed = (primary, *sorted(others, key=lambda t: t.score, reverse=True))
    ts = assessment.topic_set
    return SeedMatch(story, ts.seed, ts.title, assessment.relevance, assessment.primary.threshold, listed)
