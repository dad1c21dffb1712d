"""Exact names, numbers and IDs are findable even when the embedding model misses them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tera_desktop.core.engine import Engine
from tera_desktop.core.prompts import AnswerDone, SourcesFound
from tera_desktop.core.query_filters import distinctive_terms
from tera_desktop.core.session import ask_once

NOTES = [  # the IDs sit in long notes, so they barely move the notes' embeddings
    "Notes from the week: the cat is blue, the dog sleeps, paris in may, the sky, the meeting "
    "on tuesday, and the build server ZEPHYR-9.",
    "Notes from the month: the garden, the birthday in june, the capital of france, the blue "
    "sky, and invoice INV-2024-0193 paid in march.",
    "Notes on the house: the kitchen, the blue door, the gate, the garden, the password, and "
    "the router RT-AX58U.",
]
DISTRACTORS = [  # short texts that share the questions' ordinary words
    "which machine is the fastest one",
    "the machine in the kitchen is broken",
    "was the invoice paid",
    "where is the manual for the router",
    "is the build green today",
]
QUESTIONS = {
    "Which machine is ZEPHYR-9?": NOTES[0],
    "Was INV-2024-0193 paid?": NOTES[1],
    "Where is the RT-AX58U manual?": NOTES[2],
}


@pytest.fixture
def memory(engine: Engine) -> Engine:
    for text in NOTES + DISTRACTORS:
        engine.remember(text)
    engine.settings = replace(engine.settings, top_k=2)
    return engine


def sources_for(engine: Engine, question: str, mode: str) -> list[str]:
    engine.settings = replace(engine.settings, retrieval=mode)
    events = list(ask_once(engine, question))
    assert isinstance(events[0], SourcesFound) and isinstance(events[-1], AnswerDone)
    return [s.text for s in events[0].sources]


def test_distinctive_terms() -> None:
    assert distinctive_terms("Was INV-2024-0193 paid by Maria?") == ["INV-2024-0193", "Maria"]
    assert distinctive_terms("what is the gate code?") == []
    assert distinctive_terms("Where is my iPhone and the 4512 code") == ["iPhone", "4512"]


def test_an_id_the_dense_model_misses_is_found_by_keyword_and_hybrid(memory: Engine) -> None:
    question = "Which machine is ZEPHYR-9?"
    assert NOTES[0] not in sources_for(memory, question, "dense")  # the premise: dense misses it
    assert NOTES[0] in sources_for(memory, question, "hybrid")
    assert NOTES[0] in sources_for(memory, question, "expanded")
    assert sources_for(memory, question, "keyword")[0] == NOTES[0]


@pytest.mark.parametrize("mode", ["hybrid", "expanded"])
@pytest.mark.parametrize(("question", "note"), QUESTIONS.items())
def test_hybrid_finds_every_exact_id(memory: Engine, question: str, note: str, mode: str) -> None:
    assert note in sources_for(memory, question, mode)


def test_hybrid_keeps_the_no_memory_answer_honest(engine: Engine) -> None:
    engine.remember("my cat is blue")
    engine.remember("the gate code is 4512")
    for mode in ("dense", "hybrid", "keyword", "expanded"):
        engine.settings = replace(engine.settings, retrieval=mode)
        done = list(ask_once(engine, "zzzz qqqq"))[-1]
        assert isinstance(done, AnswerDone) and done.no_memory, mode


def test_hybrid_still_answers_questions_of_meaning(memory: Engine) -> None:
    memory.remember("the gate code is 4512")
    for mode in ("hybrid", "expanded"):
        assert "the gate code is 4512" in sources_for(memory, "what is the gate code?", mode)
