"""The relevance model: prior, training, its JSON file, staleness checks, cross-validation and calibration."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.assessment import SeedRun, propose_thresholds
from models.evaluation import average_precision, metrics
from models.relevance import (
    cross_validated,
    feature_names,
    load_model,
    model_path,
    prior_model,
    save_model,
    train,
)
from models.topics import Topic, TopicSet
from newsmon.errors import ConfigError

TOPICS = TopicSet(
    "seed",
    "Seed",
    (
        Topic("chips", "Chips", "", ("a chip sentence",), ("chip",)),
        Topic("telecom", "Telecom", "", ("a 5G sentence",), ("5G",), ("stock chatter",)),
    ),
)


def _rows(n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """Feature rows where the chips similarity separates core stories (label 2) from the rest."""
    labels = [int(v) for v in rng.choice([0, 1, 2], size=n, p=[0.6, 0.2, 0.2])]
    values = rng.uniform(0.1, 0.4, size=(n, len(feature_names(TOPICS))))
    for row, label in enumerate(labels):
        values[row, 0] += 0.35 if label == 2 else 0.0
    return values, labels


def test_feature_names_cover_each_topic_and_the_seed() -> None:
    assert feature_names(TOPICS) == [
        "chips.similarity",
        "chips.centroid",
        "chips.keywords",
        "telecom.similarity",
        "telecom.centroid",
        "telecom.keywords",
        "telecom.exclusion",
        "seed.similarity",
        "seed.centroid",
        "seed.keywords",
    ]


def test_the_prior_rises_with_similarity_and_keywords_and_falls_with_exclusions() -> None:
    model = prior_model(TOPICS)
    base = np.asarray([[0.3, 0.25, 0, 0.3, 0.25, 0, 0.3, 0.55, 0.4, 0]], dtype=np.float64)
    assert model.probabilities(base)[0] == pytest.approx(0.5)
    for column, direction in ((7, +1), (9, +1), (6, -1)):
        moved = base.copy()
        moved[0, column] += 0.2
        assert np.sign(model.probabilities(moved)[0] - 0.5) == direction


def test_a_trained_model_round_trips_through_its_json_file(tmp_path: Path) -> None:
    values, labels = _rows(200, np.random.default_rng(1))
    model = train(TOPICS, values, labels, info={"file": "f.jsonl", "sha256": "x", "n": 200, "core": 40, "c": 3.0})
    path = model_path(tmp_path, "seed")
    save_model(model, path)
    loaded, warnings = load_model(path, TOPICS)
    assert loaded == model and warnings == []
    assert loaded.probabilities(values) == pytest.approx(model.probabilities(values))
    assert dict(zip(model.features, model.weights, strict=True))["chips.similarity"] > 0
    scores = list(model.probabilities(values))
    assert (
        average_precision(
            [lab for lab in labels if lab != 1], [s for s, lab in zip(scores, labels, strict=True) if lab != 1]
        )
        > 0.9
    )


def test_a_model_for_other_topics_is_an_error_and_for_edited_topics_a_warning(tmp_path: Path) -> None:
    values, labels = _rows(100, np.random.default_rng(2))
    path = tmp_path / "seed.model.json"
    save_model(train(TOPICS, values, labels), path)
    edited = replace(TOPICS, topics=(replace(TOPICS.topics[0], exemplars=("another sentence",)), TOPICS.topics[1]))
    _, warnings = load_model(path, edited)
    assert warnings and "retrain" in warnings[0]
    with pytest.raises(ConfigError, match="other topics"):
        load_model(path, replace(TOPICS, topics=TOPICS.topics[:1]))
    raw = json.loads(path.read_text())
    path.write_text(json.dumps({**raw, "scale": [0.0] * len(raw["scale"])}))
    with pytest.raises(ConfigError, match="positive"):
        load_model(path, TOPICS)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"seed\.model\.json"):
        load_model(path, TOPICS)


def test_no_file_means_the_prior_and_one_class_cannot_train(tmp_path: Path) -> None:
    assert load_model(tmp_path / "none.model.json", TOPICS) == (prior_model(TOPICS), [])
    with pytest.raises(ConfigError, match="both"):
        train(TOPICS, np.zeros((5, 10)), [0, 0, 1, 0, 1])


def test_cross_validation_never_scores_a_row_with_a_model_that_saw_it() -> None:
    """On pure noise a model fitted to all rows memorises them; held-out predictions stay near chance."""
    rng = np.random.default_rng(3)
    values = rng.normal(size=(120, len(feature_names(TOPICS))))
    labels = [2 if i % 3 == 0 else 0 for i in range(120)]
    in_sample = train(TOPICS, values, labels, c=1000.0).probabilities(values)
    held_out = cross_validated(values, labels, c=1000.0)
    assert average_precision(labels, list(in_sample)) > average_precision(labels, list(held_out)) + 0.1
    assert list(held_out) == list(cross_validated(values, labels, c=1000.0))  # deterministic


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.6, 0.95))
def test_calibrated_topic_thresholds_keep_the_target_precision_on_their_own_stories(seed: int, target: float) -> None:
    rng = np.random.default_rng(seed)
    labels = [int(v) for v in rng.choice([0, 1, 2], size=150)]
    relevance = [float(np.clip(0.3 * lab + rng.normal(0.2, 0.2), 0, 1)) for lab in labels]
    topics = [str(rng.choice(["chips", "telecom"])) for _ in labels]
    run = SeedRun("seed", prior_model(TOPICS), relevance, topics, [0.5] * 150, np.zeros((150, 1)), False)
    shared, proposals = propose_thresholds(run, labels, {"chips": 0.5, "telecom": 0.5}, target, min_support=25)
    for proposal in proposals:
        if shared is not None:
            assert proposal.proposed >= round(min(max(shared, 0.01), 0.99), 3)
        if proposal.own:
            rows = [i for i, t in enumerate(topics) if t == proposal.topic_id]
            found = metrics([labels[i] for i in rows], [relevance[i] for i in rows], proposal.proposed - 5e-4)
            assert found.precision >= target - 0.05  # proposals are rounded to 3 decimals
        elif shared is not None:
            assert proposal.proposed == round(min(max(shared, 0.01), 0.99), 3)
