"""The store's vocabulary: the ``MemoryStore`` protocol, its data types and constants, the
backend-independent filter description, and the small record an embedded memory keeps of the
embedding model it was built with."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tera_desktop.core.atomic import write_json_atomic
from tera_desktop.core.errors import EmbeddingMismatchError

VECTOR_NAME = "dense"
SPARSE_NAME = "bm25"  # keyword search: BM25 term weights, IDF applied by the engine
SEARCH_MODES = ("dense", "keyword")  # the store's primitives; fusion: core/fusion.py
KIND_FACT = "fact"
KIND_DOCUMENT = "document"
LIVE = "live"
PENDING = "pending"
_UPSERT_BATCH = 512
_META_FILE = "tera-store.json"

_KEYWORD_FIELDS = ("kind", "source", "doc_id", "gen", "state", "content_hash", "senders")
_INTEGER_FIELDS = ("chunk_index",)
_DATETIME_FIELDS = ("created_at", "date_from", "date_to")

SparseQuery = tuple[list[int], list[float]]  # BM25 term ids and weights


@dataclass(frozen=True)
class Chunk:
    """One unit of memory: a fact, or a piece of a document."""

    id: str
    text: str
    vector: Sequence[float] | np.ndarray
    kind: str
    doc_id: str
    created_at: str  # ISO 8601, UTC
    content_hash: str  # of the whole fact or document
    source: str = ""  # absolute path for documents; "" for facts
    chunk_index: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # title, heading, n_chunks, page, ...


@dataclass(frozen=True)
class Hit:
    """A stored chunk, with its similarity score when it came from a search."""

    id: str
    score: float
    kind: str
    source: str
    text: str
    created_at: str
    doc_id: str
    chunk_index: int
    extra: dict[str, Any] = field(default_factory=dict)
    # the chunk's dense vector, when it was asked for (``MemoryStore.get(with_vectors=True)``)
    vector: list[float] | None = field(default=None, compare=False, repr=False)

    def as_json(self) -> dict[str, Any]:
        """The stable public shape (``tera search --json``)."""
        return {
            "id": self.id,
            "score": round(float(self.score), 6),
            "kind": self.kind,
            "source": self.source,
            "text": self.text,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    source: str
    title: str
    content_hash: str
    chunks: int
    created_at: str


@dataclass(frozen=True)
class FactInfo:
    id: str
    text: str
    created_at: str
    superseded_by: str = ""  # the id of the newer fact that replaces this one (core/supersede.py)


@runtime_checkable
class MemoryStore(Protocol):
    dim: int

    def add(self, chunks: Sequence[Chunk]) -> None: ...
    def replace_document(self, doc_id: str, chunks: Sequence[Chunk]) -> None: ...
    def search(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        *,
        kind: str | None = None,
        source: str | None = None,
        min_score: float | None = None,
        senders: Sequence[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        text: str | None = None,
        mode: str = "dense",
        sparse: SparseQuery | None = None,
        with_payload: bool = True,
    ) -> list[Hit]: ...
    def senders(self) -> list[str]: ...
    def get(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Hit]: ...
    def chunks_of(self, doc_id: str, first: int, last: int) -> list[Hit]: ...
    def delete_ids(self, ids: Sequence[str], *, scrub: bool = True) -> int: ...
    def delete_source(self, source: str, *, scrub: bool = True) -> int: ...
    def delete_all(self, *, scrub: bool = True) -> int: ...
    def count(self, kind: str | None = None) -> int: ...
    def document(self, source: str) -> DocumentInfo | None: ...
    def list_documents(self) -> list[DocumentInfo]: ...
    def list_facts(self, offset: int = 0, limit: int | None = None) -> list[FactInfo]: ...
    def find_fact(self, content_hash: str) -> str | None: ...
    def set_fact_fields(self, fact_id: str, fields: dict[str, Any]) -> None: ...
    def scrub(self) -> None: ...
    def optimize(self) -> None: ...
    def close(self) -> None: ...


# --------------------------------------------------------------------------------------------------
# Filters, independent of the backend: a tiny description the backends translate.
# --------------------------------------------------------------------------------------------------

Cond = tuple[str, Any]  # (payload key, value to match exactly)


@dataclass(frozen=True)
class Where:
    must: tuple[Cond, ...] = ()
    must_not: tuple[Cond, ...] = ()
    any_of: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (key, values): matches any value
    ranges: tuple[tuple[str, str | None, str | None], ...] = ()  # (datetime key, gte, lte)

    @property
    def empty(self) -> bool:
        return not (self.must or self.must_not or self.any_of or self.ranges)


def _live(*conds: Cond) -> Where:
    return Where(must=((("state", LIVE)), *conds))


def _payload(chunk: Chunk, gen: str, state: str) -> dict[str, Any]:
    return {
        **chunk.extra,
        "text": chunk.text,
        "kind": chunk.kind,
        "source": chunk.source,
        "doc_id": chunk.doc_id,
        "chunk_index": chunk.chunk_index,
        "created_at": chunk.created_at,
        "content_hash": chunk.content_hash,
        "gen": gen,
        "state": state,
    }


_CORE_KEYS = {"text", "kind", "source", "doc_id", "chunk_index", "created_at", "content_hash"}
_PRIVATE_KEYS = {"gen", "state"}


def _dense_of(vectors: Any) -> list[float] | None:
    dense = vectors.get(VECTOR_NAME) if isinstance(vectors, dict) else None
    return [float(x) for x in dense] if dense else None


def _hit(point_id: Any, score: float, payload: dict[str, Any] | None, vectors: Any = None) -> Hit:
    """A ``Hit`` from an engine's point; ``vectors`` (the point's named vectors) when it has
    them."""
    p = payload or {}
    return Hit(
        id=str(point_id),
        score=float(score),
        kind=str(p.get("kind", "")),
        source=str(p.get("source", "")),
        text=str(p.get("text", "")),
        created_at=str(p.get("created_at", "")),
        doc_id=str(p.get("doc_id", "")),
        chunk_index=int(p.get("chunk_index", 0)),
        extra={k: v for k, v in p.items() if k not in _CORE_KEYS | _PRIVATE_KEYS},
        vector=_dense_of(vectors),
    )


def _as_list(vector: Sequence[float] | np.ndarray) -> list[float]:
    return np.asarray(vector, dtype=np.float32).tolist()


def _sort_newest(hits: list[Hit], newest_first: bool) -> list[Hit]:
    """Newest first, ties broken by id, so paging with offset/limit is stable."""
    if not newest_first:
        return hits
    return sorted(hits, key=lambda h: (h.created_at, h.id), reverse=True)


def _canonical(value: str) -> str:
    """The canonical spelling of a UUID, or "" when ``value`` is not one."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return ""


