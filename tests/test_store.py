"""The memory store: the same protocol tests against both backends, plus crash safety, locking and
embedding checks for the embedded engine.

``EdgeStore`` runs on disk in a scratch folder; ``ServerStore`` runs through qdrant-client's
in-process mode (``location=":memory:"``, or ``path=`` where a test reopens it). Crash tests run
the store in a child Python process that dies with ``os._exit`` at a precise point, or is
SIGKILLed at a random one, then reopen the folder here.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tera_desktop.core import store as store_mod
from tera_desktop.core.errors import EmbeddingMismatchError, StoreError, StoreLockedError
from tera_desktop.core.fusion import search as fused_search
from tera_desktop.core.store import (
    KIND_DOCUMENT,
    KIND_FACT,
    PENDING,
    Chunk,
    DocumentInfo,
    EdgeStore,
    FactInfo,
    Hit,
    MemoryStore,
    ServerStore,
    Where,
    open_store,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
    pytest.mark.filterwarnings("ignore:Failed to obtain server version:UserWarning"),
]

DIM = 8
MODEL = "test-embedder"
REPO_ROOT = Path(__file__).resolve().parents[1]
CHILD_TIMEOUT = 60  # a safety net for hung children only; nothing asserts on time

# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def vec(*xs: float) -> list[float]:
    """A DIM-d vector: the given leading components, zeros after."""
    return [float(x) for x in xs] + [0.0] * (DIM - len(xs))


def basis(i: int) -> list[float]:
    v = [0.0] * DIM
    v[i] = 1.0
    return v


def ts(day: int) -> str:
    return f"2024-01-{day:02d}T00:00:00+00:00"


def new_id() -> str:
    return str(uuid.uuid4())


def fact(
    text: str,
    vector: Any,
    *,
    created_at: str = ts(1),
    content_hash: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Chunk:
    fid = new_id()
    return Chunk(
        id=fid,
        text=text,
        vector=vector,
        kind=KIND_FACT,
        doc_id=fid,
        created_at=created_at,
        content_hash=content_hash or f"hash-of-{text}",
        extra=extra or {},
    )


def doc_id_of(source: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, source))


def doc_chunks(
    source: str,
    n: int,
    *,
    version: str = "v1",
    created_at: str = ts(1),
    vectors: list[list[float]] | None = None,
    title: str | None = "Title",
) -> list[Chunk]:
    """A document's chunks as the ingest pipeline builds them (n_chunks, doc_hash, page)."""
    doc_id = doc_id_of(source)
    doc_hash = f"dochash-{source}-{version}"
    out = []
    for i in range(n):
        extra: dict[str, Any] = {"n_chunks": n, "doc_hash": doc_hash, "page": i + 1}
        if title is not None:
            extra["title"] = f"{title} {version}"
        out.append(
            Chunk(
                id=new_id(),
                text=f"{source} {version} chunk {i}",
                vector=vectors[i] if vectors else vec(1.0, 0.1 * (i + 1), 0.3),
                kind=KIND_DOCUMENT,
                doc_id=doc_id,
                created_at=created_at,
                content_hash=doc_hash,
                source=source,
                chunk_index=i,
                extra=extra,
            )
        )
    return out


def all_points(s: Any) -> list[Hit]:
    """Every point, live or pending (white-box: the protocol only ever shows live ones)."""
    return s._scroll(Where())


def pending_count(s: Any) -> int:
    return s._count(Where(must=(("state", PENDING),)))


def texts(hits: list[Hit]) -> list[str]:
    return [h.text for h in hits]


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


