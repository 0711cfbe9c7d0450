"""Evaluation figures: the rubric's leniency, average precision's invariants, and the dev-set regression floor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.evaluation import average_precision, metrics, suggest_margin
from newsmon.errors import ConfigError
from newsmon.review import load_labelled

from .conftest import FIXTURES

_labelled = st.lists(st.tuples(st.sampled_from([0, 1, 2]), st.floats(-1, 1, allow_nan=False)), min_size=1, max_size=60)


def test_a_hit_on_a_related_story_is_not_a_false_positive_and_recall_counts_core_only() -> None:
    found = metrics([2, 1, 0, 2], [0.1, 0.1, -0.1, -0.1])
    assert (found.hits, found.precision, found.recall) == (2, 1.0, 0.5)
    assert metrics([0, 2], [0.5, -0.5]).precision == 0.0


def test_perfect_and_worst_rankings() -> None:
    assert average_precision([2, 2, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 1.0
    assert average_precision([0, 0, 2], [0.9, 0.8, 0.1]) == pytest.approx(1 / 3)
    assert average_precision([0, 0], [0.5, 0.1]) == 0.0


@given(_labelled)
def test_average_precision_depends_only_on_the_order_of_scores(rows: list[tuple[int, float]]) -> None:
    labels, scores = [r[0] for r in rows], [r[1] for r in rows]
    ap = average_precision(labels, scores)
    assert 0.0 <= ap <= 1.0
    rank = {score: position for position, score in enumerate(sorted(set(scores)))}  # same order, other values
    assert average_precision(labels, [float(rank[s]) for s in scores]) == pytest.approx(ap)


@given(_labelled, st.floats(0.5, 1.0))
def test_the_suggested_margin_keeps_the_precision_asked_for(rows: list[tuple[int, float]], target: float) -> None:
    labels, margins = [r[0] for r in rows], [r[1] for r in rows]
    suggested = suggest_margin(labels, margins, target)
    assert suggested is None or suggested.precision >= target
    if suggested is not None:
        assert suggested == metrics(labels, margins, suggested.threshold)


@pytest.mark.parametrize(
    ("text", "message"),
    [("{}", "'title' and 'label'"), ('{"title": "x", "label": 5}', "0, 1 or 2"), ("", "no labelled")],
)
def test_a_bad_labelled_file_says_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_labelled(path)


def _eval_json(labelled: Path, *options: str) -> dict[str, Any]:
    """What 'newsmon eval FILE --json' prints, run as a user runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "newsmon", "eval", str(labelled), *options, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.mark.model
def test_dev_set_figures_do_not_regress() -> None:
    """Floors just under what the committed topics, model and thresholds reach with the default backend
    (onnx-int8), cross-validated because the model learned from this file (labels v2: AP 0.969, strict 0.912,
    F1 0.912, P 0.908, R 0.916, best recall at P ≥ 0.85 0.916; torch: 0.969, 0.910, 0.916, 0.915, 0.916, 0.916):
    raise them as matching improves, never lower them."""
    report = _eval_json(FIXTURES / "headlines" / "dev-labelled.jsonl")
    assert {"precision", "recall", "f1", "average_precision", "threshold", "n"} <= set(report)
    assert report["n"] == 547 and report["core"] == 107
    assert report["cross_validated"] == ["huawei-korea-chips"]
    assert report["backend"] == "onnx-int8" and report["confirmed_by"] == {"backend": "onnx", "band": 0.05}
    assert report["average_precision"] >= 0.96
    assert report["average_precision_strict"] >= 0.90
    assert report["f1"] >= 0.90
    assert report["precision"] >= 0.90
    assert report["recall"] >= 0.90
    assert report["recall_at_precision"] >= 0.90


