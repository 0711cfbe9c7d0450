"""Learn the transfer model: the relevance model every new seed starts from, before anyone labels a story.

For each labelled seed newsmon ships with, its topics are generated from the article alone (as
``newsmon seeds build`` would: no hand edits) and each labelled headline gets the seed-agnostic features (how far
its closeness to the seed rises above ordinary news, how ordinary it is). A sign-constrained logistic model over
them is proven leave-one-seed-out (fitted on one seed, measured on the other, which it never saw), then fitted on
all seeds and written to ``models/data/transfer.json`` with the threshold new topics start at: the lowest whose
leave-one-seed-out precision (lenient) reaches ``--target`` on every seed.

    python scripts/train_transfer.py            # print the leave-one-seed-out figures
    python scripts/train_transfer.py --write    # and write models/data/transfer.json
    python scripts/train_transfer.py --article  # the same with closeness to the article alone (the earlier model)

Closeness here is ``seed.stream``: it also counts the stream's stories nearest the article (``models.stream``),
and each labelled file is its seed's stream, as a monitor that had seen those stories would hold it.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.assessment import run_labelled
from models.encoder import Encoder, load_encoder
from models.evaluation import average_precision, metrics
from models.relevance import TRANSFER_FILE, RelevanceModel, feature_names, feature_signs, fit_weights
from models.scoring import Scorer
from models.seeding import build_topic_set
from newsmon.config import load_settings
from newsmon.review import load_labelled

ROOT = Path(__file__).resolve().parent.parent
HEADLINES = ROOT / "tests" / "fixtures" / "headlines"
SEEDS = {  # seed -> (article, labelled headlines)
    "huawei-korea-chips": (ROOT / "seeds" / "huawei-korea-chips.txt", HEADLINES / "dev-labelled.jsonl"),
    "memory-chip-supercycle": (
        HEADLINES / "memory-supercycle" / "memory-chip-supercycle.txt",
        HEADLINES / "memory-supercycle" / "labelled.jsonl",
    ),
}
FEATURES = ("seed.stream", "seed.ordinary")
ARTICLE = ("seed.closeness", "seed.ordinary")
C = 1.0
Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SeedData:
    values: Matrix
    labels: list[int]


def seed_data(seed: str, encoder: Encoder, features: tuple[str, ...] = FEATURES) -> SeedData:
    """The transfer features of a seed's labelled headlines as the production scorer computes them (the same
    batches: int8 quantisation depends on them), its topics generated from the article alone."""
    article, labelled = SEEDS[seed]
    topic_set = build_topic_set(seed, article.read_text(encoding="utf-8"), encoder, threshold=0.5)
    placeholder = RelevanceModel(seed, "", features, (0.0, 0.0), (1.0, 1.0), (1.0, -1.0), 0.0)
    headlines = load_labelled(labelled)
    run = run_labelled(Scorer([topic_set], encoder, {seed: placeholder}), headlines, sha256="")
    columns = [feature_names(topic_set).index(f) for f in features]
    return SeedData(run.seeds[0].values[:, columns], run.labels)


def fit(data: list[SeedData], features: tuple[str, ...] = FEATURES) -> tuple[Matrix, Matrix, Matrix, float]:
    values = np.vstack([d.values for d in data])
    targets = np.concatenate([np.asarray(d.labels) == 2 for d in data])
    return fit_weights(values, targets, feature_signs(features), C)


def probabilities(model: tuple[Matrix, Matrix, Matrix, float], values: Matrix) -> Matrix:
    mean, scale, weights, intercept = model
    result: Matrix = 1.0 / (1.0 + np.exp(-(((values - mean) / scale) @ weights + intercept)))
    return result


def core_ap(labels: list[int], scores: Matrix) -> float:
    kept = [(lab, float(s)) for lab, s in zip(labels, scores, strict=True) if lab != 1]
    return average_precision([lab for lab, _ in kept], [s for _, s in kept])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default=None, help="encoder backend (default: the configured one)")
    parser.add_argument("--target", type=float, default=0.85, help="leave-one-seed-out precision to reach")
    parser.add_argument("--write", action="store_true", help=f"write {TRANSFER_FILE.relative_to(ROOT)}")
    parser.add_argument("--article", action="store_true", help="closeness to the article alone, for comparison")
    args = parser.parse_args()
    if args.article and args.write:
        parser.error("--article is for comparison; the transfer model reads seed.stream")
    features = ARTICLE if args.article else FEATURES
    settings = load_settings()
    encoder = load_encoder(args.backend or settings.model_backend, settings.model_cache_dir)
    data = {seed: seed_data(seed, encoder, features) for seed in SEEDS}
    held_out = {
        seed: probabilities(fit([d for other, d in data.items() if other != seed], features), data[seed].values)
        for seed in data
    }
    candidates = [round(t, 2) for t in np.arange(0.05, 0.96, 0.01)]
    reaching = [
        t
        for t in candidates
        if all(metrics(d.labels, held_out[seed] - t).precision >= args.target for seed, d in data.items())
    ]
    threshold = reaching[0] if reaching else 0.5
    figures = {}
    print(f"leave-one-seed-out ({encoder.backend}): fitted on the other seed, threshold {threshold}")
    for seed, d in data.items():
        at = metrics(d.labels, held_out[seed] - threshold)
        figures[seed] = {
            "average_precision": round(core_ap(d.labels, held_out[seed]), 4),
            "precision": round(at.precision, 4),
            "recall": round(at.recall, 4),
            "headlines": len(d.labels),
        }
        print(f"  {seed:24} AP {figures[seed]['average_precision']:.3f}  P {at.precision:.3f}  R {at.recall:.3f}")
    mean, scale, weights, intercept = fit(list(data.values()), features)
    print("fitted on every seed: " + ", ".join(f"{f} {w:+.3f}" for f, w in zip(features, weights, strict=True)))
    if args.write:
        model = {
            "format": "newsmon.transfer/1",
            "features": list(FEATURES),
            "mean": [round(float(v), 6) for v in mean],
            "scale": [round(float(v), 6) for v in scale],
            "weights": [round(float(v), 6) for v in weights],
            "intercept": round(intercept, 6),
            "threshold": threshold,
            "target_precision": args.target,
            "backend": encoder.backend,
            "leave_one_seed_out": figures,
        }
        TRANSFER_FILE.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {TRANSFER_FILE}")


if __name__ == "__main__":
    main()
