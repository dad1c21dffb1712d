"""The logic both Qdrant backends share (``EdgeStore``, ``ServerStore``): each backend supplies
the handful of primitive operations.

Replacing a document's chunks is crash-safe: the new chunks are written as ``pending`` under a new
generation id, one operation flips them to ``live``, another deletes the old generation. A small
journal in the data folder names the replacement in flight; on the next open it is rolled forward
(if the flip happened) or back (if not), so a killed process never leaves both versions or neither.
Searches and listings only ever see ``live`` chunks.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tera_desktop.core.errors import DiskFullError, StoreError
from tera_desktop.core.store.base import (
    _UPSERT_BATCH,
    KIND_DOCUMENT,
    KIND_FACT,
    LIVE,
    PENDING,
    SEARCH_MODES,
    Chunk,
    Cond,
    DocumentInfo,
    FactInfo,
    Hit,
    SparseQuery,
    Where,
    _as_list,
    _canonical,
    _live,
    _payload,
)
from tera_desktop.core.store.journal import _Journal
from tera_desktop.core.store.keyword import bm25_query
from tera_desktop.core.store.scrub import (
    LOW_SPACE_BYTES,
    _disk_full_message,
    _disk_hint,
    _is_disk_error,
)


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
        self,
        vector: list[float],
        limit: int,
        where: Where,
        min_score: float | None,
        with_payload: bool = True,
    ) -> list[Hit]:
        raise NotImplementedError

    def _query_keyword(
        self, sparse: SparseQuery, limit: int, where: Where, with_payload: bool = True
    ) -> list[Hit]:
        """BM25 search with these term weights (``keyword.bm25_query``); the engine applies IDF."""
        raise NotImplementedError

    def _scroll(
        self, where: Where, limit: int | None = None, newest_first: bool = False
    ) -> list[Hit]:
        raise NotImplementedError

    def _retrieve(self, ids: list[str], with_vectors: bool = False) -> list[Hit]:
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
        sparse: SparseQuery | None = None,
        with_payload: bool = True,
    ) -> list[Hit]:
        """Top-k live chunks: the search primitives (fusion and query expansion are built on
        them in ``core/fusion.py``). ``mode``: "dense" (cosine similarity of ``vector``;
        ``min_score`` applies) or "keyword" (BM25 on ``text``, or on the term weights ``sparse``
        when given; scores are BM25; without any word it is a dense search). ``senders`` keeps
        chat chunks with a message from any of them; ``date_from``/``date_to`` (ISO 8601) keep
        chunks whose messages overlap that period. ``with_payload=False``: hits carry only their id
        and score (a ranking to fuse; ``get`` fetches the chosen ones)."""
        if mode not in SEARCH_MODES:
            raise StoreError(f"Unknown search mode {mode!r}; use one of {', '.join(SEARCH_MODES)}.")
        if len(vector) != self.dim:
            raise StoreError(f"Query vector of length {len(vector)} does not fit this memory.")
        if mode == "keyword" and sparse is None:
            if not (text and text.strip()):
                mode = "dense"
            else:
                sparse = bm25_query(text)
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
        if mode == "keyword" and sparse is not None:
            if not sparse[0]:
                return []
            return self._query_keyword(sparse, k, where, with_payload)
        return self._query(_as_list(vector), k, where, min_score, with_payload)

    def senders(self) -> list[str]:
        """Everyone who wrote a message in a stored chat (for filters), most active first."""
        return self._facet("senders", _live())

    def _facet(self, key: str, where: Where) -> list[str]:
        raise NotImplementedError

    def get(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Hit]:
        """The chunks with these ids, in the order asked; ids may be in any UUID spelling.
        ``with_vectors``: each carries its dense vector (``Hit.vector``)."""
        keys = [_canonical(i) for i in ids]
        found = {h.id: h for h in self._retrieve([k for k in keys if k], with_vectors)}
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
