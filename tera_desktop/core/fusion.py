"""Fusion and query expansion: the retrieval pipeline's searches built on the store's primitives
(``MemoryStore.search`` in "dense" and "keyword" mode), independent of the engine behind it.

- "hybrid": a dense and a keyword (BM25) search, fused by reciprocal rank (RRF);
- "expanded": hybrid, then hybrid again with the query expanded from the first search's top chunks
  (pseudo-relevance feedback, ``expand_query``).

A fused hit's ``score`` is its cosine similarity to the question (comparable with dense scores and
the relevance threshold); its RRF score is in ``extra["fused_score"]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from tera_desktop.core.errors import StoreError
from tera_desktop.core.store import Hit, MemoryStore, SparseQuery, bm25_document, bm25_query

MODES = ("dense", "keyword", "hybrid", "expanded")
RRF_K = 60  # score of rank r (0 = first) in one ranking: 1 / (RRF_K + r), as Qdrant computes it
# "expanded" search: pseudo-relevance feedback from the first hybrid search's top chunks
# (measured on msmarco-5k by bench/bench_retrieval.py; the grid and its spread are in the README)
FEEDBACK_DOCS = 5  # chunks the expansion is learned from
FEEDBACK_DENSE_WEIGHT = 1.0  # query vector + this x the (unit) centroid of their vectors
FEEDBACK_TERMS = 10  # keyword terms added to the query
FEEDBACK_TERM_WEIGHT = 0.6  # their weight, relative to the query's strongest term
FEEDBACK_TERM_MIN_DOCS = 2  # a term must appear in this many feedback chunks
# Reciprocal-rank fusion gives equal scores to mirrored ranks (dense 1 + keyword 3 = dense 3 +
# keyword 1). A fused search ranks this many more points and breaks ties by similarity to the
# question, then by id, so one question always ranks its memories the same way.
TIE_MARGIN = 4


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    x = np.asarray(a, dtype=np.float32)
    y = np.asarray(b, dtype=np.float32)
    denom = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y) / denom if denom else 0.0


def _as_list(vector: Sequence[float] | np.ndarray) -> list[float]:
    return np.asarray(vector, dtype=np.float32).tolist()


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


def rrf(rankings: Sequence[Sequence[Hit]], k: int = RRF_K) -> list[tuple[Hit, float]]:
    """Reciprocal-rank fusion: each hit's summed 1 / (k + rank) over the rankings (rank 0 =
    first), in float32: exactly the scores of Qdrant's own RRF (``Fusion.Rrf(k)``), which the
    store used before fusion moved here. The first ranking's copy of a hit is kept. Unordered."""
    scores: dict[str, np.float32] = {}
    hits: dict[str, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking):
            part = np.float32(1.0) / np.float32(k + rank)
            scores[hit.id] = scores.get(hit.id, np.float32(0.0)) + part
            hits.setdefault(hit.id, hit)
    return [(hits[i], float(s)) for i, s in scores.items()]


def fused(
    store: MemoryStore,
    vector: list[float],
    sparse: SparseQuery,
    limit: int,
    query: list[float],
    **filters: Any,
) -> list[Hit]:
    """The dense search of ``vector`` and the keyword search of ``sparse``, fused by RRF, in a
    stable order: fusion score, then cosine similarity to ``query`` (the question itself), then
    id. Each hit's score is that cosine; it keeps its dense vector (``Hit.vector``)."""
    depth = max((limit + TIE_MARGIN) * 4, 20)
    rankings = [store.search(vector, depth, mode="dense", with_payload=False, **filters)]
    if sparse[0]:
        rankings.append(
            store.search(
                vector, depth, mode="keyword", sparse=sparse, with_payload=False, **filters
            )
        )
    ranked = sorted(rrf(rankings), key=lambda hs: -hs[1])
    if not ranked:
        return []
    # only the top `limit` and whatever ties with the last of them can end up in the answer:
    # they are all that is fetched (text, payload, and the vector for the cosine tie-break)
    floor = ranked[min(limit, len(ranked)) - 1][1]
    scores = {hit.id: score for hit, score in ranked if score >= floor}
    out = []
    for hit in store.get(list(scores), with_vectors=True):
        cosine = _cosine(hit.vector, query) if hit.vector else 0.0
        extra = {**hit.extra, "fused_score": scores[hit.id]}
        out.append(dataclasses.replace(hit, score=cosine, extra=extra))
    out.sort(key=lambda h: (-h.extra["fused_score"], -h.score, h.id))
    return out[:limit]


def _plain(hits: list[Hit]) -> list[Hit]:
    """Hits without their vectors (they are only needed inside a fused search)."""
    return [dataclasses.replace(h, vector=None) for h in hits]


def hybrid(
    store: MemoryStore, vector: list[float], text: str, limit: int, **filters: Any
) -> list[Hit]:
    return _plain(fused(store, vector, bm25_query(text), limit, vector, **filters))


def expanded(
    store: MemoryStore, vector: list[float], text: str, limit: int, **filters: Any
) -> list[Hit]:
    """Hybrid search, then hybrid search again with a query expanded from the first search's
    top chunks (pseudo-relevance feedback). Scores stay the cosine similarity to the question
    itself, so the relevance threshold means what it does in the other modes."""
    sparse = bm25_query(text)
    first = fused(store, vector, sparse, FEEDBACK_DOCS, vector, **filters)
    if len(first) < 2:  # nothing to learn from: that one chunk (or none) is all there is
        return _plain(first[:limit])
    feedback = [(h.text, h.vector) for h in first]
    dense2, sparse2 = expand_query(vector, sparse, feedback)
    return _plain(fused(store, dense2, sparse2, limit, vector, **filters))


def search(
    store: MemoryStore,
    vector: Sequence[float] | np.ndarray,
    k: int = 4,
    *,
    text: str | None = None,
    mode: str = "dense",
    min_score: float | None = None,
    kind: str | None = None,
    source: str | None = None,
    senders: Sequence[str] | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> list[Hit]:
    """Top-k live chunks in any retrieval mode: "dense" (cosine similarity; ``min_score``
    applies), "keyword" (BM25 on ``text``; scores are BM25), "hybrid" (both, fused by reciprocal
    rank; scores are the cosine similarity, ``extra["fused_score"]`` the RRF score) or
    "expanded" (hybrid, then hybrid again with the query expanded from the first top chunks by
    ``expand_query``; scores as in hybrid, against the original ``vector``). Without any word in
    ``text`` every mode is a dense search. Filters as in ``MemoryStore.search``."""
    if mode not in MODES:
        raise StoreError(f"Unknown search mode {mode!r}; use one of {', '.join(MODES)}.")
    if len(vector) != store.dim:
        raise StoreError(f"Query vector of length {len(vector)} does not fit this memory.")
    filters: dict[str, Any] = {
        "kind": kind,
        "source": source,
        "senders": senders,
        "date_from": date_from,
        "date_to": date_to,
    }
    if mode != "dense" and not (text and text.strip()):
        mode = "dense"
    if mode in ("dense", "keyword"):
        return store.search(vector, k, text=text, mode=mode, min_score=min_score, **filters)
    search_in = hybrid if mode == "hybrid" else expanded
    return search_in(store, _as_list(vector), str(text), k, **filters)
