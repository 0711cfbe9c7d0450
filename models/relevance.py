"""The per-seed relevance model: a small logistic model over a story's evidence features, learned from labels.

Each topic contributes readable measurements (best exemplar cosine, cosine to the topic centroid, keywords
named, closeness to the topic's exclusions) and the seed adds the best of each over its topics. Five features
mean the same for any seed (``AGNOSTIC_FEATURES``): how far the story's closeness to the seed's exemplars rises
above ordinary news, how ordinary the story is, how close it comes to the headlines an analyst labelled core,
and not core, and its closeness counting the stream's stories nearest the article too (``models.stream``). A
model uses a named subset of them and turns it into one probability that the story deserves an alert, saying
how much each topic pushed it. Once a seed has labels, a model may add a *title probe*: weights over the title's
embedding itself, learned on top of the features, for what the labels teach that no topic or neighbour says
(``fit_probe``).

It lives beside the topics file as ``seeds/<seed>.model.json``: plain JSON (feature names, standardisation,
weights, the labelled neighbours), readable and diffable, never a pickle. Without one, the transfer model
stands in: weights over the seed-agnostic features learned across the labelled seeds newsmon ships with
(``models/data/transfer.json``, ``scripts/train_transfer.py``), so a new seed starts from what other seeds
taught, not from hand-set numbers. ``newsmon train FILE.jsonl`` learns a seed's own model from labels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.topics import TopicSet, topics_fingerprint
from newsmon.errors import ConfigError

__all__ = [
    "AGNOSTIC_FEATURES",
    "DEFAULT_C",
    "FAMILIES",
    "TOPIC_FEATURES",
    "TRANSFER_FILE",
    "RelevanceModel",
    "TrainingInfo",
    "cross_validated",
    "family_features",
    "feature_names",
    "feature_signs",
    "fit_probe",
    "fit_weights",
    "load_model",
    "load_seed_models",
    "model_path",
    "prior_model",
    "save_model",
    "train",
    "transfer_prior",
    "transfer_threshold",
]

TOPIC_FEATURES = ("similarity", "centroid", "keywords", "exclusion")
SEED_FEATURES = ("similarity", "centroid", "keywords")
# seed.stream is seed.closeness counting what the stream showed of the seed too (``models.stream``)
AGNOSTIC_FEATURES = ("seed.closeness", "seed.ordinary", "labels.core", "labels.other", "seed.stream")
# The neighbours family: the transfer model's features grown by a seed's labels.
NEIGHBOURS_FEATURES = ("seed.stream", "seed.ordinary", "labels.core", "labels.other")
NEGATIVE_FEATURES = ("seed.ordinary", "labels.other")  # may only lower relevance (with ``*.exclusion``)
FORMAT = "newsmon.relevance/1"
TRANSFER_FILE = Path(__file__).parent / "data" / "transfer.json"
DEFAULT_C = 0.1  # strong regularisation: the best cross-validated and later-month figures on the dev set
# The two kinds of model ``train`` chooses between by cross-validation: every feature (good topics carry the
# most), or only the seed-agnostic ones (when the topics are rough, the labelled neighbours carry the most).
FAMILIES = {"topics": DEFAULT_C, "neighbours": 0.3}
# The title probe's inverse L2 strength. Learning curves (scripts/learning_curve.py, both labelled seeds) put it
# between 1 and 10; the Huawei seed's later months neither gain nor lose from 0.3 to 3 (AP 0.943 -> 0.946).
PROBE_C = 3.0
Matrix = npt.NDArray[np.float64]
Embeddings = npt.NDArray[np.floating[Any]]  # unit title embeddings, float32 from the encoder


def feature_names(topic_set: TopicSet) -> list[str]:
    """``<topic>.<feature>`` for every topic (exclusion only where the topic lists exclusions), then
    ``seed.<feature>``: the best value over the topics."""
    names = [
        f"{t.id}.{feature}"
        for t in topic_set.topics
        for feature in TOPIC_FEATURES
        if feature != "exclusion" or t.exclusions
    ]
    return [*names, *(f"seed.{feature}" for feature in SEED_FEATURES), *AGNOSTIC_FEATURES]


@dataclass(frozen=True, slots=True)
class TrainingInfo:
    """Where a model's weights came from, so ``eval`` knows when it is scoring the model's own training data."""

    file: str
    sha256: str
    n: int
    core: int
    c: float
    cross_validated: dict[str, float] = field(default_factory=dict)
    family: str = "topics"
    families: dict[str, dict[str, float]] = field(default_factory=dict)  # every family's cross-validated figures
    probe_c: float = 0.0  # the title probe's regularisation (0: the model has no probe)


@dataclass(frozen=True, slots=True)
class RelevanceModel:
    """P(alert-worthy) = sigmoid(intercept + Σ weight · (value − mean) / scale) over named features."""

    seed: str
    topics: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    training: TrainingInfo | None = None
    neighbours: tuple[tuple[str, int], ...] = ()  # labelled headlines (title, label): ``labels.*``, ``seed.stream``
    probe: tuple[float, ...] = ()  # weights over the title embedding (``fit_probe``); empty: none

    def logits(self, values: Matrix, titles: Embeddings | None = None) -> npt.NDArray[np.float64]:
        """The logit of each row of feature ``values``; a model with a probe also needs each row's unit title
        embedding (``titles``)."""
        standardised = (values - np.asarray(self.mean)) / np.asarray(self.scale)
        result: npt.NDArray[np.float64] = standardised @ np.asarray(self.weights) + self.intercept
        if self.probe:
            if titles is None:
                raise ValueError(f"the relevance model of {self.seed!r} has a title probe: pass the title embeddings")
            result = result + np.asarray(titles, dtype=np.float64) @ np.asarray(self.probe)
        return result

    def probabilities(self, values: Matrix, titles: Embeddings | None = None) -> npt.NDArray[np.float64]:
        result: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-self.logits(values, titles)))
        return result

    def contributions(self, values: Matrix) -> dict[str, npt.NDArray[np.float64]]:
        """Per topic, how far its features moved each row's logit from an average story (``seed.*``, ``labels.*``
        and the title probe left out: they belong to no topic)."""
        pushes = (values - np.asarray(self.mean)) / np.asarray(self.scale) * np.asarray(self.weights)
        columns: dict[str, list[int]] = {}
        for column, name in enumerate(self.features):
            topic = name.rsplit(".", 1)[0]
            if topic not in ("seed", "labels"):
                columns.setdefault(topic, []).append(column)
        return {topic: pushes[:, found].sum(axis=1) for topic, found in columns.items()}

    def check(self, topic_set: TopicSet) -> list[str]:
        """Raise when the model cannot apply to these topics; return warnings when it applies but is stale."""
        expected = feature_names(topic_set)
        if not set(self.features) <= set(expected):
            raise ConfigError(
                f"the relevance model of seed {topic_set.seed!r} was trained on other topics "
                f"(features {list(self.features)[:3]}… vs {expected[:3]}…): run 'newsmon train' again, or delete "
                "its .model.json to use the prior"
            )
        if self.topics != topics_fingerprint(topic_set):
            return [
                f"seed {topic_set.seed!r}: its topics changed since the relevance model was trained; "
                "retrain with 'newsmon train' for the best results"
            ]
        return []


@cache
def _transfer() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(TRANSFER_FILE.read_text(encoding="utf-8"))
    return raw


def transfer_prior(features: Sequence[str]) -> Matrix:
    """The transfer model's weight of each feature per raw unit (zero for the features it does not use): where
    training pulls a seed's own weights, so its first labels adjust what other seeds taught."""
    transfer = _transfer()
    learned = {f: w / s for f, w, s in zip(transfer["features"], transfer["weights"], transfer["scale"], strict=True)}
    return np.asarray([learned.get(f, 0.0) for f in features], dtype=np.float64)


