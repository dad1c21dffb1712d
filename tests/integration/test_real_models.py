"""End to end with the small real models (DESIGN.md): SmolLM2-135M-Instruct (GGUF, llama.cpp) and
all-MiniLM-L6-v2 (ONNX, FastEmbed), on the real embedded Qdrant engine."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tera_desktop.core.engine import Engine
from tera_desktop.core.generator import Sampling
from tera_desktop.core.paths import get_paths
from tera_desktop.core.prompts import AnswerDone, SourcesFound, Token
from tera_desktop.core.session import ask_once
from tera_desktop.core.settings import Settings

pytestmark = pytest.mark.integration

FACTS = [
    "The gate code is 4512.",
    "My sister Anna's birthday is on 14 March.",
    "The wifi password is tulip-42.",
    "I parked the car on level 3 of the airport garage.",
]
PROJECT_MD = (
    "# Project Falcon\n\n## Budget\n\nThe Falcon project budget is 2.3 million euros, approved by "
    "Maria Lopez in June.\n\n## Team\n\nThe team has five engineers based in Lisbon.\n"
)
RECIPE = "Grandma's pancake recipe: two eggs, one cup of flour, one cup of milk, a pinch of salt."
GREEDY = Sampling(max_tokens=60, temperature=0.0, seed=0)


def real_settings(models: dict[str, Path]) -> Settings:
    return Settings(
        embedding_model=str(models["embedding"]),
        llm_model=str(models["gguf"]),
        max_answer_tokens=60,
        llm_threads=1,
        llm_threads_batch=2,
    )


@pytest.fixture(scope="module")
def memory(
    real_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, dict[str, str], Path]]:
    home = tmp_path_factory.mktemp("real-home")
    docs = tmp_path_factory.mktemp("docs")
    (docs / "project.md").write_text(PROJECT_MD)
    (docs / "recipes").mkdir()
    (docs / "recipes" / "pancakes.txt").write_text(RECIPE)
    engine = Engine(get_paths(home).ensure(), real_settings(real_models))
    ids = {fact: engine.remember(fact).id for fact in FACTS}
    results = [e for e in engine.upload([docs]) if hasattr(e, "status")]
    assert [r.status for r in results] == ["added", "added"]
    yield engine, ids, docs
    engine.close()


def ask(engine: Engine, question: str) -> tuple[list[object], str, AnswerDone]:
    events = list(ask_once(engine, question, sampling=GREEDY))
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    done = events[-1]
    assert isinstance(events[0], SourcesFound) and isinstance(done, AnswerDone)
    return events, streamed, done


@pytest.mark.parametrize(
    ("question", "fact", "answer_has"),
    [
        ("What is the gate code?", "The gate code is 4512.", "4512"),
        ("What is the wifi password?", "The wifi password is tulip-42.", "tulip-42"),
        ("When is Anna's birthday?", "My sister Anna's birthday is on 14 March.", "14 March"),
    ],
)
def test_answers_cite_the_right_fact(
    memory: tuple[Engine, dict[str, str], Path], question: str, fact: str, answer_has: str
) -> None:
    engine, ids, _ = memory
    events, streamed, done = ask(engine, question)
    tokens = [e for e in events if isinstance(e, Token)]
    assert len(tokens) > 1  # it streamed, piece by piece
    first = done.sources[0]  # sources come in rank order; their numbers in prompt order
    assert (first.id, first.kind, first.text) == (ids[fact], "fact", fact)
    assert sorted(s.number for s in done.sources) == list(range(1, len(done.sources) + 1))
    assert answer_has in streamed and answer_has in done.text
    assert all(n in {s.number for s in done.sources} for n in done.checks.cited)
    assert answer_has not in done.checks.unsupported


def test_answers_from_an_uploaded_document(memory: tuple[Engine, dict[str, str], Path]) -> None:
    engine, _, docs = memory
    _, streamed, done = ask(engine, "What is the budget of the Falcon project?")
    first = done.sources[0]
    assert first.kind == "document" and first.source == str((docs / "project.md").resolve())
    assert first.text.startswith("Project Falcon > Budget")
    assert "2.3 million" in streamed


def test_unknown_topic_is_answered_honestly(memory: tuple[Engine, dict[str, str], Path]) -> None:
    engine, _, _ = memory
    _, streamed, done = ask(engine, "Who won the 1998 football world cup?")
    assert done.no_memory and done.sources == [] and "don't have anything" in streamed


def test_second_question_reuses_the_system_prompt(
    memory: tuple[Engine, dict[str, str], Path],
) -> None:
    engine, _, _ = memory
    ask(engine, "What is the gate code?")
    generator = engine.generator
    system_tokens = len(
        generator.tokens_for(
            [{"role": "system", "content": _system()}], add_generation_prompt=False
        )
    )
    _, _, done = ask(engine, "Where did I park the car?")
    assert done.stats.prompt_tokens_evaluated <= done.stats.prompt_tokens - system_tokens


def _system() -> str:
    from tera_desktop.core.prompts import system_prompt

    return system_prompt()


NO_SOCKET_SCRIPT = """
import json, sys
opened = []
def audit(event, args):
    if event.startswith("socket.") or event in ("urllib.Request", "http.client.connect"):
        caller = sys._getframe(1)
        while caller.f_back and caller.f_code.co_filename.endswith("/socket.py"):
            caller = caller.f_back
        opened.append([event, caller.f_code.co_filename.rsplit("site-packages/", 1)[-1],
                       caller.f_code.co_name])
        raise RuntimeError("network refused in this test: " + event)  # the socket never opens
