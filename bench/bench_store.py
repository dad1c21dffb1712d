"""Store benchmark: can the embedded store hold a million chunks, open cold in ≤ 2 s and answer a
top-10 search in tens of milliseconds?

For each size N (synthetic 384-d chunks) it measures, in one run:

- upsert points/s through ``EdgeStore.add`` (batches of 1,000 ``Chunk`` objects with realistic
  payloads), and raw ``EdgeShard.update(upsert_points)`` of the same vectors and payloads into a
  bare shard (same vector config, no payload indexes, no Python wrapper): the engine's floor;
- index build time (``EdgeStore.optimize()``; Qdrant Edge builds HNSW only there);
- cold open: the store is closed and a NEW subprocess times the ``EdgeStore`` constructor and
  the first query: the first open after the build, then the median of 3 more. The OS page cache
  is the only thing warm (the files were just written). One more subprocess repeats it after
  evicting the store's files from the page cache (``posix_fadvise(DONTNEED)`` per file: no
  root, nothing else evicted); a bare ``EdgeShard.load`` is timed too;
- search latency p50/p95 over ``--queries`` top-10 queries through ``EdgeStore.search`` (our path,
  with the ``state == live`` filter and payloads), raw unfiltered ``EdgeShard.query`` (no payload;
  also with ``hnsw_ef=256``), ``EdgeStore.search(kind="fact")`` (10 % of the points), each query
  running every path in a rotating order, then numpy exact brute force; with the recall@10 of
  each approximate path against the exact results;
- resident memory of the search process after open and after the searches.

Data: 1,000 random centres, each point = centre + gaussian noise, normalised (clustered, like real
embeddings; uniform random vectors are unrealistically hard for HNSW); the queries are drawn the
same way, never copies of stored points. Points come in documents of 50 chunks (so about N/50
source paths); every tenth document's worth of points are facts.

Shard settings (``--config``): ``tuned`` (default) creates the shard with the settings proposed
for store.py (see ``precreate_tuned``) before ``EdgeStore`` opens it; ``store`` leaves it to
store.py as it is (at 1M its index build takes far longer: payload-aware HNSW links on every
indexed field).

    python -m bench.bench_store --sizes 10000,100000,1000000 [--queries 200] [--out PATH]
    python -m bench.bench_store --workdir DIR --reuse ...   # re-measure stores built in DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    RESULTS_DIR,
    Table,
    dir_size_mb,
    latency_ms,
    machine_info,
    rss_mb,
    write_json,
)

DIM = 384
K = 10
BATCH = 1000
CHUNKS_PER_DOC = 50
FACT_EVERY_DOCS = 10  # every 10th document's slot holds facts instead: 10 % of the points
N_CENTERS = 1000
DEFAULT_SIZES = (10_000, 100_000)
SEED = 7
_ROW_MASK = (1 << 48) - 1
_T0 = datetime(2024, 1, 1, tzinfo=UTC)
_WORDS = (
    "memory",
    "note",
    "meeting",
    "project",
    "budget",
    "draft",
    "review",
    "plan",
    "invoice",
    "travel",
    "garden",
    "recipe",
    "paper",
    "model",
    "train",
    "cluster",
    "vector",
    "search",
    "index",
    "query",
    "answer",
    "chapter",
    "source",
    "report",
    "summary",
    "idea",
    "deadline",
    "client",
    "contract",
    "design",
    "sketch",
    "photo",
    "archive",
    "letter",
    "music",
    "lecture",
    "exam",
    "thesis",
)


# --------------------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------------------


def clustered(
    rng: np.random.Generator, centers: np.ndarray, n: int, noise: float, out: np.ndarray
) -> np.ndarray:
    """Fill ``out`` with ``n`` unit vectors: a random centre plus gaussian noise, normalised."""
    for start in range(0, n, 65_536):
        m = min(65_536, n - start)
        v = centers[rng.integers(0, len(centers), m)] + noise * rng.standard_normal(
            (m, centers.shape[1]), dtype=np.float32
        )
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[start : start + m] = v
    return out


def make_data(n: int, n_queries: int, noise: float, data: Path) -> np.ndarray:
    """Write ``vectors.npy`` and ``queries.npy`` under ``data``; return the vectors memory-mapped
    (so that 1M vectors live in the page cache, not in this process's heap)."""
    rng = np.random.default_rng(SEED)
    centers = rng.standard_normal((N_CENTERS, DIM), dtype=np.float32)
    vectors = np.lib.format.open_memmap(
        data / "vectors.npy", mode="w+", dtype=np.float32, shape=(n, DIM)
    )
    clustered(rng, centers, n, noise, vectors)
    vectors.flush()
    queries = np.empty((n_queries, DIM), dtype=np.float32)
    clustered(np.random.default_rng(SEED + 1), centers, n_queries, noise, queries)
    np.save(data / "queries.npy", queries)
    return vectors


def point_id(row: int) -> str:
    return str(uuid.UUID(int=row + 1, version=4))


def row_of(pid: Any) -> int:
    return (uuid.UUID(str(pid)).int & _ROW_MASK) - 1


def is_fact(rows: np.ndarray) -> np.ndarray:
    return (rows // CHUNKS_PER_DOC) % FACT_EVERY_DOCS == 0


def _texts(rng: np.random.Generator, n: int = 2048) -> list[str]:
    texts = []
    for _ in range(n):
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < 190:
            words.append(_WORDS[int(rng.integers(len(_WORDS)))])
        texts.append(" ".join(words).capitalize() + ".")
    return texts


def make_chunks(vectors: np.ndarray, start: int, stop: int, texts: list[str]) -> list[Any]:
    """``Chunk`` objects for rows ``start:stop`` with the payloads the app writes."""
    from tera_desktop.core.store import KIND_DOCUMENT, KIND_FACT, Chunk

    chunks = []
    for row in range(start, stop):
        doc = row // CHUNKS_PER_DOC
        created = (_T0 + timedelta(seconds=row)).isoformat()
        text = f"{texts[row % len(texts)]} ({row})"
        if doc % FACT_EVERY_DOCS == 0:
            chash = hashlib.sha256(text.encode()).hexdigest()
            chunks.append(
                Chunk(point_id(row), text, vectors[row], KIND_FACT, f"fact-{row}", created, chash)
            )
        else:
            chash = hashlib.sha256(f"doc-{doc}".encode()).hexdigest()
            chunks.append(
                Chunk(
                    point_id(row),
                    text,
                    vectors[row],
                    KIND_DOCUMENT,
                    f"doc-{doc}",
                    created,
                    chash,
                    source=f"/home/user/Documents/notes/doc_{doc:07d}.md",
                    chunk_index=row % CHUNKS_PER_DOC,
                    extra={
                        "title": f"doc_{doc:07d}.md",
                        "n_chunks": CHUNKS_PER_DOC,
                        "doc_hash": chash,
                    },
                )
            )
    return chunks


# --------------------------------------------------------------------------------------------------
# Build (this process): upserts, raw upserts, optimize
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# Shard settings
# --------------------------------------------------------------------------------------------------

CONFIGS = ("store", "tuned")


# The proposed settings (what store.py should create; see the module docstring of this file and
# the report). HNSW m=16 / ef_construct=64: recall@10 ≈ 1.0 here at half the build time of 100
# (the build is single-threaded on 2 cores). Payload-aware HNSW links only for ``kind`` (the one
# broad filter searches use; ``source`` matches few points, which the planner scores exactly);
# on ``state`` (every point), ``created_at``, ``chunk_index``, ``gen``, ... they only cost build
# time. Payload indexes memory-mapped (Cold): they are not read into RAM at open.
TUNED_M = 16
TUNED_EF_CONSTRUCT = 64
TUNED_HNSW_FIELDS = ("kind",)
SEARCH_EF = 256  # an extra raw row: what a query-time hnsw_ef buys (the default is ef_construct)
OPEN_REPEATS = 3


def precreate_tuned(folder: Path) -> dict[str, Any]:
    """Create the shard with the proposed settings before ``EdgeStore`` opens it (it then loads
    the shard and keeps them); returns the settings, for the report."""
    import qdrant_edge as qe

    from tera_desktop.core.store import (
        _DATETIME_FIELDS,
        _INTEGER_FIELDS,
        _KEYWORD_FIELDS,
        SPARSE_NAME,
        VECTOR_NAME,
    )

    cold = qe.Memory.Cold
    hnsw_on = set(TUNED_HNSW_FIELDS)
    config = qe.EdgeConfig(
        vectors={VECTOR_NAME: qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine)},
        sparse_vectors={SPARSE_NAME: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        hnsw_config=qe.HnswIndexConfig(
            m=TUNED_M, ef_construct=TUNED_EF_CONSTRUCT, full_scan_threshold=10_000
        ),
    )
    shard = qe.EdgeShard.create(str(folder / "shard"), config)
    indexes: list[tuple[str, Any]] = [
        (f, qe.KeywordIndexParams(enable_hnsw=f in hnsw_on, memory=cold)) for f in _KEYWORD_FIELDS
    ]
    indexes += [
        (f, qe.IntegerIndexParams(lookup=True, range=False, enable_hnsw=f in hnsw_on, memory=cold))
        for f in _INTEGER_FIELDS
    ]
    indexes += [
        (f, qe.DatetimeIndexParams(enable_hnsw=f in hnsw_on, memory=cold)) for f in _DATETIME_FIELDS
    ]
    for name, params in indexes:
        shard.update(qe.UpdateOperation.create_field_index(name, params))
    shard.flush()
    shard.close()
    return {
        "hnsw": {
            "m": TUNED_M,
            "ef_construct": TUNED_EF_CONSTRUCT,
            "full_scan_threshold_kb": 10_000,
        },
        "payload_hnsw_fields": list(TUNED_HNSW_FIELDS),
        "payload_index_memory": "Cold (mmap)",
        "chunk_index": "lookup only, no range",
        "vectors": "default (Cached: mmap, pre-warmed at open)",
    }


def build(
    n: int, vectors: np.ndarray, folder: Path, raw_folder: Path, config: str
) -> dict[str, Any]:
    import qdrant_edge as qe

    from tera_desktop.core.store import LIVE, VECTOR_NAME, EdgeStore, _payload

    texts = _texts(np.random.default_rng(SEED + 2))
    settings = precreate_tuned(folder) if config == "tuned" else {"store.py": "as it is"}
    store = EdgeStore(folder, DIM)
    raw = qe.EdgeShard.create(
        str(raw_folder),
        qe.EdgeConfig(
            vectors={VECTOR_NAME: qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine)}
        ),
    )
    ours_s = raw_s = 0.0
    report = max(BATCH, (n // 10) // BATCH * BATCH)
    for start in range(0, n, BATCH):
        stop = min(n, start + BATCH)
        chunks = make_chunks(vectors, start, stop, texts)
        payloads = [_payload(c, "g", LIVE) for c in chunks]  # same payload, built outside the clock
        t = time.perf_counter()
        store.add(chunks)
        ours_s += time.perf_counter() - t
        t = time.perf_counter()
        points = [
            qe.Point(c.id, {VECTOR_NAME: vectors[i].tolist()}, p)
            for i, c, p in zip(range(start, stop), chunks, payloads, strict=True)
        ]
        raw.update(qe.UpdateOperation.upsert_points(points))
        raw_s += time.perf_counter() - t
        if stop % report == 0 and n >= 100_000:
            print(f"  {stop:,}/{n:,} upserted ({stop / ours_s:,.0f} pts/s ours)", flush=True)
    t = time.perf_counter()
    raw.flush()
    raw_s += time.perf_counter() - t
    raw.close()
    shutil.rmtree(raw_folder, ignore_errors=True)

    t = time.perf_counter()
    store.flush()
    ours_s += time.perf_counter() - t
    print(f"  optimize() at {n:,} ...", flush=True)
    t = time.perf_counter()
    store.optimize()
    optimize_s = time.perf_counter() - t
    info = store._shard.info()
    t = time.perf_counter()
    store.close()
    close_s = time.perf_counter() - t
    return {
        "settings": settings,
        "upsert_ours_pts_s": n / ours_s,
        "upsert_raw_pts_s": n / raw_s,
        "upsert_ours_s": ours_s,
        "upsert_raw_s": raw_s,
        "optimize_s": optimize_s,
        "close_s": close_s,
        "segments": info.segments_count,
        "points": info.points_count,
        "indexed_vectors": info.indexed_vectors_count,
        "disk_mb": dir_size_mb(folder),
        "build_peak_rss_mb": rss_mb().get("peak_rss_mb"),
    }


# --------------------------------------------------------------------------------------------------
# Search worker (a fresh subprocess per call)
# --------------------------------------------------------------------------------------------------


def drop_page_cache(folder: Path) -> None:
    """Evict ``folder``'s files (only those) from the OS page cache."""
    for f in Path(folder).rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def _timed(paths: dict[str, Any], queries: np.ndarray) -> dict[str, tuple[list[float], list[Any]]]:
    """Run every path on every query, rotating the order per query so that no path always goes
    first (and pays for the page faults the others then skip)."""
    out: dict[str, tuple[list[float], list[Any]]] = {name: ([], []) for name in paths}
    names = list(paths)
    for i, q in enumerate(queries):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            t = time.perf_counter()
            res = paths[name](q)
            out[name][0].append(time.perf_counter() - t)
            out[name][1].append(res)
    return out


def _recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def search_worker(folder: Path, data: Path, mode: str) -> dict[str, Any]:
    import qdrant_edge as qe

    from tera_desktop.core.store import VECTOR_NAME, EdgeStore

    queries = np.load(data / "queries.npy")
    out: dict[str, Any] = {"rss_before_open": rss_mb()}
    if mode == "raw-open":
        t = time.perf_counter()
        shard = qe.EdgeShard.load(str(folder / "shard"))
        out["open_s"] = time.perf_counter() - t
        shard.close()
        return out
    t = time.perf_counter()
    store = EdgeStore(folder, DIM)
    out["open_s"] = time.perf_counter() - t
    out["rss_after_open"] = rss_mb()
    t = time.perf_counter()
    store.search(queries[0], K)
    out["first_query_s"] = time.perf_counter() - t
    if mode == "open":
        store.close()
        return out

    qs = queries[1:]
    shard = store._shard

    def ours(q: np.ndarray) -> list[int]:
        return [row_of(h.id) for h in store.search(q, K)]

    def ours_fact(q: np.ndarray) -> list[int]:
        return [row_of(h.id) for h in store.search(q, K, kind="fact")]

    def raw(q: np.ndarray, ef: int | None = None) -> list[int]:
        req = qe.QueryRequest(
            limit=K,
            query=qe.Query.Nearest(q.tolist(), using=VECTOR_NAME),
            with_payload=False,
            params=qe.SearchParams(hnsw_ef=ef) if ef else None,
        )
        return [row_of(p.id) for p in shard.query(req)]

    def raw_ef(q: np.ndarray) -> list[int]:
        return raw(q, SEARCH_EF)

    results = _timed({"ours": ours, "raw": raw, "raw_ef": raw_ef, "ours_fact": ours_fact}, qs)
    out["rss_after_search"] = rss_mb()
    store.close()

    matrix = np.load(data / "vectors.npy")
    fact_rows = np.flatnonzero(is_fact(np.arange(len(matrix))))
    fact_matrix = matrix[fact_rows]

    def exact(q: np.ndarray, m: np.ndarray = matrix) -> list[int]:
        scores = m @ q
        top = np.argpartition(-scores, K)[:K]
        return top[np.argsort(-scores[top])].tolist()

    results.update(_timed({"numpy": exact}, qs))
    truth = results["numpy"][1]
    fact_truth = [fact_rows[exact(q, fact_matrix)].tolist() for q in qs]
    out["search"] = {
        name: {
            **latency_ms(times),
            "recall": _recall(rows, fact_truth if name == "ours_fact" else truth),
        }
        for name, (times, rows) in results.items()
    }
    return out


def run_worker(folder: Path, data: Path, mode: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.bench_store", "--worker", mode, str(folder), str(data)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {mode} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------------


def bench_size(
    n: int, n_queries: int, noise: float, workdir: Path, config: str, reuse: bool = False
) -> dict[str, Any]:
    print(f"== {n:,} chunks", flush=True)
    base = workdir / f"n{n}"
    data, store, built_file = base / "data", base / "store", base / "build.json"
    if reuse and built_file.exists() and store.exists():
        result: dict[str, Any] = {**json.loads(built_file.read_text()), "reused_build": True}
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        make_data(n, n_queries + 1, noise, data)  # deterministic: the same vectors and queries
    else:
        shutil.rmtree(base, ignore_errors=True)
        data.mkdir(parents=True)
        vectors = make_data(n, n_queries + 1, noise, data)
        result = {"n": n, **build(n, vectors, store, base / "raw", config)}
        del vectors
        write_json(built_file, result)
    built = {k: round(v, 2) for k, v in result.items() if isinstance(v, float | int)}
    print(f"  built: {json.dumps(built)}", flush=True)
    warm = run_worker(store, data, "search")  # the first open after the build
    opens = [run_worker(store, data, "open") for _ in range(OPEN_REPEATS)]
    raw_open = run_worker(store, data, "raw-open")
    drop_page_cache(store)
    cold = run_worker(store, data, "open")
    result.update(
        open_first_s=warm["open_s"],
        open_s=float(np.median([o["open_s"] for o in opens])),
        open_all_s=[warm["open_s"], *(o["open_s"] for o in opens)],
        first_query_s=float(np.median([o["first_query_s"] for o in opens])),
        raw_open_s=raw_open["open_s"],
        open_dropped_cache_s=cold["open_s"],
        first_query_dropped_cache_s=cold["first_query_s"],
        rss_before_open_mb=warm["rss_before_open"]["rss_mb"],
        rss_after_open_mb=warm["rss_after_open"]["rss_mb"],
        anon_after_open_mb=warm["rss_after_open"]["anon_mb"],
        rss_after_search_mb=warm["rss_after_search"]["rss_mb"],
        search=warm["search"],
    )
    shutil.rmtree(data, ignore_errors=True)
    return result


def tables(results: list[dict[str, Any]]) -> str:
    build_t = Table(
        "chunks",
        "upsert ours (pts/s)",
        "upsert raw (pts/s)",
        "ours/raw",
        "optimize (s)",
        "segments",
        "disk (MB)",
        "build peak RSS (MB)",
    )
    open_t = Table(
        "chunks",
        "open, first after build (s)",
        f"open, median of {OPEN_REPEATS} (s)",
        "raw shard load (s)",
        "first query (ms)",
        "open, cache dropped (s)",
        "first query, cache dropped (ms)",
        "RSS after open (MB)",
        "of it heap (MB)",
        "RSS after searches (MB)",
    )
    search_t = Table("chunks", "path", "p50 (ms)", "p95 (ms)", "mean (ms)", "recall@10")
    labels = {
        "ours": "EdgeStore.search (live filter, payload)",
        "raw": "raw EdgeShard.query (no filter, no payload)",
        "raw_ef": f"raw EdgeShard.query, hnsw_ef={SEARCH_EF}",
        "ours_fact": 'EdgeStore.search(kind="fact")',
        "numpy": "numpy exact (float32 matmul)",
    }
    for r in results:
        build_t.add(
            r["n"],
            round(r["upsert_ours_pts_s"]),
            round(r["upsert_raw_pts_s"]),
            r["upsert_ours_pts_s"] / r["upsert_raw_pts_s"],
            r["optimize_s"],
            r["segments"],
            r["disk_mb"],
            r["build_peak_rss_mb"],
        )
        open_t.add(
            r["n"],
            r["open_first_s"],
            r["open_s"],
            r["raw_open_s"],
            r["first_query_s"] * 1000,
            r["open_dropped_cache_s"],
            r["first_query_dropped_cache_s"] * 1000,
            r["rss_after_open_mb"],
            r["anon_after_open_mb"],
            r["rss_after_search_mb"],
        )
        for name, s in r["search"].items():
            recall = None if name == "numpy" else s["recall"]
            search_t.add(r["n"], labels[name], s["p50"], s["p95"], s["mean"], recall)
    return f"{build_t}\n\n{open_t}\n\n{search_t}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="e.g. 10000,100000")
    ap.add_argument("--quick", action="store_true", help="sizes 10k,100k")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--noise", type=float, default=1.0, help="per-dimension noise around centres")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR / "store.json")
    ap.add_argument(
        "--config",
        choices=CONFIGS,
        default="tuned",
        help="store: the shard exactly as store.py creates it; tuned: the proposed settings",
    )
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="with --workdir: measure stores already built there instead of rebuilding",
    )
    ap.add_argument("--workdir", type=Path, help="where the stores are built (default: a temp dir)")
    ap.add_argument("--worker", nargs=3, metavar=("MODE", "FOLDER", "DATA"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        mode, folder, data = args.worker
        print(json.dumps(search_worker(Path(folder), Path(data), mode)))
        return 0

    sizes = list(DEFAULT_SIZES) if args.quick else [int(s) for s in args.sizes.split(",") if s]
    info = machine_info("qdrant-edge-py", "numpy")
    print(
        f"machine: {info['cpu']}, {info['cores']} cores, {info['mem_total_gb']} GB; "
        f"qdrant-edge-py {info['versions']['qdrant-edge-py']}, numpy {info['versions']['numpy']}, "
        f"python {info['python']}",
        flush=True,
    )
    own_tmp = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="tera-bench-store-")) if own_tmp else args.workdir
    results = []
    try:
        for n in sizes:
            results.append(
                bench_size(n, args.queries, args.noise, workdir, args.config, args.reuse)
            )
    finally:
        if own_tmp:
            shutil.rmtree(workdir, ignore_errors=True)
    md = tables(results)
    print()
    print(md)
    params = {
        "dim": DIM,
        "k": K,
        "batch": BATCH,
        "queries": args.queries,
        "centers": N_CENTERS,
        "noise": args.noise,
        "config": args.config,
        "fact_fraction": 1 / FACT_EVERY_DOCS,
        "chunks_per_doc": CHUNKS_PER_DOC,
    }
    path = write_json(
        args.out, {"machine": info, "params": params, "results": results, "markdown": md}
    )
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
