"""Text embeddings: an ``Embedder`` protocol and its FastEmbed (ONNX Runtime) implementation.

Models always load from a local folder (``specific_model_path``), never through FastEmbed's hub
lookup, so nothing touches the network and an offline machine never waits on retries. A folder is
either a catalog model Tera downloaded (``models/embeddings/<name>``) or any folder the user points
``TERA_EMBEDDING_MODEL`` at; a ``tera_embedding.json`` in it says how to pool (else it is inferred).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tera_desktop.core import models
from tera_desktop.core.errors import (
    ACTION_SETUP_MODELS,
    ConfigError,
    ModelLoadError,
    ModelMissingError,
)
from tera_desktop.core.heap import release_memory
from tera_desktop.core.paths import Paths

SPEC_FILE = "tera_embedding.json"
BGE_QUERY_PREFIX = "Represent this sentence for searching relevant passages: "
_MODEL_FILES = ("model_optimized.onnx", "model.onnx", "onnx/model.onnx", "model_quantized.onnx")


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int
    min_score: float

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...
    def embed_query(self, text: str) -> np.ndarray: ...
    def count_tokens(self, text: str) -> int: ...


@dataclass(frozen=True)
class EmbeddingSpec:
    """Everything needed to load an embedding model from a folder."""

    name: str
    folder: Path
    dim: int
    pooling: str = "mean"  # "cls" | "mean"
    normalize: bool = True
    query_prefix: str = ""
    min_score: float = 0.3
    model_file: str = "model.onnx"


def spec_from_folder(folder: Path) -> EmbeddingSpec:
    """Read ``tera_embedding.json`` or infer the spec from the files (config.json, model file)."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise ModelMissingError(f"Embedding model folder {folder} does not exist.")
    data: dict[str, Any] = {}
    spec_path = folder / SPEC_FILE
    if spec_path.exists():
        try:
            data = json.loads(spec_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"Cannot read {spec_path}: {exc}") from None
    config: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    model_file = str(data.get("model_file") or "")
    if not model_file:
        model_file = next((f for f in _MODEL_FILES if (folder / f).exists()), "")
    if not model_file or not (folder / model_file).exists():
        raise ModelMissingError(
            f"No ONNX model file in {folder}.",
            f"Put the model's .onnx file there (one of: {', '.join(_MODEL_FILES)}).",
        )
    if not (folder / "tokenizer.json").exists():
        raise ModelMissingError(
            f"No tokenizer.json in {folder}.", "Copy the model's tokenizer files into that folder."
        )
    name = str(data.get("name") or config.get("_name_or_path") or folder.name)
    is_bge = "bge" in name.lower()
    dim = int(data.get("dim") or config.get("hidden_size") or 0)
    if dim <= 0:
        raise ModelLoadError(
            f"Cannot tell the embedding size of the model in {folder}.",
            f'Add a {SPEC_FILE} with {{"dim": N}}.',
        )
    return EmbeddingSpec(
        name=name,
        folder=folder,
        dim=dim,
        pooling=str(data.get("pooling") or ("cls" if is_bge else "mean")),
        normalize=bool(data.get("normalize", True)),
        query_prefix=str(data.get("query_prefix", BGE_QUERY_PREFIX if is_bge else "")),
        min_score=float(data.get("min_score", 0.6 if is_bge else 0.3)),
        model_file=model_file,
    )


def resolve_embedding(paths: Paths, name_or_folder: str) -> EmbeddingSpec:
    """A catalog name (installed under the models folder) or a local folder → its spec.

    Raises ``ModelMissingError`` naming the model and the folder to put its files in.
    """
    value = name_or_folder.strip()
    if not value:
        raise ConfigError("No embedding model is set.")
    candidate = Path(value).expanduser()
    if candidate.is_dir():
        return spec_from_folder(candidate)
    if value in models.CATALOG:
        entry = models.get_model(value)
        folder = models.installed_path(paths, entry)
        target = models.model_dir(paths, entry)
        if folder is None:
            files = ", ".join(f.name for f in entry.files)
            raise ModelMissingError(
                f"The embedding model {entry.name} is not on this computer.",
                f"Run `tera models download {entry.name}`, or put its files ({files}) in {target}.",
                action=ACTION_SETUP_MODELS,
            )
        return EmbeddingSpec(
            name=entry.name,
            folder=Path(folder),
            dim=entry.dim,
            pooling=entry.pooling,
            normalize=entry.normalize,
            query_prefix=entry.query_prefix,
            min_score=entry.min_score,
            model_file=entry.model_file,
        )
    if os.sep in value or value.startswith("."):
        raise ModelMissingError(f"Embedding model folder {candidate} does not exist.")
    known = ", ".join(n for n, m in models.CATALOG.items() if m.kind == "embedding")
    raise ConfigError(
        f"Unknown embedding model {value!r}.", f"Use one of: {known}; or a local model folder."
    )


_register_lock = threading.Lock()


ARENA_SHRINK = ("memory.enable_memory_arena_shrinkage", "cpu:0")


