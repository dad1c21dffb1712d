"""The memory store: one ``MemoryStore`` protocol, two Qdrant backends.

- ``EdgeStore`` (the default): Qdrant's own engine embedded in-process (``qdrant-edge-py``), on
  disk in the data folder. Segments, HNSW, payload indexes and a write-ahead log; each update
  operation is all-or-nothing. It locks its folder, so one process at a time.
- ``ServerStore``: a Qdrant server through ``qdrant-client`` (URL + API key), for a memory shared
  between machines or too big for one. qdrant-client's in-process mode speaks the same API, which is
  how the tests run the same protocol tests against it.

Both share ``_QdrantStore``'s logic; each backend supplies the handful of primitive operations.

Replacing a document's chunks is crash-safe: the new chunks are written as ``pending`` under a new
generation id, one operation flips them to ``live``, another deletes the old generation. A small
journal in the data folder names the replacement in flight; on the next open it is rolled forward
(if the flip happened) or back (if not), so a killed process never leaves both versions or neither.
Searches and listings only ever see ``live`` chunks.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tera_desktop.core.errors import (
    DiskFullError,
    EmbeddingMismatchError,
    StoreError,
    StoreLockedError,
)
from tera_desktop.core.units import MB, format_mb

VECTOR_NAME = "dense"
SPARSE_NAME = "bm25"  # keyword search: BM25 term weights, IDF applied by the engine
MODES = ("dense", "keyword", "hybrid", "expanded")
_RRF_K = 60
# "expanded" search: pseudo-relevance feedback from the first hybrid search's top chunks
# (measured on msmarco-5k by bench/bench_retrieval.py; the grid and its spread are in the README)
FEEDBACK_DOCS = 5  # chunks the expansion is learned from
FEEDBACK_DENSE_WEIGHT = 1.0  # query vector + this x the (unit) centroid of their vectors
FEEDBACK_TERMS = 10  # keyword terms added to the query
FEEDBACK_TERM_WEIGHT = 0.6  # their weight, relative to the query's strongest term
FEEDBACK_TERM_MIN_DOCS = 2  # a term must appear in this many feedback chunks
# Reciprocal-rank fusion gives equal scores to mirrored ranks (dense 1 + keyword 3 = dense 3 +
# keyword 1); the engine then orders by point id, which is random. A fused search asks for this
# many more points and breaks ties by similarity to the question, so one question always ranks
# its memories the same way.
_TIE_MARGIN = 4
KIND_FACT = "fact"
KIND_DOCUMENT = "document"
LIVE = "live"
PENDING = "pending"
_UPSERT_BATCH = 512
_META_FILE = "tera-store.json"

_KEYWORD_FIELDS = ("kind", "source", "doc_id", "gen", "state", "content_hash", "senders")
_INTEGER_FIELDS = ("chunk_index",)
_DATETIME_FIELDS = ("created_at", "date_from", "date_to")


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
    ) -> list[Hit]: ...
    def senders(self) -> list[str]: ...
    def get(self, ids: Sequence[str]) -> list[Hit]: ...
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


def _hit(point_id: Any, score: float, payload: dict[str, Any] | None) -> Hit:
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
    )


_bm25: Any = None


def _bm25_model() -> Any:
    """Qdrant's own BM25 tokenizer (English stemming and stop words), loaded once."""
    global _bm25
    if _bm25 is None:
        import qdrant_edge as qe

        _bm25 = qe.Bm25()
    return _bm25


def bm25_document(text: str) -> tuple[list[int], list[float]]:
    """Sparse BM25 term weights of a stored text; the engine multiplies in the IDF at query
    time."""
    vec = _bm25_model().embed_document(text)
    return list(vec.indices), list(vec.values)


def bm25_query(text: str) -> tuple[list[int], list[float]]:
    vec = _bm25_model().embed_query(text)
    return list(vec.indices), list(vec.values)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    x = np.asarray(a, dtype=np.float32)
    y = np.asarray(b, dtype=np.float32)
    denom = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y) / denom if denom else 0.0


SparseQuery = tuple[list[int], list[float]]  # BM25 term ids and weights
Fused = tuple[Any, float, "dict[str, Any] | None", Any]  # id, fusion score, payload, vectors


def _dense_of(vectors: Any) -> list[float] | None:
    dense = vectors.get(VECTOR_NAME) if isinstance(vectors, dict) else None
    return list(dense) if dense else None


def expand_query(
    vector: Sequence[float],
    sparse: SparseQuery,
    feedback: Sequence[tuple[str, Sequence[float] | None]],
) -> tuple[list[float], SparseQuery]:
    """Rocchio-style query expansion from feedback chunks (text, dense vector), best first.

    Dense: the unit query vector plus ``FEEDBACK_DENSE_WEIGHT`` times the unit centroid of the
    chunks' vectors. Keyword: the query's BM25 terms (scaled so the strongest is 1) plus the
    ``FEEDBACK_TERMS`` terms with the highest mean BM25 weight over the chunks that appear in at
    least ``FEEDBACK_TERM_MIN_DOCS`` of them, weighted up to ``FEEDBACK_TERM_WEIGHT``. The engine
    multiplies in each term's IDF at search time, as for any keyword query."""
    q = np.asarray(vector, dtype=np.float32)
    q = q / (float(np.linalg.norm(q)) or 1.0)
    vecs = [np.asarray(v, dtype=np.float32) for _, v in feedback if v is not None and len(v)]
    if vecs:
        centroid = np.mean([v / (float(np.linalg.norm(v)) or 1.0) for v in vecs], axis=0)
        norm = float(np.linalg.norm(centroid))
        if norm:
            q = q + FEEDBACK_DENSE_WEIGHT * centroid / norm
            q = q / (float(np.linalg.norm(q)) or 1.0)
    indices, values = sparse
    top = max(values, default=0.0) or 1.0
    weights: dict[int, float] = {i: v / top for i, v in zip(indices, values, strict=True)}
    totals: dict[int, float] = {}
    docs: dict[int, int] = {}
    for text, _ in feedback:
        t_ids, t_vals = bm25_document(text)
        for i, v in zip(t_ids, t_vals, strict=True):
            totals[i] = totals.get(i, 0.0) + v
            docs[i] = docs.get(i, 0) + 1
    candidates = sorted(
        (
            (total / len(feedback), i)
            for i, total in totals.items()
            if i not in weights and docs[i] >= FEEDBACK_TERM_MIN_DOCS
        ),
        reverse=True,
    )[:FEEDBACK_TERMS]
    if candidates:
        best = candidates[0][0]
        for w, i in candidates:
            weights[i] = FEEDBACK_TERM_WEIGHT * w / best
    terms = sorted(weights)
    return q.tolist(), (terms, [weights[i] for i in terms])


