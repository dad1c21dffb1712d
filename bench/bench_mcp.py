"""`tera mcp` search latency vs `tera search` on the same memory (issue 23, "Measure").

Builds a Tera home holding about ``--chunks`` chunks (generated notes, uploaded with `tera
upload`), then times, for the same ``--queries`` queries:

- `tera search QUERY --json`: a new process per query, as a script or a shell would run it
  (process start, imports, the embedding model and the memory opened, the search);
- the ``search`` tool of ONE running `tera mcp` process, through the SDK's own client: the first
  call (the model loaded and the memory opened) and the following ones (warm; the memory stays
  open between calls that come within a few seconds);
- the same tool with pauses longer than the server's idle release between calls (the memory is
  opened again for each call, the embedding model stays loaded).

Models: the small real ones (all-MiniLM-L6-v2 ONNX) when found in .cache/test-models, else
``--embedding DIR``.

    python -m bench.bench_mcp [--chunks 2000] [--queries 20] [--out bench/results/mcp.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from bench.common import RESULTS_DIR, Table, latency_ms, machine_info, write_json

ROOT = Path(__file__).resolve().parents[1]
WORDS = [
    "garden",
    "invoice",
    "boiler",
    "plumber",
    "meeting",
    "budget",
    "holiday",
    "passport",
    "doctor",
    "insurance",
    "recipe",
    "train",
    "ticket",
    "contract",
    "landlord",
    "school",
    "birthday",
    "password",
    "garage",
    "bicycle",
    "library",
    "mortgage",
    "pension",
    "dentist",
    "vaccine",
    "warranty",
    "printer",
    "router",
    "laptop",
    "camera",
    "flight",
    "hotel",
]


def make_notes(folder: Path, chunks: int, seed: int = 0) -> int:
    """Write notes that chunk into about ``chunks`` chunks (one paragraph of ~60 words each)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    per_file = 20
    files = max(1, chunks // per_file)
    for i in range(files):
        paras = []
        for j in range(per_file):
            words = [rng.choice(WORDS) for _ in range(60)]
            paras.append(f"Note {i}-{j}: " + " ".join(words) + f" (ref {i * per_file + j}).")
        (folder / f"note-{i:05d}.md").write_text("\n\n".join(paras) + "\n", encoding="utf-8")
    return files


def env_for(home: Path, embedding: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERA_")}
    env.update({"TERA_HOME": str(home), "TERA_EMBEDDING_MODEL": str(embedding)})
    return env


def tera(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "tera_desktop.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise SystemExit(f"tera {args[0]} failed: {done.stderr.strip()}")
    return done


def time_cli(env: dict[str, str], queries: list[str]) -> tuple[list[float], list[list[str]]]:
    times, ids = [], []
    for q in queries:
        t0 = time.perf_counter()
        out = tera(env, "search", q, "-k", "5", "--json")
        times.append(time.perf_counter() - t0)
        ids.append([h["id"] for h in json.loads(out.stdout)])
    return times, ids


def time_mcp(env: dict[str, str], queries: list[str], pause_s: float) -> dict[str, Any]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "tera_desktop.cli", "mcp"], env=env
    )
    out: dict[str, Any] = {"times": [], "ids": []}

    async def main() -> None:
        t_start = time.perf_counter()
        async with (
            stdio_client(params, errlog=open(os.devnull, "w")) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            out["start_s"] = time.perf_counter() - t_start
            for q in queries:
                t0 = time.perf_counter()
                result = await session.call_tool("search", {"query": q, "k": 5})
                out["times"].append(time.perf_counter() - t0)
                assert not result.is_error, result.content
                out["ids"].append([r["id"] for r in result.structured_content["results"]])
                if pause_s:
                    await anyio.sleep(pause_s)

    anyio.run(main)
    return out


def find_embedding(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    found = ROOT / ".cache" / "test-models" / "all-MiniLM-L6-v2"
    if not found.is_dir():
        raise SystemExit("no embedding model: run scripts/fetch_test_models.py or pass --embedding")
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--chunks", type=int, default=2000)
    p.add_argument("--queries", type=int, default=20)
    p.add_argument("--embedding", help="an embedding model folder (default: all-MiniLM-L6-v2)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "mcp.json")
    args = p.parse_args()

    from tera_desktop.mcp_server import RELEASE_AFTER_S

    embedding = find_embedding(args.embedding)
    rng = random.Random(1)
    queries = [" ".join(rng.sample(WORDS, 3)) for _ in range(args.queries)]
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as tmp:
        home, notes = Path(tmp) / "home", Path(tmp) / "notes"
        make_notes(notes, args.chunks)
        env = env_for(home, embedding)
        t0 = time.perf_counter()
        tera(env, "upload", str(notes))
        upload_s = time.perf_counter() - t0
        documents = json.loads(tera(env, "list", "--json").stdout)["documents"]
        chunk_count = sum(d["chunks"] for d in documents)
        cli_times, cli_ids = time_cli(env, queries)
        warm = time_mcp(env, queries, 0.0)
        idle = time_mcp(env, queries[: max(3, args.queries // 4)], RELEASE_AFTER_S + 0.5)

    same = sum(a == b for a, b in zip(cli_ids, warm["ids"], strict=True))
    cli = latency_ms(cli_times)
    first = round(warm["times"][0] * 1000, 1)
    mcp_warm = latency_ms(warm["times"][1:])
    mcp_idle = latency_ms(idle["times"][1:])
    table = Table("path", "p50 ms", "p95 ms", "n", "vs tera search (p50)")
    table.add("`tera search` (a process per query)", cli["p50"], cli["p95"], cli["n"], 1.0)
    table.add("`tera mcp` first call", first, first, 1, round(cli["p50"] / first, 1))
    table.add(
        "`tera mcp` search, warm",
        mcp_warm["p50"],
        mcp_warm["p95"],
        mcp_warm["n"],
        round(cli["p50"] / mcp_warm["p50"], 1),
    )
    table.add(
        f"`tera mcp` search, after > {RELEASE_AFTER_S:g} s idle (memory reopened)",
        mcp_idle["p50"],
        mcp_idle["p95"],
        mcp_idle["n"],
        round(cli["p50"] / mcp_idle["p50"], 1),
    )
    print(f"{chunk_count:,} chunks in {len(documents)} documents (uploaded in {upload_s:.0f} s);")
    print(f"the same top-5 ids from both paths for {same}/{len(queries)} queries\n")
    print(table)
    result = {
        "machine": machine_info("mcp", "qdrant-edge-py", "fastembed"),
        "chunks": chunk_count,
        "embedding": embedding.name,
        "queries": len(queries),
        "same_ids": same,
        "cli_search_ms": cli,
        "mcp_start_s": round(warm["start_s"], 3),
        "mcp_first_call_ms": first,
        "mcp_warm_ms": mcp_warm,
        "mcp_after_idle_ms": mcp_idle,
        "ratio_cli_over_mcp_warm_p50": round(cli["p50"] / mcp_warm["p50"], 2),
        "ratio_cli_over_mcp_idle_p50": round(cli["p50"] / mcp_idle["p50"], 2),
    }
    print(json.dumps(result, indent=2))
    write_json(args.out, result)


if __name__ == "__main__":
    main()
