"""The embedded default store: Qdrant's own engine in this process (``qdrant-edge-py``), on disk
in the data folder. Segments, HNSW, payload indexes and a write-ahead log; each update operation
is all-or-nothing. It locks its folder, so one process at a time."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from tera_desktop.core.errors import DiskFullError, StoreError, StoreLockedError
from tera_desktop.core.store.base import (
    _DATETIME_FIELDS,
    _INTEGER_FIELDS,
    _KEYWORD_FIELDS,
    _META_FILE,
    PENDING,
    SPARSE_NAME,
    VECTOR_NAME,
    Hit,
    SparseQuery,
    Where,
    _check_meta,
    _hit,
    _is_uuid,
    _read_meta,
    _sort_newest,
    _write_meta,
)
from tera_desktop.core.store.keyword import bm25_document
from tera_desktop.core.store.scrub import (
    _SCRUB_NEW,
    DISK_FULL_READING,
    DISK_READ_ONLY,
    LOW_SPACE_BYTES,
    _allocated_bytes,
    _disk_full_message,
    _disk_hint,
    _finish_scrub,
    _free_bytes,
    _is_disk_error,
    _is_read_only,
    _lock_folder,
    _read_only_copy,
    _remove_tree,
    _write_scrub_marker,
)
from tera_desktop.core.store.shared import _QdrantStore


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
            if exists:  # damaged files are named, never opened into a runaway (issue 26.2)
                from tera_desktop.core.store_health import require_healthy

                require_healthy(self.folder)
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
        self,
        vector: list[float],
        limit: int,
        where: Where,
        min_score: float | None,
        with_payload: bool = True,
    ) -> list[Hit]:
        qe = self._qe
        req = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(vector, using=VECTOR_NAME),
            filter=self._filter(where),
            with_payload=with_payload,
            score_threshold=min_score,
            params=self._search_params(limit),
        )
        return [_hit(p.id, p.score, p.payload, p.vector) for p in self._shard.query(req)]

    def _search_params(self, limit: int) -> Any:
        # a wider HNSW search: recall@10 at 1M chunks 0.81 → 0.93 for ~2 ms (bench_store)
        return self._qe.SearchParams(hnsw_ef=max(256, limit))

    def _query_keyword(
        self, sparse: SparseQuery, limit: int, where: Where, with_payload: bool = True
    ) -> list[Hit]:
        qe = self._qe
        indices, values = sparse
        req = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(qe.SparseVector(indices, values), using=SPARSE_NAME),
            filter=self._filter(where),
            with_payload=with_payload,
        )
        return [_hit(p.id, p.score, p.payload, p.vector) for p in self._shard.query(req)]

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

    def _retrieve(self, ids: list[str], with_vectors: bool = False) -> list[Hit]:
        valid = [i for i in ids if _is_uuid(i)]
        if not valid:
            return []
        vector = [VECTOR_NAME] if with_vectors else False
        return [
            _hit(r.id, 0.0, r.payload, r.vector)
            for r in self._shard.retrieve(list[Any](valid), with_payload=True, with_vector=vector)
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
