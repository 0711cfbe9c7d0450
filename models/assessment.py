"""Labelled headlines through the production scorer: what ``eval``, ``train`` and ``calibrate`` share.

Each headline becomes a Story exactly as a feed item would (publisher suffix split off the title), is scored by
the same Scorer the pipeline uses, and yields per seed a relevance, the deciding topic and the feature row.
Where a seed's model learned from this very file, its relevance is replaced by cross-validated predictions, so
the figures are never the model grading its own homework.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.evaluation import LabelledHeadline, average_precision, metrics, suggest_margin
from models.relevance import (
    AGNOSTIC_FEATURES,
    FAMILIES,
    PROBE_C,
    RelevanceModel,
    TrainingInfo,
    cross_validated,
    family_features,
    feature_names,
    prior_model,
)
from models.relevance import train as fit
from models.scoring import Scorer, SeedAssessment
from models.stream import StreamPool, joined
from newsmon.errors import ConfigError
from newsmon.story import Story, split_publisher

__all__ = [
    "LabelledRun",
    "SeedRun",
    "ThresholdProposal",
    "average_precision_of",
    "evaluation_report",
    "file_sha256",
    "per_topic_counts",
    "precision_upper_bound",
    "propose_thresholds",
    "recall_at_precision",
    "run_labelled",
    "train_relevance",
]

BATCH = 64


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _eval_id(index: int) -> str:
    """The story id of a labelled file's headline number ``index``."""
    return f"eval-{index}"


def _stories(headlines: Sequence[LabelledHeadline]) -> list[Story]:
    now = dt.datetime.now(dt.UTC)
    return [
        Story(_eval_id(i), split_publisher(h.title)[0], "", h.summary, now, now, "eval", "eval", "")
        for i, h in enumerate(headlines)
    ]


@dataclass(frozen=True, slots=True)
class SeedRun:
    """One seed over the labelled file: relevance, deciding topic and threshold per headline."""

    seed: str
    model: RelevanceModel
    relevance: list[float]
    topics: list[str]
    thresholds: list[float]
    values: np.ndarray
    cross_validated: bool

    @property
    def margins(self) -> list[float]:
        return [r - t for r, t in zip(self.relevance, self.thresholds, strict=True)]


@dataclass(frozen=True, slots=True)
class LabelledRun:
    labels: list[int]
    seeds: list[SeedRun]
    titles: list[str]  # as scored (publisher split off)
    vectors: np.ndarray  # each title's unit embedding, as the scorer computed it

    @property
    def margins(self) -> list[float]:
        """A headline alerts when any seed alerts: its best margin over the seeds."""
        return [max(values) for values in zip(*(s.margins for s in self.seeds), strict=True)]


def _seed_run(
    assessments: list[SeedAssessment], model: RelevanceModel, labels: list[int], own_file: bool, titles: np.ndarray
) -> SeedRun:
    values = np.asarray([a.values for a in assessments], dtype=np.float64)
    relevance = [a.relevance for a in assessments]
    own_file = own_file and model.training is not None and model.training.family != TRANSFER  # never fitted
    if own_file and model.training is not None:
        training = model.training
        names = feature_names(assessments[0].topic_set)
        own = values[:, [names.index(f) for f in model.features]]
        folds = min(5, labels.count(2), len(labels) - labels.count(2))
        held_out = cross_validated(
            own,
            labels,
            model.features,
            c=training.c,
            folds=folds,
            centred=training.family == "neighbours",
            titles=titles if model.probe else None,
            probe_c=training.probe_c or PROBE_C,
        )
        relevance = [round(float(p), 4) for p in held_out]
    return SeedRun(
        seed=assessments[0].topic_set.seed,
        model=model,
        relevance=relevance,
        topics=[a.primary.topic_id for a in assessments],
        thresholds=[a.primary.threshold for a in assessments],
        values=values,
        cross_validated=own_file,
    )


