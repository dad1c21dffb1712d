"""Ingestion throughput: `tera upload`'s path (Engine.upload: walk, read, hash, extract, chunk,
embed, store) beside raw FastEmbed embedding the very same chunk texts, same model, same threads.

    python -m bench.bench_ingest [--files 300] [--model DIR] [--out bench/results/ingest.json]

The corpus is MS MARCO passages from shared/benchmarks (public text), grouped into files of a few
passages each, so chunking sees real paragraphs. The embedding model is all-MiniLM-L6-v2 from
scripts/fetch_test_models.py (bge-small cannot be downloaded on the build machines).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS_DIR, Table, machine_info, rss_mb, write_json

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "benchmarks" / "msmarco-5k" / "corpus.jsonl"


def default_model() -> Path:
    sys.path.insert(0, str(ROOT / "scripts"))
    from fetch_test_models import ensure_test_models

    return Path(ensure_test_models(log=lambda *_: None)["embedding"])


def make_folder(folder: Path, n_files: int, per_file: int) -> tuple[int, int]:
    passages = [
        json.loads(line)["text"]
        for line in CORPUS.read_text(encoding="utf-8").split("\n")
        if line.strip()
    ]
    words = 0
    for i in range(n_files):
        chunk = passages[(i * per_file) % len(passages) : (i * per_file) % len(passages) + per_file]
        text = "\n\n".join(chunk)
        words += len(text.split())
        sub = folder / f"part{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"note{i:04}.txt").write_text(text, encoding="utf-8")
    return n_files, words


def run(n_files: int, per_file: int, model: Path, threads: int) -> dict[str, object]:
    from tera_desktop.core.embedder import FastEmbedEmbedder, spec_from_folder
    from tera_desktop.core.engine import Engine
    from tera_desktop.core.ingest import FileResult
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        files, words = make_folder(docs, n_files, per_file)
        engine = Engine(
            get_paths(Path(tmp) / "home").ensure(),
            Settings(embedding_model=str(model), embed_threads=threads),
        )
        engine.embedder.embed_documents(["warm up"])  # model load is not ingestion
        engine.store.count()  # nor is creating the store
        t0 = time.perf_counter()
        results = [e for e in engine.upload([docs]) if isinstance(e, FileResult)]
        ours_s = time.perf_counter() - t0
        chunks = sum(r.chunks for r in results)
        assert all(r.status == "added" for r in results), [r for r in results if not r.ok][:3]
        texts = [
            h.text for d in engine.documents() for h in engine.store.chunks_of(d.doc_id, 0, 10**6)
        ]
        assert len(texts) == chunks
        engine.close()

        # Raw FastEmbed on exactly the same chunk texts, same model folder, same threads.
        raw = FastEmbedEmbedder(spec_from_folder(model), threads=threads)
        raw._model.embed(["warm up"])
        t0 = time.perf_counter()
        vectors = list(raw._model.embed(texts, batch_size=raw.batch_size))
        raw_s = time.perf_counter() - t0
        assert len(vectors) == chunks
    return {
        "files": files,
        "words": words,
        "chunks": chunks,
        "ours_s": round(ours_s, 3),
        "raw_embed_s": round(raw_s, 3),
        "ours_chunks_per_s": round(chunks / ours_s, 1),
        "raw_chunks_per_s": round(chunks / raw_s, 1),
        "ours_words_per_s": round(words / ours_s, 1),
        "ratio_ours_vs_raw": round((chunks / ours_s) / (chunks / raw_s), 3),
        "threads": threads or "onnxruntime default",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--files", type=int, default=300)
    p.add_argument("--per-file", type=int, default=4, help="passages per file")
    p.add_argument("--model", type=Path, default=None, help="embedding model folder")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: default)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "ingest.json")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = args.model or default_model()
    result = run(args.files, args.per_file, model, args.threads)
    table = Table(
        "files",
        "words",
        "chunks",
        "tera upload chunks/s",
        "raw FastEmbed chunks/s",
        "ratio",
        "tera upload words/s",
    )
    table.add(
        result["files"],
        result["words"],
        result["chunks"],
        result["ours_chunks_per_s"],
        result["raw_chunks_per_s"],
        result["ratio_ours_vs_raw"],
        result["ours_words_per_s"],
    )
    print(f"Ingestion ({model.name}, threads: {result['threads']})\n")
    print(table)
    write_json(
        args.out,
        {
            "benchmark": "ingest",
            "machine": machine_info("fastembed", "onnxruntime", "qdrant-edge-py"),
            "model": str(model),
            "result": result,
            "rss": rss_mb(),
        },
    )
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
