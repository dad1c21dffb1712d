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

Those two come with ``--project-sets``. By default it scores the evaluation set written apart from
the code (issue 21, ``tera_desktop/testing/eval_sets/``), each half on its own (dev: tuned on;
held-out: never tuned on), each memory of a half built fresh:

- follow-up top-1: the turns before the last asked in one ``ChatSession`` (search only), then the
  last one's best source holds the expected fact;
- update top-1: the newer fact is the best source for the question (both facts remembered, older
  first); update answer current only: SmolLM2's checked answer names the current value and not
  the superseded one (``--no-answers`` skips it);
- near-miss declined: Tera itself says "nothing in memory" or "none of them says …" (decided
  before any model is asked, so the figure does not depend on the model's wording);
- false declines: the same on questions the memory does answer.

And the update sets v2 (``dev_updates_v2.json``: tuned on; ``heldout_updates_v2.json``: frozen
before tuning, sha256 pinned in ``tests/test_eval_sets.py``; ``--updates-v2``), see
``eval_updates_v2``: update recognised, update top-1, answer names only the current value, false
updates on look-alikes and on rival facts.
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
    from tera_desktop.core.prompts import AnswerDone

    done = None
    for event in session.ask(question):
        if isinstance(event, AnswerDone):
            done = event
    return done


def _old_prompt_answer(engine: Any, question: str) -> str:
    """The answer as main did it before: the question searched alone, whole chunks, the old
    reference format, no history, no checks."""
    from tera_desktop.core.prompts import system_prompt

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
    """The project's own sets (``--project-sets``)."""
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


# ---- the evaluation set written apart from the code (issue 21) -------------------------------
def _declined(done: Any) -> bool:
    """Tera itself declined: nothing in memory, or the sources are on the topic but none holds
    the kind of answer asked for."""
    return done is not None and (done.no_memory or "none of them says" in done.text)


def _ask(session: Any, question: str, *, search_only: bool) -> Any:
    from tera_desktop.core.prompts import AnswerDone

    done = None
    for event in session.ask(question, search_only=search_only):
        if isinstance(event, AnswerDone):
            done = event
    return done


def _has(text: str, value: str) -> bool:
    return value.lower() in text.lower()


def _rate(ok: int, n: int) -> float | None:
    return round(ok / n, 3) if n else None


def eval_half(
    split: str, embedding: Path, gguf: Path, threads: int, with_answers: bool
) -> dict[str, Any]:
    """Score one half of the evaluation set (see the module doc)."""
    from tera_desktop.core.session import ChatSession
    from tera_desktop.testing.conversation_sets import eval_memories, load_eval_set, memory_of

    data = load_eval_set(split)
    failures: dict[str, list[str]] = {
        "follow_up": [], "update_top1": [], "update_answer": [], "near_miss": [],
        "false_decline": [],
    }  # fmt: skip
    counts = dict.fromkeys(
        ("follow_up", "update_top1", "update_answer", "near_miss", "false_decline"), 0
    )
    flagged_stale = 0
    t0 = time.perf_counter()
    for memory, texts in eval_memories(data).items():
        with tempfile.TemporaryDirectory() as tmp:
            engine = _engine(tmp, embedding, gguf, threads)
            for text in texts:
                engine.remember(text)

            def session(engine: Any = engine) -> Any:
                return ChatSession(engine, persist=False)

            for item in data["follow_ups"]:
                if memory_of(item) != memory:
                    continue
                chat = session()
                for turn in item["turns"][:-1]:
                    _ask(chat, turn, search_only=True)
                found = chat.find(item["turns"][-1])
                top = found.hits[0].text if found.hits else ""
                ok = _has(top, item["expect"])
                counts["follow_up"] += ok
                if not ok:
                    failures["follow_up"].append(f"{item['id']}: {found.query!r} -> {top!r}")
            for item in data["updates"]:
                if memory_of(item) != memory:
                    continue
                found = session().find(item["question"])
                top = found.hits[0].text if found.hits else ""
                ok = _has(top, item["current"])
                counts["update_top1"] += ok
                if not ok:
                    failures["update_top1"].append(f"{item['id']}: {top!r}")
                if with_answers:
                    done = _ask(session(), item["question"], search_only=False)
                    text = done.text if done is not None else ""
                    ok = _has(text, item["current"]) and not _has(text, item["stale"])
                    counts["update_answer"] += ok
                    if done is not None and getattr(done.checks, "stale", None):
                        flagged_stale += 1
                    if not ok:
                        failures["update_answer"].append(f"{item['id']}: {text!r}")
            for item in data["near_misses"]:
                if memory_of(item) != memory:
                    continue
                chat = session()
                for turn in item.get("turns", []):
                    _ask(chat, turn, search_only=True)
                done = _ask(chat, item["question"], search_only=True)
                ok = _declined(done)
                counts["near_miss"] += ok
                if not ok:
                    top = done.sources[0].text if done is not None and done.sources else ""
                    failures["near_miss"].append(f"{item['id']}: answered from {top!r}")
            for item in data["answerable"]:
                if memory_of(item) != memory:
                    continue
                done = _ask(session(), item["question"], search_only=True)
                bad = _declined(done)
                counts["false_decline"] += bad
                if bad:
                    failures["false_decline"].append(f"{item['id']}: {done.text[:90]!r}")
            engine.close()
    n = {
        "follow_up": len(data["follow_ups"]),
        "update_top1": len(data["updates"]),
        "update_answer": len(data["updates"]) if with_answers else 0,
        "near_miss": len(data["near_misses"]),
        "false_decline": len(data["answerable"]),
    }
    return {
        "split": split,
        "items": sum(len(data[k]) for k in ("follow_ups", "updates", "near_misses", "answerable")),
        "n": n,
        "follow_up_top1": _rate(counts["follow_up"], n["follow_up"]),
        "update_top1": _rate(counts["update_top1"], n["update_top1"]),
        "update_answer_current_only": _rate(counts["update_answer"], n["update_answer"]),
        "update_answers_flagged_stale": flagged_stale if with_answers else None,
        "near_miss_declined": _rate(counts["near_miss"], n["near_miss"]),
        "false_declines": _rate(counts["false_decline"], n["false_decline"]),
        "failures": failures,
        "seconds": round(time.perf_counter() - t0, 1),
    }


TARGETS = {
    "follow_up_top1": ">= 0.95",
    "update_top1": "= 1.00",
    "update_answer_current_only": ">= 0.9",
    "near_miss_declined": ">= 0.8",
    "false_declines": "<= 0.05",
}


def eval_table(halves: list[dict[str, Any]]) -> Table:
    t = Table("metric", *(f"{h['split']} (n)" for h in halves), "target (held-out)")
    for key, target in TARGETS.items():
        nkey = {
            "follow_up_top1": "follow_up",
            "update_top1": "update_top1",
            "update_answer_current_only": "update_answer",
            "near_miss_declined": "near_miss",
            "false_declines": "false_decline",
        }[key]
        cells = ["-" if h[key] is None else f"{h[key]:.3f} ({h['n'][nkey]})" for h in halves]
        t.add(key, *cells, target)
    return t


# ---- the update sets v2 (issue 21): dev_updates_v2 (tuned on), heldout_updates_v2 (frozen) ----
UPDATE_SETS_V2 = ("dev_updates_v2", "heldout_updates_v2")


def load_update_set_v2(name: str) -> dict[str, Any]:
    import json

    from tera_desktop.testing.conversation_sets import eval_set_path

    path = eval_set_path("dev").parent / f"{name}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def eval_updates_v2(
    name: str, embedding: Path, gguf: Path, threads: int, with_answers: bool
) -> dict[str, Any]:
    """Score one update set v2: in one memory every older fact and rival, then every newer fact
    (recognised: it replaced exactly its older fact; a rival that replaces anything, or a newer
    fact that replaces a rival, is a false update); the
    question's best source holds the current value; SmolLM2's checked answer names the current
    value and not the stale one. In a second memory the look-alikes: every first fact, then
    every second; a second that replaces anything is a false update."""
    from tera_desktop.core.session import ChatSession

    data = load_update_set_v2(name)
    updates, looks = data["updates"], data["look_alikes"]
    failures: dict[str, list[str]] = {
        "recognised": [], "update_top1": [], "update_answer": [], "false_update": [],
    }  # fmt: skip
    recognised = top1 = answered = false_in_updates = false_in_looks = flagged_stale = 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        engine = _engine(tmp, embedding, gguf, threads)
        for item in updates:
            engine.remember(item["old"])
            for rival in item["rivals"]:  # a rival is another thing: it replaces nothing
                replaced = engine.remember(rival).replaces
                if replaced is not None:
                    false_in_updates += 1
                    failures["false_update"].append(f"{item['id']}: {replaced.text!r}")
        for item in updates:
            result = engine.remember(item["new"])
            replaced = result.replaces.text if result.replaces is not None else ""
            recognised += replaced == item["old"]
            if replaced != item["old"]:
                failures["recognised"].append(f"{item['id']}: replaced {replaced!r}")
            if replaced and replaced != item["old"]:
                false_in_updates += 1
                failures["false_update"].append(f"{item['id']}: {replaced!r}")
        for item in updates:
            found = ChatSession(engine, persist=False).find(item["question"])
            top = found.hits[0].text if found.hits else ""
            ok = _has(top, item["current"])
            top1 += ok
            if not ok:
                failures["update_top1"].append(f"{item['id']}: {top!r}")
            if with_answers:
                done = _ask(ChatSession(engine, persist=False), item["question"], search_only=False)
                text = done.text if done is not None else ""
                ok = _has(text, item["current"]) and not _has(text, item["stale"])
                answered += ok
                if done is not None and getattr(done.checks, "stale", None):
                    flagged_stale += 1
                if not ok:
                    failures["update_answer"].append(f"{item['id']}: {text!r}")
        engine.close()
    with tempfile.TemporaryDirectory() as tmp:
        engine = _engine(tmp, embedding, gguf, threads)
        for item in looks:
            engine.remember(item["first"])
        for item in looks:
            result = engine.remember(item["second"])
            if result.replaces is not None:
                false_in_looks += 1
                failures["false_update"].append(f"{item['id']}: {result.replaces.text!r}")
        engine.close()
    n = len(updates)
    return {
        "split": name,
        "n": {"updates": n, "look_alikes": len(looks)},
        "update_recognised": _rate(recognised, n),
        "update_top1": _rate(top1, n),
        "update_answer_current_only": _rate(answered, n) if with_answers else None,
        "update_answers_flagged_stale": flagged_stale if with_answers else None,
        "false_updates_look_alikes": _rate(false_in_looks, len(looks)),
        "false_updates_rivals": false_in_updates,
        "failures": failures,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def updates_v2_table(sets: list[dict[str, Any]]) -> Table:
    t = Table("metric", *(s["split"] for s in sets), "target (held-out)")
    rows = (
        ("update_recognised", "= 1.00"),
        ("update_top1", "= 1.00"),
        ("update_answer_current_only", ">= 0.9"),
        ("false_updates_look_alikes", "= 0"),
        ("false_updates_rivals", "= 0"),
    )
    for key, target in rows:
        cells = []
        for s in sets:
            v = s[key]
            size = (
                s["n"]["look_alikes"] if key == "false_updates_look_alikes" else s["n"]["updates"]
            )
            cells.append(
                "-" if v is None else f"{v:.3f} ({size})" if isinstance(v, float) else str(v)
            )
        t.add(key, *cells, target)
    return t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--no-answers", action="store_true", help="retrieval only (no LLM)")
    p.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "conversation.json")
    p.add_argument(
        "--split",
        choices=("dev", "heldout", "both", "v2", "none"),
        default="both",
        help="evaluation set v1 half (both: the two v1 halves; v2 or none: no v1 half)",
    )
    p.add_argument(
        "--updates-v2",
        choices=("dev", "heldout", "both", "none"),
        default="both",
        help="update sets v2 (dev_updates_v2: tuned on; heldout_updates_v2: frozen)",
    )
    p.add_argument(
        "--project-sets", action="store_true", help="also the project's own conversation sets"
    )
    p.add_argument(
        "--failures",
        action="store_true",
        help="print every failed item of the dev half (the held-out half's stay in the JSON: "
        "reading them while tuning would make it a second dev half)",
    )
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    models = default_models()
    splits = {"both": ("dev", "heldout"), "v2": (), "none": ()}.get(args.split, (args.split,))
    halves = [
        eval_half(s, models["embedding"], models["gguf"], args.threads, not args.no_answers)
        for s in splits
    ]
    v2_names = {"both": UPDATE_SETS_V2, "none": ()}.get(
        args.updates_v2, (f"{args.updates_v2}_updates_v2",)
    )
    v2 = [
        eval_updates_v2(n, models["embedding"], models["gguf"], args.threads, not args.no_answers)
        for n in v2_names
    ]
    if halves:
        print("Evaluation set (issue 21): dev = tuned on, heldout = never tuned on")
        print(eval_table(halves))
        print()
    if v2:
        print("Update sets v2 (issue 21): dev_updates_v2 = tuned on, heldout_updates_v2 = frozen")
        print(updates_v2_table(v2))
        print()
    if args.failures:
        for h in [*halves, *v2]:
            if h["split"] not in ("dev", "dev_updates_v2"):
                continue
            for kind, items in h["failures"].items():
                for line in items:
                    print(f"[{h['split']}] {kind}: {line}")
        print()
    out: dict[str, Any] = {
        "eval_set": {h["split"]: h for h in halves},
        "updates_v2": {h["split"]: h for h in v2},
    }
    if args.project_sets:
        result = run(models["embedding"], models["gguf"], args.threads, not args.no_answers)
        for table in tables(result):
            print(table)
            print()
        out["project_sets"] = result
    write_json(
        args.out,
        {
            "benchmark": "conversation",
            "machine": machine_info("llama-cpp-python", "fastembed"),
            "result": out,
        },
    )
    print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