def transfer_threshold() -> float:
    """The relevance a story needs under the transfer model (chosen for precision, measured on seeds it was not
    fitted on): the threshold ``newsmon seeds build`` writes into new topics."""
    return float(_transfer()["threshold"])


EXCLUSION_PRIOR = (0.3, -3.0)  # a hand-written exclusion starts to count at cosine 0.3, then lowers 3 logits per unit


def prior_model(topic_set: TopicSet) -> RelevanceModel:
    """The model for a seed nobody has labelled yet: the transfer model's weights over the seed-agnostic
    features, learned across the labelled seeds (``scripts/train_transfer.py``), and for each topic a person gave
    exclusions, a fixed push down when a story comes close to one (no labelled seed teaches their weight)."""
    transfer = _transfer()
    exclusions = [f"{t.id}.exclusion" for t in topic_set.topics if t.exclusions]
    centre, weight = EXCLUSION_PRIOR
    return RelevanceModel(
        seed=topic_set.seed,
        topics=topics_fingerprint(topic_set),
        features=(*transfer["features"], *exclusions),
        mean=(*transfer["mean"], *(centre for _ in exclusions)),
        scale=(*transfer["scale"], *(1.0 for _ in exclusions)),
        weights=(*transfer["weights"], *(weight for _ in exclusions)),
        intercept=float(transfer["intercept"]),
    )