def run_labelled(
    scorer: Scorer,
    headlines: Sequence[LabelledHeadline],
    sha256: str,
    on_batch: Callable[[int], None] = lambda _n: None,
    stream: bool | None = None,
) -> LabelledRun:
    """Score every headline; seeds whose model was trained on the file with this hash are cross-validated. When a
    model reads ``seed.stream`` (or ``stream`` says so: training needs it for every model it may choose), the
    file is the stream: its headlines closest to the article (``models.stream``) are picked in a first pass, and
    every headline is then scored with them (never with itself)."""
    stories = _stories(headlines)
    pools = _file_stream(scorer, stories) if (scorer.streams if stream is None else stream) else None
    per_story: list[list[SeedAssessment]] = []
    titles = []
    for start in range(0, len(stories), BATCH):
        batch = stories[start : start + BATCH]
        assessed, vectors = scorer.assess_with_titles(batch, stream=pools)
        per_story += assessed
        titles.append(vectors)
        on_batch(len(batch))
    labels = [h.label for h in headlines]
    vectors = np.vstack(titles) if titles else np.zeros((0, 0), dtype=np.float32)
    seeds = []
    for index, topic_set in enumerate(scorer.topic_sets):
        model = scorer.models[topic_set.seed]
        own = model.training is not None and model.training.sha256 == sha256
        seeds.append(_seed_run([row[index] for row in per_story], model, labels, own, vectors))
    return LabelledRun(labels, seeds, [s.title for s in stories], vectors)


def _file_stream(scorer: Scorer, stories: Sequence[Story]) -> dict[str, StreamPool]:
    """Each seed's picks over the whole file, as a monitor that had seen these stories would hold them."""
    pools: dict[str, StreamPool] = {}
    for start in range(0, len(stories), BATCH):
        batch = stories[start : start + BATCH]
        assessed, vectors = scorer.assess_with_titles(batch)
        pools = joined(pools, scorer.picks(batch, assessed, vectors))
    return pools


def recall_at_precision(labels: Sequence[int], scores: Sequence[float], min_precision: float = 0.85) -> float:
    """The best core recall any cut-off of ``scores`` reaches while keeping lenient precision ≥ the target."""
    best = suggest_margin(labels, scores, min_precision)
    return best.recall if best else 0.0


@dataclass(frozen=True, slots=True)
class ThresholdProposal:
    topic_id: str
    current: float
    proposed: float
    support: int
    precision: float
    recall: float
    own: bool

    def as_dict(self) -> dict[str, float | int | str | bool]:
        return {
            "topic": self.topic_id,
            "current": self.current,
            "proposed": self.proposed,
            "support": self.support,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "own_threshold": self.own,
        }


def precision_upper_bound(correct: int, hits: int, z: float = 1.645) -> float:
    """The upper end of the Wilson interval (90 % two-sided by default) of a precision of correct/hits."""
    if hits == 0:
        return 1.0
    share = correct / hits
    centre = share + z * z / (2 * hits)
    spread = z * math.sqrt(share * (1 - share) / hits + z * z / (4 * hits * hits))
    return min(1.0, (centre + spread) / (1 + z * z / hits))


def propose_thresholds(
    run: SeedRun, labels: Sequence[int], current: dict[str, float], target: float = 0.85, min_support: int = 25
) -> tuple[float | None, list[ThresholdProposal]]:
    """The seed-wide threshold that keeps lenient precision ≥ ``target``, and per topic a higher one only where
    the topic's own alerts at the seed-wide threshold are clearly less precise than the target (the upper end of
    the 90 % Wilson interval of their precision is below it); then the lowest threshold that restores it among
    the headlines it decides. Returns (seed-wide, per-topic).

    Topics deciding fewer than ``min_support`` headlines (or without one core story) always share the seed-wide
    threshold: a handful of labels cannot calibrate anything. Raising on a point estimate alone traded 13 of 62
    core stories for 1.6 points of precision that 73 alerts cannot even measure. A topic may demand more than
    the seed-wide threshold, never less: which topic decides is least certain exactly where relevance is low,
    so a lowered threshold would let weak, off-topic stories through."""
    overall = suggest_margin(labels, run.relevance, target)
    shared = overall.threshold if overall else None
    proposals = []
    for topic_id, now in current.items():
        rows = [i for i, t in enumerate(run.topics) if t == topic_id]
        topic_labels = [labels[i] for i in rows]
        topic_scores = [run.relevance[i] for i in rows]
        proposed, own = (now if shared is None else shared), False
        if shared is not None and len(rows) >= min_support and 2 in topic_labels:
            at_shared = metrics(topic_labels, topic_scores, shared)
            if precision_upper_bound(at_shared.correct_hits, at_shared.hits) < target:
                raised = suggest_margin(topic_labels, topic_scores, target)
                proposed, own = (max(raised.threshold, shared), True) if raised else (shared, False)
        found = metrics(topic_labels, topic_scores, proposed) if rows else None
        proposals.append(
            ThresholdProposal(
                topic_id,
                now,
                round(min(max(proposed, 0.01), 0.99), 3),
                len(rows),
                found.precision if found else 0.0,
                found.recall if found else 0.0,
                own,
            )
        )
    return shared, proposals


