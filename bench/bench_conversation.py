"""Conversation quality with the small real models: follow-ups, answer checks, "not in memory".

    python -m bench.bench_conversation [--no-answers]

On the project's own sets (``tera_desktop/testing/conversation_sets.py``), all facts in one memory
(all-MiniLM-L6-v2 int8, the default retrieval mode):

- follow-up retrieval: top-1 accuracy of the follow-up's answer fact, asked alone vs asked after
  the first question in the same ``ChatSession`` (the standalone query);
- answers by SmolLM2-135M-Instruct (``--no-answers`` skips them): how often the follow-up's answer
  contains the expected fact, "before" (the question alone, the whole chunks, the old prompt) vs
  "after" (the session: context, evidence sentences, checks), and what the checks did (citations
  removed, markup stripped, instructions echoed, cut answers, unsupported claims);
- questions whose sources are on the topic but do not hold the answer: how often Tera says so
  (by the cheap answer-kind check, without the model, or in the model's own words).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, Table, machine_info, write_json

ROOT = Path(__file__).resolve().parents[1]
_SAYS_UNKNOWN = re.compile(
    r"none of them says|don't know|do not know|not (?:mentioned|stated|specified|provided|"
    r"included|available|given|in (?:the|your) (?:references|memory))|no information|"
    r"doesn't (?:say|mention)|does not (?:say|mention)|cannot find|can't find|unknown",
    re.I,
)


def default_models() -> dict[str, Path]:
    sys.path.insert(0, str(ROOT / "scripts"))
    from fetch_test_models import ensure_test_models

    return {k: Path(v) for k, v in ensure_test_models(log=lambda *_: None).items()}


def _engine(tmp: str, embedding: Path, gguf: Path, threads: int) -> Any:
    from tera_desktop.core.engine import Engine
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings

    return Engine(
        get_paths(tmp).ensure(),
        Settings(
            embedding_model=str(embedding),
            llm_model=str(gguf),
            llm_threads=threads,
            llm_threads_batch=threads,
            max_answer_tokens=80,
            temperature=0.0,
        ),
    )


def follow_up_retrieval(engine: Any) -> dict[str, Any]:
    from tera_desktop.core.session import ChatSession
    from tera_desktop.testing.conversation_sets import FOLLOW_UPS

    alone = context = rival_alone = rival_context = 0
    for pair in FOLLOW_UPS:
        hits = engine.search(pair.follow_up, 4)
        top = hits[0].text if hits else ""
        alone += pair.expect in top
        rival_alone += pair.rival in top
        session = ChatSession(engine, persist=False)
        list(session.ask(pair.first, search_only=True))
        found = session.find(pair.follow_up)
        top = found.hits[0].text if found.hits else ""
        context += pair.expect in top
        rival_context += pair.rival in top
    n = len(FOLLOW_UPS)
    return {
        "pairs": n,
        "top1_alone": round(alone / n, 3),
        "top1_with_context": round(context / n, 3),
        "rival_top1_alone": round(rival_alone / n, 3),
        "rival_top1_with_context": round(rival_context / n, 3),
    }


def _answer(session: Any, question: str) -> Any:
    from tera_desktop.core.assistant import AnswerDone

    done = None
    for event in session.ask(question):
        if isinstance(event, AnswerDone):
            done = event
    return done


def _old_prompt_answer(engine: Any, question: str) -> str:
    """The answer as main did it before: the question searched alone, whole chunks, the old
    reference format, no history, no checks."""
    from tera_desktop.core.assistant import system_prompt

    hits = engine.search(question, 4)
    if not hits:
        return ""
    refs = "\n".join(
        f"[{i}] (remembered {h.created_at[:10]}) {h.text}" for i, h in enumerate(hits, 1)
    )
    messages = [
        {"role": "system", "content": system_prompt()},
        {"role": "user", "content": f"References:\n{refs}\n\nQuestion: {question}"},
    ]
    return "".join(engine.generator.stream(messages, engine.sampling())).strip()


def answers(engine: Any) -> dict[str, Any]:
    from tera_desktop.core.session import ChatSession
    from tera_desktop.testing.conversation_sets import FOLLOW_UPS, NOT_IN_SOURCES

    counts = {
        "answers": 0,
        "removed_citations": 0,
        "stripped_markup": 0,
        "echoed_instructions": 0,
        "cut": 0,
        "with_unsupported_claims": 0,
    }
    before = after = 0
    for pair in FOLLOW_UPS:
        # before: the follow-up asked on its own, the old way
        before += pair.expect.lower() in _old_prompt_answer(engine, pair.follow_up).lower()
        session = ChatSession(engine, persist=False)
        for question in (pair.first, pair.follow_up):
            done = _answer(session, question)
            if done is None or done.no_memory:
                continue
            c = done.checks
            counts["answers"] += 1
            counts["removed_citations"] += bool(c.removed_citations)
            counts["stripped_markup"] += c.stripped_markup
            counts["echoed_instructions"] += c.echoed_instructions
            counts["cut"] += c.cut
            counts["with_unsupported_claims"] += bool(c.unsupported)
        after += bool(done) and pair.expect.lower() in done.text.lower()
    honest_check = honest_model = 0
    for item in NOT_IN_SOURCES:
        session = ChatSession(engine, persist=False)
        done = _answer(session, item.question)
        if done is None:
            continue
        if "none of them says" in done.text:
            honest_check += 1
        elif _SAYS_UNKNOWN.search(done.text):
            honest_model += 1
    n = len(FOLLOW_UPS)
    m = len(NOT_IN_SOURCES)
    return {
        "follow_up_answer_correct_before": round(before / n, 3),
        "follow_up_answer_correct_after": round(after / n, 3),
        "checks": counts,
        "not_in_sources": m,
        "not_in_sources_said_by_check": honest_check,
        "not_in_sources_said_by_model": honest_model,
        "not_in_sources_honest_rate": round((honest_check + honest_model) / m, 3),
    }


def run(embedding: Path, gguf: Path, threads: int, with_answers: bool) -> dict[str, Any]:
    from tera_desktop.testing.conversation_sets import all_facts

    with tempfile.TemporaryDirectory() as tmp:
        engine = _engine(tmp, embedding, gguf, threads)
        for fact in all_facts():
            engine.remember(fact)
        t0 = time.perf_counter()
        result: dict[str, Any] = {"facts": len(all_facts())}
        result["retrieval"] = follow_up_retrieval(engine)
        if with_answers:
            result["answers"] = answers(engine)
        result["seconds"] = round(time.perf_counter() - t0, 1)
        engine.close()
    return result


def tables(result: dict[str, Any]) -> list[Table]:
    r = result["retrieval"]
    t1 = Table("follow-up pairs", "top-1 alone", "top-1 with context", "rival top-1 alone",
               "rival top-1 with context")  # fmt: skip
    t1.add(r["pairs"], r["top1_alone"], r["top1_with_context"], r["rival_top1_alone"],
           r["rival_top1_with_context"])  # fmt: skip
    out = [t1]
    if "answers" in result:
        a = result["answers"]
        c = a["checks"]
        t2 = Table("answer correct before", "answer correct after", "answers", "citations removed",
                   "markup stripped", "instructions echoed", "cut", "unsupported claims",
                   "not-in-memory honest")  # fmt: skip
        t2.add(
            a["follow_up_answer_correct_before"], a["follow_up_answer_correct_after"],
            c["answers"], c["removed_citations"], c["stripped_markup"],
            c["echoed_instructions"], c["cut"], c["with_unsupported_claims"],
            f"{a['not_in_sources_said_by_check']}+{a['not_in_sources_said_by_model']}"
            f"/{a['not_in_sources']}",
        )  # fmt: skip
        out.append(t2)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--no-answers", action="store_true", help="retrieval only (no LLM)")
    p.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "conversation.json")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    models = default_models()
    result = run(models["embedding"], models["gguf"], args.threads, not args.no_answers)
    for table in tables(result):
        print(table)
        print()
    write_json(
        args.out,
        {
            "benchmark": "conversation",
            "machine": machine_info("llama-cpp-python", "fastembed"),
            "result": result,
        },
    )
    print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
