"""The keyword index: BM25 term weights of stored texts and of queries (Qdrant's own tokenizer:
English stemming and stop words), accent- and case-insensitive.

Folding: a text is indexed as its folded form (NFKD, combining marks dropped, casefolded), so
"Café" and "cafe" are one term. A query is searched with the terms of its own spelling AND of its
folded spelling: memories indexed before folding existed hold unfolded terms ("café"), and the
query's own spelling still finds them, while everything indexed since is found by the folded
terms. (Re-uploading a document, or ``tera forget`` + ``remember`` for a fact, refreshes its
terms; an old memory is never worse than before, only newer chunks gain accent-insensitivity.)
"""

from __future__ import annotations

from typing import Any

from tera_desktop.core.folding import fold
from tera_desktop.core.store.base import SparseQuery

_bm25: Any = None


def _bm25_model() -> Any:
    """Qdrant's own BM25 tokenizer (English stemming and stop words), loaded once."""
    global _bm25
    if _bm25 is None:
        import qdrant_edge as qe

        _bm25 = qe.Bm25()
    return _bm25


def bm25_document(text: str) -> SparseQuery:
    """Sparse BM25 term weights of a stored text (folded); the engine multiplies in the IDF at
    query time."""
    vec = _bm25_model().embed_document(fold(text))
    return list(vec.indices), list(vec.values)


def bm25_query(text: str) -> SparseQuery:
    """The query's term weights: those of its own spelling and, where folding changes it, of its
    folded spelling too (see the module docstring)."""
    model = _bm25_model()
    vec = model.embed_query(text)
    weights = dict(zip(list(vec.indices), list(vec.values), strict=True))
    folded = fold(text)
    if folded != text:
        extra = model.embed_query(folded)
        for i, v in zip(list(extra.indices), list(extra.values), strict=True):
            weights.setdefault(i, v)
    if list(weights) == list(vec.indices):  # nothing added: the engine's own order
        return list(vec.indices), list(vec.values)
    terms = sorted(weights)
    return terms, [weights[i] for i in terms]
