"""Sentence splitting and keyword spotting shared by seed building and scoring."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

__all__ = ["keyword_hits", "split_sentences"]

_BOUNDARY = re.compile(r"(?<=[.!?…”\"])\s+(?=[“\"A-Z0-9])|\n+")
_MIN_CHARS = 12


def split_sentences(text: str, limit: int | None = None) -> list[str]:
    """Sentences of ``text`` (lines and ``. X`` boundaries), very short fragments dropped."""
    sentences = [s.strip() for s in _BOUNDARY.split(text) if len(s.strip()) >= _MIN_CHARS]
    return sentences[:limit] if limit is not None else sentences


@functools.lru_cache(maxsize=8192)  # a topic's few keywords, looked up for every story: compile each once
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])" + re.escape(keyword) + r"(?![\w-])", re.IGNORECASE)


def keyword_hits(text: str, keywords: Iterable[str]) -> tuple[str, ...]:
    """The keywords that occur in ``text`` as whole words, case-insensitively, in the keywords' order."""
    return tuple(k for k in keywords if _keyword_pattern(k).search(text))
