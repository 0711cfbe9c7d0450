"""Ordinary news: what a story's closeness to a seed, and a key phrase's specificity, are measured against.

A seed sentence about "the semiconductor field" resembles every chip headline; one about HBM prices resembles
few. So closeness counts only what rises above ordinary news: an exemplar's average cosine to ordinary
headlines is subtracted from its cosine to a story (that average is the exemplar's dot product with the mean
background vector, so it costs one multiplication), and a story that looks like every other headline is
"ordinary". Likewise a key phrase is specific when few ordinary headlines name it.

The background is the 2,601 recorded headlines bundled in ``models/data`` (semiconductor and tech news,
Jan–Apr 2026). Their embeddings are computed once per encoder backend and cached beside the ONNX exports.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.encoder import Encoder, Vectors

__all__ = ["BACKGROUND_FILE", "Background", "load_background", "phrase_pattern"]

BACKGROUND_FILE = Path(__file__).parent / "data" / "background-headlines.txt"


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """A phrase as a whole-word, case-insensitive pattern: ``HBM`` is found in "HBM chips", not in "HBM3E"."""
    return re.compile(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])", re.IGNORECASE)


@dataclass
class Background:
    """Ordinary headlines, their unit embeddings, and what is derived from them."""

    headlines: tuple[str, ...]
    vectors: Vectors
    _df: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.mean: npt.NDArray[np.float32] = self.vectors.mean(axis=0).astype(np.float32)
        self.centre: npt.NDArray[np.float32] = self.mean / max(float(np.linalg.norm(self.mean)), 1e-9)
        cosines = self.vectors @ self.centre
        self._ordinary = (float(cosines.mean()), max(float(cosines.std()), 1e-9))

    def offsets(self, exemplars: Vectors) -> npt.NDArray[np.float32]:
        """Each exemplar's average cosine to ordinary headlines."""
        result: npt.NDArray[np.float32] = exemplars @ self.mean
        return result

    def ordinary(self, vectors: Vectors) -> npt.NDArray[np.float64]:
        """How ordinary each story is: its cosine to the background's centre, in background standard deviations."""
        mean, std = self._ordinary
        result: npt.NDArray[np.float64] = ((vectors @ self.centre).astype(np.float64) - mean) / std
        return result

    def document_frequency(self, phrase: str) -> int:
        """How many ordinary headlines name ``phrase`` (whole words, any case)."""
        key = phrase.lower()
        if key not in self._df:
            pattern = phrase_pattern(phrase)
            self._df[key] = sum(1 for h in self.headlines if pattern.search(h))
        return self._df[key]

    def specificity(self, phrase: str) -> float:
        """Inverse document frequency: high for a phrase few ordinary headlines name."""
        return math.log((len(self.headlines) + 1) / (self.document_frequency(phrase) + 0.5))


def _headlines(path: Path) -> tuple[str, ...]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


_LOADED: dict[tuple[int, str], Background] = {}


def load_background(encoder: Encoder, path: Path = BACKGROUND_FILE) -> Background:
    """The background, its embeddings made with ``encoder``: once per process, and kept on disk beside the
    encoder's exports (``Encoder.encode_kept``), since embedding 2,601 headlines takes seconds."""
    headlines = _headlines(path)
    key = (id(encoder), "\n".join(headlines))
    if key not in _LOADED:
        _LOADED[key] = Background(headlines, encoder.encode_kept(headlines).astype(np.float32))
    return _LOADED[key]
