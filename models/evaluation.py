"""Measure matching against labelled headlines: the figures ``newsmon eval`` prints.

Labels follow the project's rubric: 2 core, 1 related, 0 not relevant. An alert on a 1 is not a false
positive (it is worth a look), so precision counts hits on 1s and 2s as correct; recall counts the 2s; average
precision ranks the 2s against the 0s, leaving the 1s out, which is the same leniency. Strict average
precision (1s as negatives) is reported beside it.

Plain functions over plain data: the CLI scores the headlines with the production scorer and hands the
decisions and margins in here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

__all__ = [
    "LabelledHeadline",
    "Metrics",
    "average_precision",
    "metrics",
    "suggest_margin",
]


@dataclass(frozen=True, slots=True)
class LabelledHeadline:
    title: str
    summary: str
    label: int


@dataclass(frozen=True, slots=True)
class Metrics:
    """What one evaluation found; ``threshold`` is the margin over each topic's own threshold (0 = as configured)."""

    n: int
    core: int
    related: int
    hits: int
    correct_hits: int
    core_hits: int
    precision: float
    recall: float
    f1: float
    average_precision: float
    average_precision_strict: float
    threshold: float

    def as_dict(self) -> dict[str, float | int]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def average_precision(labels: Sequence[int], scores: Sequence[float], positive: Iterable[int] = (2,)) -> float:
    """Mean precision at each positive, ranking by score (ties: lower label first, the pessimistic order)."""
    wanted = set(positive)
    order = sorted(range(len(labels)), key=lambda i: (-scores[i], labels[i] in wanted))
    found, total = 0, 0.0
    for rank, index in enumerate(order, start=1):
        if labels[index] in wanted:
            found += 1
            total += found / rank
    return total / found if found else 0.0


def metrics(labels: Sequence[int], margins: Sequence[float], threshold: float = 0.0) -> Metrics:
    """Figures for deciding "alert" when a story's best margin over its topic thresholds is ≥ ``threshold``."""
    hits = [m >= threshold for m in margins]
    correct = sum(h and lab >= 1 for h, lab in zip(hits, labels, strict=True))
    core_hits = sum(h and lab == 2 for h, lab in zip(hits, labels, strict=True))
    core = sum(lab == 2 for lab in labels)
    precision = correct / sum(hits) if any(hits) else 0.0
    recall = core_hits / core if core else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    lenient = [(lab, m) for lab, m in zip(labels, margins, strict=True) if lab != 1]
    return Metrics(
        n=len(labels),
        core=core,
        related=sum(lab == 1 for lab in labels),
        hits=sum(hits),
        correct_hits=correct,
        core_hits=core_hits,
        precision=precision,
        recall=recall,
        f1=f1,
        average_precision=average_precision([lab for lab, _ in lenient], [m for _, m in lenient]),
        average_precision_strict=average_precision(labels, margins),
        threshold=threshold,
    )


def suggest_margin(labels: Sequence[int], margins: Sequence[float], min_precision: float = 0.85) -> Metrics | None:
    """The margin with the best recall whose precision is at least ``min_precision`` (None if none reaches it)."""
    best: Metrics | None = None
    for candidate in sorted(set(margins)):
        found = metrics(labels, margins, candidate)
        if found.precision >= min_precision and (best is None or found.recall > best.recall):
            best = found
    return best