def model_path(seeds_dir: Path, seed: str) -> Path:
    return seeds_dir / f"{seed}.model.json"


def load_model(path: Path, topic_set: TopicSet) -> tuple[RelevanceModel, list[str]]:
    """The model in ``path`` for ``topic_set`` and any staleness warnings; the prior when there is no file."""
    if not path.exists():
        return prior_model(topic_set), []
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != FORMAT:
            raise ValueError(f"format is {raw.get('format')!r}, expected {FORMAT!r}")
        training = raw.get("training")
        model = RelevanceModel(
            seed=str(raw["seed"]),
            topics=str(raw["topics"]),
            features=tuple(raw["features"]),
            mean=tuple(float(v) for v in raw["mean"]),
            scale=tuple(float(v) for v in raw["scale"]),
            weights=tuple(float(v) for v in raw["weights"]),
            intercept=float(raw["intercept"]),
            training=TrainingInfo(**training) if training else None,
            neighbours=tuple((str(t), int(label)) for t, label in raw.get("neighbours", ())),
            probe=tuple(float(v) for v in raw.get("probe", ())),
        )
        if not len(model.features) == len(model.mean) == len(model.scale) == len(model.weights):
            raise ValueError("features, mean, scale and weights differ in length")
        if not all(math.isfinite(v) and v > 0 for v in model.scale):
            raise ValueError("every scale must be a positive number")
        if not all(math.isfinite(v) for v in (*model.weights, *model.probe, model.intercept)):
            raise ValueError("every weight must be a finite number")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"invalid relevance model {path}: {exc}") from exc
    return model, model.check(topic_set)


def load_seed_models(seeds_dir: Path, topic_sets: Sequence[TopicSet]) -> tuple[dict[str, RelevanceModel], list[str]]:
    """Each seed's model (learned if its ``.model.json`` exists, else the prior) and any staleness warnings."""
    models: dict[str, RelevanceModel] = {}
    warnings: list[str] = []
    for topic_set in topic_sets:
        models[topic_set.seed], found = load_model(model_path(seeds_dir, topic_set.seed), topic_set)
        warnings += found
    return models, warnings


def save_model(model: RelevanceModel, path: Path) -> None:
    data = {"format": FORMAT, **asdict(model)}
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def feature_signs(features: Sequence[str]) -> npt.NDArray[np.float64]:
    """+1 where a feature may only raise relevance (closeness to a topic, keywords named), −1 for closeness to
    an exclusion, which may only lower it."""
    return np.asarray([-1.0 if name.endswith(".exclusion") or name in NEGATIVE_FEATURES else 1.0 for name in features])