_RAM_DISK = Path("/dev/shm")


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A scratch folder for the memories a test makes: in RAM (``/dev/shm``) where there is one.
    The engine fsyncs when it creates, indexes and closes a shard, which on a busy disk costs
    seconds per test; these tests are about processes dying, not power loss (a killed process's
    writes are in the page cache either way), so RAM changes nothing they check."""
    if _RAM_DISK.is_dir() and os.access(_RAM_DISK, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="tera-test-store-", dir=_RAM_DISK))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path


def _open_edge(data_dir: Path) -> EdgeStore:
    return EdgeStore(data_dir / "memory", DIM, embedding_model=MODEL)


@pytest.fixture(params=["edge", "server"])
def store(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[Any]:
    if request.param == "edge":
        s: Any = _open_edge(data_dir)
    else:
        s = ServerStore(
            DIM, location=":memory:", journal_path=data_dir / "journal.json", embedding_model=MODEL
        )
    yield s
    s.close()


@dataclass
class Reopenable:
    """Opens the same persistent memory again and again (edge folder, or qdrant-client path=)."""

    kind: str
    data_dir: Path

    @property
    def journal(self) -> Path:
        if self.kind == "edge":
            return self.data_dir / "memory" / "journal.json"
        return self.data_dir / "server-journal.json"

    def open(self) -> Any:
        if self.kind == "edge":
            return _open_edge(self.data_dir)
        return ServerStore(
            DIM,
            path=str(self.data_dir / "qdrant"),
            journal_path=self.journal,
            embedding_model=MODEL,
        )


@pytest.fixture(params=["edge", "server-path"])
def reopenable(request: pytest.FixtureRequest, data_dir: Path) -> Reopenable:
    return Reopenable(request.param, data_dir)


# --------------------------------------------------------------------------------------------------
# Protocol: add, count, get
# --------------------------------------------------------------------------------------------------


def test_backends_implement_the_protocol(store: Any) -> None:
    assert isinstance(store, MemoryStore)
    assert store.dim == DIM


def test_empty_store(store: Any) -> None:
    assert store.count() == 0
    assert store.count(KIND_FACT) == 0
    assert store.search(basis(0), k=5) == []
    assert store.get([]) == []
    assert store.list_documents() == []
    assert store.list_facts() == []
    assert store.document("/nowhere.txt") is None
    assert store.find_fact("nothing") is None
    assert store.chunks_of(doc_id_of("/nowhere.txt"), 0, 10) == []
    assert store.delete_all() == 0
    assert store.delete_ids([new_id()]) == 0
    assert store.delete_source("/nowhere.txt") == 0


def test_add_and_count_total_and_by_kind(store: Any) -> None:
    store.add([fact("a", basis(0)), fact("b", basis(1))])
    store.add(doc_chunks("/docs/one.txt", 3))
    store.add([fact("c", basis(2))])
    assert store.count() == 6
    assert store.count(KIND_FACT) == 3
    assert store.count(KIND_DOCUMENT) == 3
    assert store.count("no-such-kind") == 0


def test_add_nothing_is_a_no_op(store: Any) -> None:
    store.add([])
    assert store.count() == 0


def test_add_accepts_numpy_vectors(store: Any) -> None:
    c = fact("numpy", np.asarray(basis(3), dtype=np.float64))
    store.add([c])
    hits = store.search(np.asarray(basis(3), dtype=np.float32), k=1)
    assert [h.id for h in hits] == [c.id]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_get_preserves_order_and_ignores_unknown_ids(store: Any) -> None:
    a, b, c = fact("a", basis(0)), fact("b", basis(1)), fact("c", basis(2))
    store.add([a, b, c])
    got = store.get([c.id, new_id(), a.id, "not-a-uuid", "", b.id])
    assert [h.id for h in got] == [c.id, a.id, b.id]
    assert texts(got) == ["c", "a", "b"]
    assert store.get(["not-a-uuid"]) == []
    assert store.get([new_id()]) == []


def test_get_returns_full_hits(store: Any) -> None:
    chunks = doc_chunks("/docs/get.txt", 2, created_at=ts(3))
    store.add(chunks)
    (h,) = store.get([chunks[1].id])
    assert h.id == chunks[1].id
    assert h.kind == KIND_DOCUMENT
    assert h.source == "/docs/get.txt"
    assert h.text == chunks[1].text
    assert h.created_at == ts(3)
    assert h.doc_id == doc_id_of("/docs/get.txt")
    assert h.chunk_index == 1


def test_get_accepts_any_spelling_of_a_uuid(store: Any) -> None:
    """``tera forget <ID>`` goes through ``get``; an id typed in capitals (or without hyphens) names
    the same UUID and must find the same chunk, as ``delete_ids`` already does."""
    a = fact("a", basis(0))
    store.add([a])
    assert [h.id for h in store.get([a.id.upper()])] == [a.id]
    assert [h.id for h in store.get([uuid.UUID(a.id).hex])] == [a.id]


# --------------------------------------------------------------------------------------------------
# Protocol: search
# --------------------------------------------------------------------------------------------------


def _angled(cos: float) -> list[float]:
    """A unit vector whose cosine with basis(0) is ``cos``."""
    return vec(cos, math.sqrt(max(0.0, 1.0 - cos * cos)))


def test_search_orders_by_cosine_and_keeps_top_k(store: Any) -> None:
    cosines = [0.6, 1.0, -0.5, 0.8, 0.0, 0.95]
    chunks = [fact(f"cos {c}", _angled(c)) for c in cosines]
    random.Random(7).shuffle(chunks)
    store.add(chunks)

    hits = store.search(basis(0), k=3)
    assert texts(hits) == ["cos 1.0", "cos 0.95", "cos 0.8"]
    assert [h.score for h in hits] == pytest.approx([1.0, 0.95, 0.8], abs=1e-4)

    everything = store.search(basis(0), k=100)
    assert texts(everything) == [f"cos {c}" for c in sorted(cosines, reverse=True)]
    scores = [h.score for h in everything]
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] == pytest.approx(-0.5, abs=1e-4)

    assert len(store.search(basis(0), k=1)) == 1


def test_search_is_cosine_so_vector_length_does_not_matter(store: Any) -> None:
    store.add([fact("long", [5 * x for x in _angled(0.8)]), fact("short", _angled(0.9))])
    hits = store.search([3.0, *[0.0] * (DIM - 1)], k=2)
    assert texts(hits) == ["short", "long"]
    assert [h.score for h in hits] == pytest.approx([0.9, 0.8], abs=1e-4)


def test_search_kind_filter(store: Any) -> None:
    store.add([fact("fact close", _angled(0.99)), fact("fact far", _angled(0.1))])
    store.add(doc_chunks("/docs/k.txt", 1, vectors=[_angled(0.98)]))
    assert texts(store.search(basis(0), k=10, kind=KIND_FACT)) == ["fact close", "fact far"]
    docs = store.search(basis(0), k=10, kind=KIND_DOCUMENT)
    assert [h.kind for h in docs] == [KIND_DOCUMENT]
    assert len(store.search(basis(0), k=10)) == 3


def test_search_source_filter(store: Any) -> None:
    store.add(doc_chunks("/docs/a.txt", 2, vectors=[_angled(0.9), _angled(0.7)]))
    store.add(doc_chunks("/docs/b.txt", 2, vectors=[_angled(0.95), _angled(0.5)]))
    store.add([fact("a fact", _angled(1.0))])
    hits = store.search(basis(0), k=10, source="/docs/a.txt")
    assert texts(hits) == ["/docs/a.txt v1 chunk 0", "/docs/a.txt v1 chunk 1"]
    assert {h.source for h in hits} == {"/docs/a.txt"}
    assert store.search(basis(0), k=10, source="/docs/none.txt") == []
    both = store.search(basis(0), k=10, kind=KIND_DOCUMENT, source="/docs/b.txt")
    assert texts(both) == ["/docs/b.txt v1 chunk 0", "/docs/b.txt v1 chunk 1"]


def test_search_min_score(store: Any) -> None:
    store.add([fact(f"cos {c}", _angled(c)) for c in (0.95, 0.75, 0.55, 0.2)])
    assert texts(store.search(basis(0), k=10, min_score=0.7)) == ["cos 0.95", "cos 0.75"]
    assert texts(store.search(basis(0), k=1, min_score=0.7)) == ["cos 0.95"]
    assert store.search(basis(0), k=10, min_score=0.99) == []
    assert len(store.search(basis(0), k=10, min_score=None)) == 4
    for h in store.search(basis(0), k=10, min_score=0.5):
        assert h.score >= 0.5


@pytest.mark.parametrize("op", ["add", "replace_document", "search"])
def test_vector_dimension_mismatch_is_a_store_error(store: Any, op: str) -> None:
    before = doc_chunks("/docs/keep.txt", 2)
    store.replace_document(doc_id_of("/docs/keep.txt"), before)
    for bad_dim in (DIM - 1, DIM + 1, 0):
        bad = [0.1] * bad_dim
        with pytest.raises(StoreError, match="does not fit"):
            if op == "add":  # one bad vector in the batch: nothing is added
                store.add([fact("good", basis(0)), fact("bad", bad)])
            elif op == "replace_document":
                new = doc_chunks("/docs/keep.txt", 2, version="v2")
                new[1] = Chunk(**{**new[1].__dict__, "vector": bad})
                store.replace_document(doc_id_of("/docs/keep.txt"), new)
            else:
                store.search(bad, k=3)
    # nothing was written, the old version is intact
    assert store.count() == 2
    assert texts(store.chunks_of(doc_id_of("/docs/keep.txt"), 0, 10)) == [c.text for c in before]
    assert len(all_points(store)) == 2


# --------------------------------------------------------------------------------------------------
# Protocol: documents
# --------------------------------------------------------------------------------------------------


def test_replace_document_first_insert(store: Any) -> None:
    src = "/docs/report.pdf"
    chunks = doc_chunks(src, 3, created_at=ts(5))
    store.replace_document(doc_id_of(src), chunks)

    assert store.count() == 3
    assert store.count(KIND_DOCUMENT) == 3
    assert texts(store.chunks_of(doc_id_of(src), 0, 100)) == [c.text for c in chunks]
    info = store.document(src)
    assert info == DocumentInfo(
        doc_id=doc_id_of(src),
        source=src,
        title="Title v1",
        content_hash=f"dochash-{src}-v1",
        chunks=3,
        created_at=ts(5),
    )
    assert store.list_documents() == [info]
    assert pending_count(store) == 0


@pytest.mark.parametrize(("n_old", "n_new"), [(5, 2), (2, 5), (3, 3)])
def test_replace_document_leaves_only_the_new_chunks(store: Any, n_old: int, n_new: int) -> None:
    src = "/docs/notes.md"
    did = doc_id_of(src)
    old = doc_chunks(src, n_old, version="v1", created_at=ts(1))
    new = doc_chunks(src, n_new, version="v2", created_at=ts(2))
    store.replace_document(did, old)
    store.replace_document(did, new)

    assert store.count() == n_new
    assert store.count(KIND_DOCUMENT) == n_new
    assert texts(store.chunks_of(did, 0, 100)) == [c.text for c in new]
    assert store.get([c.id for c in old]) == []
    assert [h.id for h in store.get([c.id for c in new])] == [c.id for c in new]
    # no search, however close to an old chunk, brings back old text
    for c in old:
        for hit in store.search(c.vector, k=50):
            assert " v1 " not in hit.text
    info = store.document(src)
    assert info is not None
    assert (info.title, info.chunks, info.content_hash, info.created_at) == (
        "Title v2",
        n_new,
        f"dochash-{src}-v2",
        ts(2),
    )
    assert store.list_documents() == [info]
    assert len(all_points(store)) == n_new  # nothing pending or stale left behind


def test_replace_document_leaves_other_documents_and_facts_alone(store: Any) -> None:
    f = fact("a fact", basis(0))
    other = doc_chunks("/docs/other.txt", 2)
    store.add([f])
    store.replace_document(doc_id_of("/docs/other.txt"), other)
    store.replace_document(doc_id_of("/docs/x.txt"), doc_chunks("/docs/x.txt", 3))
    store.replace_document(doc_id_of("/docs/x.txt"), doc_chunks("/docs/x.txt", 1, version="v2"))
    assert store.count() == 4
    assert [h.id for h in store.get([f.id, *(c.id for c in other)])] == [f.id] + [
        c.id for c in other
    ]
    assert store.document("/docs/other.txt") is not None


def test_replace_document_many_chunks_in_several_batches(store: Any) -> None:
    src = "/docs/big.txt"
    n = store_mod._UPSERT_BATCH + 37
    store.replace_document(doc_id_of(src), doc_chunks(src, 3))
    store.replace_document(doc_id_of(src), doc_chunks(src, n, version="v2"))
    assert store.count() == n
    hits = store.chunks_of(doc_id_of(src), 0, n)
    assert [h.chunk_index for h in hits] == list(range(n))
    assert {h.text.split()[1] for h in hits} == {"v2"}


def test_chunks_of_returns_a_sorted_range(store: Any) -> None:
    src = "/docs/range.txt"
    chunks = doc_chunks(src, 6)
    store.add(list(reversed(chunks)))
    hits = store.chunks_of(doc_id_of(src), 2, 4)
    assert [h.chunk_index for h in hits] == [2, 3, 4]
    assert texts(hits) == [c.text for c in chunks[2:5]]
    assert store.chunks_of(doc_id_of(src), 10, 20) == []
    assert store.chunks_of(doc_id_of("/docs/else.txt"), 0, 5) == []


def test_document_title_falls_back_to_the_file_name(store: Any) -> None:
    src = "/home/me/Papers/deep-dive.pdf"
    store.replace_document(doc_id_of(src), doc_chunks(src, 2, title=None))
    info = store.document(src)
    assert info is not None
    assert info.title == "deep-dive.pdf"


def test_list_documents_newest_first(store: Any) -> None:
    for day, name in [(3, "c"), (1, "a"), (4, "d"), (2, "b")]:
        src = f"/docs/{name}.txt"
        store.replace_document(doc_id_of(src), doc_chunks(src, day, created_at=ts(day)))
    store.add([fact("a fact is not a document", basis(0), created_at=ts(9))])
    docs = store.list_documents()
    assert [d.source for d in docs] == ["/docs/d.txt", "/docs/c.txt", "/docs/b.txt", "/docs/a.txt"]
    assert [d.chunks for d in docs] == [4, 3, 2, 1]
    assert store.document("/docs/b.txt") == docs[2]
    assert store.document("/docs/e.txt") is None


# --------------------------------------------------------------------------------------------------
# Protocol: facts
# --------------------------------------------------------------------------------------------------


def test_list_facts_newest_first_with_offset_and_limit(store: Any) -> None:
    facts = [fact(f"fact {d}", _angled(0.1 * d), created_at=ts(d)) for d in range(1, 7)]
    random.Random(3).shuffle(facts)
    store.add(facts)
    store.replace_document(doc_id_of("/d.txt"), doc_chunks("/d.txt", 2, created_at=ts(20)))

    listed = store.list_facts()
    assert [f.text for f in listed] == [f"fact {d}" for d in range(6, 0, -1)]
    assert all(isinstance(f, FactInfo) for f in listed)
    by_text = {c.text: c for c in facts}
    assert [(f.id, f.created_at) for f in listed] == [
        (by_text[f.text].id, by_text[f.text].created_at) for f in listed
    ]
    assert [f.text for f in store.list_facts(0, 2)] == ["fact 6", "fact 5"]
    assert [f.text for f in store.list_facts(2, 3)] == ["fact 4", "fact 3", "fact 2"]
    assert [f.text for f in store.list_facts(4)] == ["fact 2", "fact 1"]
    assert [f.text for f in store.list_facts(5, 10)] == ["fact 1"]
    assert store.list_facts(6) == []
    assert store.list_facts(100, 5) == []
    assert store.list_facts(0, 0) == []


def test_list_facts_pages_cover_every_fact_once_even_with_equal_timestamps(store: Any) -> None:
    """Facts remembered in the same second share ``created_at`` (``now_iso`` has second
    precision); paging through them must still show each exactly once, newest first."""
    facts = [
        fact(f"fact {i}", _angled(0.05 * i), created_at=ts(2 if i < 30 else 3)) for i in range(40)
    ]
    for start in range(0, 40, 10):  # in several batches, as `tera remember` would
        store.add(facts[start : start + 10])
    pages: list[FactInfo] = []
    for offset in range(0, 40, 3):
        pages.extend(store.list_facts(offset, 3))
    ids = [f.id for f in pages]
    assert sorted(ids) == sorted(c.id for c in facts)  # no fact twice, none missing
    assert [f.created_at for f in pages] == sorted((f.created_at for f in pages), reverse=True)
    assert ids == [f.id for f in store.list_facts()]  # the pages agree with the whole list


def test_find_fact_by_content_hash(store: Any) -> None:
    a = fact("the sky is blue", basis(0), content_hash="h-sky")
    b = fact("water is wet", basis(1), content_hash="h-water")
    store.add([a, b])
    # a document chunk with the same content hash is not a fact
    d = doc_chunks("/docs/h.txt", 1)
    d[0] = Chunk(**{**d[0].__dict__, "content_hash": "h-doc"})
    store.add(d)
    assert store.find_fact("h-sky") == a.id
    assert store.find_fact("h-water") == b.id
    assert store.find_fact("h-doc") is None
    assert store.find_fact("h-none") is None
    store.delete_ids([a.id])
    assert store.find_fact("h-sky") is None


# --------------------------------------------------------------------------------------------------
# Protocol: forgetting
# --------------------------------------------------------------------------------------------------


def test_delete_ids_counts_and_removes(store: Any) -> None:
    a, b, c = fact("a", basis(0)), fact("b", basis(1)), fact("c", basis(2))
    store.add([a, b, c])
    assert store.delete_ids([a.id, new_id(), "not-a-uuid", c.id]) == 2
    assert store.count() == 1
    assert store.get([a.id, b.id, c.id]) == [store.get([b.id])[0]]
    assert texts(store.search(basis(0), k=10)) == ["b"]
    assert store.delete_ids([a.id]) == 0
    assert store.delete_ids([]) == 0
    assert [f.id for f in store.list_facts()] == [b.id]


def test_delete_source_forgets_everything_of_it(store: Any) -> None:
    gone, kept = "/docs/gone.txt", "/docs/kept.txt"
    gone_chunks = doc_chunks(gone, 4, vectors=[basis(i) for i in range(4)])
    store.replace_document(doc_id_of(gone), doc_chunks(gone, 2))
    store.replace_document(doc_id_of(gone), gone_chunks)
    store.replace_document(doc_id_of(kept), doc_chunks(kept, 3))
    store.add([fact("a fact", basis(0))])

    assert store.delete_source(gone) == 4
    assert store.count() == 4
    assert store.count(KIND_DOCUMENT) == 3
    assert store.document(gone) is None
    assert [d.source for d in store.list_documents()] == [kept]
    assert store.get([c.id for c in gone_chunks]) == []
    assert store.chunks_of(doc_id_of(gone), 0, 100) == []
    assert store.search(basis(0), k=10, source=gone) == []
    for c in gone_chunks:
        assert all(h.source != gone for h in store.search(c.vector, k=50))
    assert store.delete_source(gone) == 0
    assert store.document(kept) is not None


def test_delete_all_counts_and_empties(store: Any) -> None:
    store.add([fact("a", basis(0)), fact("b", basis(1))])
    store.replace_document(doc_id_of("/d.txt"), doc_chunks("/d.txt", 3))
    assert store.delete_all() == 5
    assert store.count() == 0
    assert store.search(basis(0), k=10) == []
    assert store.list_documents() == []
    assert store.list_facts() == []
    assert all_points(store) == []
    assert store.delete_all() == 0
    # still usable afterwards
    c = fact("again", basis(0))
    store.add([c])
    assert [h.id for h in store.search(basis(0), k=10)] == [c.id]


# --------------------------------------------------------------------------------------------------
# Protocol: hits
# --------------------------------------------------------------------------------------------------


def test_extra_round_trips_into_hit_extra(store: Any) -> None:
    src = "/docs/paper.pdf"
    extra = {
        "title": "Grüße — 日本語",
        "n_chunks": 2,
        "doc_hash": "abc",
        "page": 12,
        "pages": [12, 13],
        "heading": "2.1 Results",
        "score_hint": 0.25,
        "ocr": False,
    }
    chunks = [
        Chunk(
            id=new_id(),
            text=f"chunk {i} ✓",
            vector=basis(i),
            kind=KIND_DOCUMENT,
            doc_id=doc_id_of(src),
            created_at=ts(1),
            content_hash="abc",
            source=src,
            chunk_index=i,
            extra={**extra, "page": 12 + i},
        )
        for i in range(2)
    ]
    store.replace_document(doc_id_of(src), chunks)
    (hit,) = store.search(basis(1), k=1)
    assert hit.text == "chunk 1 ✓"
    assert hit.extra == {**extra, "page": 13}  # nothing private (gen, state) leaks in
    assert [h.extra["page"] for h in store.get([c.id for c in chunks])] == [12, 13]
    assert [h.extra["page"] for h in store.chunks_of(doc_id_of(src), 0, 1)] == [12, 13]
    f = fact("plain", basis(5))
    store.add([f])
    assert store.get([f.id])[0].extra == {}


def test_hit_as_json_is_the_stable_public_shape(store: Any) -> None:
    src = "/docs/j.txt"
    store.add(doc_chunks(src, 1, vectors=[_angled(0.3)], created_at=ts(7)))
    (hit,) = store.search(basis(0), k=1)
    data = hit.as_json()
    assert set(data) == {"id", "score", "kind", "source", "text", "created_at"}
    assert data["id"] == hit.id
    assert data["kind"] == KIND_DOCUMENT
    assert data["source"] == src
    assert data["text"] == f"{src} v1 chunk 0"
    assert data["created_at"] == ts(7)
    assert data["score"] == round(hit.score, 6)
    assert data["score"] == pytest.approx(0.3, abs=1e-4)
    assert json.loads(json.dumps(data)) == data


# --------------------------------------------------------------------------------------------------
# Persistence and recovery (both backends, in this process)
# --------------------------------------------------------------------------------------------------


def test_memory_survives_reopen(reopenable: Reopenable) -> None:
    s = reopenable.open()
    f = fact("persisted", basis(0), created_at=ts(2))
    s.add([f])
    s.replace_document(doc_id_of("/p.txt"), doc_chunks("/p.txt", 3))
    s.close()
    s = reopenable.open()
    try:
        assert s.count() == 4
        assert [h.id for h in s.get([f.id])] == [f.id]
        assert s.document("/p.txt") is not None
        assert s.search(basis(0), k=1)[0].text == "persisted"
    finally:
        s.close()


def _fail_on_call(s: Any, name: str, nth: int = 1) -> None:
    original = getattr(s, name)
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == nth:
            raise StoreError(f"simulated failure in {name}")
        return original(*args, **kwargs)

    setattr(s, name, failing)


@pytest.mark.parametrize(
    ("failing", "survivor"), [("_set_where", "v1"), ("_delete_where", "v2"), ("_upsert", "v1")]
)
def test_interrupted_replacement_is_settled_on_the_next_open(
    reopenable: Reopenable, failing: str, survivor: str
) -> None:
    src = "/docs/r.txt"
    did = doc_id_of(src)
    versions = {"v1": doc_chunks(src, 3, version="v1"), "v2": doc_chunks(src, 2, version="v2")}
    s = reopenable.open()
    s.replace_document(did, versions["v1"])
    _fail_on_call(s, failing)
    _fail_on_call(s, "_settle")  # the store keeps failing: nothing can be settled in-process
    with pytest.raises(StoreError, match="simulated"):
        s.replace_document(did, versions["v2"])
    assert reopenable.journal.exists()  # the replacement is still in flight
    s.close()

    s = reopenable.open()
    try:
        want = versions[survivor]
        assert not reopenable.journal.exists()
        assert pending_count(s) == 0
        assert len(all_points(s)) == len(want)
        assert texts(s.chunks_of(did, 0, 100)) == [c.text for c in want]
        info = s.document(src)
        assert info is not None
        assert (info.chunks, info.content_hash) == (len(want), f"dochash-{src}-{survivor}")
    finally:
        s.close()


@pytest.mark.parametrize(
    ("failing", "survivor"), [("_set_where", "v1"), ("_delete_where", "v2"), ("_upsert", "v1")]
)
def test_a_transient_failure_is_settled_at_once(
    reopenable: Reopenable, failing: str, survivor: str
) -> None:
    src = "/docs/t.txt"
    did = doc_id_of(src)
    versions = {"v1": doc_chunks(src, 3, version="v1"), "v2": doc_chunks(src, 2, version="v2")}
    s = reopenable.open()
    try:
        s.replace_document(did, versions["v1"])
        _fail_on_call(s, failing)  # fails once; the store works again right after
        with pytest.raises(StoreError, match="simulated"):
            s.replace_document(did, versions["v2"])
        assert not reopenable.journal.exists()
        assert pending_count(s) == 0
        assert texts(s.chunks_of(did, 0, 100)) == [c.text for c in versions[survivor]]
    finally:
        s.close()


def test_failed_replacement_keeps_pending_chunks_out_of_sight(store: Any) -> None:
    src = "/docs/hidden.txt"
    did = doc_id_of(src)
    old = doc_chunks(src, 2, version="v1", vectors=[basis(0), basis(1)])
    new = doc_chunks(src, 3, version="v2", vectors=[basis(0), basis(1), basis(2)])
    store.replace_document(did, old)
    _fail_on_call(store, "_set_where")
    _fail_on_call(store, "_settle")
    with pytest.raises(StoreError):
        store.replace_document(did, new)
    assert pending_count(store) == 3
    assert store.count() == 2
    assert store.count(KIND_DOCUMENT) == 2
    for i in range(3):
        assert all(" v2 " not in h.text for h in store.search(basis(i), k=10))
    assert texts(store.chunks_of(did, 0, 10)) == [c.text for c in old]
    assert [d.chunks for d in store.list_documents()] == [2]
    store.recover()
    assert pending_count(store) == 0
    assert len(all_points(store)) == 2


def test_recover_ignores_a_journal_naming_an_unknown_generation(reopenable: Reopenable) -> None:
    s = reopenable.open()
    s.replace_document(doc_id_of("/j.txt"), doc_chunks("/j.txt", 2))
    s.close()
    reopenable.journal.write_text(json.dumps({doc_id_of("/j.txt"): uuid.uuid4().hex}))
    s = reopenable.open()
    try:
        assert s.count() == 2
        assert not reopenable.journal.exists()
    finally:
        s.close()


def test_server_opened_elsewhere_does_not_eat_a_replacement_in_flight(data_dir: Path) -> None:
    """A server memory is shared between machines, each with its own journal. Tera opening on
    machine B (which runs ``recover()``) while machine A is between writing its pending chunks and
    flipping them live must not delete A's pending chunks: A would then flip nothing, delete the
    old version, and the document would be gone from memory."""
    a = ServerStore(
        DIM, location=":memory:", journal_path=data_dir / "a.json", embedding_model=MODEL
    )
    b = copy.copy(a)  # the same collection, seen from another machine with its own journal
    b._journal = store_mod._Journal(data_dir / "b.json")
    src = "/shared/plan.md"
    a.replace_document(doc_id_of(src), doc_chunks(src, 3, version="v1"))

    flip = a._set_where

    def b_opens_then_flip(*args: Any, **kwargs: Any) -> None:
        b.recover()
        flip(*args, **kwargs)

    a._set_where = b_opens_then_flip  # type: ignore[method-assign]
    a.replace_document(doc_id_of(src), doc_chunks(src, 2, version="v2"))
    try:
        hits = a.chunks_of(doc_id_of(src), 0, 100)
        assert {h.text.split()[1] for h in hits} == {"v2"}
        assert len(hits) == 2
    finally:
        a.close()


def test_close_is_idempotent(store: Any) -> None:
    store.close()
    store.close()


# --------------------------------------------------------------------------------------------------
# Embedded engine: lock, embedding checks
# --------------------------------------------------------------------------------------------------


def test_edge_store_is_a_context_manager_and_releases_its_folder(data_dir: Path) -> None:
    with _open_edge(data_dir) as s:
        s.add([fact("ctx", basis(0))])
    with _open_edge(data_dir) as s:
        assert s.count() == 1


def test_edge_second_open_in_the_same_process_is_refused(data_dir: Path) -> None:
    s = _open_edge(data_dir)
    try:
        with pytest.raises(StoreLockedError, match="another Tera process"):
            _open_edge(data_dir)
    finally:
        s.close()


def test_edge_writes_its_metadata(data_dir: Path) -> None:
    _open_edge(data_dir).close()
    meta = json.loads((data_dir / "memory" / "tera-store.json").read_text())
    assert meta["dim"] == DIM
    assert meta["embedding_model"] == MODEL


def test_edge_other_embedding_model_is_refused(data_dir: Path) -> None:
    with EdgeStore(data_dir / "m", DIM, embedding_model="model-alpha") as s:
        s.add([fact("kept", basis(0))])
    with pytest.raises(EmbeddingMismatchError) as err:
        EdgeStore(data_dir / "m", DIM, embedding_model="model-beta")
    assert "model-alpha" in str(err.value)
    assert "model-beta" in str(err.value)
    # refusing did not harm it, nor leave it locked
    with EdgeStore(data_dir / "m", DIM, embedding_model="model-alpha") as s:
        assert s.count() == 1


def test_edge_other_dimension_is_refused(data_dir: Path) -> None:
    EdgeStore(data_dir / "m", DIM, embedding_model="model-alpha").close()
    with pytest.raises(EmbeddingMismatchError) as err:
        EdgeStore(data_dir / "m", DIM * 2, embedding_model="model-gamma")
    msg = str(err.value)
    assert "model-alpha" in msg and "model-gamma" in msg
    assert f"{DIM}-d" in msg and f"{DIM * 2}-d" in msg
    with pytest.raises(EmbeddingMismatchError, match="model-alpha"):
        EdgeStore(data_dir / "m", DIM * 2, embedding_model="model-alpha")


def _server_at(folder: Path, dim: int, model: str) -> ServerStore:
    return ServerStore(
        dim, path=str(folder), journal_path=folder.parent / "j.json", embedding_model=model
    )


def test_server_other_embedding_model_is_refused(data_dir: Path) -> None:
    _server_at(data_dir / "q1", DIM, "model-alpha").close()
    with pytest.raises(EmbeddingMismatchError) as err:
        _server_at(data_dir / "q1", DIM, "model-beta")
    assert "model-alpha" in str(err.value) and "model-beta" in str(err.value)

    _server_at(data_dir / "q2", DIM, "model-alpha").close()
    with pytest.raises(EmbeddingMismatchError, match="model-alpha"):
        _server_at(data_dir / "q2", DIM + 4, "model-alpha")


def test_server_store_that_refuses_to_open_lets_go_of_its_client(data_dir: Path) -> None:
    """A ServerStore whose __init__ raises must close the client it made: in path mode an open
    client keeps the folder locked (and against a server it keeps a connection pool) for as long
    as the exception, whose traceback holds the half-built store, is alive."""
    _server_at(data_dir / "q", DIM, "model-alpha").close()
    with pytest.raises(EmbeddingMismatchError) as err:
        _server_at(data_dir / "q", DIM, "model-beta")
    assert err.value is not None  # the error is still being shown to the user...
    _server_at(data_dir / "q", DIM, "model-alpha").close()  # ...and the right settings open it


# --------------------------------------------------------------------------------------------------
# open_store
# --------------------------------------------------------------------------------------------------


def test_open_store_without_url_is_the_embedded_engine(data_dir: Path) -> None:
    s = open_store(folder=data_dir / "mem", dim=DIM, embedding_model=MODEL)
    try:
        assert isinstance(s, EdgeStore)
        assert (data_dir / "mem" / "shard").is_dir()
    finally:
        s.close()


def test_open_store_with_url_picks_the_server(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    class FakeServer:
        def __init__(self, dim: int, **kwargs: Any) -> None:
            seen.update(kwargs, dim=dim)

    monkeypatch.setattr(store_mod, "ServerStore", FakeServer)
    s = open_store(
        folder=data_dir / "mem",
        dim=DIM,
        embedding_model=MODEL,
        qdrant_url="https://qdrant.example:6333",
        qdrant_api_key="secret",
        collection="mine",
    )
    assert isinstance(s, FakeServer)
    assert seen == {
        "dim": DIM,
        "url": "https://qdrant.example:6333",
        "api_key": "secret",
        "collection": "mine",
        "embedding_model": MODEL,
        "journal_path": data_dir / "mem" / "server-journal.json",
    }
    assert not (data_dir / "mem").exists()  # the embedded engine was not touched


def test_open_store_with_an_unreachable_server_says_so(data_dir: Path) -> None:
    with pytest.raises(StoreError) as err:
        open_store(
            folder=data_dir / "mem",
            dim=DIM,
            embedding_model=MODEL,
            qdrant_url="http://127.0.0.1:9",
        )
    assert not isinstance(err.value, StoreLockedError | EmbeddingMismatchError)
    assert "Cannot reach the Qdrant server at http://127.0.0.1:9" in str(err.value)
    assert err.value.hint
    assert not (data_dir / "mem").exists()


# --------------------------------------------------------------------------------------------------
# Real processes: crashes and the folder lock (embedded engine)
# --------------------------------------------------------------------------------------------------

CHILD_PRELUDE = """
import os, sys, uuid
sys.path.insert(0, {root!r})
from pathlib import Path
from tera_desktop.core.store import Chunk, EdgeStore