def _fused_hit(
    point_id: Any, fused: float, payload: dict[str, Any] | None, vectors: Any, query: list[float]
) -> Hit:
    """A hybrid hit: scored by its cosine similarity (comparable with dense scores and the
    relevance threshold); the fusion score goes in ``extra``."""
    dense = _dense_of(vectors)
    hit = _hit(point_id, _cosine(dense, query) if dense else 0.0, payload)
    hit.extra["fused_score"] = float(fused)
    return hit


def _as_list(vector: Sequence[float] | np.ndarray) -> list[float]:
    return np.asarray(vector, dtype=np.float32).tolist()


class _Journal:
    """Replacements in flight, one JSON file written atomically (temp + fsync + rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def write(self, entries: dict[str, str]) -> None:
        if not entries:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(entries, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


class _QdrantStore:
    """Shared logic; subclasses implement the primitive ``_`` operations."""

    dim: int

    def __init__(self, dim: int, journal_path: Path) -> None:
        self.dim = dim
        self._journal = _Journal(journal_path)

    # ---- primitives (backend-specific) -----------------------------------------------------------
    def _upsert(self, points: list[tuple[str, list[float], dict[str, Any]]]) -> None:
        raise NotImplementedError

    def _query(
        self, vector: list[float], limit: int, where: Where, min_score: float | None
    ) -> list[Hit]:
        raise NotImplementedError

    def _query_keyword(self, text: str, limit: int, where: Where) -> list[Hit]:
        raise NotImplementedError

    def _fuse(
        self, vector: list[float], sparse: SparseQuery, limit: int, where: Where
    ) -> list[Fused]:
        """Dense and sparse searches fused by reciprocal rank, with each point's dense vector."""
        raise NotImplementedError

    # ---- searches built on the primitives --------------------------------------------------------
    def _fused(
        self, vector: list[float], sparse: SparseQuery, limit: int, where: Where, query: list[float]
    ) -> list[tuple[Hit, Fused]]:
        """``_fuse`` in a stable order: fusion score, then cosine similarity to ``query`` (the
        question itself), then id."""
        hits = [
            (_fused_hit(*f, query), f)
            for f in self._fuse(vector, sparse, limit + _TIE_MARGIN, where)
        ]
        hits.sort(key=lambda hf: (-float(hf[1][1]), -hf[0].score, hf[0].id))
        return hits[:limit]

    def _query_hybrid(self, vector: list[float], text: str, limit: int, where: Where) -> list[Hit]:
        return [h for h, _ in self._fused(vector, bm25_query(text), limit, where, vector)]

    def _query_expanded(
        self, vector: list[float], text: str, limit: int, where: Where
    ) -> list[Hit]:
        """Hybrid search, then hybrid search again with a query expanded from the first search's
        top chunks (pseudo-relevance feedback). Scores stay the cosine similarity to the
        question itself, so the relevance threshold means what it does in the other modes."""
        sparse = bm25_query(text)
        first = self._fused(vector, sparse, FEEDBACK_DOCS, where, vector)
        if len(first) < 2:  # nothing to learn from: that one chunk (or none) is all there is
            return [h for h, _ in first[:limit]]
        feedback = [(h.text, _dense_of(f[3])) for h, f in first]
        dense2, sparse2 = expand_query(vector, sparse, feedback)
        return [h for h, _ in self._fused(dense2, sparse2, limit, where, vector)]

    def _scroll(
        self, where: Where, limit: int | None = None, newest_first: bool = False
    ) -> list[Hit]:
        raise NotImplementedError

    def _retrieve(self, ids: list[str]) -> list[Hit]:
        raise NotImplementedError

    def _count(self, where: Where) -> int:
        raise NotImplementedError

    def _delete_ids(self, ids: list[str]) -> None:
        raise NotImplementedError

    def _delete_where(self, where: Where) -> None:
        raise NotImplementedError

    def _set_where(self, where: Where, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def optimize(self) -> None:
        """Build indexes after a bulk import (may take a while; run it in the background)."""

    def _check_space(self, need: int = 0) -> None:
        """Raise ``DiskFullError`` before a write the disk has no room for (embedded store)."""

    def close(self) -> None:
        raise NotImplementedError

    # ---- protocol --------------------------------------------------------------------------------
    def _check(self, chunks: Sequence[Chunk]) -> None:
        for c in chunks:
            if len(c.vector) != self.dim:
                raise StoreError(
                    f"Vector of length {len(c.vector)} does not fit this memory ({self.dim}-d)."
                )

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Add live chunks (facts, small documents) in one all-or-nothing batch."""
        self._check(chunks)
        gen = uuid.uuid4().hex
        self._upsert([(c.id, _as_list(c.vector), _payload(c, gen, LIVE)) for c in chunks])

    def replace_document(self, doc_id: str, chunks: Sequence[Chunk]) -> None:
        """Make ``chunks`` the document's only chunks, crash-safe (see the module docstring)."""
        self._check(chunks)
        self._check_space(sum(len(c.text) * 4 + len(c.vector) * 8 + 1024 for c in chunks))
        gen = uuid.uuid4().hex
        journal = self._journal.read()
        journal[doc_id] = gen
        try:
            self._journal.write(journal)
        except OSError as exc:
            if _is_disk_error(exc):
                raise DiskFullError(_disk_full_message(LOW_SPACE_BYTES)) from None
            raise StoreError(f"Could not write to the memory: {exc}", _disk_hint()) from None
        try:
            for start in range(0, len(chunks), _UPSERT_BATCH):
                batch = chunks[start : start + _UPSERT_BATCH]
                self._upsert([(c.id, _as_list(c.vector), _payload(c, gen, PENDING)) for c in batch])
            self._set_where(Where(must=(("doc_id", doc_id), ("gen", gen))), {"state": LIVE})
            self._delete_where(Where(must=(("doc_id", doc_id),), must_not=(("gen", gen),)))
        except StoreError:
            with contextlib.suppress(StoreError):  # settle it now; else the next open will
                self._settle(doc_id, gen)
                self._forget_journal(doc_id)
            raise
        self._forget_journal(doc_id)

    def _forget_journal(self, doc_id: str) -> None:
        journal = self._journal.read()
        journal.pop(doc_id, None)
        self._journal.write(journal)

    def _settle(self, doc_id: str, gen: str) -> None:
        """Roll a replacement forward if its flip happened, else back."""
        flipped = self._count(Where(must=(("doc_id", doc_id), ("gen", gen), ("state", LIVE))))
        if flipped:
            self._delete_where(Where(must=(("doc_id", doc_id),), must_not=(("gen", gen),)))
        else:
            self._delete_where(Where(must=(("doc_id", doc_id), ("gen", gen))))

    def recover(self) -> None:
        """Finish or undo replacements a killed process left in flight."""
        for doc_id, gen in self._journal.read().items():
            self._settle(doc_id, gen)
        self._sweep_pending()
        self._journal.write({})

    def _sweep_pending(self) -> None:
        """Drop pending chunks no journal names. Only safe where this process owns the store."""

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
    ) -> list[Hit]:
        """Top-k live chunks. ``mode``: "dense" (cosine similarity of ``vector``), "keyword"
        (BM25 on ``text``; scores are BM25), "hybrid" (both, fused by reciprocal rank; scores
        are the cosine similarity, ``extra["fused_score"]`` the RRF score) or "expanded" (hybrid,
        then hybrid again with the query expanded from the first top chunks by ``expand_query``;
        scores as in hybrid, against the original ``vector``). ``min_score`` applies
        to dense mode only. ``senders`` keeps chat chunks with a message from any of them;
        ``date_from``/``date_to`` (ISO 8601) keep chunks whose messages overlap that period."""
        if mode not in MODES:
            raise StoreError(f"Unknown search mode {mode!r}; use one of {', '.join(MODES)}.")
        if mode != "dense" and not (text and text.strip()):
            mode = "dense"
        if len(vector) != self.dim:
            raise StoreError(f"Query vector of length {len(vector)} does not fit this memory.")
        conds: list[Cond] = []
        if kind:
            conds.append(("kind", kind))
        if source:
            conds.append(("source", source))
        ranges: list[tuple[str, str | None, str | None]] = []
        if date_from:
            ranges.append(("date_to", date_from, None))
        if date_to:
            ranges.append(("date_from", None, date_to))
        base = _live(*conds)
        where = Where(
            must=base.must,
            any_of=(("senders", tuple(senders)),) if senders else (),
            ranges=tuple(ranges),
        )
        if mode == "keyword":
            return self._query_keyword(str(text), k, where)
        if mode == "hybrid":
            return self._query_hybrid(_as_list(vector), str(text), k, where)
        if mode == "expanded":
            return self._query_expanded(_as_list(vector), str(text), k, where)
        return self._query(_as_list(vector), k, where, min_score)

    def senders(self) -> list[str]:
        """Everyone who wrote a message in a stored chat (for filters), most active first."""
        return self._facet("senders", _live())

    def _facet(self, key: str, where: Where) -> list[str]:
        raise NotImplementedError

    def get(self, ids: Sequence[str]) -> list[Hit]:
        """The chunks with these ids, in the order asked; ids may be in any UUID spelling."""
        keys = [_canonical(i) for i in ids]
        found = {h.id: h for h in self._retrieve([k for k in keys if k])}
        return [found[k] for k in keys if k in found]

    def chunks_of(self, doc_id: str, first: int, last: int) -> list[Hit]:
        hits = [
            h for h in self._scroll(_live(("doc_id", doc_id))) if first <= h.chunk_index <= last
        ]
        return sorted(hits, key=lambda h: h.chunk_index)

    def delete_ids(self, ids: Sequence[str], *, scrub: bool = True) -> int:
        """Forget these chunks; with ``scrub``, their text is gone from every file on return."""
        present = [h.id for h in self._retrieve(list(ids))]
        if present:
            self._delete_ids(present)
            if scrub:
                self.scrub()
        return len(present)

    def delete_source(self, source: str, *, scrub: bool = True) -> int:
        """Forget every chunk of ``source``; with ``scrub``, gone from every file on return."""
        where = Where(must=(("source", source),))
        n = self._count(where)
        if n:
            self._delete_where(where)
            if scrub:
                self.scrub()
        return n

    def delete_all(self, *, scrub: bool = True) -> int:
        """Forget everything; with ``scrub``, gone from every file on return."""
        n = self._count(Where())
        if n:
            self._delete_where(Where())
            if scrub:
                self.scrub()
        return n

    def scrub(self) -> None:
        """Make deleted text unrecoverable from this store's files (see ``EdgeStore.scrub``). A
        Qdrant server keeps its own files: there, deleting is all Tera can do."""

    def count(self, kind: str | None = None) -> int:
        return self._count(_live(("kind", kind)) if kind else _live())

    def _doc_info(self, h: Hit) -> DocumentInfo:
        return DocumentInfo(
            doc_id=h.doc_id,
            source=h.source,
            title=str(h.extra.get("title") or Path(h.source).name),
            content_hash=str(h.extra.get("doc_hash", "")),
            chunks=int(h.extra.get("n_chunks", 1)),
            created_at=h.created_at,
        )

    def document(self, source: str) -> DocumentInfo | None:
        first = self._scroll(
            _live(("kind", KIND_DOCUMENT), ("source", source), ("chunk_index", 0)), limit=1
        )
        return self._doc_info(first[0]) if first else None

    def list_documents(self) -> list[DocumentInfo]:
        hits = self._scroll(_live(("kind", KIND_DOCUMENT), ("chunk_index", 0)), newest_first=True)
        return [self._doc_info(h) for h in hits]

    def list_facts(self, offset: int = 0, limit: int | None = None) -> list[FactInfo]:
        end = None if limit is None else offset + limit
        hits = self._scroll(_live(("kind", KIND_FACT)), limit=end, newest_first=True)
        return [
            FactInfo(h.id, h.text, h.created_at, str(h.extra.get("superseded_by") or ""))
            for h in hits[offset:end]
        ]

    def set_fact_fields(self, fact_id: str, fields: dict[str, Any]) -> None:
        """Set payload fields (never text or vectors) on one fact: e.g. ``superseded_by``."""
        self._set_where(Where(must=(("kind", KIND_FACT), ("doc_id", fact_id))), fields)

    def find_fact(self, content_hash: str) -> str | None:
        hits = self._scroll(_live(("kind", KIND_FACT), ("content_hash", content_hash)), limit=1)
        return hits[0].id if hits else None

    def __enter__(self) -> _QdrantStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sort_newest(hits: list[Hit], newest_first: bool) -> list[Hit]:
    """Newest first, ties broken by id, so paging with offset/limit is stable."""
    if not newest_first:
        return hits
    return sorted(hits, key=lambda h: (h.created_at, h.id), reverse=True)


