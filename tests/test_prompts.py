"""ask(): retrieval → grounded prompt with numbered sources in a token budget → streamed answer
(through a one-off ChatSession), and the prompt's pieces: evidence sentences, references."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import pytest

from tera_desktop.core.checks import CUT_MARK
from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import ModelMissingError
from tera_desktop.core.prompts import (
    NO_MEMORY_ANSWER,
    AnswerDone,
    SourcesFound,
    Token,
    build_messages,
    select_evidence,
    system_prompt,
)
from tera_desktop.core.session import ask_once
from tera_desktop.core.store import Hit


def events_of(engine: Engine, question: str, **kw: object) -> list[object]:
    return list(ask_once(engine, question, **kw))  # type: ignore[arg-type]


def test_ask_streams_tokens_after_its_sources(engine: Engine) -> None:
    fact = engine.remember("the gate code is 4512")
    engine.remember("my cat is blue")
    events = events_of(engine, "what is the gate code?")
    assert isinstance(events[0], SourcesFound)
    sources = events[0].sources
    assert sources[0].id == fact.id and sources[0].number == 1 and sources[0].kind == "fact"
    assert sources[0].text == "the gate code is 4512" and sources[0].score > 0.5
    tokens = [e for e in events if isinstance(e, Token)]
    assert len(tokens) >= 2
    done = events[-1]
    assert isinstance(done, AnswerDone) and not done.no_memory and not done.stopped
    assert done.raw_text == "".join(t.text for t in tokens).strip()
    assert done.cut and done.text.endswith(CUT_MARK)  # the tiny model writes to the limit
    assert done.sources == sources


def test_nothing_relevant_says_so_without_running_the_model(engine: Engine) -> None:
    engine.remember("the gate code is 4512")
    events = events_of(engine, "zzzz qqqq")  # no shared word: below the relevance threshold
    assert events[0] == SourcesFound([], "zzzz qqqq")
    assert events[1] == Token(NO_MEMORY_ANSWER)
    assert isinstance(events[2], AnswerDone) and events[2].no_memory
    assert not engine.generator_loaded


def test_empty_memory_says_so(engine: Engine) -> None:
    done = events_of(engine, "what is the gate code?")[-1]
    assert isinstance(done, AnswerDone) and done.no_memory and done.text == NO_MEMORY_ANSWER


def test_missing_language_model_is_explained(engine: Engine, tmp_path: Path) -> None:
    from dataclasses import replace

    engine.settings = replace(engine.settings, llm_model="dolphin-2.6-phi-2")
    engine.remember("the gate code is 4512")
    with pytest.raises(ModelMissingError, match=r"tera models download dolphin-2\.6-phi-2"):
        events_of(engine, "what is the gate code?")


def test_stop_keeps_the_partial_answer(engine: Engine) -> None:
    from dataclasses import replace

    engine.settings = replace(engine.settings, max_answer_tokens=200)
    engine.remember("the gate code is 4512")
    cancel = threading.Event()
    got = []
    for event in ask_once(engine, "gate code?", cancel=cancel):
        if isinstance(event, Token):
            got.append(event.text)
            if len(got) == 2:
                cancel.set()
        if isinstance(event, AnswerDone):
            done = event
    assert done.stopped and len(got) == 2 and done.text == "".join(got).strip()
    assert not done.cut


def test_system_prompt_has_todays_date_and_the_rules() -> None:
    text = system_prompt(date(2026, 11, 25))
    assert "Wednesday, 25 November 2026" in text and "Tera" in text
    assert "[1]" in text and "don't know" in text


class _CountingGen:
    n_ctx = 300
    name = "fake"

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def _hit(i: int, words: int) -> Hit:
    return Hit(
        f"id{i}", 0.9 - i / 100, "document", f"/docs/d{i}.md", "w " * words, "2026-11-01", "", 0
    )


def test_sources_fit_the_token_budget() -> None:
    gen = _CountingGen()
    messages, sources = build_messages(
        "question?",
        [_hit(i, 60) for i in range(8)],
        gen,
        max_answer_tokens=50,  # type: ignore[arg-type]
    )
    total = sum(gen.count_tokens(m["content"]) for m in messages)
    assert total + 50 <= gen.n_ctx
    assert 1 <= len(sources) < 8
    assert [s.number for s in sources] == list(range(1, len(sources) + 1))
    assert "[1] d0.md: w w" in messages[1]["content"]
    assert messages[1]["content"].endswith("Question: question?")


def test_evidence_is_the_sentences_that_match_the_question() -> None:
    text = (
        "The house was built in 1932. The roof was replaced in 2019 after a storm. "
        "The garden has three apple trees. The basement floods in spring. "
        "The heating is a gas boiler from 2011."
    )
    assert select_evidence("When was the roof replaced?", text) == (
        "The roof was replaced in 2019 after a storm.",
    ) or select_evidence("When was the roof replaced?", text)[0].startswith("The roof")
    picked = select_evidence("what heating does the house have", text)
    assert "The heating is a gas boiler from 2011." in picked
    assert len(" ".join(picked)) <= 360
    assert select_evidence("anything", "Short fact.") == ("Short fact.",)
    no_overlap = select_evidence("zzz", text)
    assert no_overlap[0] == "The house was built in 1932."


def test_documents_send_their_evidence_not_the_whole_chunk() -> None:
    gen = _CountingGen()
    long = " ".join(f"Sentence {i} is about topic {i}." for i in range(40))
    hit = Hit("id0", 0.9, "document", "/docs/notes.md", long + " The boiler was serviced in May.",
              "2026-11-01", "", 0)  # fmt: skip
    messages, sources = build_messages("when was the boiler serviced?", [hit], gen,  # type: ignore[arg-type]
                                       max_answer_tokens=50)  # fmt: skip
    assert "The boiler was serviced in May." in messages[1]["content"]
    assert "Sentence 30" not in messages[1]["content"]
    assert sources[0].evidence and sources[0].text == hit.text


def test_a_lone_huge_source_is_truncated_not_dropped() -> None:
    gen = _CountingGen()
    messages, sources = build_messages("q", [_hit(0, 5000)], gen, max_answer_tokens=50)  # type: ignore[arg-type]
    assert len(sources) == 1 and messages[1]["content"].count("w ") < 300