DIM = {dim}
FOLDER = Path({folder!r})
SRC = "/docs/crash.txt"
DOC_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, SRC))


def doc(version, n, source=SRC, doc_id=DOC_ID):
    doc_hash = "dochash-" + source + "-" + str(version)
    return [
        Chunk(
            id=str(uuid.uuid4()),
            text=source + " " + str(version) + " chunk " + str(i),
            vector=[1.0, 0.1 * (i + 1), 0.3] + [0.0] * (DIM - 3),
            kind="document",
            doc_id=doc_id,
            created_at="2024-01-01T00:00:00+00:00",
            content_hash=doc_hash,
            source=source,
            chunk_index=i,
            extra={{"n_chunks": n, "doc_hash": doc_hash, "title": "T", "version": str(version)}},
        )
        for i in range(n)
    ]


def die_on(obj, name, nth=1):
    original = getattr(obj, name)
    calls = [0]

    def dying(*args, **kwargs):
        calls[0] += 1
        if calls[0] == nth:
            os._exit(9)
        return original(*args, **kwargs)

    setattr(obj, name, dying)


store = EdgeStore(FOLDER, DIM, embedding_model={model!r})
"""


def _child_script(data_dir: Path, folder: Path, body: str) -> Path:
    script = data_dir / f"child_{uuid.uuid4().hex[:8]}.py"
    prelude = CHILD_PRELUDE.format(root=str(REPO_ROOT), dim=DIM, folder=str(folder), model=MODEL)
    script.write_text(prelude + textwrap.dedent(body), encoding="utf-8")
    return script


def _run_child(script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        cwd=str(REPO_ROOT),
    )


SRC = "/docs/crash.txt"

# (where the child dies, code that arms the crash, chunks of v2, which version must survive)
CRASH_POINTS = {
    "journal written, nothing upserted": ('die_on(store, "_upsert")', 2, "v1"),
    "between upsert batches": ('die_on(store, "_upsert", nth=2)', 600, "v1"),
    "pending upserted, before the flip": ('die_on(store, "_set_where")', 2, "v1"),
    "flipped, before the old delete": ('die_on(store, "_delete_where")', 2, "v2"),
    "old deleted, before the journal clears": ('die_on(store._journal, "write", nth=2)', 2, "v2"),
}


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_edge_replacement_killed_mid_way_is_all_or_nothing(data_dir: Path, point: str) -> None:
    arm, n_new, survivor = CRASH_POINTS[point]
    folder = data_dir / "memory"
    script = _child_script(
        data_dir,
        folder,
        f"""
        store.replace_document(DOC_ID, doc("v1", 3))
        {arm}
        store.replace_document(DOC_ID, doc("v2", {n_new}))
        sys.exit(0)  # not reached: the crash point must have been hit
        """,
    )
    proc = _run_child(script)
    assert proc.returncode == 9, proc.stderr
    assert (folder / "journal.json").exists()

    n_want = {"v1": 3, "v2": n_new}[survivor]
    with EdgeStore(folder, DIM, embedding_model=MODEL) as s:
        did = doc_id_of(SRC)
        assert not (folder / "journal.json").exists()
        assert pending_count(s) == 0
        points = all_points(s)
        assert len(points) == n_want
        assert {h.extra["version"] for h in points} == {survivor}
        assert s.count() == n_want
        hits = s.chunks_of(did, 0, 10_000)
        assert [h.chunk_index for h in hits] == list(range(n_want))
        assert {h.text.split()[1] for h in hits} == {survivor}
        info = s.document(SRC)
        assert info is not None
        assert (info.chunks, info.content_hash) == (n_want, f"dochash-{SRC}-{survivor}")
        other = "v2" if survivor == "v1" else "v1"
        assert all(f" {other} " not in h.text for h in s.search(vec(1.0, 0.1, 0.3), k=100))


def test_edge_new_document_killed_before_the_flip_leaves_nothing(data_dir: Path) -> None:
    folder = data_dir / "memory"
    script = _child_script(
        data_dir,
        folder,
        """
        die_on(store, "_set_where")
        store.replace_document(DOC_ID, doc("v1", 4))
        sys.exit(0)
        """,
    )
    proc = _run_child(script)
    assert proc.returncode == 9, proc.stderr
    with EdgeStore(folder, DIM, embedding_model=MODEL) as s:
        assert all_points(s) == []
        assert s.count() == 0
        assert s.document(SRC) is None
        assert not (folder / "journal.json").exists()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_edge_sigkill_while_writing_never_leaves_a_document_half_stored(data_dir: Path) -> None:
    """A child rewrites 12 documents over and over, each time with a different number of chunks,
    printing each write once it returned. We SIGKILL it at a random moment, reopen, and check that
    every document is exactly one version, complete, and no older than the last acknowledged one.
    Then again, three more times, on the same folder."""
    folder = data_dir / "memory"
    n_docs = 12
    script = _child_script(
        data_dir,
        folder,
        f"""
        i = int(sys.argv[1])
        while True:
            k = i % {n_docs}
            n = 1 + (i * 7 + k) % 9
            source = "/docs/loop-" + str(k) + ".txt"
            did = str(uuid.uuid5(uuid.NAMESPACE_URL, source))
            store.replace_document(did, doc(i, n, source=source, doc_id=did))
            print(i, flush=True)
            i += 1
        """,
    )
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    acked: set[int] = set()  # writes whose replace_document returned
    in_doubt: set[int] = set()  # the write each killed child was in the middle of
    start = 0
    for _round in range(4):
        new = _run_and_sigkill(script, start, wait_for=rng.randrange(5, 30), rng=rng)
        assert new, f"the child wrote nothing (seed {seed})"
        acked.update(new)
        in_doubt.add(max(new) + 1)
        with EdgeStore(folder, DIM, embedding_model=MODEL) as s:
            assert pending_count(s) == 0, f"seed {seed}"
            assert not (folder / "journal.json").exists()
            by_doc: dict[str, list[Hit]] = defaultdict(list)
            for h in all_points(s):
                by_doc[h.doc_id].append(h)
            assert sum(len(v) for v in by_doc.values()) == s.count()
            assert set(by_doc) <= {doc_id_of(f"/docs/loop-{k}.txt") for k in range(n_docs)}
            for k in range(n_docs):
                hits = by_doc.get(doc_id_of(f"/docs/loop-{k}.txt"), [])
                newest = max((i for i in acked if i % n_docs == k), default=None)
                # the newest acknowledged version, or a newer one a child was killed writing
                allowed = {
                    i
                    for i in in_doubt
                    if i % n_docs == k and i > (-1 if newest is None else newest)
                }
                if newest is not None:
                    allowed.add(newest)
                if not hits:
                    assert newest is None, f"doc {k} lost v{newest} (seed {seed})"
                    continue
                versions = {int(h.extra["version"]) for h in hits}
                assert len(versions) == 1, f"doc {k} mixes versions {versions} (seed {seed})"
                version = versions.pop()
                assert version in allowed, f"doc {k}: v{version}, want {allowed} (seed {seed})"
                n = 1 + (version * 7 + k) % 9  # as the child computes it
                assert {h.extra["n_chunks"] for h in hits} == {n}
                assert sorted(h.chunk_index for h in hits) == list(range(n)), f"seed {seed}"
                info = s.document(f"/docs/loop-{k}.txt")
                assert info is not None and info.chunks == n
        start = max(new) + 2  # never reuse the number of a write that may have landed


def _run_and_sigkill(script: Path, start: int, *, wait_for: int, rng: random.Random) -> list[int]:
    """Run the writer until it acknowledged ``wait_for`` writes, let it go on for a random while,
    SIGKILL it and return every write it acknowledged (all of stdout, read through one buffer)."""
    errors = script.with_suffix(f".{start}.err")
    with open(errors, "w", encoding="utf-8") as err_file:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(start)],
            stdout=subprocess.PIPE,
            stderr=err_file,
            text=True,
            cwd=str(REPO_ROOT),
        )
    assert proc.stdout is not None
    acked: list[int] = []
    try:
        while len(acked) < wait_for:
            line = proc.stdout.readline()
            if not line:
                proc.wait(timeout=CHILD_TIMEOUT)
                pytest.fail(f"the writer stopped early ({proc.returncode}): {errors.read_text()}")
            acked.append(int(line))
        # let it run on into the middle of some write: a random number of further acks, then a
        # random fraction of a millisecond or so
        for _ in range(rng.randrange(0, 5)):
            acked.append(int(proc.stdout.readline()))
        spin = rng.randrange(0, 20_000)
        while spin:
            spin -= 1
        os.kill(proc.pid, signal.SIGKILL)
        acked.extend(int(x) for x in proc.stdout.read().split())
        proc.wait(timeout=CHILD_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, errors.read_text()
    return acked


def test_edge_folder_is_locked_against_another_process(data_dir: Path) -> None:
    folder = data_dir / "memory"
    script = _child_script(
        data_dir,
        folder,
        """
        import time
        store.add(doc("held", 2))
        print("open", flush=True)
        time.sleep(120)
        """,
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(REPO_ROOT),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "open", proc.stderr.read() if proc.stderr else ""
        with pytest.raises(StoreLockedError) as err:
            EdgeStore(folder, DIM, embedding_model=MODEL)
        assert "another Tera process" in str(err.value)
        assert str(folder) in str(err.value)
    finally:
        proc.kill()
        proc.communicate(timeout=CHILD_TIMEOUT)
    # the holder is gone: the folder opens, with what it wrote
    with EdgeStore(folder, DIM, embedding_model=MODEL) as s:
        assert s.count() == 2
        assert s.document(SRC) is not None


# --------------------------------------------------------------------------------------------------
# Keyword (BM25) and hybrid search
# --------------------------------------------------------------------------------------------------


def _keyword_memory(store: Any) -> dict[str, str]:
    facts = [
        fact("The build server is called ZEPHYR-9.", basis(0)),
        fact("Invoice INV-2024-0193 was paid on 3 March.", basis(1)),
        fact("My cat is blue and sleeps all day.", basis(2)),
        fact("The dentist is Dr. Rossi on Tuesday.", basis(3)),
    ]
    store.add(facts)
    return {f.text.split()[1]: f.id for f in facts}


def test_keyword_search_finds_exact_names_and_numbers(store: Any) -> None:
    ids = _keyword_memory(store)
    hits = store.search(basis(2), 4, text="who paid INV-2024-0193", mode="keyword")
    assert hits and hits[0].id == ids["INV-2024-0193"]
    assert hits[0].score > 0  # a BM25 score
    assert store.search(basis(2), 4, text="zephyr-9", mode="keyword")[0].id == ids["build"]
    assert store.search(basis(0), 4, text="the of and", mode="keyword") == []  # stop words only


def test_hybrid_fuses_keyword_and_dense_rankings(store: Any) -> None:
    ids = _keyword_memory(store)
    # the vector points at the cat fact; the words name the invoice: both come first
    hits = fused_search(store, basis(2), 2, text="INV-2024-0193", mode="hybrid")
    assert {h.id for h in hits} == {ids["INV-2024-0193"], ids["cat"]}
    by_id = {h.id: h for h in hits}
    assert by_id[ids["cat"]].score == pytest.approx(1.0, abs=1e-5)  # scores stay cosine
    assert by_id[ids["INV-2024-0193"]].score == pytest.approx(0.0, abs=1e-5)
    assert all(h.extra["fused_score"] > 0 for h in hits)
    assert (
        fused_search(store, basis(2), 1, text="   ", mode="hybrid")[0].id == ids["cat"]
    )  # no words


@pytest.mark.parametrize("closer_id_first", [True, False])
def test_a_fused_tie_goes_to_the_memory_closer_in_meaning(
    store: Any, closer_id_first: bool
) -> None:
    """Mirrored ranks (dense 1 + keyword 2 = dense 2 + keyword 1) fuse to equal scores; the one
    closer to the question wins, whatever the point ids (the engine's own order)."""
    low, high = "00000000-0000-4000-8000-000000000000", "ffffffff-ffff-4fff-bfff-ffffffffffff"
    closer = replace(fact("Quarterly report notes, draft two.", vec(0.9, 0.1)),
                     id=low if closer_id_first else high)  # fmt: skip
    wordier = replace(fact("Report: report.", vec(0.8, 0.6)), id=high if closer_id_first else low)
    store.add([closer, wordier, fact("Something else entirely.", basis(5))])
    for mode in ("hybrid", "expanded"):
        hits = fused_search(store, basis(0), 2, text="report", mode=mode)
        assert hits[0].extra["fused_score"] == pytest.approx(hits[1].extra["fused_score"])
        assert [h.id for h in hits] == [closer.id, wordier.id], mode
        assert fused_search(store, basis(0), 1, text="report", mode=mode)[0].id == closer.id


def test_keyword_and_hybrid_respect_filters_and_forgetting(store: Any) -> None:
    ids = _keyword_memory(store)
    store.replace_document(doc_id_of("/d.md"), doc_chunks("/d.md", 2))
    assert (
        fused_search(store, basis(1), 4, text="INV-2024-0193", mode="keyword", kind="document")
        == []
    )
    store.delete_ids([ids["INV-2024-0193"]])
    for mode in ("keyword", "hybrid", "expanded"):
        hits = fused_search(store, basis(1), 4, text="INV-2024-0193", mode=mode)
        assert ids["INV-2024-0193"] not in {h.id for h in hits}
        assert fused_search(
            store, basis(1), 4, text="dentist", mode=mode, kind="fact"
        )  # facts remain
        docs = fused_search(store, basis(1), 4, text="chunk", mode=mode, kind="document")
        assert docs and all(h.kind == "document" for h in docs), mode


def _mix(*parts: tuple[int, float]) -> list[float]:
    v = [0.0] * DIM
    for i, w in parts:
        v[i] = w
    return v


def _feedback_memory(store: Any) -> dict[str, str]:
    """Three chunks close to the question share the words "quarterly revenue figures"; a fourth
    chunk has those words but a vector orthogonal to the question; three others are moderately
    close, with words they share with nothing."""
    topic = [
        fact(
            f"Quarterly revenue figures for region {r} are in the ledger.", _mix((0, 0.8), (1, 0.6))
        )
        for r in ("north", "south", "east")
    ]
    target = fact("The quarterly revenue figures for the west were late.", basis(1))
    others = [
        fact(text, _mix((0, 0.5), (2, 0.866)))
        for text in ("Water the tomatoes.", "Oil the bike chain.", "Buy food for the cat.")
    ]
    store.add([*topic, target, *others])
    return {"target": target.id, "others": ",".join(o.id for o in others)}


def test_expanded_search_learns_words_from_its_first_results(store: Any) -> None:
    ids = _feedback_memory(store)
    # the question's own words match nothing, and its vector is orthogonal to the target
    hybrid = fused_search(store, basis(0), 4, text="how are sales doing", mode="hybrid")
    assert ids["target"] not in {h.id for h in hybrid}
    expanded = fused_search(store, basis(0), 4, text="how are sales doing", mode="expanded")
    assert ids["target"] in {h.id for h in expanded}
    by_id = {h.id: h for h in expanded}
    # scores stay the cosine similarity to the question, not to the expanded query
    assert by_id[ids["target"]].score == pytest.approx(0.0, abs=1e-5)
    assert max(h.score for h in expanded) == pytest.approx(0.8, abs=1e-5)
    assert all(h.extra["fused_score"] > 0 for h in expanded)
    assert len(expanded) == 4


def test_expanded_search_with_too_little_to_learn_from_is_hybrid(store: Any) -> None:
    only = fact("The gate code is 4512.", basis(3))
    store.add([only])
    for mode in ("hybrid", "expanded"):
        hits = fused_search(store, basis(0), 4, text="gate code", mode=mode)
        assert [h.id for h in hits] == [only.id]
    assert (
        fused_search(store, basis(0), 4, text="gate code", mode="expanded", kind="document") == []
    )


def test_expand_query_adds_the_feedback_centroid_and_shared_terms() -> None:
    from tera_desktop.core.fusion import FEEDBACK_TERM_WEIGHT, expand_query
    from tera_desktop.core.store import bm25_document, bm25_query

    query = bm25_query("sales")
    feedback = [
        ("quarterly revenue grew", _mix((1, 2.0))),  # vectors need not be unit length
        ("quarterly revenue fell", basis(2)),
        ("tomatoes", None),  # a chunk without a vector adds words only
    ]
    vector, (terms, weights) = expand_query(basis(0), query, feedback)
    v = np.asarray(vector)
    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-6)
    # unit query + unit centroid of (b1, b2): b0 + (b1 + b2) / sqrt(2), normalized
    assert v[:3] == pytest.approx([1 / np.sqrt(2), 0.5, 0.5], abs=1e-6)
    added = dict(zip(terms, weights, strict=True))
    shared = set(bm25_document("quarterly revenue")[0])
    once = set(bm25_document("grew fell tomatoes")[0])
    assert shared <= set(added) and not once & set(added)  # only words in 2+ chunks
    assert max(added[t] for t in shared) == pytest.approx(FEEDBACK_TERM_WEIGHT)
    assert added[query[0][0]] == pytest.approx(1.0)  # the question's own term leads
    assert terms == sorted(terms)


