"""A collection on a Qdrant server through ``qdrant-client`` (URL + API key), for a memory shared
between machines or too big for one. qdrant-client's in-process mode speaks the same API, which is
how the tests run the same protocol tests against it."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from tera_desktop.core.errors import StoreError
from tera_desktop.core.store.base import (
    _DATETIME_FIELDS,
    _INTEGER_FIELDS,
    _KEYWORD_FIELDS,
    SPARSE_NAME,
    VECTOR_NAME,
    Hit,
    SparseQuery,
    Where,
    _check_meta,
    _hit,
    _is_uuid,
    _sort_newest,
)
from tera_desktop.core.store.keyword import bm25_document
from tera_desktop.core.store.shared import _QdrantStore


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
        self,
        vector: list[float],
        limit: int,
        where: Where,
        min_score: float | None,
        with_payload: bool = True,
    ) -> list[Hit]:
        res = self._call(
            self._client.query_points,
            self.collection,
            query=vector,
            using=VECTOR_NAME,
            query_filter=self._filter(where),
            limit=limit,
            with_payload=with_payload,
            score_threshold=min_score,
        )
        return [_hit(p.id, p.score, p.payload, p.vector) for p in res.points]

    def _query_keyword(
        self, sparse: SparseQuery, limit: int, where: Where, with_payload: bool = True
    ) -> list[Hit]:
        m = self._m
        indices, values = sparse
        res = self._call(
            self._client.query_points,
            self.collection,
            query=m.SparseVector(indices=indices, values=values),
            using=SPARSE_NAME,
            query_filter=self._filter(where),
            limit=limit,
            with_payload=with_payload,
        )
        return [_hit(p.id, p.score, p.payload, p.vector) for p in res.points]

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

    def _retrieve(self, ids: list[str], with_vectors: bool = False) -> list[Hit]:
        valid = [i for i in ids if _is_uuid(i)]
        if not valid:
            return []
        recs = self._call(
            self._client.retrieve,
            self.collection,
            valid,
            with_payload=True,
            with_vectors=[VECTOR_NAME] if with_vectors else False,
        )
        return [_hit(r.id, 0.0, r.payload, r.vector) for r in recs]

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