def fit_weights(
    values: Matrix,
    targets: npt.NDArray[np.bool_],
    signs: npt.NDArray[np.float64],
    c: float,
    prior: Matrix | None = None,
) -> tuple[Matrix, Matrix, Matrix, float]:
    """Standardise, then an L2 logistic regression with balanced classes (core stories are the minority) whose
    weights keep the sign ``signs`` allows, or are zero. The L2 penalty pulls the weights towards ``prior``
    (per raw unit of each feature; default zero): towards the transfer model, so that a few labels correct
    what other seeds taught instead of starting from nothing.

    Unconstrained, the per-topic features are so correlated that noisy labels buy large opposite weights (one
    topic's closeness pushing relevance down by 2 logits) that fit the month they learned from and no other:
    trained on January–February and tested on March–April, the constrained model reached average precision
    0.78 where the unconstrained one reached 0.69. The constraint also keeps every explanation readable: being
    closer to a seed topic never counts against a story."""
    mean = values.mean(axis=0)
    scale = values.std(axis=0)
    scale[scale < 1e-6] = 1.0
    centre = np.zeros(values.shape[1]) if prior is None else prior * scale
    bounds = [(0.0, None) if sign > 0 else (None, 0.0) for sign in signs]
    weights, intercept = _balanced_logistic((values - mean) / scale, targets, c, centre=centre, bounds=bounds)
    return mean, scale, weights, intercept


def _balanced_logistic(
    data: Matrix,
    targets: npt.NDArray[np.bool_],
    c: float,
    offsets: Matrix | float = 0.0,
    centre: Matrix | None = None,
    bounds: Sequence[tuple[float | None, float | None]] | None = None,
) -> tuple[Matrix, float]:
    """Weights and intercept of a logistic regression over ``data`` (plus fixed ``offsets`` to each logit), both
    classes weighing half (core stories are the minority), an L2 penalty 1/(2c) pulling the weights towards
    ``centre`` (default zero), each weight within its ``bounds``; L-BFGS-B with the exact gradient."""
    from scipy.optimize import minimize

    truth = targets.astype(np.float64)
    share = truth.mean()
    balance = np.where(targets, 0.5 / share, 0.5 / (1.0 - share))
    count = data.shape[1]
    target = np.zeros(count) if centre is None else centre

    def loss(params: Matrix) -> tuple[float, Matrix]:
        weights, intercept = params[:count], params[count]
        logits = offsets + data @ weights + intercept
        pull = weights - target
        value = float(np.sum(balance * (np.logaddexp(0.0, logits) - truth * logits)) + pull @ pull / (2 * c))
        residual = balance * (1.0 / (1.0 + np.exp(-logits)) - truth)
        return value, np.concatenate([data.T @ residual + pull / c, [residual.sum()]])

    limits = None if bounds is None else [*bounds, (None, None)]
    fitted = minimize(loss, np.zeros(count + 1), jac=True, method="L-BFGS-B", bounds=limits)
    return fitted.x[:count], float(fitted.x[count])


def fit_probe(
    titles: Embeddings, targets: npt.NDArray[np.bool_], offsets: Matrix, c: float = PROBE_C
) -> tuple[Matrix, float]:
    """Weights over the unit title embeddings, and an intercept, fitted (balanced L2 logistic regression) on top of
    the feature model's logits ``offsets``: the probe learns only what the features missed, and the L2 penalty
    keeps it at zero where the labels teach nothing.

    The labelled neighbours already bring a seed's labels to bear, but only through the single nearest one; the
    probe learns a direction (what a core story says that a merely related one does not). On the learning curves
    of both labelled seeds it raised average precision at 100 labels from 0.878 to 0.924 (Huawei, generated
    topics) and from 0.842 to 0.848 (memory); ``train`` keeps it only when cross-validation says it helps."""
    return _balanced_logistic(np.asarray(titles, dtype=np.float64), targets, c, offsets=offsets)