@pytest.mark.model
def test_a_model_learned_from_earlier_months_ranks_later_ones() -> None:
    """The closest this file comes to the real test (headlines from later months): learn the relevance model
    from January–February (102 headlines), measure on March–April (445). With labels v2 and the labelled
    neighbours (January–February's only) it reaches AP 0.943 and recall 0.953 at lenient precision 0.85 there
    (torch); on labels v1 without neighbours it was 0.781 and 0.667."""
    from models.assessment import recall_at_precision, run_labelled
    from models.encoder import load_encoder
    from models.relevance import feature_names, load_seed_models, train
    from models.scoring import Scorer, neighbour_evidence
    from models.topics import load_seed_topics

    path = FIXTURES / "headlines" / "dev-labelled.jsonl"
    months = [json.loads(line)["crawled_at"][:7] for line in path.read_text().splitlines() if line.strip()]
    topic_sets = load_seed_topics(Path(__file__).parents[1] / "seeds")
    scorer = Scorer(
        topic_sets, load_encoder("torch"), load_seed_models(Path(__file__).parents[1] / "seeds", topic_sets)[0]
    )
    run = run_labelled(scorer, load_labelled(path), sha256="not the model's training file")
    values, labels = run.seeds[0].values.copy(), np.asarray(run.labels)
    early = np.asarray([m < "2026-03" for m in months])
    # the labelled neighbours are the early months' only (the committed model's are every month's)
    vectors = scorer.encoder.encode(run.titles)
    early_titles = [t for t, e in zip(run.titles, early, strict=True) if e]
    neighbours = neighbour_evidence(vectors, run.titles, vectors[early], early_titles, list(labels[early]))
    names = feature_names(topic_sets[0])
    values[:, names.index("labels.core")], values[:, names.index("labels.other")] = neighbours
    model = train(topic_sets[0], values[early], list(labels[early]))
    later = [float(p) for p in model.probabilities(values[~early])]
    later_labels = [int(v) for v in labels[~early]]
    kept = [(lab, p) for lab, p in zip(later_labels, later, strict=True) if lab != 1]
    assert (early.sum(), (~early).sum()) == (102, 445)
    assert average_precision([lab for lab, _ in kept], [p for _, p in kept]) >= 0.93
    assert recall_at_precision(later_labels, later, 0.85) >= 0.9


@pytest.mark.model
def test_a_new_seed_with_zero_labels_alerts_well(tmp_path: Path) -> None:
    """A seed article newsmon was never tuned on, as a new user adds it: 'newsmon seeds build', no hand edits,
    no labels; the transfer model decides, the labelled file being the stream it has seen (``models.stream``).
    Memory-supercycle seed: AP 0.839, P 0.837, R 0.808 at the default threshold (onnx-int8; with closeness to
    the article alone it was 0.781, 0.836, 0.726); the transfer model's own figures leave this seed out (next
    test)."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    article = FIXTURES / "headlines" / "memory-supercycle" / "memory-chip-supercycle.txt"
    (seeds / article.name).write_text(article.read_text())
    env = {**os.environ, "NEWSMON_SEEDS_DIR": str(seeds)}
    built = subprocess.run(
        [sys.executable, "-m", "newsmon", "seeds", "build"], env=env, capture_output=True, text=True, check=False
    )
    assert built.returncode == 0 and "6 topics" in built.stdout, built.stderr
    labelled = FIXTURES / "headlines" / "memory-supercycle" / "labelled.jsonl"
    report = _eval_json(labelled, "--seeds", str(seeds))
    assert report["n"] == 602 and report["cross_validated"] == []
    assert report["average_precision"] >= 0.82
    assert report["precision"] >= 0.80 and report["recall"] >= 0.70


@pytest.mark.model
def test_the_transfer_model_transfers_to_the_seed_it_left_out() -> None:
    """Leave one seed out, both ways: fitted on one labelled seed, measured on the other with zero labels of its
    own (AP 0.857 on Huawei, 0.829 on memory-supercycle, onnx-int8, each file its seed's stream; with closeness
    to the article alone 0.777 and 0.778). The committed transfer.json holds the figures it was fitted with."""
    import importlib.util

    from models.encoder import load_encoder
    from models.relevance import TRANSFER_FILE
    from newsmon.config import PROJECT_ROOT, load_settings

    spec = importlib.util.spec_from_file_location("train_transfer", PROJECT_ROOT / "scripts" / "train_transfer.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = script  # its dataclasses look their module up
    spec.loader.exec_module(script)
    settings = load_settings()
    encoder = load_encoder(settings.model_backend, settings.model_cache_dir)
    data = {seed: script.seed_data(seed, encoder) for seed in script.SEEDS}
    for seed, held_out in data.items():
        fitted = script.fit([d for other, d in data.items() if other != seed])
        assert script.core_ap(held_out.labels, script.probabilities(fitted, held_out.values)) >= 0.81, seed
    committed = json.loads(TRANSFER_FILE.read_text())["leave_one_seed_out"]
    assert all(figures["average_precision"] >= 0.81 for figures in committed.values())
    assert all(figures["precision"] >= 0.80 and figures["recall"] >= 0.70 for figures in committed.values())