def test_expand_query_without_feedback_keeps_the_query() -> None:
    from tera_desktop.core.fusion import expand_query
    from tera_desktop.core.store import bm25_query

    query = bm25_query("gate code")
    vector, (terms, weights) = expand_query(_mix((0, 3.0)), query, [])
    assert vector == pytest.approx(basis(0))
    assert sorted(zip(terms, weights, strict=True)) == sorted(
        zip(query[0], [w / max(query[1]) for w in query[1]], strict=True)
    )


def test_search_modes_and_setting_modes_agree() -> None:
    from tera_desktop.core.fusion import MODES
    from tera_desktop.core.settings import RETRIEVAL_MODES
    from tera_desktop.core.store import SEARCH_MODES

    assert MODES == RETRIEVAL_MODES
    assert set(SEARCH_MODES) < set(MODES)  # the store's primitives; fusion builds the rest


def test_keyword_search_ignores_accents_and_case(store: Any) -> None:
    cafe = fact("Le café de la gare ferme à 22h.", basis(0))
    other = fact("The station opens at six.", basis(1))
    store.add([cafe, other])
    for query in ("cafe", "CAFÉ", "Café", "gare cafe ferme"):
        hits = store.search(basis(2), 2, text=query, mode="keyword")
        assert hits and hits[0].id == cafe.id, query
    found = store.search(basis(2), 2, text="station cafe close", mode="keyword")
    assert cafe.id in {h.id for h in found}
    assert fused_search(store, basis(2), 1, text="cafe", mode="hybrid")[0].id == cafe.id