def _is_uuid(value: str) -> bool:
    return bool(_canonical(value))


def stored_shape(folder: Path) -> tuple[int, str] | None:
    """The embedding size and model name an embedded memory at ``folder`` was built with (its
    own record), or None when there is no memory there."""
    meta = _read_meta(Path(folder) / _META_FILE)
    try:
        dim = int(meta.get("dim", 0))
    except (TypeError, ValueError):
        return None
    return (dim, str(meta.get("embedding_model", ""))) if dim > 0 else None


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_meta(path: Path, dim: int, embedding_model: str) -> None:
    write_json_atomic(
        path, {"dim": dim, "embedding_model": embedding_model, "version": 1}, indent=None
    )


def _check_meta(meta: dict[str, Any], dim: int, embedding_model: str, where: Path | str) -> None:
    stored_model = str(meta.get("embedding_model", ""))
    stored_dim = int(meta.get("dim", dim))
    if stored_dim != dim or (embedding_model and stored_model and stored_model != embedding_model):
        raise EmbeddingMismatchError(
            f"The memory at {where} was built with the embedding model {stored_model or '?'} "
            f"({stored_dim}-d), but Tera is set to use {embedding_model or '?'} ({dim}-d).",
            f"Set the embedding model back to {stored_model}, or point TERA_HOME at a new folder.",
        )
