"""Backup and restore time and size (issue 23, "Measure"): `core/backup.py` on memories of
``--sizes`` chunks.

Each memory is written straight into the embedded store (synthetic 384-d vectors around 1,000
centres, ~60-word texts with realistic payloads; documents of 50 chunks, one chunk in ten a fact)
plus 20 saved conversations, then:

- backup: the archive written from an open ``Engine`` (the export through the store's reads),
  its size next to the memory folder's;
- verify: the archive checked whole (every member's sha256), as restore does first;
- restore: into a new home (the store rebuilt, its index built by ``optimize()``), then one
  search checked to return the same ids as the original.

    python -m bench.bench_backup [--sizes 10000,100000] [--out bench/results/backup.json]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS_DIR, Table, dir_size_mb, machine_info, write_json

DIM = 384
WORDS = ["garden", "invoice", "boiler", "plumber", "meeting", "budget", "holiday", "passport"]
WORDS += ["doctor", "recipe", "contract", "flight"]


def build(paths: Any, n: int, seed: int = 0) -> None:
    from tera_desktop.core.store import open_store
    from tera_desktop.core.store.base import Chunk

    rng = np.random.default_rng(seed)
    words = random.Random(seed)
    centres = rng.normal(size=(1000, DIM)).astype(np.float32)
    store = open_store(folder=paths.store, dim=DIM, embedding_model="bench-384")
    try:
        made = 0
        doc = 0
        while made < n:
            size = min(50, n - made)
            vectors = centres[rng.integers(0, 1000, size)] + rng.normal(
                scale=0.3, size=(size, DIM)
            ).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            when = "2026-01-01T00:00:00+00:00"
            texts = [" ".join(words.choice(WORDS) for _ in range(60)) for _ in range(size)]
            if doc % 10 == 0:  # facts
                store.add(
                    [
                        Chunk(str(uuid.uuid4()), t, v, "fact", "", when, uuid.uuid4().hex)
                        for t, v in zip(texts, vectors, strict=True)
                    ]
                )
            else:
                doc_id = uuid.uuid4().hex
                source = f"/home/me/notes/doc-{doc:06d}.md"
                extra = {"title": f"doc {doc}", "n_chunks": size, "doc_hash": doc_id}
                store.replace_document(
                    doc_id,
                    [
                        Chunk(
                            str(uuid.uuid4()),
                            t,
                            v,
                            "document",
                            doc_id,
                            when,
                            doc_id,
                            source,
                            i,
                            {**extra, "page": i // 5 + 1},
                        )
                        for i, (t, v) in enumerate(zip(texts, vectors, strict=True))
                    ],
                )
            made += size
            doc += 1
        store.optimize()
    finally:
        store.close()
    chats = paths.data / "conversations"
    chats.mkdir(parents=True, exist_ok=True)
    for i in range(20):
        messages = [
            {"role": "user" if j % 2 == 0 else "assistant", "text": " ".join(WORDS) * 3}
            for j in range(10)
        ]
        (chats / f"{uuid.uuid4().hex}.json").write_text(
            json.dumps({"id": str(i), "title": f"chat {i}", "messages": messages}), "utf-8"
        )


def disk_mb(folder: Path) -> float:
    """The blocks the folder's files really use on disk."""
    blocks = sum(f.stat().st_blocks for f in folder.rglob("*") if f.is_file())
    return round(blocks * 512 / 1024**2, 1)


def one(n: int, tmp: Path) -> dict[str, Any]:
    from tera_desktop.core import backup as bk
    from tera_desktop.core.engine import Engine
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings

    src = get_paths(tmp / f"src-{n}").ensure()
    t0 = time.perf_counter()
    build(src, n)
    build_s = time.perf_counter() - t0
    archive = tmp / f"b-{n}.zip"
    settings = Settings(embedding_model=str(tmp / "no-model"))
    engine = Engine(src, settings)
    try:
        probe = engine.store.get([engine.store.list_facts(0, 1)[0].id], with_vectors=True)[0]
        expected = [h.id for h in engine.store.search(probe.vector, 10)]
        t0 = time.perf_counter()
        result = bk.backup(engine, archive)
        backup_s = time.perf_counter() - t0
    finally:
        engine.close()
    t0 = time.perf_counter()
    bk.verify(archive)
    verify_s = time.perf_counter() - t0
    dst = get_paths(tmp / f"dst-{n}")
    t0 = time.perf_counter()
    restored = bk.restore(archive, dst)
    restore_s = time.perf_counter() - t0
    engine = Engine(dst, settings)
    try:
        same = [h.id for h in engine.store.search(probe.vector, 10)] == expected
        count = engine.count()
    finally:
        engine.close()
    return {
        "chunks": n,
        "build_s": round(build_s, 1),
        "memory_mb": dir_size_mb(src.store),  # apparent size (the engine preallocates files)
        "memory_mb_on_disk": disk_mb(src.store),
        "archive_mb": round(result.size / 1024**2, 1),
        "backup_s": round(backup_s, 2),
        "verify_s": round(verify_s, 2),
        "restore_s": round(restore_s, 2),
        "restored_chunks": count,
        "restored_counts_match": count == result.chunks == restored.chunks == n,
        "same_search_ids": same,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "backup.json")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            rows.append(one(n, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    table = Table(
        "chunks",
        "memory MB (on disk)",
        "archive MB",
        "backup s",
        "verify s",
        "restore s",
        "same ids",
    )
    for r in rows:
        table.add(
            r["chunks"],
            f"{r['memory_mb']} ({r['memory_mb_on_disk']})",
            r["archive_mb"],
            r["backup_s"],
            r["verify_s"],
            r["restore_s"],
            r["same_search_ids"] and r["restored_counts_match"],
        )
    print(table)
    result = {"machine": machine_info("qdrant-edge-py", "numpy"), "rows": rows}
    print(json.dumps(result, indent=2))
    write_json(args.out, result)


if __name__ == "__main__":
    main()