def family_features(topic_set: TopicSet, family: str) -> list[str]:
    """The features a model of ``family`` uses (see ``FAMILIES``). The neighbours family is the transfer model
    grown by a seed's labels, so its fit is pulled towards the transfer weights; the topics family, for topics a
    person reviewed, is pulled towards zero, which served the Huawei seed's later months better (AP 0.943 vs
    0.925)."""
    return feature_names(topic_set) if family == "topics" else list(NEIGHBOURS_FEATURES)


def train(
    topic_set: TopicSet,
    values: Matrix,
    labels: Sequence[int],
    c: float = DEFAULT_C,
    info: Mapping[str, Any] | None = None,
    family: str = "topics",
    neighbours: Sequence[tuple[str, int]] = (),
    titles: Embeddings | None = None,
    probe_c: float = PROBE_C,
) -> RelevanceModel:
    """A model for ``topic_set`` from full feature rows (``feature_names`` order) and their labels (2 = core is
    the positive class), over ``family``'s features; ``neighbours`` are the labelled headlines it keeps. Given
    each row's unit title embedding (``titles``), it adds a title probe on top (``fit_probe``)."""
    targets = np.asarray(labels) == 2
    if targets.all() or not targets.any():
        raise ConfigError("training needs both core (label 2) and other (label 0/1) examples")
    names = family_features(topic_set, family)
    columns = [feature_names(topic_set).index(n) for n in names]
    prior = transfer_prior(names) if family == "neighbours" else None
    mean, scale, weights, intercept = fit_weights(values[:, columns], targets, feature_signs(names), c, prior)
    probe: tuple[float, ...] = ()
    if titles is not None:
        offsets = ((values[:, columns] - mean) / scale) @ weights + intercept
        direction, shift = fit_probe(titles, targets, offsets, probe_c)
        probe, intercept = tuple(round(float(v), 6) for v in direction), intercept + shift
    return RelevanceModel(
        seed=topic_set.seed,
        topics=topics_fingerprint(topic_set),
        features=tuple(names),
        mean=tuple(round(float(v), 6) for v in mean),
        scale=tuple(round(float(v), 6) for v in scale),
        weights=tuple(round(float(v), 6) for v in weights),
        intercept=round(intercept, 6),
        training=TrainingInfo(**info) if info else None,
        neighbours=tuple(neighbours),
        probe=probe,
    )


def cross_validated(
    values: Matrix,
    labels: Sequence[int],
    features: Sequence[str],
    c: float = DEFAULT_C,
    folds: int = 5,
    seed: int = 0,
    centred: bool = False,
    titles: Embeddings | None = None,
    probe_c: float = PROBE_C,
) -> npt.NDArray[np.float64]:
    """Each row's probability from a model that never saw it (stratified k-fold, fixed shuffle): the honest
    figure for a file the model also learned from. ``centred``: fitted as the neighbours family is, pulled
    towards the transfer model; ``titles`` (unit title embeddings): with a title probe, fitted in each fold."""
    from sklearn.model_selection import StratifiedKFold

    label_array = np.asarray(labels)
    signs, prior = feature_signs(features), transfer_prior(features) if centred else None
    result = np.zeros(len(label_array))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    counts = np.bincount(label_array, minlength=3)
    strata = label_array if counts[counts > 0].min() >= folds else label_array == 2  # few labels: core or not
    for train_rows, test_rows in splitter.split(values, strata):
        targets = label_array[train_rows] == 2
        mean, scale, weights, intercept = fit_weights(values[train_rows], targets, signs, c, prior)
        logits = ((values[test_rows] - mean) / scale) @ weights + intercept
        if titles is not None:
            offsets = ((values[train_rows] - mean) / scale) @ weights + intercept
            direction, shift = fit_probe(titles[train_rows], targets, offsets, probe_c)
            logits = logits + titles[test_rows] @ direction + shift
        result[test_rows] = 1.0 / (1.0 + np.exp(-logits))
    return result
