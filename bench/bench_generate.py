"""Generation through `ask` beside raw llama-cpp-python on the same GGUF, prompt and threads.

    python -m bench.bench_generate [--model FILE.gguf] [--tokens 64] [--threads 1] [--runs 3]

For each run, the model starts with an empty KV cache in both paths:
- ours: ``session.ask_once(engine, question)`` (embed the query, search, build the prompt, stream);
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

    from tera_desktop.core.engine import Engine
    from tera_desktop.core.generator import Sampling
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.prompts import AnswerDone, Token, build_messages
    from tera_desktop.core.session import ask_once
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
            for event in ask_once(engine, question, sampling=sampling):
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
            hits = engine.search(question, 4)
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
            for event in ask_once(engine, QUESTIONS[(r + 1) % len(QUESTIONS)], sampling=sampling):
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


# ---- a documents question: pasted, and typed at 5 characters/s ------------------------------
DOC_QUERIES = ("19335", "87181", "104861", "130510", "146187")  # msmarco-5k test queries


def documents_folder(folder: Path, passages_per_doc: int = 18, others: int = 240) -> list[str]:
    """Multi-page Markdown documents of real text (MS MARCO passages: those relevant to a few
    test queries, among others), and those queries phrased as questions."""
    import json
    import random

    data = ROOT.parent / "shared" / "benchmarks" / "msmarco-5k"
    corpus = {}
    for line in (data / "corpus.jsonl").read_text(encoding="utf-8").split("\n"):
        if line.strip():
            row = json.loads(line)
            corpus[row["_id"]] = " ".join(row["text"].split())
    queries = {}
    for line in (data / "queries.jsonl").read_text(encoding="utf-8").split("\n"):
        if line.strip():
            row = json.loads(line)
            queries[row["_id"]] = row["text"]
    relevant: list[str] = []
    for line in (data / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        qid, pid, grade = line.split("\t")
        if qid in DOC_QUERIES and int(grade) >= 2 and pid in corpus:
            relevant.append(pid)
    rng = random.Random(3)
    rest = [pid for pid in corpus if pid not in relevant]
    chosen = relevant + rng.sample(rest, others)
    rng.shuffle(chosen)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(0, len(chosen), passages_per_doc):
        part = chosen[i : i + passages_per_doc]
        body = "\n\n".join(corpus[pid] for pid in part)
        (folder / f"notes-{i // passages_per_doc:02d}.md").write_text(
            f"# Notes {i // passages_per_doc}\n\n{body}\n", encoding="utf-8"
        )
    return [queries[q][0].upper() + queries[q][1:] + "?" for q in DOC_QUERIES]


def _first_token_s(events: object, start: float) -> tuple[float, object]:
    from tera_desktop.core.prompts import AnswerDone, SourcesFound, Token

    first = evidence = None
    done = None
    for event in events:  # type: ignore[attr-defined]
        now = time.perf_counter()
        if isinstance(event, SourcesFound) and evidence is None:
            evidence = now - start
        if isinstance(event, Token) and first is None:
            first = now - start
        if isinstance(event, AnswerDone):
            done = event
    assert first is not None and evidence is not None
    return first, (evidence, done)


def run_documents(
    model: Path, embedding: Path, threads: int, n_ctx: int, runs: int, cps: float = 5.0
) -> dict:
    """Time to first token for a documents question (4 chunks of multi-page documents):
    before (main's prompt: the 4 whole chunks), pasted (Enter right away) and typed (the app
    reads ahead while the question is typed at ``cps`` characters per second)."""
    import threading

    from tera_desktop.core.engine import Engine
    from tera_desktop.core.generator import GenerationStats, Sampling
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.prompts import system_prompt
    from tera_desktop.core.session import ChatSession
    from tera_desktop.core.settings import Settings

    out: dict[str, list[float]] = {
        k: []
        for k in (
            "before_ttft", "before_prompt", "before_eval", "pasted_ttft", "pasted_prompt",
            "pasted_eval", "typed_ttft", "typed_eval", "evidence_s",
        )
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        questions = documents_folder(Path(tmp) / "docs")
        engine = Engine(
            get_paths(Path(tmp) / "home").ensure(),
            Settings(
                embedding_model=str(embedding),
                llm_model=str(model),
                llm_context=n_ctx,
                llm_threads=threads,
                llm_threads_batch=threads,
                max_answer_tokens=8,
            ),
        )
        list(engine.upload([Path(tmp) / "docs"]))
        gen = engine.generator
        sampling = Sampling(max_tokens=4, temperature=0.0, seed=0, logit_bias={gen.eos_id: -1000.0})
        system = [{"role": "system", "content": system_prompt()}]

        def cold() -> None:  # the app's state before a first question: the system prompt read
            gen._llm.reset()
            gen.prefill(system)

        for r in range(runs):
            question = questions[r % len(questions)]
            # before: main's prompt, the question searched alone, 4 whole chunks
            cold()
            hits = engine.search(question, 4)
            refs = "\n".join(
                f"[{i}] (from {Path(h.source).name}) {h.text}" for i, h in enumerate(hits, 1)
            )
            messages = [*system, {"role": "user", "content": f"References:\n{refs}\n\n"
                                                             f"Question: {question}"}]  # fmt: skip
            stats = GenerationStats()
            t0 = time.perf_counter()
            next(iter(gen.stream(messages, sampling, stats=stats)))
            out["before_ttft"].append(time.perf_counter() - t0)
            out["before_prompt"].append(stats.prompt_tokens)
            out["before_eval"].append(stats.prompt_tokens_evaluated)
            # pasted: Enter right away
            cold()
            session = ChatSession(engine, persist=False)
            t0 = time.perf_counter()
            ttft, (evidence, done) = _first_token_s(session.ask(question, sampling=sampling), t0)
            out["pasted_ttft"].append(ttft)
            out["evidence_s"].append(evidence)
            out["pasted_prompt"].append(done.stats.prompt_tokens)  # type: ignore[attr-defined]
            out["pasted_eval"].append(done.stats.prompt_tokens_evaluated)  # type: ignore[attr-defined]
            # typed: the app reads ahead at each word while the user types
            cold()
            session = ChatSession(engine, persist=False)
            latest: list[str] = []  # the newest text typed at a word boundary
            wake = threading.Event()
            enter = threading.Event()

            def read_ahead(
                session: ChatSession = session,
                latest: list[str] = latest,
                wake: threading.Event = wake,
                enter: threading.Event = enter,
            ) -> None:
                # like the app: read ahead for the newest text; never interrupted by typing,
                # only by Enter; then again if more words came meanwhile
                done_for = ""
                while not enter.is_set():
                    wake.wait(0.05)
                    wake.clear()
                    if latest and latest[-1] != done_for:
                        done_for = latest[-1]
                        list(session.prepare(done_for, cancel=enter))

            thread = threading.Thread(target=read_ahead, daemon=True)
            thread.start()
            typed = ""
            for ch in question:
                time.sleep(1 / cps)
                typed += ch
                if ch == " ":
                    latest.append(typed)
                    wake.set()
            t0 = time.perf_counter()  # Enter
            enter.set()
            ttft, (_, done) = _first_token_s(session.ask(question, sampling=sampling), t0)
            thread.join()
            out["typed_ttft"].append(ttft)
            out["typed_eval"].append(done.stats.prompt_tokens_evaluated)  # type: ignore[attr-defined]
        engine.close()
    med = {k: statistics.median(v) for k, v in out.items()}
    return {
        "model": model.name,
        "threads": threads,
        "runs": runs,
        "before_prompt_tokens": int(med["before_prompt"]),
        "before_evaluated_tokens": int(med["before_eval"]),
        "before_ttft_s": round(med["before_ttft"], 2),
        "pasted_prompt_tokens": int(med["pasted_prompt"]),
        "pasted_evaluated_tokens": int(med["pasted_eval"]),
        "pasted_ttft_s": round(med["pasted_ttft"], 2),
        "typed_evaluated_tokens": int(med["typed_eval"]),
        "typed_ttft_s": round(med["typed_ttft"], 2),
        "evidence_ms": round(med["evidence_s"] * 1000, 1),
        "typing_cps": cps,
    }


DOC_COLUMNS = {
    "model": "model",
    "threads": "threads",
    "before: prompt / evaluated tok": ("before_prompt_tokens", "before_evaluated_tokens"),
    "before TTFT s": "before_ttft_s",
    "pasted: prompt / evaluated tok": ("pasted_prompt_tokens", "pasted_evaluated_tokens"),
    "pasted TTFT s": "pasted_ttft_s",
    "typed: evaluated tok": "typed_evaluated_tokens",
    "typed TTFT s (Enter → 1st token)": "typed_ttft_s",
    "evidence shown ms": "evidence_ms",
}


def documents_table(results: list[dict]) -> Table:
    table = Table(*DOC_COLUMNS)
    for r in results:
        row = []
        for key in DOC_COLUMNS.values():
            if isinstance(key, tuple):
                row.append(" / ".join(str(r.get(k)) for k in key))
            else:
                row.append(r.get(key))
        table.add(*row)
    return table


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
    p.add_argument(
        "--documents",
        action="store_true",
        help="also time a documents question: before / pasted / typed at 5 characters/s",
    )
    p.add_argument("--documents-only", action="store_true", help="only the documents question")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    found = default_models() if not (args.model and args.embedding) else {}
    models = args.model or [found["gguf"]]
    embedding = args.embedding or found["embedding"]
    results = (
        []
        if args.documents_only
        else [run(m, embedding, args.tokens, args.threads, args.runs, args.ctx) for m in models]
    )
    if results:
        print(results_table(results))
    documents = []
    if args.documents or args.documents_only:
        documents = [run_documents(m, embedding, args.threads, args.ctx, args.runs) for m in models]
        print("\nA documents question (4 chunks of multi-page documents):")
        print(documents_table(documents))
    write_json(
        args.out,
        {
            "benchmark": "generate",
            "machine": machine_info("llama-cpp-python", "fastembed"),
            "results": results,
            "documents": documents,
            "rss": rss_mb(),
        },
    )
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
