"""The learning curve of a new seed: how matching improves with 0, 25, 50, 100 and 200 labels of its own.

Played the way a user gets labels: topics from ``newsmon seeds build`` (no hand edits), the monitor scores a
stream of headlines (one half of the seed's labelled file, shuffled), ``review export`` picks the stories to
label (nearest the threshold first, never one twice), the analyst labels the top of the file (here: the
recorded labels), then ``train`` and ``calibrate`` (precision 0.85). After each step the current model and
thresholds are measured on the other half, which no step ever labels: average precision (core; 1s left
out) and precision (lenient) / recall (core) at the calibrated thresholds. Three shuffles, averaged.

    python scripts/learning_curve.py                       # both labelled seeds
    python scripts/learning_curve.py --seed memory-chip-supercycle --repeats 5
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from train_transfer import SEEDS  # the labelled seeds (this script's folder is on the path)

from models.assessment import MIN_PER_CLASS, file_sha256, propose_thresholds, run_labelled, train_relevance
from models.encoder import Encoder, load_encoder
from models.evaluation import LabelledHeadline, average_precision, metrics
from models.relevance import RelevanceModel, prior_model
from models.scoring import Scorer
from models.seeding import build_topic_set
from models.topics import TopicSet
from newsmon.config import load_settings
from newsmon.review import load_labelled, select_for_review
from newsmon.store.rows import ScoredStory

STEPS = (0, 25, 50, 100, 200)
NOW = datetime(2026, 5, 1, tzinfo=UTC)


@dataclasses.dataclass
class Monitor:
    """What a user has at one step: the seed's topics (thresholds as calibrated) and its relevance model."""

    topic_set: TopicSet
    model: RelevanceModel
    encoder: Encoder

    def scorer(self) -> Scorer:
        return Scorer([self.topic_set], self.encoder, {self.topic_set.seed: self.model})

    def scored(self, headlines: list[LabelledHeadline]) -> list[ScoredStory]:
        run = run_labelled(self.scorer(), headlines, sha256="")
        seed = run.seeds[0]
        return [
            ScoredStory(str(i), self.topic_set.seed, h.title, h.summary, "", "", NOW, r, t, topic, r >= t)
            for i, (h, r, t, topic) in enumerate(
                zip(headlines, seed.relevance, seed.thresholds, seed.topics, strict=True)
            )
        ]


def measure(monitor: Monitor, test: list[LabelledHeadline]) -> dict[str, float]:
    scored = monitor.scored(test)
    labels = [h.label for h in test]
    kept = [(h.label, s.relevance) for h, s in zip(test, scored, strict=True) if h.label != 1]
    at = metrics(labels, [s.relevance - s.threshold for s in scored])
    return {
        "ap": average_precision([lab for lab, _ in kept], [r for _, r in kept]),
        "precision": at.precision,
        "recall": at.recall,
    }


def learn(monitor: Monitor, labelled: list[LabelledHeadline], folder: Path) -> Monitor:
    """``newsmon train`` then ``newsmon calibrate --write`` on the labels so far (the monitor as it was when
    they cannot train yet: fewer than two of a class)."""
    core = sum(h.label == 2 for h in labelled)
    if min(core, len(labelled) - core) < MIN_PER_CLASS:
        return monitor
    path = folder / f"labels-{len(labelled)}.jsonl"
    path.write_text("".join(json.dumps(dataclasses.asdict(h)) + "\n" for h in labelled), encoding="utf-8")
    run = run_labelled(monitor.scorer(), labelled, sha256="", stream=True)  # as newsmon train runs it
    model, _ = train_relevance(run, monitor.scorer(), 0, path)
    trained = dataclasses.replace(monitor, model=model)
    calibration = run_labelled(trained.scorer(), labelled, file_sha256(path))
    current = {t.id: t.threshold for t in trained.topic_set.topics}
    shared, proposals = propose_thresholds(calibration.seeds[0], calibration.labels, current, 0.85)
    if shared is None:
        return trained
    proposed = {p.topic_id: p.proposed for p in proposals}
    topics = tuple(dataclasses.replace(t, threshold=proposed[t.id]) for t in trained.topic_set.topics)
    return dataclasses.replace(trained, topic_set=dataclasses.replace(trained.topic_set, topics=topics))


def curve(seed: str, encoder: Encoder, repeat: int) -> dict[int, dict[str, float]]:
    article, labelled_file = SEEDS[seed]
    headlines = load_labelled(labelled_file)
    random.Random(repeat).shuffle(headlines)
    stream, test = headlines[: len(headlines) // 2], headlines[len(headlines) // 2 :]
    topic_set = build_topic_set(seed, article.read_text(encoding="utf-8"), encoder)
    monitor = Monitor(topic_set, prior_model(topic_set), encoder)
    labelled: list[LabelledHeadline] = []
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for target in STEPS:
            while len(labelled) < target:
                asked = {h.title for h in labelled}
                unseen = [h for h in stream if h.title not in asked]
                scored = monitor.scored(unseen)
                batch = min(25, target - len(labelled))
                chosen = select_for_review(scored, near_misses=batch, sample=batch, rng_seed=repeat)[:batch]
                labelled += [unseen[int(s.story_id)] for _, s in chosen]
                monitor = learn(monitor, labelled, Path(folder))
            results[target] = measure(monitor, test)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", choices=sorted(SEEDS), help="one seed (default: both)")
    parser.add_argument("--repeats", type=int, default=3, help="shuffles to average over")
    parser.add_argument("--backend", default=None, help="encoder backend (default: the configured one)")
    args = parser.parse_args()
    settings = load_settings()
    encoder = load_encoder(args.backend or settings.model_backend, settings.model_cache_dir)
    for seed in [args.seed] if args.seed else list(SEEDS):
        runs = [curve(seed, encoder, repeat) for repeat in range(args.repeats)]
        print(f"{seed} (topics from seeds build, {encoder.backend}, mean of {args.repeats} shuffles; held-out half)")
        print("  labels     AP   precision  recall")
        for step in STEPS:
            mean = {k: statistics.mean(r[step][k] for r in runs) for k in ("ap", "precision", "recall")}
            print(f"  {step:6d}  {mean['ap']:.3f}     {mean['precision']:.3f}   {mean['recall']:.3f}")


if __name__ == "__main__":
    main()
