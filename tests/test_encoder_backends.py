"""Encoder backends: ONNX and ONNX-int8 are exported offline once into the cache and agree with torch fp32."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.encoder import BACKENDS, load_encoder
from models.relevance import load_seed_models
from models.scoring import Scorer
from models.topics import load_seed_topics
from newsmon.config import PROJECT_ROOT
from newsmon.errors import ConfigError

from .conftest import FIXTURES

pytestmark = pytest.mark.model


def _headlines(limit: int) -> list[str]:
    lines = (FIXTURES / "headlines" / "dev-labelled.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["title"] for line in lines[:limit]]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_unknown_backend_is_a_readable_error() -> None:
    with pytest.raises(ConfigError, match="onnx-int8"):
        load_encoder("tensorflow")


@pytest.mark.parametrize(
    ("backend", "min_cosine", "mean_cosine"), [("onnx", 0.9999, 0.9999), ("onnx-int8", 0.95, 0.99)]
)
def test_onnx_backends_are_exported_once_and_agree_with_torch(
    cache: Path, backend: str, min_cosine: float, mean_cosine: float
) -> None:
    texts = _headlines(300)
    reference = load_encoder("torch").encode(texts)
    encoder = load_encoder(backend, cache)
    assert encoder.backend == backend and backend in BACKENDS
    cosines = np.sum(encoder.encode(texts) * reference, axis=1)
    assert cosines.min() >= min_cosine and cosines.mean() >= mean_cosine
    exported = sorted(p.name for p in (cache / "all-MiniLM-L6-v2-onnx" / "onnx").iterdir())
    assert "model.onnx" in exported
    stamps = {p: p.stat().st_mtime_ns for p in (cache / "all-MiniLM-L6-v2-onnx" / "onnx").iterdir()}
    load_encoder.cache_clear()
    load_encoder(backend, cache)  # a new process would load the export, not make it again
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_onnx_fp32_makes_the_same_alert_decisions_as_torch(cache: Path) -> None:
    """The rule for the default backend: its decisions agree with torch fp32 on at least 99 % of headlines."""
    from newsmon.story import split_publisher

    from .test_topics_and_scoring import _story

    topic_sets = load_seed_topics(PROJECT_ROOT / "seeds")
    models, _ = load_seed_models(PROJECT_ROOT / "seeds", topic_sets)
    stories = [_story(split_publisher(t)[0]) for t in _headlines(547)]
    decisions = {
        backend: [a[0].matched for a in Scorer(topic_sets, load_encoder(backend, cache), models).assess(stories)]
        for backend in ("torch", "onnx")
    }
    agree = np.mean([a == b for a, b in zip(decisions["torch"], decisions["onnx"], strict=True)])
    assert agree >= 0.99