def average_precision_of(run: SeedRun, labels: Sequence[int]) -> float:
    """Lenient average precision of one seed's relevance (1s left out)."""
    kept = [(lab, r) for lab, r in zip(labels, run.relevance, strict=True) if lab != 1]
    return average_precision([lab for lab, _ in kept], [r for _, r in kept])


def per_topic_counts(run: LabelledRun) -> dict[str, dict[str, int]]:
    """Per deciding topic (``seed/topic``): alerts, and how many of them were core, related, not relevant."""
    table: dict[str, dict[str, int]] = {}
    for seed in run.seeds:
        for label, topic, margin in zip(run.labels, seed.topics, seed.margins, strict=True):
            counts = table.setdefault(f"{seed.seed}/{topic}", {"hits": 0, "core": 0, "related": 0, "not": 0})
            if margin >= 0:
                counts["hits"] += 1
                counts[("not", "related", "core")[label]] += 1
    return table


def evaluation_report(run: LabelledRun, scorer: Scorer, min_precision: float) -> dict[str, object]:
    """What ``newsmon eval`` reports, as plain data: the metrics at the configured thresholds, the encoder, the
    seeds whose figures are cross-validated, the best recall at ``min_precision``, a suggested threshold shift
    and the alerts per deciding topic."""
    margins = run.margins
    suggested = suggest_margin(run.labels, margins, min_precision)
    applied = [t for s in run.seeds for t in s.thresholds]
    return {
        **metrics(run.labels, margins).as_dict(),
        "threshold": round(statistics.median(applied), 4),
        "thresholds": {f"{ts.seed}/{t.id}": t.threshold for ts in scorer.topic_sets for t in ts.topics},
        "model": scorer.encoder.name,
        "backend": scorer.encoder.backend,
        "confirmed_by": {"backend": scorer.confirm.scorer.encoder.backend, "band": scorer.confirm.band}
        if scorer.confirm
        else None,
        "cross_validated": [s.seed for s in run.seeds if s.cross_validated],
        "recall_at_precision": round(recall_at_precision(run.labels, margins, min_precision), 4),
        "min_precision": min_precision,
        "suggested": suggested.as_dict() if suggested else None,
        "topics": per_topic_counts(run),
    }


MIN_PER_CLASS = 2  # the transfer model is the starting point: two core stories already adjust it
TRANSFER = "transfer"  # what train keeps when the labels rank the transfer model above any fit to them
# Fewer core labels than this only measure the transfer model: on the memory seed's learning curve, fits to the
# 2 or 3 core stories among its first 50 labels fell from AP 0.85 to 0.54-0.78 on the stories it had not seen.
MIN_CORE_TO_FIT = 5


def _with_labels(run: LabelledRun, scorer: Scorer, index: int, neighbours: Sequence[tuple[str, int]]) -> np.ndarray:
    """Seed number ``index``'s feature rows of ``run`` once ``neighbours`` (its labelled headlines) are the
    model's: the ``labels.*`` features and ``seed.stream`` (where a labelled core story counts fully and a
    labelled other one not at all) of each headline, measured against the other headlines, never itself."""
    seed_run, topic_set = run.seeds[index], scorer.topic_sets[index]
    names = feature_names(topic_set)
    model = dataclasses.replace(seed_run.model, neighbours=tuple(neighbours))
    labelled = Scorer([topic_set], scorer.encoder, {topic_set.seed: model}, scorer.batch_size, scorer.background)
    closeness = seed_run.values[:, names.index("seed.closeness")]
    ids = tuple(_eval_id(i) for i in range(len(run.titles)))
    pool = StreamPool.empty(run.vectors.shape[1]).joined(StreamPool.picks_of(ids, run.titles, run.vectors, closeness))
    values = seed_run.values.copy()
    agnostic = labelled.agnostic(topic_set.seed, run.titles, run.vectors, ids, pool)
    for column, name in enumerate(AGNOSTIC_FEATURES):
        values[:, names.index(name)] = agnostic[:, column]
    return values


