"""The retrieval benchmark's metrics on hand-made rankings, its data handling, and the report."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from bench.bench_retrieval import (
    dcg,
    dedupe,
    evaluate,
    load_dataset,
    mrr_at_k,
    ndcg_at_k,
    ndcg_at_k_leaderboard,
    recall_at_k,
    subset,
)

# One query's graded judgements: a highly relevant, b relevant, c related, d judged irrelevant.
# x, y, z are retrieved but unjudged (count 0).
JUDGED = {"a": 3, "b": 2, "c": 1, "d": 0}
L3 = math.log2(3)  # discount at rank 2; rank 1 is log2(2) = 1, rank 3 is log2(4) = 2


def test_dcg_uses_linear_gains_and_log2_discount() -> None:
    assert dcg([3, 2, 1]) == pytest.approx(3 / 1 + 2 / L3 + 1 / 2)
    assert dcg([]) == 0


def test_ndcg_perfect_ranking_is_one() -> None:
    assert ndcg_at_k(["a", "b", "c", "d"], JUDGED) == pytest.approx(1.0)
    assert ndcg_at_k_leaderboard(["a", "b", "c"], JUDGED) == pytest.approx(1.0)


def test_ndcg_graded_and_unjudged_by_hand() -> None:
    ideal = 3 + 2 / L3 + 1 / 2  # 4.76186: all three positive labels, best first
    # x(unjudged) b a y(unjudged) c: 0 + 2/log2(3) + 3/log2(4) + 0 + 1/log2(6)
    ranking = ["x", "b", "a", "y", "c"]
    got = 2 / L3 + 3 / 2 + 1 / math.log2(6)
    assert ndcg_at_k(ranking, JUDGED) == pytest.approx(got / ideal)
    assert ndcg_at_k(ranking, JUDGED) == pytest.approx(0.661236, abs=1e-6)
    # all relevant retrieved: the two ideals agree
    assert ndcg_at_k_leaderboard(ranking, JUDGED) == pytest.approx(0.661236, abs=1e-6)
    # reversed grades: 1 + 2/log2(3) + 3/2 over the ideal
    assert ndcg_at_k(["c", "b", "a"], JUDGED) == pytest.approx(0.789998, abs=1e-6)


def test_leaderboard_ndcg_ideal_comes_from_the_retrieved_list() -> None:
    ranking = ["x", "b", "y"]  # only b retrieved, at rank 2
    # standard: ideal from all judged labels (3, 2, 1)
    assert ndcg_at_k(ranking, JUDGED) == pytest.approx((2 / L3) / (3 + 2 / L3 + 1 / 2))
    assert ndcg_at_k(ranking, JUDGED) == pytest.approx(0.264993, abs=1e-6)
    # leaderboard: ideal from the retrieved labels (2, 0, 0) → (2/log2 3) / 2
    assert ndcg_at_k_leaderboard(ranking, JUDGED) == pytest.approx(1 / L3)
    assert ndcg_at_k_leaderboard(ranking, JUDGED) == pytest.approx(0.630930, abs=1e-6)


def test_ndcg_cutoff_and_nothing_relevant() -> None:
    late = [f"u{i}" for i in range(10)] + ["a"]  # a at rank 11: outside the top 10
    assert ndcg_at_k(late, JUDGED, 10) == 0
    assert ndcg_at_k_leaderboard(late, JUDGED, 10) == 0
    assert ndcg_at_k(["x", "d", "y"], JUDGED) == 0  # d judged 0 is no gain
    assert ndcg_at_k(["a"], {"a": 0}) == 0  # no positive label: 0, not a division by zero
    assert ndcg_at_k([], JUDGED) == 0


def test_leaderboard_ndcg_is_never_below_standard() -> None:
    rng = random.Random(7)
    pool = [f"p{i}" for i in range(40)]
    for _ in range(300):
        judged = {d: rng.choice([0, 1, 2, 3]) for d in rng.sample(pool, rng.randint(1, 15))}
        ranking = rng.sample(pool, rng.randint(0, 20))
        std = ndcg_at_k(ranking, judged)
        lb = ndcg_at_k_leaderboard(ranking, judged)
        assert 0 <= std <= lb + 1e-12 <= 1 + 1e-9


def test_recall_relevant_means_label_at_least_one() -> None:
    assert recall_at_k(["x", "b", "a", "y", "c"], JUDGED, 10) == pytest.approx(1.0)
    assert recall_at_k(["x", "b", "y"], JUDGED, 10) == pytest.approx(1 / 3)
    assert recall_at_k(["d", "x"], JUDGED, 10) == 0  # label 0 is not relevant
    assert recall_at_k(["x", "b", "y"], JUDGED, 10, min_rel=2) == pytest.approx(1 / 2)
    ranking = ["a", "b"] + [f"u{i}" for i in range(8)] + ["c"]  # c at rank 11
    assert recall_at_k(ranking, JUDGED, 10) == pytest.approx(2 / 3)
    assert recall_at_k(ranking, JUDGED, 100) == pytest.approx(1.0)
    assert recall_at_k(["a"], {"a": 0}, 10) == 0


def test_mrr() -> None:
    assert mrr_at_k(["a", "x"], JUDGED) == 1
    assert mrr_at_k(["x", "b", "a"], JUDGED) == pytest.approx(1 / 2)
    assert mrr_at_k(["x", "d", "c"], JUDGED) == pytest.approx(1 / 3)  # d (label 0) skipped
    assert mrr_at_k(["x", "d", "c"], JUDGED, min_rel=2) == 0
    assert mrr_at_k([f"u{i}" for i in range(10)] + ["a"], JUDGED, 10) == 0
    assert mrr_at_k([], JUDGED) == 0


def test_dedupe_keeps_best_rank() -> None:
    assert dedupe(["a", "a", "b", "a", "c", "b"]) == ["a", "b", "c"]


def test_evaluate_means_over_judged_queries() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 2, "c": 1}}
    run = {"q1": ["a", "x"]}  # q2 retrieved nothing
    res = evaluate(run, qrels)
    assert res["queries"] == 2
    assert res["ndcg@10"] == pytest.approx(0.5)
    assert res["mrr@10"] == pytest.approx(0.5)
    assert res["recall@100"] == pytest.approx(0.5)
    assert res["per_query"]["q2"]["ndcg@10_leaderboard"] == 0


def _beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    rows = [
        {"_id": "1", "title": "", "text": "first\u2028passage"},
        {"_id": "2", "title": "Title", "text": "second"},
        {"_id": "3", "title": "", "text": "third"},
        {"_id": "4", "title": "", "text": "fourth"},
    ]
    (folder / "corpus.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )
    queries = [{"_id": "q1", "text": "one"}, {"_id": "q2", "text": "two"}]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries))
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\t1\t2\nq1\t2\t0\nq2\t3\t1\nq2\t99\t3\nq3\t4\t1\n"
    )
    return folder


def test_load_dataset_beir(tmp_path: Path) -> None:
    corpus, queries, qrels = load_dataset(_beir(tmp_path / "set"))
    assert corpus["1"] == "first\u2028passage"  # U+2028 inside a passage is not a line break
    assert corpus["2"] == "Title\n\nsecond"
    assert set(queries) == {"q1", "q2"}
    # header skipped; unknown passage 99 and the query without text (q3) dropped
    assert qrels == {"q1": {"1": 2, "2": 0}, "q2": {"3": 1}}


def test_load_dataset_missing_says_where(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="msmarco-5k"):
        load_dataset(tmp_path / "nothing")


def test_subset_keeps_all_judged_passages_of_kept_queries() -> None:
    corpus = {str(i): f"passage {i}" for i in range(100)}
    qrels = {f"q{j}": {str(j * 10 + i): 1 for i in range(5)} for j in range(10)}
    small, kept = subset(corpus, qrels, 30)
    assert len(small) == 30
    assert 1 <= len(kept) <= 4  # 5 judged each, at most 80 % of 30
    for judged in kept.values():
        assert set(judged) <= set(small)
    assert subset(corpus, qrels, 30) == (small, kept)  # deterministic
    assert subset(corpus, qrels, 0)[0] == corpus


def _fake_results(folder: Path) -> None:
    machine = {"date": "2026-01-01T00:00:00+00:00", "cpu": "Test CPU", "cores": 2}
    folder.mkdir(parents=True, exist_ok=True)
    search = {"p50": 1.0, "p95": 2.0, "mean": 1.2, "max": 3.0, "n": 5, "recall": 1.0}
    store = {
        "machine": machine,
        "params": {},
        "results": [{"n": n, "search": {"ours": search, "numpy": search}} for n in (10, 100)],
        "markdown": "| store table |",
    }
    metrics = {
        "ndcg@10": 0.5,
        "ndcg@10_leaderboard": 0.9,
        "recall@10": 0.4,
        "recall@100": 0.8,
        "mrr@10": 0.7,
        "queries": 3,
        "query_ms": search,
        "search_ms": search,
    }
    retrieval = {
        "benchmark": "retrieval",
        "machine": machine,
        "dataset": {"passages": 10, "queries": 3},
        "results": [
            {
                "model": "m",
                "ingest": {
                    "passages": 10,
                    "chunks": 10,
                    "seconds": 1.0,
                    "passages_per_s": 10.0,
                    "chunks_per_s": 10.0,
                },
                "modes": {"dense": metrics},
                "modes_skipped": ["keyword"],
            }
        ],
    }
    gen = {"model": "x.gguf", "ours_tokens_per_s": 10.0, "raw_tokens_per_s": 11.0}
    (folder / "store.json").write_text(json.dumps(store))
    (folder / "retrieval.json").write_text(json.dumps(retrieval))
    (folder / "generate.json").write_text(json.dumps({"benchmark": "generate", "results": [gen]}))
    phi = {**gen, "model": "phi2.gguf"}
    (folder / "generate-phi2.json").write_text(
        json.dumps({"benchmark": "generate", "results": [phi]})
    )
    (folder / "gui.json").write_text(json.dumps({"benchmark": "gui", "result": {"files": 5}}))
    (folder / "broken.json").write_text("{not json")


def test_report_builds_summary_from_jsons(tmp_path: Path) -> None:
    from bench.report import build_summary, families, load_results

    _fake_results(tmp_path)
    results = load_results(tmp_path)
    assert set(results) == {"store", "retrieval", "generate", "generate-phi2", "gui"}
    assert [len(v) for v in families(results).values()] == [1, 2, 1, 1]  # generate ×2
    run = {"mode": "quick", "wall_s": 12.0, "steps": [{"name": "ingest", "status": "failed"}]}
    md, summary = build_summary(tmp_path, run, charts=False)
    assert md.startswith("# Tera Desktop benchmarks (quick)")
    assert "Test CPU, 2 cores" in md
    assert "| store table |" in md
    assert "phi2.gguf" in md and "x.gguf" in md
    assert "0.941" in md  # the published leaderboard figures beside ours
    assert "keyword (not offered by the store)" in md
    assert "Did not finish: ingest" in md
    assert set(summary["benchmarks"]) == set(results)


def test_report_charts(tmp_path: Path) -> None:
    from bench.report import main

    _fake_results(tmp_path)
    assert main([str(tmp_path)]) == 0
    for png in ("store_search_latency", "retrieval_metrics", "generate_tokens_per_s", "gui_stall"):
        assert (tmp_path / f"{png}.png").stat().st_size > 1000
    assert (tmp_path / "summary.md").read_text().count("![") == 4
    assert json.loads((tmp_path / "summary.json").read_text())["charts"]["gui"] == "gui_stall.png"


def test_feedback_grid_sweeps_restores_and_cross_validates() -> None:
    from bench.bench_retrieval import FEEDBACK_GRID, feedback_grid
    from tera_desktop.core import fusion as fusion_mod

    before = {n: getattr(fusion_mod, n) for n in FEEDBACK_GRID}
    qrels = {f"q{i}": {"good": 3, "ok": 1} for i in range(6)}
    seen: set[tuple[int, float]] = set()

    def rank(qid: str) -> list[str]:
        # one setting (8 feedback chunks, 20 terms) ranks the best passage first on every query
        seen.add((fusion_mod.FEEDBACK_DOCS, fusion_mod.FEEDBACK_TERM_WEIGHT))
        best = fusion_mod.FEEDBACK_DOCS == 8 and fusion_mod.FEEDBACK_TERMS == 20
        return ["good", "ok"] if best else ["ok", "good"]

    out = feedback_grid(rank, qrels, splits=3)
    assert out["settings"] == math.prod(len(v) for v in FEEDBACK_GRID.values())
    assert {n: getattr(fusion_mod, n) for n in FEEDBACK_GRID} == before  # constants restored
    assert len(seen) == len(FEEDBACK_GRID["FEEDBACK_DOCS"]) * len(
        FEEDBACK_GRID["FEEDBACK_TERM_WEIGHT"]
    )
    low = ndcg_at_k(["ok", "good"], {"good": 3, "ok": 1})
    assert out["default_scores"]["ndcg@10"] == pytest.approx(round(low, 4))
    spread = out["spread"]["ndcg@10"]
    assert spread["min"] == pytest.approx(round(low, 4)) and spread["max"] == 1.0
    # the best setting wins on every half, so the held-out figure is its own
    for how in ("tuned on ndcg@10", "tuned on ndcg@10_leaderboard"):
        assert out["cross_validated"][how]["ndcg@10"] == 1.0
