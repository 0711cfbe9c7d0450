"""Benchmark the encoder backends against torch fp32 (not a test: it prints figures measured in one run).

For each backend (torch, onnx, onnx-int8), and for int8 as the pipeline runs it (its close calls decided again
by fp32, ``model_confirm_band``): encoding speed on real headlines and the scorer's speed over the same
headlines (what a story costs), as ratios to torch measured in the same run (rounds interleaved, best of each,
because the machine is noisy), cosine of its vectors to torch fp32, and how often its alert decisions (the
production scorer, models and thresholds) agree with torch on the labelled dev sets of both seeds: the Huawei
seed's committed topics and model, and the memory-supercycle seed's topics as ``newsmon seeds build`` makes
them (built once, with torch) under the transfer model. The default should be the fastest scorer whose
decisions agree on at least 99 % on both.

    .venv/bin/python scripts/bench_encoders.py [--texts 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.assessment import file_sha256, run_labelled  # noqa: E402
from models.encoder import BACKENDS, Encoder, load_encoder  # noqa: E402
from models.evaluation import metrics  # noqa: E402
from models.relevance import RelevanceModel, load_seed_models  # noqa: E402
from models.scoring import Confirmation, Scorer  # noqa: E402
from models.seeding import build_topic_set  # noqa: E402
from models.topics import TopicSet, load_seed_topics  # noqa: E402
from newsmon.config import Settings  # noqa: E402
from newsmon.review import load_labelled  # noqa: E402
from newsmon.story import Story  # noqa: E402

HEADLINES = ROOT / "tests" / "fixtures" / "headlines"


def _texts(limit: int) -> list[str]:
    lines = (HEADLINES / "semiconductor-headlines-2026-01-to-04.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["title"] for line in lines if line.strip()][:limit]


def _best_rates(runs: Mapping[str, Callable[[], object]], count: int, rounds: int) -> dict[str, float]:
    """Items per second of each run (``count`` items a run), best of ``rounds`` interleaved rounds."""
    best = dict.fromkeys(runs, 0.0)
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = max(best[name], count / (time.perf_counter() - started))
    return best


def _speed(encoders: dict[str, Encoder], texts: list[str], rounds: int) -> dict[str, float]:
    """Texts per second of each encoder."""
    return _best_rates({name: partial(e.encode, texts) for name, e in encoders.items()}, len(texts), rounds)


BAND = float(Settings.model_fields["model_confirm_band"].default)


def _scorer(
    topic_sets: list[TopicSet], encoder: Encoder, models: Mapping[str, RelevanceModel] | None, exact: Encoder | None
) -> Scorer:
    """The production scorer on ``encoder``; with ``exact``, its close calls decided again as the pipeline does."""
    confirm = Confirmation(Scorer(topic_sets, exact, models), BAND) if exact else None
    return Scorer(topic_sets, encoder, models, confirm=confirm)


def _decisions(encoder: Encoder, exact: Encoder | None = None) -> tuple[list[bool], dict[str, float]]:
    """Alert decisions and eval figures on the Huawei dev set through the production scorer."""
    topic_sets = load_seed_topics(ROOT / "seeds")
    models, _ = load_seed_models(ROOT / "seeds", topic_sets)
    path = HEADLINES / "dev-labelled.jsonl"
    headlines = load_labelled(path)
    run = run_labelled(_scorer(topic_sets, encoder, models, exact), headlines, sha256="not-the-training-file")
    margins = run.margins
    found = metrics(run.labels, margins)
    cv_run = run_labelled(_scorer(topic_sets, encoder, models, exact), headlines, file_sha256(path))
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


def _memory_decisions(encoder: Encoder, topic_set: TopicSet, exact: Encoder | None = None) -> tuple[list[bool], float]:
    """Alert decisions and average precision on the memory-supercycle labels: a seed with no labels of its own."""
    run = run_labelled(_scorer([topic_set], encoder, None, exact), load_labelled(MEMORY / "labelled.jsonl"), "")
    return [m >= 0 for m in run.margins], metrics(run.labels, run.margins).average_precision


AGREEMENT = 0.99  # issue 4: the default is the fastest backend whose decisions agree this often with fp32


def _scoring_speed(scorers: dict[str, Scorer], texts: list[str], rounds: int) -> tuple[dict[str, float], int]:
    """Headlines per second through each scorer; and how many of them the confirmed scorer's fp32 read again."""
    now = dt.datetime.now(dt.UTC)
    stories = [Story(f"b{i}", t, "", "", now, now, "bench", "bench", "") for i, t in enumerate(texts)]
    rates = _best_rates({name: partial(s.assess, stories) for name, s in scorers.items()}, len(texts), rounds)
    confirm = scorers[CONFIRMED].confirm
    assert confirm is not None
    return rates, len(confirm.near(scorers["onnx-int8"].assess(stories)))