def train_relevance(
    run: LabelledRun, scorer: Scorer, index: int, file: Path, c: float | None = None
) -> tuple[RelevanceModel, dict[str, float]]:
    """Learn seed number ``index``'s relevance model from the labelled run of ``file``.

    The labelled headlines become the model's neighbours, whichever model it keeps: each headline's ``labels.*``
    features and ``seed.stream`` (which counts a labelled core story fully, whatever its closeness, and a
    labelled other one not at all) are recomputed against the others, never itself. Both model families are
    cross-validated (5-fold) and the one with the better average precision is fitted on every label (the topics
    family only once there are as many core labels as it has features: with 2 core stories, 25 weights fit
    noise); ``c`` fixes the regularisation of both. The transfer model competes too, its weights as they are
    (fitted to none of these labels, so they measure it without cross-validation): a few hard labels, all near
    the threshold, can teach a fit less than other seeds taught, and then the seed keeps the transfer model,
    its labels counting through ``seed.stream``; with fewer than ``MIN_CORE_TO_FIT`` core labels it always
    does. A fitted family then gains a title probe
    (``models.relevance.fit_probe``) if that raises its cross-validated average precision. Returns the model
    (its training info and figures recorded in it) and the chosen model's held-out figures."""
    seed_run, topic_set = run.seeds[index], scorer.topic_sets[index]
    cores = run.labels.count(2)
    if min(cores, len(run.labels) - cores) < MIN_PER_CLASS:
        raise ConfigError(
            f"training needs at least {MIN_PER_CLASS} core (2) and {MIN_PER_CLASS} other (0 or 1) labels; "
            f"these have {cores} and {len(run.labels) - cores}: label more ('newsmon review export')"
        )
    folds = min(5, cores, len(run.labels) - cores)  # as many folds as the rarer class allows
    names = feature_names(topic_set)
    neighbours = tuple(zip(run.titles, run.labels, strict=True))  # whichever model it keeps
    values = _with_labels(run, scorer, index, neighbours)
    titles = run.vectors

    def figures_of(family: str, probe: bool) -> dict[str, float]:
        features = family_features(topic_set, family)
        held_out = cross_validated(
            values[:, [names.index(n) for n in features]],
            run.labels,
            features,
            c or FAMILIES[family],
            folds,
            centred=family == "neighbours",
            titles=titles if probe else None,
        )
        return figures_from([float(p) for p in held_out])

    def figures_from(probabilities: list[float]) -> dict[str, float]:
        cv = dataclasses.replace(seed_run, relevance=probabilities)
        return {
            "average_precision": round(average_precision_of(cv, run.labels), 4),
            "recall_at_precision_0.85": round(recall_at_precision(run.labels, probabilities, 0.85), 4),
        }

    # a weight per topic feature needs at least as many core stories to learn from
    prior = prior_model(topic_set)  # it never learned from these labels: they measure it as they are
    untrained = [float(p) for p in prior.probabilities(values[:, [names.index(n) for n in prior.features]])]
    tried = {TRANSFER: figures_from(untrained)}  # first: a fit must do better than it, not as well
    tried |= {
        family: figures_of(family, probe=False)
        for family in FAMILIES
        if cores >= MIN_CORE_TO_FIT and (family == "neighbours" or len(family_features(topic_set, family)) <= cores)
    }
    family = max(tried, key=lambda f: tried[f]["average_precision"])
    if family == TRANSFER:  # few or hard labels: what other seeds taught ranks them better than a fit to them
        training = TrainingInfo(
            file.name, file_sha256(file), len(run.labels), cores, 0.0, tried[TRANSFER], TRANSFER, tried
        )
        return dataclasses.replace(prior, training=training, neighbours=neighbours), tried[TRANSFER]
    tried[f"{family}+probe"] = figures_of(family, probe=True)
    probe = tried[f"{family}+probe"]["average_precision"] > tried[family]["average_precision"]
    figures = tried[f"{family}+probe" if probe else family]
    info = {
        "file": file.name,
        "sha256": file_sha256(file),
        "n": len(run.labels),
        "core": run.labels.count(2),
        "c": c or FAMILIES[family],
        "cross_validated": figures,
        "family": family,
        "families": tried,
        "probe_c": PROBE_C if probe else 0.0,
    }
    model = fit(
        topic_set,
        values,
        run.labels,
        c=c or FAMILIES[family],
        info=info,
        family=family,
        neighbours=neighbours,
        titles=titles if probe else None,
    )
    return model, figures