# --------------------------------------------------------------------------------------------------
# Embedded default: Qdrant Edge
# --------------------------------------------------------------------------------------------------


class EdgeStore(_QdrantStore):
    """Qdrant's engine embedded in this process, on disk at ``folder``."""

    def __init__(
        self, folder: Path, dim: int, *, embedding_model: str = "", search_threads: int = 0
    ):
        import qdrant_edge as qe

        self._qe = qe
        self.folder = Path(folder)
        shard_dir = self.folder / "shard"
        meta_file = self.folder / _META_FILE
        super().__init__(dim, self.folder / "journal.json")
        self._closed = True
        self.read_only = ""  # why, when the memory was opened from a read-only copy
        self._copy: Path | None = None
        exists = (shard_dir / "wal").exists() or (shard_dir / "segments").exists()
        if not exists:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                if _is_disk_error(exc):
                    raise self._disk_error(exc) from None
                raise StoreError(f"Cannot create the memory at {self.folder}: {exc}") from None
        self._lock_fd = _lock_folder(self.folder)  # before anything here is touched
        try:
            _finish_scrub(self.folder)  # a scrub a killed process left half done
            meta = _read_meta(meta_file)
            if meta:
                _check_meta(meta, dim, embedding_model, self.folder)
            dense = {VECTOR_NAME: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)}
            config = qe.EdgeConfig(
                vectors=dense,
                sparse_vectors={SPARSE_NAME: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
                # measured (bench/bench_store.py): a 1M-chunk index builds in ~7 min, not ~30+
                hnsw_config=qe.HnswIndexConfig(m=16, ef_construct=64, full_scan_threshold=10_000),
                max_search_threads=search_threads or None,
            )
            self._config = config
            exists = (shard_dir / "wal").exists() or (shard_dir / "segments").exists()
            if exists and _free_bytes(self.folder) < LOW_SPACE_BYTES:
                # The engine writes into its memory-mapped files as it opens them; on a full disk
                # that is a crash (SIGBUS), not an error. Read a copy on another disk instead.
                self._open_read_only_copy(shard_dir, DISK_FULL_READING)
            else:
                self._open(shard_dir, meta_file, dense, embedding_model, search_threads, exists)
        except BaseException:
            self._release()
            raise
        self._closed = False
        if not self.read_only:
            self.recover()

    def _open(
        self,
        shard_dir: Path,
        meta_file: Path,
        dense: dict[str, Any],
        embedding_model: str,
        search_threads: int,
        exists: bool,
    ) -> None:
        qe = self._qe
        config = self._config
        try:
            if exists:
                try:
                    self._shard = qe.EdgeShard.load(str(shard_dir), config)
                except Exception as exc:
                    if "ncompatible" not in str(exc):
                        raise
                    # a memory from before keyword search: add the sparse vectors to it
                    self._shard = qe.EdgeShard.load(
                        str(shard_dir),
                        qe.EdgeConfig(vectors=dense, max_search_threads=search_threads or None),
                    )
                    self._shard.update(
                        qe.UpdateOperation.create_sparse_vector(
                            SPARSE_NAME, modifier=qe.Modifier.Idf
                        )
                    )
            else:
                self._check_space()
                self._shard = qe.EdgeShard.create(str(shard_dir), config)
                _write_meta(meta_file, dim=self.dim, embedding_model=embedding_model)
            self._ensure_indexes()
        except DiskFullError:
            raise
        except Exception as exc:  # the engine raises plain Exception with a message
            text = str(exc)
            if "WouldBlock" in text or "lock" in text.lower():
                raise StoreLockedError(
                    f"Tera's memory at {self.folder} is open in another Tera process.",
                    "Close the other Tera window or command and try again.",
                ) from None
            if exists and _is_disk_error(exc):
                with contextlib.suppress(Exception):
                    self._shard.close()
                reason = DISK_READ_ONLY if _is_read_only(exc) else DISK_FULL_READING
                self._open_read_only_copy(shard_dir, reason)
                return
            if _is_disk_error(exc):
                raise self._disk_error(exc) from None
            raise StoreError(f"Cannot open the memory at {self.folder}: {text}") from None

    def _open_read_only_copy(self, shard_dir: Path, reason: str) -> None:
        """Open a copy of the memory made on another disk (the temporary folder, else RAM):
        searching and listing work, every change raises ``DiskFullError`` with ``reason``."""
        self._copy = _read_only_copy(shard_dir, self.folder)
        try:
            self._shard = self._qe.EdgeShard.load(str(self._copy / "shard"), self._config)
        except Exception as exc:
            _remove_tree(self._copy)
            self._copy = None
            raise StoreError(f"Cannot open the memory at {self.folder}: {exc}") from None
        self.read_only = reason

    def _check_space(self, need: int = 0) -> None:
        """Raise ``DiskFullError`` before a write that the disk has no room for (the engine would
        crash in the middle of it) or when the memory was opened read-only."""
        if self.read_only:
            raise DiskFullError(self.read_only)
        free = _free_bytes(self.folder)
        if free < LOW_SPACE_BYTES + need:
            raise DiskFullError(_disk_full_message(LOW_SPACE_BYTES + need - free))

    def _disk_error(self, exc: BaseException) -> DiskFullError:
        if _is_read_only(exc):
            return DiskFullError(DISK_READ_ONLY)
        return DiskFullError(_disk_full_message(LOW_SPACE_BYTES))

    def _release(self) -> None:
        if self._copy is not None:
            with contextlib.suppress(OSError):
                _remove_tree(self._copy)
            self._copy = None
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def _filter(self, where: Where) -> Any:
        qe = self._qe
        if where.empty:
            return None

        def cond(key: str, value: Any) -> Any:
            return qe.FieldCondition(key, match=qe.MatchValue(value))

        must = [cond(k, v) for k, v in where.must]
        must += [qe.FieldCondition(k, match=qe.MatchAny(list(vs))) for k, vs in where.any_of]
        must += [
            qe.FieldCondition(k, range=qe.RangeDateTime(gte=lo, lte=hi))
            for k, lo, hi in where.ranges
        ]
        return qe.Filter(
            must=must or None,
            must_not=[cond(k, v) for k, v in where.must_not] or None,
        )

    def _facet(self, key: str, where: Where) -> list[str]:
        qe = self._qe
        response = self._shard.facet(
            qe.FacetRequest(key, limit=10_000, exact=True, filter=self._filter(where))
        )
        return [str(hit.value) for hit in response.hits]

    def _upsert(self, points: list[tuple[str, list[float], dict[str, Any]]]) -> None:
        qe = self._qe
        if not points:
            return
        structs = []
        for pid, vec, payload in points:
            indices, values = bm25_document(str(payload.get("text", "")))
            vectors = {VECTOR_NAME: vec, SPARSE_NAME: qe.SparseVector(indices, values)}
            structs.append(qe.Point(pid, vectors, payload))
        # room for the write-ahead log, the payload pages and the vectors, with a margin
        size = sum(len(str(p.get("text", ""))) * 4 + len(v) * 8 + 1024 for _, v, p in points)
        self._update(qe.UpdateOperation.upsert_points(structs), size)

    def _update(self, op: Any, size: int = 0) -> None:
        self._check_space(size)
        try:
            self._shard.update(op)
        except Exception as exc:
            if _is_disk_error(exc):
                raise self._disk_error(exc) from None
            raise StoreError(f"Could not write to the memory: {exc}", _disk_hint()) from None

    def _query(
        self, vector: list[float], limit: int, where: Where, min_score: float | None
    ) -> list[Hit]:
        qe = self._qe
        req = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(vector, using=VECTOR_NAME),
            filter=self._filter(where),
            with_payload=True,
            score_threshold=min_score,
            params=self._search_params(limit),
        )
        return [_hit(p.id, p.score, p.payload) for p in self._shard.query(req)]

    def _search_params(self, limit: int) -> Any:
        # a wider HNSW search: recall@10 at 1M chunks 0.81 → 0.93 for ~2 ms (bench_store)
        return self._qe.SearchParams(hnsw_ef=max(256, limit))

    def _query_keyword(self, text: str, limit: int, where: Where) -> list[Hit]:
        qe = self._qe
        indices, values = bm25_query(text)
        if not indices:
            return []
        req = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(qe.SparseVector(indices, values), using=SPARSE_NAME),
            filter=self._filter(where),
            with_payload=True,
        )
        return [_hit(p.id, p.score, p.payload) for p in self._shard.query(req)]

    def _fuse(
        self, vector: list[float], sparse: SparseQuery, limit: int, where: Where
    ) -> list[Fused]:
        qe = self._qe
        f = self._filter(where)
        indices, values = sparse
        depth = max(limit * 4, 20)
        prefetches = [
            qe.Prefetch(
                limit=depth,
                query=qe.Query.Nearest(vector, using=VECTOR_NAME),
                filter=f,
                params=self._search_params(depth),
            )
        ]
        if indices:
            sparse = qe.SparseVector(indices, values)
            prefetches.append(
                qe.Prefetch(
                    limit=depth, query=qe.Query.Nearest(sparse, using=SPARSE_NAME), filter=f
                )
            )
        req = qe.QueryRequest(
            limit=limit,
            prefetches=prefetches,
            query=qe.Fusion.Rrf(k=_RRF_K),
            with_payload=True,
            with_vector=[VECTOR_NAME],
        )
        return [(p.id, p.score, p.payload, p.vector) for p in self._shard.query(req)]

    def _scroll(
        self, where: Where, limit: int | None = None, newest_first: bool = False
    ) -> list[Hit]:
        qe = self._qe
        out: list[Hit] = []
        if newest_first:  # the engine's order_by breaks ties unstably across pages: sort here
            return _sort_newest(self._scroll(where), True)[:limit]
        offset: Any = None
        while True:
            page = 1000 if limit is None else min(1000, limit - len(out))
            records, offset = self._shard.scroll(
                qe.ScrollRequest(
                    offset=offset, limit=page, filter=self._filter(where), with_payload=True
                )
            )
            out.extend(_hit(r.id, 0.0, r.payload) for r in records)
            if offset is None or (limit is not None and len(out) >= limit):
                return out

    def _retrieve(self, ids: list[str]) -> list[Hit]:
        valid = [i for i in ids if _is_uuid(i)]
        if not valid:
            return []
        return [
            _hit(r.id, 0.0, r.payload)
            for r in self._shard.retrieve(list[Any](valid), with_payload=True, with_vector=False)
        ]

    def _count(self, where: Where) -> int:
        return int(self._shard.count(self._qe.CountRequest(exact=True, filter=self._filter(where))))

    def _delete_ids(self, ids: list[str]) -> None:
        self._update(self._qe.UpdateOperation.delete_points(list[Any](ids)))

    def _delete_where(self, where: Where) -> None:
        f = self._filter(where)
        if f is None:  # delete everything: a filter that matches every point
            f = self._qe.Filter(must_not=[self._qe.IsEmptyCondition("kind")])
        self._update(self._qe.UpdateOperation.delete_points_by_filter(f))

    def _set_where(self, where: Where, payload: dict[str, Any]) -> None:
        self._update(self._qe.UpdateOperation.set_payload_by_filter(self._filter(where), payload))

    def _ensure_indexes(self, shard: Any = None) -> None:
        """Create the payload indexes this version uses (memories from older versions gain the
        ones they lack)."""
        qe = self._qe
        shard = shard if shard is not None else self._shard
        have = set(shard.info().payload_schema)
        cold = qe.Memory.Cold
        # Only `kind` gets extra HNSW links (filtered search by kind keeps its recall); links
        # for every field made building the index 6x slower (bench/bench_store.py).
        wanted: list[tuple[str, Any]] = [
            *(
                (n, qe.KeywordIndexParams(enable_hnsw=n == "kind", memory=cold))
                for n in _KEYWORD_FIELDS
            ),
            *(
                (n, qe.IntegerIndexParams(lookup=True, range=False, enable_hnsw=False, memory=cold))
                for n in _INTEGER_FIELDS
            ),
            *(
                (n, qe.DatetimeIndexParams(enable_hnsw=False, memory=cold))
                for n in _DATETIME_FIELDS
            ),
        ]
        missing = [(n, t) for n, t in wanted if n not in have]
        for name, kind in missing:
            shard.update(qe.UpdateOperation.create_field_index(name, kind))
        if missing:
            shard.flush()

    def _sweep_pending(self) -> None:
        # The engine's folder is locked to this process: pending chunks are ours, left by a crash.
        # Counted first: opening the memory writes nothing when there is nothing to clean up (a
        # full disk must not stop reading it).
        pending = Where(must=(("state", PENDING),))
        if self._count(pending):
            self._delete_where(pending)

    def optimize(self) -> None:
        self._shard.optimize()

    def flush(self) -> None:
        self._shard.flush()

    def scrub(self) -> None:
        """Rewrite the memory so that no deleted text is left in any of its files.

        The engine only marks deleted points: their text stays in the write-ahead log and in the
        segments' payload pages until they happen to be overwritten. So the live points are copied
        into a fresh shard next to this one (``shard.new``), which then replaces it, and the old
        files are deleted. Crash-safe: a marker file written once the copy is complete says
        whether a restart finishes the swap or throws the copy away (``_finish_scrub``). Costs
        one copy of the memory: time linear in its size (``bench/chaos.py --scrub-cost``), and
        disk space for a second copy while it runs."""
        qe = self._qe
        shard_dir = self.folder / "shard"
        new_dir = self.folder / _SCRUB_NEW
        _remove_tree(new_dir)
        self._check_space(_allocated_bytes(shard_dir))  # room for a second copy
        try:
            new = qe.EdgeShard.create(str(new_dir), self._config)
        except Exception as exc:
            _remove_tree(new_dir)
            if _is_disk_error(exc):
                raise self._disk_error(exc) from None
            raise StoreError(f"Could not rewrite the memory: {exc}", _disk_hint()) from None
        try:
            self._ensure_indexes(new)
            offset: Any = None
            while True:
                records, offset = self._shard.scroll(
                    qe.ScrollRequest(offset=offset, limit=512, with_payload=True, with_vector=True)
                )
                if records:
                    points = [qe.Point(r.id, r.vector or {}, r.payload) for r in records]
                    new.update(qe.UpdateOperation.upsert_points(points))
                if offset is None:
                    break
            new.flush()
        except Exception as exc:
            with contextlib.suppress(Exception):
                new.close()
            _remove_tree(new_dir)
            if _is_disk_error(exc):
                raise self._disk_error(exc) from None
            raise StoreError(f"Could not rewrite the memory: {exc}", _disk_hint()) from None
        new.close()
        self._shard.flush()
        self._shard.close()
        try:
            _write_scrub_marker(self.folder)
            _finish_scrub(self.folder)
        finally:
            self._shard = qe.EdgeShard.load(str(shard_dir), self._config)

    def close(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            if not self.read_only:
                with contextlib.suppress(Exception):
                    self._shard.flush()
            self._shard.close()
            self._release()


_SCRUB_NEW = "shard.new"
_SCRUB_OLD = "shard.old"
_SCRUB_MARKER = "scrub-ready"
_LOCK_FILE = "store.lock"

LOW_SPACE_BYTES = 64 * MB
"""Free space the embedded engine needs to write safely: it grows memory-mapped files (32 MB
log segments, payload pages) as it writes, and a write into one on a full disk is a crash
(SIGBUS), not an error. Below this, writes are refused up front and the memory is read from a
copy (``EdgeStore.read_only``)."""
DISK_FULL_READING = (
    "The disk holding your memory is full: Tera can search it but not change it. "
    f"Free {format_mb(LOW_SPACE_BYTES)} and try again."
)
DISK_READ_ONLY = (
    "The disk holding your memory is read-only: Tera can search it but not change it. "
    "Make the data folder writable and try again."
)


def _disk_full_message(short_by: int) -> str:
    return (
        f"The disk holding your memory is full: free {format_mb(max(short_by, MB))} and try again."
    )


def _free_bytes(folder: Path) -> int:
    path = folder
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0


def _allocated_bytes(folder: Path) -> int:
    """Disk blocks actually used under ``folder`` (its big files are sparse)."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(dirpath, name))
                total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total


def _is_disk_error(exc: BaseException) -> bool:
    text = str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
        return True
    return any(
        s in text
        for s in (
            "No space left",
            "os error 28",
            "Read-only file system",
            "os error 30",
            "Disk quota exceeded",
            "os error 122",
        )
    )


def _is_read_only(exc: BaseException) -> bool:
    text = str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.EROFS:
        return True
    return "Read-only file system" in text or "os error 30" in text


def _lock_folder(folder: Path) -> int | None:
    """Hold a lock on the memory's folder for as long as this process has it open (finishing a
    scrub, or swapping shards, must never happen under another process's feet). Raises
    ``StoreLockedError`` when another Tera process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows: the engine's own lock is the only one
        return None
    try:
        fd = os.open(folder / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        try:  # a read-only folder: lock the folder itself
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StoreLockedError(
            f"Tera's memory at {folder} is open in another Tera process.",
            "Close the other Tera window or command and try again.",
        ) from None
    return fd


def _read_only_copy(shard_dir: Path, folder: Path) -> Path:
    """A copy of ``shard_dir`` on another file system with room for it (the temporary folder,
    else /dev/shm), holes kept; ``DiskFullError`` when there is none."""
    import tempfile

    need = _allocated_bytes(shard_dir) + LOW_SPACE_BYTES
    try:
        home_dev = os.stat(shard_dir).st_dev
    except OSError:
        home_dev = -1
    for base in (tempfile.gettempdir(), "/dev/shm"):
        try:
            if os.stat(base).st_dev == home_dev or shutil.disk_usage(base).free < need:
                continue
            target = Path(tempfile.mkdtemp(prefix="tera-read-only-", dir=base))
        except OSError:
            continue
        try:
            _sparse_copytree(shard_dir, target / "shard")
        except OSError:
            _remove_tree(target)
            continue
        return target
    raise DiskFullError(_disk_full_message(LOW_SPACE_BYTES))


def _sparse_copytree(src: Path, dst: Path) -> None:
    for dirpath, _dirs, files in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            _sparse_copy(Path(dirpath, name), dst / rel / name)


def _sparse_copy(src: Path, dst: Path) -> None:
    """Copy a file's data regions only (a 32 MB log segment holding 1 KB copies 1 KB)."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        size = os.fstat(fin.fileno()).st_size
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fin.fileno(), pos, os.SEEK_DATA)
                end = os.lseek(fin.fileno(), start, os.SEEK_HOLE)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # only a hole is left
                    break
                start, end = pos, size  # no SEEK_DATA here: copy everything
            fin.seek(start)
            fout.seek(start)
            left = end - start
            while left > 0:
                block = fin.read(min(left, MB))
                if not block:
                    break
                fout.write(block)
                left -= len(block)
            pos = end
        fout.truncate(size)


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_scrub_marker(folder: Path) -> None:
    """Say, durably, that ``shard.new`` is a complete copy: from here on, the swap is finished
    even after a crash."""
    _fsync_dir(folder / _SCRUB_NEW)
    with open(folder / _SCRUB_MARKER, "w", encoding="utf-8") as fh:
        fh.write("shard.new is complete\n")
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(folder)


def _finish_scrub(folder: Path) -> None:
    """Finish (marker present) or undo (no marker) a scrub: afterwards ``shard`` is the one copy,
    and neither ``shard.new`` nor ``shard.old`` (which holds the forgotten text) is left."""
    shard, new, old = folder / "shard", folder / _SCRUB_NEW, folder / _SCRUB_OLD
    marker = folder / _SCRUB_MARKER
    if marker.exists():
        if new.exists():
            if shard.exists():
                _remove_tree(old)
                os.replace(shard, old)
            os.replace(new, shard)
            _fsync_dir(folder)
        _remove_tree(old)
        marker.unlink()
        _fsync_dir(folder)
    else:
        _remove_tree(new)
        _remove_tree(old)


def _canonical(value: str) -> str:
    """The canonical spelling of a UUID, or "" when ``value`` is not one."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return ""


def _is_uuid(value: str) -> bool:
    return bool(_canonical(value))


def _disk_hint() -> str:
    return "Check that the disk is not full and the data folder is writable."


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
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"dim": dim, "embedding_model": embedding_model, "version": 1}))
    os.replace(tmp, path)