class _ShrinkingSession:
    """An ONNX Runtime session whose CPU memory arena gives back, at the end of each run, the
    blocks that run used. ONNX Runtime's arena otherwise keeps its biggest-ever size: measured
    on all-MiniLM-L6-v2, 12 runs of 3-8 texts of 64-256 tokens left 200 MB held (360 MB RSS
    instead of 163 after a trim) for the rest of the session; with the shrink the time is the
    same (3.1 s vs 2.8 s, within noise). Without the arena at all memory goes back too, but a
    run peaks at 740 MB. Everything but ``run`` is the session's."""

    def __init__(self, session: Any) -> None:
        import onnxruntime as ort

        self._session = session
        self.run_options = ort.RunOptions()
        self.run_options.add_run_config_entry(*ARENA_SHRINK)
        self.runs = 0

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        self.runs += 1
        return self._session.run(output_names, input_feed, run_options or self.run_options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def _open_session(model: Any, spec: EmbeddingSpec, threads: int) -> None:
    """Open FastEmbed's ONNX session ourselves (FastEmbed was told to load lazily), once:
    - ``enable_mem_pattern`` off: ONNX Runtime keeps a memory plan per input shape, and every
      batch of chunks has a new shape: measured on all-MiniLM-L6-v2, 40 batches of 1-64 texts of
      5-200 words grew RSS from 0.27 to 2.9 GB with the defaults (batches of 64), to 0.53 GB
      without the plans and with batches of 8, and ran faster (128 s vs 178 s);
    - the arena shrunk after each run (``_ShrinkingSession``);
    - one session, not FastEmbed's and then ours: opening one needs ~2x the model in
      temporary buffers.
    If FastEmbed's internals differ, FastEmbed opens its own session on first use."""
    import onnxruntime as ort

    inner = model.model
    if getattr(inner, "model", None) is not None or not hasattr(inner, "_ensure_tokenizer"):
        logging.getLogger("tera.embedder").info("FastEmbed opens its own ONNX session")
        return
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_mem_pattern = False
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = threads
    session = ort.InferenceSession(
        str(spec.folder / spec.model_file),
        sess_options=options,
        providers=["CPUExecutionProvider"],
    )
    inner._ensure_tokenizer()
    inner.model = _ShrinkingSession(session)


class FastEmbedEmbedder:
    """FastEmbed's ONNX runtime, loaded from a local folder only.

    One text per ONNX run (``batch_size`` 1): nothing is padded to the longest text of a batch
    and no batch-sized attention buffers are needed. Measured on all-MiniLM-L6-v2 (2 shared
    cores), 300 chunks of 209-253 tokens: 19-20 s one by one, 22 s by 2, 26-27 s by 8, and the
    runs by 8 add ~110 MB to the peak RSS; 320 texts of 20-200 words: 7.5 s vs 16-17 s."""

    def __init__(self, spec: EmbeddingSpec, *, threads: int = 0, batch_size: int = 1) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: never ask the hub
        from fastembed import TextEmbedding
        from fastembed.common.model_description import ModelSource, PoolingType

        self.spec = spec
        self.name = spec.name
        self.dim = spec.dim
        self.min_score = spec.min_score
        self.batch_size = batch_size
        # A private registry name per (folder, pooling, file): add_custom_model refuses duplicates.
        key = f"{spec.folder}|{spec.pooling}|{spec.model_file}|{spec.dim}|{spec.normalize}"
        registry_name = f"tera-local/{hashlib.sha1(key.encode()).hexdigest()[:16]}"
        with _register_lock:
            known = {d["model"] for d in TextEmbedding.list_supported_models()}
            if registry_name not in known:
                TextEmbedding.add_custom_model(
                    model=registry_name,
                    pooling=PoolingType.CLS if spec.pooling == "cls" else PoolingType.MEAN,
                    normalization=spec.normalize,
                    sources=ModelSource(hf="tera-local/none"),
                    dim=spec.dim,
                    model_file=spec.model_file,
                )
        try:
            self._model = TextEmbedding(
                model_name=registry_name,
                specific_model_path=str(spec.folder),
                threads=threads or None,
                lazy_load=True,
            )
            _open_session(self._model, spec, threads)
        except Exception as exc:
            raise ModelLoadError(
                f"Cannot load the embedding model in {spec.folder}: {exc}",
                "The files may be corrupt or incomplete: download them again.",
            ) from None
        finally:
            release_memory()  # the buffers of reading the model, freed on this thread
        self._tokenizer: Any = None

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(
            list(self._model.embed(list(texts), batch_size=self.batch_size)), dtype=np.float32
        )
        if vectors.shape[1] != self.dim:
            raise ModelLoadError(
                f"The embedding model in {self.spec.folder} gives {vectors.shape[1]}-d vectors, "
                f"not {self.dim}-d as configured."
            )
        return vectors

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([self.spec.query_prefix + text])[0]

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text`` (without special tokens), exact."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self.spec.folder / "tokenizer.json"))
            tok.no_truncation()
            tok.no_padding()
            self._tokenizer = tok
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
