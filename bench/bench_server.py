"""Answering through a model server: Tera (``session.ask_once`` with ``llm_url``) beside the same
server called directly, with the same request.

    python -m bench.bench_server [--model FILE.gguf] [--tokens 64] [--runs 6] [--quick]

llama-cpp-python's OpenAI-compatible server runs on 127.0.0.1 with the small real GGUF. For each
run, both paths send the exact same chat-completions body (Tera's, recorded on its first ask),
greedy, with end-of-text banned so both write exactly ``--tokens`` tokens. Before each measured
request a one-token request with another prompt empties the server's prompt cache, so both read
the whole prompt; the order of the three ways alternates from run to run. Reported (medians):
decode tokens/s (tokens after the first / time after the first) and time to first token (TTFT) of
Tera (``session.ask_once``), of its generator alone and of the direct call; the per-run ratios;
Tera's own time before the request leaves (embedding the question, searching, building the prompt,
connecting); and the CPU time the consuming thread spends per token while decoding, which bounds
the ratio whatever the machine's load: 1 / (1 + extra CPU per token × direct tokens/s).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, Table, machine_info, write_json

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
FLUSH = {"messages": [{"role": "user", "content": "Say one word."}], "max_tokens": 1}


def default_models() -> dict[str, Path]:
    sys.path.insert(0, str(ROOT / "scripts"))
    from fetch_test_models import ensure_test_models

    return {k: Path(v) for k, v in ensure_test_models(log=lambda *_: None).items()}


class Timing:
    """Times one streamed answer as its consumer sees it: TTFT, decode tokens/s, and the CPU time
    the consuming thread spends per token while decoding (parsing, events: the client's cost)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.end = self.start
        self.cpu_first = 0.0
        self.cpu_end = 0.0
        self.n = 0

    def token(self) -> None:
        self.n += 1
        self.end = time.perf_counter()
        self.cpu_end = time.thread_time()
        if self.first is None:
            self.first, self.cpu_first = self.end, self.cpu_end

    def record(self, out: dict[str, list[float]], name: str) -> int:
        assert self.first is not None and self.n > 1
        out[f"{name}_ttft"].append(self.first - self.start)
        out[f"{name}_tps"].append((self.n - 1) / (self.end - self.first))
        out[f"{name}_cpu_us"].append((self.cpu_end - self.cpu_first) / (self.n - 1) * 1e6)
        return self.n


def direct(port: int, body: dict[str, Any], timing: Timing) -> None:
    """The server called directly with ``body``: plain http.client and SSE lines."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(
        "POST",
        "/v1/chat/completions",
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "text/event-stream"},
    )
    for raw in conn.getresponse():
        line = raw.decode().strip()
        if not line.startswith("data:") or line.endswith("[DONE]"):
            continue
        for choice in json.loads(line[5:]).get("choices") or ():
            if (choice.get("delta") or {}).get("content"):
                timing.token()
    conn.close()


def flush(port: int, model: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(
        "POST",
        "/v1/chat/completions",
        body=json.dumps({**FLUSH, "model": model}).encode(),
        headers={"Content-Type": "application/json"},
    )
    conn.getresponse().read()
    conn.close()


def run(model: Path, embedding: Path, tokens: int, runs: int, threads: int) -> dict[str, Any]:
    from llama_cpp import Llama

    from tera_desktop.core.engine import Engine
    from tera_desktop.core.generator import Sampling
    from tera_desktop.core.openai_generator import OpenAIGenerator
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.prompts import AnswerDone, Token
    from tera_desktop.core.session import ask_once
    from tera_desktop.core.settings import Settings
    from tera_desktop.testing.model_server import llama_server

    vocab = Llama(model_path=str(model), vocab_only=True, verbose=False)
    banned = {vocab.token_eos(), *vocab.tokenize(b"<|im_end|>", add_bos=False, special=True)}
    sampling = Sampling(
        max_tokens=tokens,
        temperature=0.0,
        seed=0,
        repeat_penalty=1.0,
        logit_bias=dict.fromkeys(banned, -1000.0),
    )
    paths = ("tera", "gen", "direct")
    out: dict[str, list[float]] = {
        f"{p}_{m}": [] for p in paths for m in ("ttft", "tps", "cpu_us", "ratio")
    }
    out["before_send"], out["in_gen"] = [], []
    with (
        tempfile.TemporaryDirectory() as tmp,
        llama_server(model, n_ctx=2048, threads=threads, threads_batch=threads) as server,
    ):
        engine = Engine(
            get_paths(tmp).ensure(),
            Settings(
                embedding_model=str(embedding),
                llm_model="",
                llm_url=server.url,
                max_answer_tokens=tokens,
            ),
        )
        for fact in FACTS:
            engine.remember(fact)
        gen = engine.generator
        assert isinstance(gen, OpenAIGenerator)
        engine.search("warm up")  # load the embedding model before timing
        prompt_tokens = 0

        def through_tera(question: str, _body: dict[str, Any]) -> int:
            flush(server.port, gen.model)
            timing = Timing()
            for event in ask_once(engine, question, sampling=sampling):
                if isinstance(event, Token):
                    timing.token()
                if isinstance(event, AnswerDone):
                    out["in_gen"].append(event.stats.timings.get("before_request_s", 0.0))
            assert gen.last_request_at is not None
            out["before_send"].append(gen.last_request_at - timing.start)
            return timing.record(out, "tera")

        def through_generator(_question: str, body: dict[str, Any]) -> int:
            """Tera's generator alone, on the same messages: what its HTTP client costs."""
            flush(server.port, gen.model)
            timing = Timing()
            for _piece in gen.stream(body["messages"], sampling):
                timing.token()
            return timing.record(out, "gen")

        def called_directly(_question: str, body: dict[str, Any]) -> int:
            flush(server.port, gen.model)
            timing = Timing()
            direct(server.port, body, timing)
            return timing.record(out, "direct")

        bodies: dict[str, dict[str, Any]] = {}
        for question in QUESTIONS:  # each question's exact request, from an unmeasured ask
            list(ask_once(engine, question, sampling=sampling))
            assert gen.last_body is not None
            bodies[question] = dict(gen.last_body)
        ways = [through_tera, through_generator, called_directly]
        for r in range(runs):
            question = QUESTIONS[r % len(QUESTIONS)]
            body = bodies[question]
            order = ways if r % 2 == 0 else ways[::-1]  # drift in the machine's load hits all
            counts = [way(question, body) for way in order]
            assert len(set(counts)) == 1, counts  # the same tokens on every path
            assert gen.last_body == body  # and Tera sent the very same request
            for p in ("tera", "gen"):  # this run's ratio: neighbours in time share the load
                out[f"{p}_ratio"].append(out[f"{p}_tps"][-1] / out["direct_tps"][-1])
            prompt_tokens = gen.prompt_tokens(body["messages"])
        engine.close()
    med = {k: statistics.median(v) for k, v in out.items() if v}
    return {
        "model": model.name,
        "server": "llama-cpp-python server, 127.0.0.1",
        "threads": threads,
        "prompt_tokens": prompt_tokens,
        "max_tokens": tokens,
        "runs": runs,
        "tera_tokens_per_s": round(med["tera_tps"], 2),
        "generator_tokens_per_s": round(med["gen_tps"], 2),
        "direct_tokens_per_s": round(med["direct_tps"], 2),
        "ratio_tokens_per_s": round(med["tera_ratio"], 3),  # median of the per-run ratios
        "ratio_generator_tokens_per_s": round(med["gen_ratio"], 3),
        "tera_ttft_ms": round(med["tera_ttft"] * 1000, 1),
        "generator_ttft_ms": round(med["gen_ttft"] * 1000, 1),
        "direct_ttft_ms": round(med["direct_ttft"] * 1000, 1),
        "ratio_ttft_direct_over_tera": round(med["direct_ttft"] / med["tera_ttft"], 3),
        "tera_before_request_ms": round(med["before_send"] * 1000, 2),
        "generator_before_request_ms": round(med["in_gen"] * 1000, 3),
        "tera_cpu_us_per_token": round(med["tera_cpu_us"], 1),
        "generator_cpu_us_per_token": round(med["gen_cpu_us"], 1),
        "direct_cpu_us_per_token": round(med["direct_cpu_us"], 1),
        # the ratio the client's own cost allows at the direct speed: 1 / (1 + extra CPU / token)
        "ratio_bound_from_cpu": round(
            1 / (1 + (med["tera_cpu_us"] - med["direct_cpu_us"]) * 1e-6 * med["direct_tps"]), 4
        ),
        "samples": {k: [round(x, 4) for x in v] for k, v in out.items()},
    }


COLUMNS = {
    "prompt tok": "prompt_tokens",
    "Tera tok/s": "tera_tokens_per_s",
    "direct tok/s": "direct_tokens_per_s",
    "ratio (median of runs)": "ratio_tokens_per_s",
    "generator only": "ratio_generator_tokens_per_s",
    "TTFT Tera ms": "tera_ttft_ms",
    "TTFT direct ms": "direct_ttft_ms",
    "Tera before request ms": "tera_before_request_ms",
    "client CPU µs/token Tera / direct": "cpu",
    "ratio bound from CPU": "ratio_bound_from_cpu",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a .gguf (default: SmolLM2-135M test model)")
    parser.add_argument("--embedding", type=Path, help="an embedding model folder")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="4 runs of 48 tokens")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_server.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.tokens = 4, 48
    found = default_models() if not (args.model and args.embedding) else {}
    model = args.model or found["gguf"]
    embedding = args.embedding or found["embedding"]
    result = run(model, embedding, args.tokens, args.runs, args.threads)
    table = Table(*COLUMNS)
    result["cpu"] = f"{result['tera_cpu_us_per_token']} / {result['direct_cpu_us_per_token']}"
    table.add(*(result[key] for key in COLUMNS.values()))
    del result["cpu"]
    print(table)
    data = {"machine": machine_info("llama-cpp-python", "fastembed"), "results": [result]}
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))
    write_json(args.out, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
