"""Benchmark the encoder backends against torch fp32 (not a test: it prints figures measured in one run).

For each backend (torch, onnx, onnx-int8): encoding speed on real headlines as a ratio to torch measured in
the same run (rounds interleaved, best of each, because the machine is noisy), cosine of its vectors to torch
fp32, and how often its alert decisions (the production scorer, models and thresholds) agree with torch on the
labelled dev sets of both seeds: the Huawei seed's committed topics and model, and the memory-supercycle seed's
topics as ``newsmon seeds build`` makes them (built once, with torch) under the transfer model. The default
backend should be the fastest whose decisions agree on at least 99 % on both.

    .venv/bin/python scripts/bench_encoders.py [--texts 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.assessment import file_sha256, run_labelled  # noqa: E402
from models.encoder import BACKENDS, Encoder, load_encoder  # noqa: E402
from models.evaluation import metrics  # noqa: E402
from models.relevance import load_seed_models  # noqa: E402
from models.scoring import Scorer  # noqa: E402
from models.seeding import build_topic_set  # noqa: E402
from models.topics import TopicSet, load_seed_topics  # noqa: E402
from newsmon.review import load_labelled  # noqa: E402

HEADLINES = ROOT / "tests" / "fixtures" / "headlines"


def _texts(limit: int) -> list[str]:
    lines = (HEADLINES / "semiconductor-headlines-2026-01-to-04.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["title"] for line in lines if line.strip()][:limit]


def _speed(encoders: dict[str, Encoder], texts: list[str], rounds: int) -> dict[str, float]:
    """Texts per second, best of ``rounds`` interleaved runs per backend."""
    best = dict.fromkeys(encoders, 0.0)
    for _ in range(rounds):
        for name, encoder in encoders.items():
            started = time.perf_counter()
            encoder.encode(texts)
            best[name] = max(best[name], len(texts) / (time.perf_counter() - started))
    return best


def _decisions(encoder: Encoder) -> tuple[list[bool], dict[str, float]]:
    """Alert decisions and eval figures on the Huawei dev set through the production scorer."""
    topic_sets = load_seed_topics(ROOT / "seeds")
    models, _ = load_seed_models(ROOT / "seeds", topic_sets)
    path = HEADLINES / "dev-labelled.jsonl"
    headlines = load_labelled(path)
    run = run_labelled(Scorer(topic_sets, encoder, models), headlines, sha256="not-the-training-file")
    margins = run.margins
    found = metrics(run.labels, margins)
    cv_run = run_labelled(Scorer(topic_sets, encoder, models), headlines, file_sha256(path))
    cv = metrics(cv_run.labels, cv_run.margins)
    figures = {
        "precision": found.precision,
        "recall": found.recall,
        "average_precision": found.average_precision,
        "cv_precision": cv.precision,
        "cv_recall": cv.recall,
        "cv_average_precision": cv.average_precision,
    }
    return [m >= 0 for m in margins], figures


MEMORY = HEADLINES / "memory-supercycle"


def _memory_topics(encoder: Encoder) -> TopicSet:
    article = (MEMORY / "memory-chip-supercycle.txt").read_text(encoding="utf-8")
    return build_topic_set("memory-chip-supercycle", article, encoder)


def _memory_decisions(encoder: Encoder, topic_set: TopicSet) -> tuple[list[bool], float]:
    """Alert decisions and average precision on the memory-supercycle labels: a seed with no labels of its own."""
    run = run_labelled(Scorer([topic_set], encoder), load_labelled(MEMORY / "labelled.jsonl"), sha256="")
    return [m >= 0 for m in run.margins], metrics(run.labels, run.margins).average_precision


AGREEMENT = 0.99  # issue 4: the default is the fastest backend whose decisions agree this often with fp32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        loaded = {}
        for backend in BACKENDS:
            started = time.perf_counter()
            loaded[backend] = load_encoder(backend, Path(cache))
            print(f"{backend:10s} first load (incl. any export) {time.perf_counter() - started:5.1f} s", flush=True)
        texts = _texts(args.texts)
        speed = _speed(loaded, texts, args.rounds)
        reference = loaded["torch"].encode(texts)
        torch_decisions, _ = _decisions(loaded["torch"])
        memory = _memory_topics(loaded["torch"])
        torch_memory, _ = _memory_decisions(loaded["torch"], memory)
        print(f"\n{len(texts)} real headlines, best of {args.rounds} interleaved rounds; decisions on the dev sets")
        print(
            f"{'backend':10s} {'texts/s':>8s} {'× torch':>8s} {'min cos':>8s} {'mean cos':>9s} {'agree':>7s} "
            f"{'memory':>7s}",
            "figures",
        )
        agreeing = []
        for backend, encoder in loaded.items():
            cosines = np.sum(encoder.encode(texts) * reference, axis=1)
            decisions, figures = _decisions(encoder)
            agree = np.mean([a == b for a, b in zip(decisions, torch_decisions, strict=True)])
            memory_decisions, figures["memory_average_precision"] = _memory_decisions(encoder, memory)
            memory_agree = np.mean([a == b for a, b in zip(memory_decisions, torch_memory, strict=True)])
            shown = " ".join(f"{k}={v:.3f}" for k, v in figures.items())
            print(
                f"{backend:10s} {speed[backend]:8.0f} {speed[backend] / speed['torch']:8.2f} {cosines.min():8.4f} "
                f"{cosines.mean():9.5f} {agree:7.2%} {memory_agree:7.2%}  {shown}",
                flush=True,
            )
            if min(agree, memory_agree) >= AGREEMENT:
                agreeing.append(backend)
        fastest = max(agreeing, key=lambda b: speed[b])
        print(f"\nthe fastest backend agreeing with torch on >= {AGREEMENT:.0%} of decisions on both: {fastest}")


if __name__ == "__main__":
    main()
