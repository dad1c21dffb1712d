"""Generation through `ask` beside raw llama-cpp-python on the same GGUF, prompt and threads.

    python -m bench.bench_generate [--model FILE.gguf] [--tokens 64] [--threads 1] [--runs 3]

For each run, the model starts with an empty KV cache in both paths:
- ours: ``Engine.ask(question)`` (embed the query, search, build the prompt, stream);
- raw: ``Llama.create_completion(prompt_tokens, stream=True)`` with the exact prompt tokens ours
  built, greedy, same ``max_tokens``;
- raw prompt evaluation: ``Llama.eval(prompt_tokens)`` alone, timed.
Reported: decode tokens/s of each (tokens after the first / time after the first), their ratio,
time to first token (TTFT) of each, ours minus the raw prompt evaluation (what Tera adds before the
first token: retrieval + prompt building), and the second question's TTFT with the system prompt
reused from the KV cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS_DIR, Table, machine_info, rss_mb, write_json

ROOT = Path(__file__).resolve().parents[1]
FACTS = [
    "The gate code is 4512.",
    "My sister Anna's birthday is on 14 March.",
    "The wifi password is tulip-42.",
    "I parked the car on level 3 of the airport garage.",
    "The dentist appointment is on Tuesday at 9:30 with Dr. Rossi.",
    "Project Falcon's budget is 2.3 million euros, approved by Maria Lopez in June.",
]
QUESTIONS = ["What is the gate code?", "Where did I park the car?", "When is the dentist?"]


def default_models() -> dict[str, Path]:
    sys.path.insert(0, str(ROOT / "scripts"))
    from fetch_test_models import ensure_test_models

    return {k: Path(v) for k, v in ensure_test_models(log=lambda *_: None).items()}


def run(model: Path, embedding: Path, tokens: int, threads: int, runs: int, n_ctx: int) -> dict:
    from llama_cpp import Llama

    from tera_desktop.core.assistant import AnswerDone, Token, build_messages
    from tera_desktop.core.engine import Engine
    from tera_desktop.core.generator import Sampling
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings

    out: dict[str, list[float]] = {
        k: []
        for k in (
            "ours_ttft",
            "ours_tps",
            "raw_ttft",
            "raw_tps",
            "raw_prompt_eval",
            "ours_second_ttft",
        )
    }
    prompt_tokens = 0
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(
            get_paths(tmp).ensure(),
            Settings(
                embedding_model=str(embedding),
                llm_model=str(model),
                llm_context=n_ctx,
                llm_threads=threads,
                llm_threads_batch=threads,
                max_answer_tokens=tokens,
            ),
        )
        for fact in FACTS:
            engine.remember(fact)
        gen = engine.generator  # load before timing
        # Both paths must write exactly `tokens` tokens: end-of-text is banned in both.
        no_eos = {gen.eos_id: -1000.0}
        sampling = Sampling(
            max_tokens=tokens, temperature=0.0, seed=0, repeat_penalty=1.0, logit_bias=no_eos
        )
        raw = Llama(
            model_path=str(model),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            last_n_tokens_size=64,
            verbose=False,
        )

        def timed(stream: object) -> tuple[float, float, int]:
            start = time.perf_counter()
            first = None
            n = 0
            for _ in stream:  # type: ignore[attr-defined]
                n += 1
                if first is None:
                    first = time.perf_counter()
            end = time.perf_counter()
            assert first is not None
            return first - start, (n - 1) / (end - first) if n > 1 else float("nan"), n

        for r in range(runs):
            question = QUESTIONS[r % len(QUESTIONS)]
            gen._llm.reset()  # empty KV cache: a first question
            start = time.perf_counter()
            first = None
            n = 0
            end = start
            for event in engine.ask(question, sampling=sampling):
                if isinstance(event, Token):
                    n += 1
                    if first is None:
                        first = time.perf_counter()
                if isinstance(event, AnswerDone):
                    end = time.perf_counter()
                    n = event.stats.completion_tokens
            assert first is not None
            out["ours_ttft"].append(first - start)
            out["ours_tps"].append((n - 1) / (end - first))
            # the exact prompt ours used
            hits = engine.store.search(
                engine.embedder.embed_query(question), 4, min_score=engine.embedder.min_score
            )
            messages, _ = build_messages(question, hits, gen, max_answer_tokens=tokens)
            prompt = gen.tokens_for(messages)
            prompt_tokens = len(prompt)
            raw.reset()
            t0 = time.perf_counter()
            raw.eval(prompt)
            out["raw_prompt_eval"].append(time.perf_counter() - t0)
            raw.reset()
            ttft, tps, _ = timed(
                raw.create_completion(
                    prompt=prompt,
                    max_tokens=tokens,
                    temperature=0.0,
                    seed=0,
                    repeat_penalty=1.0,
                    logit_bias=no_eos,
                    stream=True,
                )
            )
            out["raw_ttft"].append(ttft)
            out["raw_tps"].append(tps)
            # a second question right after: the system prompt is already in the KV cache
            start = time.perf_counter()
            for event in engine.ask(QUESTIONS[(r + 1) % len(QUESTIONS)], sampling=sampling):
                if isinstance(event, Token):
                    out["ours_second_ttft"].append(time.perf_counter() - start)
                    break
        engine.close()
        raw.close()
    med = {k: statistics.median(v) for k, v in out.items()}
    return {
        "model": model.name,
        "threads": threads,
        "prompt_tokens": prompt_tokens,
        "max_tokens": tokens,
        "runs": runs,
        "ours_tokens_per_s": round(med["ours_tps"], 2),
        "raw_tokens_per_s": round(med["raw_tps"], 2),
        "ratio_ours_vs_raw": round(med["ours_tps"] / med["raw_tps"], 3),
        "ours_ttft_ms": round(med["ours_ttft"] * 1000, 1),
        "raw_ttft_ms": round(med["raw_ttft"] * 1000, 1),
        "raw_prompt_eval_ms": round(med["raw_prompt_eval"] * 1000, 1),
        "ours_ttft_minus_raw_prompt_eval_ms": round(
            (med["ours_ttft"] - med["raw_prompt_eval"]) * 1000, 1
        ),
        "ours_second_question_ttft_ms": round(med["ours_second_ttft"] * 1000, 1),
    }


COLUMNS = {  # column title → result key
    "model": "model",
    "threads": "threads",
    "prompt tok": "prompt_tokens",
    "ask tok/s": "ours_tokens_per_s",
    "raw tok/s": "raw_tokens_per_s",
    "ratio": "ratio_ours_vs_raw",
    "TTFT ask ms": "ours_ttft_ms",
    "TTFT raw ms": "raw_ttft_ms",
    "raw prompt eval ms": "raw_prompt_eval_ms",
    "ask TTFT − raw eval ms": "ours_ttft_minus_raw_prompt_eval_ms",
    "2nd question TTFT ms": "ours_second_question_ttft_ms",
}


def results_table(results: list[dict]) -> Table:
    """The Markdown table of generation results (also used by bench/report.py)."""
    table = Table(*COLUMNS)
    for r in results:
        table.add(*(r.get(key) for key in COLUMNS.values()))
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", type=Path, action="append", help="GGUF file (repeatable)")
    p.add_argument("--embedding", type=Path, default=None)
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    p.add_argument("--ctx", type=int, default=2048)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "generate.json")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    found = default_models() if not (args.model and args.embedding) else {}
    models = args.model or [found["gguf"]]
    embedding = args.embedding or found["embedding"]
    results = [run(m, embedding, args.tokens, args.threads, args.runs, args.ctx) for m in models]
    table = results_table(results)
    print(table)
    write_json(
        args.out,
        {
            "benchmark": "generate",
            "machine": machine_info("llama-cpp-python", "fastembed"),
            "results": results,
            "rss": rss_mb(),
        },
    )
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
