"""The memory store: one ``MemoryStore`` protocol, two Qdrant backends.

- ``base``: the protocol, ``Chunk`` / ``Hit`` / ``DocumentInfo`` / ``FactInfo``, constants, filters;
- ``keyword``: the keyword index (BM25 term weights, accent- and case-folded);
- ``shared``: the logic both backends share (crash-safe document replacement, listings);
- ``journal``: the replacements in flight;
- ``edge``: ``EdgeStore`` (the default): Qdrant's engine embedded in-process, on disk;
- ``server``: ``ServerStore``: a Qdrant server through ``qdrant-client``;
- ``scrub``: disk helpers: free space, the folder lock, sparse copies, the scrub's swap.

The store keeps the search primitives (dense, keyword); fusion and query expansion are the
retrieval pipeline's (``core/fusion.py``, used by ``core/retrieval.py``). ``open_store`` picks the
backend the settings ask for.
"""

from __future__ import annotations

from pathlib import Path

from tera_desktop.core.store.base import (
    _DATETIME_FIELDS,
    _INTEGER_FIELDS,
    _KEYWORD_FIELDS,
    _META_FILE,
    _UPSERT_BATCH,
    KIND_DOCUMENT,
    KIND_FACT,
    LIVE,
    PENDING,
    SEARCH_MODES,
    SPARSE_NAME,
    VECTOR_NAME,
    Chunk,
    Cond,
    DocumentInfo,
    FactInfo,
    Hit,
    MemoryStore,
    SparseQuery,
    Where,
    _canonical,
    _check_meta,
    _hit,
    _is_uuid,
    _live,
    _payload,
    _read_meta,
    _write_meta,
    stored_shape,
)
from tera_desktop.core.store.edge import EdgeStore
from tera_desktop.core.store.journal import _Journal
from tera_desktop.core.store.keyword import bm25_document, bm25_query, fold
from tera_desktop.core.store.scrub import (
    DISK_FULL_READING,
    DISK_READ_ONLY,
    LOW_SPACE_BYTES,
    _finish_scrub,
    _free_bytes,
    _is_disk_error,
    _lock_folder,
    _remove_tree,
    _sparse_copy,
    _write_scrub_marker,
)
from tera_desktop.core.store.server import ServerStore
from tera_desktop.core.store.shared import _QdrantStore

__all__ = [
    "DISK_FULL_READING",
    "DISK_READ_ONLY",
    "KIND_DOCUMENT",
    "KIND_FACT",
    "LIVE",
    "LOW_SPACE_BYTES",
    "PENDING",
    "SEARCH_MODES",
    "SPARSE_NAME",
    "VECTOR_NAME",
    "_DATETIME_FIELDS",
    "_INTEGER_FIELDS",
    "_KEYWORD_FIELDS",
    "_META_FILE",
    "_UPSERT_BATCH",
    "Chunk",
    "Cond",
    "DocumentInfo",
    "EdgeStore",
    "FactInfo",
    "Hit",
    "MemoryStore",
    "ServerStore",
    "SparseQuery",
    "Where",
    "_Journal",
    "_QdrantStore",
    "_canonical",
    "_check_meta",
    "_finish_scrub",
    "_free_bytes",
    "_hit",
    "_is_disk_error",
    "_is_uuid",
    "_live",
    "_lock_folder",
    "_payload",
    "_read_meta",
    "_remove_tree",
    "_sparse_copy",
    "_write_meta",
    "_write_scrub_marker",
    "bm25_document",
    "bm25_query",
    "fold",
    "open_store",
    "stored_shape",
]


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