CONFIRMED = "onnx-int8+fp32"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        loaded = {}
        for backend in BACKENDS:
            started = time.perf_counter()
            loaded[backend] = load_encoder(backend, Path(cache))
            print(f"{backend:10s} first load (incl. any export) {time.perf_counter() - started:5.1f} s", flush=True)
        texts = _texts(args.texts)
        speed = _speed(loaded, texts, args.rounds)
        rows: list[tuple[str, Encoder, Encoder | None]] = [(b, e, None) for b, e in loaded.items()]
        rows.append((CONFIRMED, loaded["onnx-int8"], loaded["onnx"]))
        topic_sets = load_seed_topics(ROOT / "seeds")
        models, _ = load_seed_models(ROOT / "seeds", topic_sets)
        scorers = {name: _scorer(topic_sets, encoder, models, exact) for name, encoder, exact in rows}
        scoring, reread = _scoring_speed(scorers, texts, args.rounds)
        reference = loaded["torch"].encode(texts)
        torch_decisions, _ = _decisions(loaded["torch"])
        memory = _memory_topics(loaded["torch"])
        torch_memory, _ = _memory_decisions(loaded["torch"], memory)
        print(f"\n{len(texts)} real headlines, best of {args.rounds} interleaved rounds; decisions on the dev sets")
        print(f"(scoring: the headlines through the Huawei seed's scorer; fp32 read {reread} of them again)")
        print(
            f"{'backend':14s} {'texts/s':>8s} {'× torch':>8s} {'scored/s':>9s} {'× torch':>8s} {'min cos':>8s} "
            f"{'mean cos':>9s} {'agree':>7s} {'memory':>7s}",
            "figures",
        )
        agreeing = []
        for backend, encoder, exact in rows:
            cosines = np.sum(encoder.encode(texts) * reference, axis=1)
            decisions, figures = _decisions(encoder, exact)
            agree = np.mean([a == b for a, b in zip(decisions, torch_decisions, strict=True)])
            memory_decisions, figures["memory_average_precision"] = _memory_decisions(encoder, memory, exact)
            memory_agree = np.mean([a == b for a, b in zip(memory_decisions, torch_memory, strict=True)])
            shown = " ".join(f"{k}={v:.3f}" for k, v in figures.items())
            rate = (
                f"{speed[backend]:8.0f} {speed[backend] / speed['torch']:8.2f}" if backend in speed else f"{'—':>17s}"
            )
            print(
                f"{backend:14s} {rate} {scoring[backend]:9.0f} {scoring[backend] / scoring['torch']:8.2f} "
                f"{cosines.min():8.4f} {cosines.mean():9.5f} {agree:7.2%} {memory_agree:7.2%}  {shown}",
                flush=True,
            )
            if min(agree, memory_agree) >= AGREEMENT:
                agreeing.append(backend)
        fastest = max(agreeing, key=lambda b: scoring[b])
        print(f"\nthe fastest scorer agreeing with torch on >= {AGREEMENT:.0%} of decisions on both: {fastest}")


if __name__ == "__main__":
    main()