def test_a_chunk_indexed_before_folding_is_still_found_by_its_own_spelling(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memories stored before keyword folding hold unfolded terms ("café"): a query is searched
    with its own spelling too, so what was found before is found still."""
    from tera_desktop.core.store import keyword

    old = fact("Le café de la gare ferme à 22h.", basis(0))
    with monkeypatch.context() as m:
        m.setattr(keyword, "fold", lambda text: text)  # the index as an older Tera wrote it
        store.add([old])
    assert store.search(basis(2), 1, text="café", mode="keyword")[0].id == old.id
    assert store.search(basis(2), 1, text="Le Café", mode="keyword")[0].id == old.id


def test_folding_adds_no_terms_to_a_plain_query() -> None:
    from tera_desktop.core.store import bm25_query, fold

    assert fold("Le Café ÉTÉ straße ﬁle") == "le cafe ete strasse file"
    plain = bm25_query("gate code")
    assert bm25_query("Gate CODE") == plain  # case was already folded by the tokenizer
    terms, _ = bm25_query("café")
    assert set(bm25_query("cafe")[0]) < set(terms)  # its own spelling and the folded one


def test_unknown_search_mode_is_an_error(store: Any) -> None:
    with pytest.raises(StoreError, match="Unknown search mode"):
        store.search(basis(0), 1, text="x", mode="fuzzy")


def test_a_memory_from_before_keyword_search_gains_it(data_dir: Path) -> None:
    import qdrant_edge as qe

    folder = data_dir / "memory"
    shard = qe.EdgeShard.create(
        str(folder / "shard"),
        qe.EdgeConfig(
            vectors={"dense": qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine)}
        ),
    )
    shard.close()
    s = _open_edge(data_dir)
    try:
        ids = _keyword_memory(s)
        assert s.search(basis(0), 1, text="ZEPHYR-9", mode="keyword")[0].id == ids["build"]
    finally:
        s.close()
