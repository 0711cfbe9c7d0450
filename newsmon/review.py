"""Analyst feedback: what the pipeline scored, turned into a file to label, the labelling itself, and reading
any labelled headlines file (what ``eval``, ``train`` and ``calibrate`` take).

Labels on past alerts alone would teach the relevance model nothing about the stories it missed, so a review
file holds three kinds of story from the scored log (``Store.scored``): every alert, the near misses (the
stories closest below their threshold, where a wrong threshold or a missing topic shows first), and a fixed-seed
random sample of the rest (the only honest estimate of what slips by unnoticed). Each line is the labelled
format ``train``, ``eval`` and ``calibrate`` read, with ``label`` left null until ``newsmon review label``
(or any editor) fills it in; lines still null are skipped by those commands.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from models.evaluation import LabelledHeadline
from newsmon.errors import ConfigError
from newsmon.files import jsonl_lines, replace_file
from newsmon.store.rows import ScoredStory

__all__ = [
    "ANSWERS",
    "label_file",
    "load_labelled",
    "read_labelled",
    "read_review_file",
    "select_for_review",
    "write_review_file",
]

ANSWERS = {"2": 2, "1": 1, "0": 0}


def _uncertainty(story: ScoredStory) -> tuple[float, str]:
    return abs(story.relevance - story.threshold), story.story_id


def select_for_review(
    scored: Iterable[ScoredStory], near_misses: int = 50, sample: int = 25, rng_seed: int = 0
) -> list[tuple[str, ScoredStory]]:
    """(why, story) pairs: every alert, the ``near_misses`` non-alerts closest to their threshold, and ``sample``
    of the remaining non-alerts drawn at random (fixed seed, so the same log gives the same file).

    They come in the order that teaches the model most first, since an analyst may label only the top of the
    file: the stories nearest their threshold on either side (where a label moves the boundary), with every
    third one from the random sample (the honest estimate of what slips by unnoticed)."""
    rows = sorted(scored, key=lambda s: (s.threshold - s.relevance, s.story_id, s.seed))
    alerts = [("alert", s) for s in rows if s.alerted]
    others = [s for s in rows if not s.alerted]
    close = [("near miss", s) for s in others[:near_misses]]
    rest = others[near_misses:]
    drawn = [("sample", s) for s in random.Random(rng_seed).sample(rest, min(sample, len(rest)))]
    informative = sorted(alerts + close, key=lambda pair: _uncertainty(pair[1]))
    ordered: list[tuple[str, ScoredStory]] = []
    while informative or drawn:
        ordered += informative[:2] + drawn[:1]
        informative, drawn = informative[2:], drawn[1:]
    return ordered


def _line(why: str, story: ScoredStory) -> dict[str, Any]:
    data = asdict(story)
    data["published"] = story.published.isoformat()
    return {"label": None, "why": why, **data}


def _write(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    replace_file(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def write_review_file(path: Path, selected: Sequence[tuple[str, ScoredStory]]) -> None:
    _write(path, [_line(why, story) for why, story in selected])


def read_review_file(path: Path) -> list[dict[str, Any]]:
    """The lines of a review (or any labelled) file; a line that is not a JSON object with a title is an error
    naming its line, and a label must be null, 0, 1 or 2."""
    rows = []
    for number, line in jsonl_lines(path):
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"{path}:{number}: not JSON ({exc})") from exc
        if not isinstance(row, dict) or not str(row.get("title") or "").strip():
            raise ConfigError(f"{path}:{number}: needs a JSON object with a 'title'")
        if row.get("label") not in (None, 0, 1, 2):
            raise ConfigError(f"{path}:{number}: label must be null, 0, 1 or 2, not {row.get('label')!r}")
        rows.append(row)
    return rows


def label_file(path: Path, ask: Callable[[dict[str, Any], int, int], str]) -> dict[str, int]:
    """Ask for each unlabelled line's label (``ask`` returns '2', '1', '0', 's' to skip or 'q' to stop) and save
    after every answer, so stopping at any point keeps what was labelled. Returns counts by outcome."""
    rows = read_review_file(path)
    todo = [i for i, row in enumerate(rows) if row.get("label") is None]
    counts = {"labelled": 0, "skipped": 0, "left": len(todo)}
    for position, index in enumerate(todo, start=1):
        answer = ask(rows[index], position, len(todo)).strip().lower()
        if answer == "q":
            break
        if answer != "s" and answer not in ANSWERS:
            raise ValueError(f"unknown answer {answer!r}: expected 2, 1, 0, s or q")
        counts["left"] -= 1
        if answer == "s":
            counts["skipped"] += 1
            continue
        rows[index]["label"] = ANSWERS[answer]
        _write(path, rows)
        counts["labelled"] += 1
    return counts


def read_labelled(path: Path) -> tuple[list[LabelledHeadline], int]:
    """Headlines of a JSONL file with ``title``, optional ``summary`` and ``label`` (0, 1 or 2), and how many
    lines were skipped because their label is still null (a review file not labelled to the end)."""
    rows, unlabelled = [], 0
    for number, line in jsonl_lines(path):
        try:
            row = json.loads(line)
            if row["label"] is None:
                unlabelled += 1
                continue
            label = int(row["label"])
            title = str(row["title"]).strip()
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{number}: needs a JSON object with 'title' and 'label' ({exc})") from exc
        if label not in (0, 1, 2) or not title:
            raise ConfigError(f"{path}:{number}: label must be 0, 1 or 2 and the title non-empty")
        rows.append(LabelledHeadline(title, str(row.get("summary") or ""), label))
    if not rows:
        hint = f" ({unlabelled} still unlabelled: 'newsmon review label {path}')" if unlabelled else ""
        raise ConfigError(f"{path} holds no labelled headlines{hint}")
    return rows, unlabelled


def load_labelled(path: Path) -> list[LabelledHeadline]:
    """The labelled headlines of ``path`` (lines whose label is still null are left out)."""
    return read_labelled(path)[0]