def _check_meta(meta: dict[str, Any], dim: int, embedding_model: str, where: Path | str) -> None:
    stored_model = str(meta.get("embedding_model", ""))
    stored_dim = int(meta.get("dim", dim))
    if stored_dim != dim or (embedding_model and stored_model and stored_model != embedding_model):
        raise EmbeddingMismatchError(
            f"The memory at {where} was built with the embedding model {stored_model or '?'} "
            f"({stored_dim}-d), but Tera is set to use {embedding_model or '?'} ({dim}-d).",
            f"Set the embedding model back to {stored_model}, or point TERA_HOME at a new folder.",
        )


# --------------------------------------------------------------------------------------------------
# Qdrant server (or qdrant-client's in-process mode, which speaks the same API)
# --------------------------------------------------------------------------------------------------


class ServerStore(_QdrantStore):
    """A collection on a Qdrant server. ``location=":memory:"`` or ``path=`` runs qdrant-client's
    in-process mode instead (tests; no server can be installed on the build machines)."""

    def __init__(
        self,
        dim: int,
        *,
        url: str | None = None,
        api_key: str | None = None,
        location: str | None = None,
        path: str | None = None,
        collection: str = "tera",
        embedding_model: str = "",
        journal_path: Path,
        timeout: int = 30,
    ) -> None:
        super().__init__(dim, journal_path)
        from qdrant_client import QdrantClient, models

        self._m = models
        self.collection = collection
        target = url or location or path or "?"
        try:
            if url:
                self._client = QdrantClient(url=url, api_key=api_key or None, timeout=timeout)
            elif path:
                self._client = QdrantClient(path=path)
            else:
                self._client = QdrantClient(location=location or ":memory:")
            if not self._client.collection_exists(collection):
                self._client.create_collection(
                    collection,
                    vectors_config={
                        VECTOR_NAME: models.VectorParams(size=dim, distance=models.Distance.COSINE)
                    },
                    sparse_vectors_config={
                        SPARSE_NAME: models.SparseVectorParams(modifier=models.Modifier.IDF)
                    },
                    metadata={"dim": dim, "embedding_model": embedding_model},
                )
                schema = models.PayloadSchemaType
                for name in _KEYWORD_FIELDS:
                    self._client.create_payload_index(collection, name, schema.KEYWORD)
                for name in _INTEGER_FIELDS:
                    self._client.create_payload_index(collection, name, schema.INTEGER)
                for name in _DATETIME_FIELDS:
                    self._client.create_payload_index(collection, name, schema.DATETIME)
            else:
                info = self._client.get_collection(collection)
                vectors = info.config.params.vectors
                size = vectors[VECTOR_NAME].size if isinstance(vectors, dict) else None
                meta = dict(info.config.metadata or {})
                meta.setdefault("dim", size or dim)
                _check_meta(meta, dim, embedding_model, f"{target} (collection {collection})")
                have = set(info.payload_schema or {})
                schema = models.PayloadSchemaType
                for names, kind in (
                    (_KEYWORD_FIELDS, schema.KEYWORD),
                    (_INTEGER_FIELDS, schema.INTEGER),
                    (_DATETIME_FIELDS, schema.DATETIME),
                ):
                    for name in names:
                        if name not in have:  # a collection made by an older Tera
                            self._client.create_payload_index(collection, name, kind)
        except StoreError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise StoreError(
                f"Cannot reach the Qdrant server at {target}: {exc}",
                "Check the URL and API key in Settings, or clear the URL to use the local memory.",
            ) from None
        try:
            self.recover()
        except StoreError:
            self.close()
            raise

    def _filter(self, where: Where) -> Any:
        m = self._m
        if where.empty:
            return None

        def cond(key: str, value: Any) -> Any:
            return m.FieldCondition(key=key, match=m.MatchValue(value=value))

        must = [cond(k, v) for k, v in where.must]
        must += [m.FieldCondition(key=k, match=m.MatchAny(any=list(vs))) for k, vs in where.any_of]
        must += [
            m.FieldCondition(key=k, range=m.DatetimeRange(gte=lo, lte=hi))
            for k, lo, hi in where.ranges
        ]
        return m.Filter(
            must=must or None,
            must_not=[cond(k, v) for k, v in where.must_not] or None,
        )

    def _facet(self, key: str, where: Where) -> list[str]:
        res = self._call(
            self._client.facet,
            self.collection,
            key=key,
            facet_filter=self._filter(where),
            limit=10_000,
            exact=True,
        )
        return [str(hit.value) for hit in res.hits]

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"The Qdrant server failed: {exc}") from None

    def _upsert(self, points: list[tuple[str, list[float], dict[str, Any]]]) -> None:
        m = self._m
        if points:
            structs = []
            for i, v, p in points:
                indices, values = bm25_document(str(p.get("text", "")))
                sparse = m.SparseVector(indices=indices, values=values)
                structs.append(
                    m.PointStruct(id=i, vector={VECTOR_NAME: v, SPARSE_NAME: sparse}, payload=p)
                )
            self._call(self._client.upsert, self.collection, structs, wait=True)

    def _query(
        self, vector: list[float], limit: int, where: Where, min_score: float | None
    ) -> list[Hit]:
        res = self._call(
            self._client.query_points,
            self.collection,
            query=vector,
            using=VECTOR_NAME,
            query_filter=self._filter(where),
            limit=limit,
            with_payload=True,
            score_threshold=min_score,
        )
        return [_hit(p.id, p.score, p.payload) for p in res.points]

    def _query_keyword(self, text: str, limit: int, where: Where) -> list[Hit]:
        m = self._m
        indices, values = bm25_query(text)
        if not indices:
            return []
        res = self._call(
            self._client.query_points,
            self.collection,
            query=m.SparseVector(indices=indices, values=values),
            using=SPARSE_NAME,
            query_filter=self._filter(where),
            limit=limit,
            with_payload=True,
        )
        return [_hit(p.id, p.score, p.payload) for p in res.points]

    def _fuse(
        self, vector: list[float], sparse: SparseQuery, limit: int, where: Where
    ) -> list[Fused]:
        m = self._m
        f = self._filter(where)
        indices, values = sparse
        depth = max(limit * 4, 20)
        prefetch = [m.Prefetch(query=vector, using=VECTOR_NAME, filter=f, limit=depth)]
        if indices:
            prefetch.append(
                m.Prefetch(
                    query=m.SparseVector(indices=indices, values=values),
                    using=SPARSE_NAME,
                    filter=f,
                    limit=depth,
                )
            )
        res = self._call(
            self._client.query_points,
            self.collection,
            prefetch=prefetch,
            query=m.FusionQuery(fusion=m.Fusion.RRF),
            limit=limit,
            with_payload=True,
            with_vectors=[VECTOR_NAME],
        )
        return [(p.id, p.score, p.payload, p.vector) for p in res.points]

    def _scroll(
        self, where: Where, limit: int | None = None, newest_first: bool = False
    ) -> list[Hit]:
        out: list[Hit] = []
        offset: Any = None
        want = None if newest_first else limit  # the in-process mode cannot order_by: sort here
        while True:
            page = 1000 if want is None else min(1000, want - len(out))
            records, offset = self._call(
                self._client.scroll,
                self.collection,
                scroll_filter=self._filter(where),
                limit=page,
                offset=offset,
                with_payload=True,
            )
            out.extend(_hit(r.id, 0.0, r.payload) for r in records)
            if offset is None or (want is not None and len(out) >= want):
                break
        out = _sort_newest(out, newest_first)
        return out[:limit] if limit is not None else out

    def _retrieve(self, ids: list[str]) -> list[Hit]:
        valid = [i for i in ids if _is_uuid(i)]
        if not valid:
            return []
        recs = self._call(self._client.retrieve, self.collection, valid, with_payload=True)
        return [_hit(r.id, 0.0, r.payload) for r in recs]

    def _count(self, where: Where) -> int:
        res = self._call(
            self._client.count, self.collection, count_filter=self._filter(where), exact=True
        )
        return int(res.count)

    def _delete_ids(self, ids: list[str]) -> None:
        m = self._m
        self._call(
            self._client.delete, self.collection, m.PointIdsList(points=list(ids)), wait=True
        )

    def _delete_where(self, where: Where) -> None:
        m = self._m
        f = self._filter(where) or m.Filter(
            must_not=[m.IsEmptyCondition(is_empty=m.PayloadField(key="kind"))]
        )
        self._call(self._client.delete, self.collection, m.FilterSelector(filter=f), wait=True)

    def _set_where(self, where: Where, payload: dict[str, Any]) -> None:
        self._call(
            self._client.set_payload,
            self.collection,
            payload,
            points=self._filter(where),
            wait=True,
        )

    def close(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()


def open_store(
    *,
    folder: Path,
    dim: int,
    embedding_model: str,
    qdrant_url: str = "",
    qdrant_api_key: str = "",
    collection: str = "tera",
) -> _QdrantStore:
    """The store the settings ask for: a Qdrant server if a URL is set, else the embedded engine."""
    if qdrant_url:
        return ServerStore(
            dim,
            url=qdrant_url,
            api_key=qdrant_api_key,
            collection=collection,
            embedding_model=embedding_model,
            journal_path=folder / "server-journal.json",
        )
    return EdgeStore(folder, dim, embedding_model=embedding_model)