sys.addaudithook(audit)

from pathlib import Path
from tera_desktop.core.engine import Engine
from tera_desktop.core.paths import get_paths
from tera_desktop.core.session import ask_once
from tera_desktop.core.settings import Settings
from tera_desktop.core.generator import Sampling
home, emb, gguf, docs = sys.argv[1:5]
engine = Engine(get_paths(home).ensure(), Settings(embedding_model=emb, llm_model=gguf))
engine.remember("The gate code is 4512.")
statuses = [e.status for e in engine.upload([docs]) if hasattr(e, "status")]
answer = [type(e).__name__ for e in ask_once(engine, "What is the gate code?",
          sampling=Sampling(max_tokens=8, temperature=0.0))]
engine.close()
print(json.dumps({"opened": opened, "statuses": statuses, "events": answer[:1] + answer[-1:]}))
"""


def test_no_socket_is_opened_with_local_models(
    real_models: dict[str, Path], tmp_path: Path
) -> None:
    """An audit hook, installed before anything is imported, refuses every socket operation and
    records who asked. The only attempt allowed is urllib3's import-time IPv6 probe (it creates a
    socket to bind ::1, never connects, and treats the refusal as "no IPv6"): nothing connects,
    resolves a name or sends a byte."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "project.md").write_text(PROJECT_MD)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(NO_SOCKET_SCRIPT),
            str(tmp_path / "home"),
            str(real_models["embedding"]),
            str(real_models["gguf"]),
            str(docs),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    probe = ["socket.__new__", "urllib3/util/connection.py", "_has_ipv6"]
    assert all(attempt == probe for attempt in report["opened"]), report["opened"]
    assert {k: v for k, v in report.items() if k != "opened"} == {
        "statuses": ["added"],
        "events": ["SourcesFound", "AnswerDone"],
    }


PERSONAL = {  # one fact per topic, and a question that words it differently
    "The gate code is 4512.": "what number opens the gate?",
    "The wifi password is tulip-42.": "how do I get on the wireless network?",
    "My sister Anna's birthday is on 14 March.": "when was Anna born?",
    "I parked the car on level 3 of the airport garage.": "where did I leave the car?",
    "The dentist appointment is on Tuesday at 9.": "when do I see the dentist?",
    "Tom is allergic to peanuts.": "what food can't Tom eat?",
    "The spare house key is under the blue flowerpot.": "where is the extra key to the house?",
    "My passport expires in August 2027.": "when does my passport run out?",
    "The boiler was serviced by Heatwell in January.": "who last serviced the boiler?",
    "Our landlord is Mr. Okafor, phone 0161 555 0199.": "how do I reach the landlord?",
    "The cat's vet is Dr. Singh at Riverside Clinic.": "which vet does the cat go to?",
    "I lent my drill to Priya in September.": "who has my drill?",
}


def test_expanded_search_keeps_single_facts_first(
    real_models: dict[str, Path], tmp_path: Path
) -> None:
    """A personal memory is mostly single facts, one per topic: feedback from the first search
    must not pull a question away from its one matching fact."""
    engine = Engine(get_paths(tmp_path / "home").ensure(), real_settings(real_models))
    try:
        for fact in PERSONAL:
            engine.remember(fact)
        for mode in ("hybrid", "expanded"):
            firsts = {q: engine.search(q, 4, mode=mode)[0].text for q in PERSONAL.values()}
            assert firsts == {q: f for f, q in PERSONAL.items()}, mode
    finally:
        engine.close()
