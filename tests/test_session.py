"""The conversation engine (core/session.py) with the tiny generated models: follow-ups, the
conversation as the cached prefix, reading in steps with progress, read-ahead while typing,
persistence that never loses a question and never saves an empty answer."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from tera_desktop.core.conversations import ConversationStore
from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import GenerationError
from tera_desktop.core.prompts import (
    NO_MEMORY_ANSWER,
    AnswerDone,
    Reading,
    SourcesFound,
    Token,
)
from tera_desktop.core.session import ChatSession, answer_json


@pytest.fixture
def session(engine: Engine) -> ChatSession:
    # the tiny tokenizer spends a token on every few letters: room for a few turns
    engine.settings = replace(engine.settings, llm_context=2048)
    engine.generator.follows_conversations = True  # the tiny model stands in for a chat model
    for fact in (
        "My accountant is Maria Keller.",
        "Maria Keller's office number is 030 5551234.",
        "The plumber Tom Berger's office number is 0171 5559876.",
        "The gate code is 4512.",
    ):
        engine.remember(fact)
    return ChatSession(engine, ConversationStore(engine.paths))


def done_of(events: list[object]) -> AnswerDone:
    done = events[-1]
    assert isinstance(done, AnswerDone)
    return done


def test_evidence_comes_first_then_reading_then_tokens(session: ChatSession) -> None:
    events = list(session.ask("what is the gate code?"))
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "SourcesFound"
    first_token = kinds.index("Token")
    assert "Reading" in kinds[:first_token]
    found = events[0]
    assert isinstance(found, SourcesFound) and found.sources[0].text == "The gate code is 4512."
    assert found.sources[0].evidence == ("The gate code is 4512.",)
    readings = [e for e in events if isinstance(e, Reading)]
    assert readings[-1].done == readings[-1].total > 0
    assert [r.done for r in readings] == sorted(r.done for r in readings)
    done = done_of(events)
    assert done.stats.prompt_tokens_evaluated >= readings[-1].total


def test_a_follow_up_is_searched_with_its_context(session: ChatSession) -> None:
    list(session.ask("who is my accountant?"))
    events = list(session.ask("what is her office number?"))
    found = events[0]
    assert isinstance(found, SourcesFound)
    assert "Maria" in found.query and "Keller" in found.query
    assert "030 5551234" in found.sources[0].text
    conv = session.conversations.load(session.conversation_id)
    assert [m.role for m in conv.messages] == ["user", "assistant", "user", "assistant"]
    assert conv.messages[2].query == found.query and conv.messages[0].query == (
        "who is my accountant?"
    )


def test_a_small_model_gets_the_question_alone(session: ChatSession) -> None:
    gen = session.engine.generator
    assert 0 < gen.n_params < 1_000_000_000  # the tiny model is small
    gen.follows_conversations = False
    list(session.ask("who is my accountant?"))
    seen = []
    real = gen.stream
    gen.stream = lambda messages, *a, **k: (seen.append(messages), real(messages, *a, **k))[1]  # type: ignore[method-assign]
    list(session.ask("what is her office number?"))
    assert [m["role"] for m in seen[0]] == ["system", "user"]
    assert "Maria Keller" in seen[0][1]["content"]  # its sources still come from the context


def test_the_conversation_is_the_cached_prefix(session: ChatSession) -> None:
    first = done_of(list(session.ask("who is my accountant?")))
    second = done_of(list(session.ask("what is her office number?")))
    new_tokens = second.stats.prompt_tokens - first.stats.prompt_tokens - 1
    # only this turn's new references and question (and the first answer's end) are read
    assert second.stats.prompt_tokens_evaluated <= new_tokens + first.stats.completion_tokens + 8
    assert second.stats.prompt_tokens_evaluated < second.stats.prompt_tokens / 2


def test_sources_are_numbered_by_rank(session: ChatSession) -> None:
    done = done_of(list(session.ask("what is the gate code?")))
    assert [s.number for s in done.sources] == list(range(1, len(done.sources) + 1))
    assert done.sources[0].text == "The gate code is 4512."


def test_a_prompt_read_ahead_keeps_its_order_when_the_question_finds_the_same_sources(
    session: ChatSession,
) -> None:
    session.engine.generator  # noqa: B018 - loaded
    list(session.prepare("office number of"))
    order = session._prepared_order
    assert order
    done = done_of(list(session.ask("office number of?")))
    if sorted(order) == sorted(s.id for s in done.sources):
        assert tuple(s.id for s in sorted(done.sources, key=lambda s: s.number)) == order
    assert session._prepared_order is None  # used once


def test_stop_while_reading_keeps_the_question_and_saves_no_empty_answer(
    session: ChatSession,
) -> None:
    cancel = threading.Event()
    events = []
    for event in session.ask("what is the gate code?", cancel=cancel):
        events.append(event)
        if isinstance(event, Reading):
            cancel.set()
    assert not any(isinstance(e, Token) for e in events)
    assert done_of(events).stopped
    conv = session.conversations.load(session.conversation_id)
    assert [m.role for m in conv.messages] == ["user"]
    assert conv.messages[0].text == "what is the gate code?"


def test_closing_mid_answer_saves_the_partial_answer_once(session: ChatSession) -> None:
    stream = session.ask("what is the gate code?")
    got = []
    for event in stream:
        if isinstance(event, Token):
            got.append(event.text)
            if len(got) == 2:
                break
    stream.close()  # what the app does when it quits during an answer
    conv = session.conversations.load(session.conversation_id)
    assert [m.role for m in conv.messages] == ["user", "assistant"]
    answer = conv.messages[1]
    assert answer.stopped and answer.text == "".join(got).strip() and answer.sources
    assert not session.busy


def test_nothing_in_memory_is_said_and_saved(session: ChatSession) -> None:
    events = list(session.ask("zzzz qqqq"))
    assert events[0] == SourcesFound([], "zzzz qqqq")
    assert events[1] == Token(NO_MEMORY_ANSWER) and done_of(events).no_memory
    conv = session.conversations.load(session.conversation_id)
    assert conv.messages[1].no_memory and conv.messages[1].text == NO_MEMORY_ANSWER


def test_sources_that_cannot_hold_the_answer_get_an_honest_answer(engine: Engine) -> None:
    engine.remember("Dr. Rossi's practice is at Via Roma 12.")
    session = ChatSession(engine, persist=False)
    done = done_of(list(session.ask("When does Dr. Rossi's practice open on Saturdays?")))
    assert "none of them says when" in done.text and done.sources
    assert not engine.generator_loaded  # no model was needed to say so


def test_search_only_shows_the_memories_without_a_model(session: ChatSession) -> None:
    done = done_of(list(session.ask("what is the gate code?", search_only=True)))
    assert "No language model" in done.text and "4512" in done.sources[0].text


def test_read_ahead_leaves_only_the_question_after_enter(session: ChatSession) -> None:
    session.engine.generator.prefill([{"role": "system", "content": "warm up"}])
    readings = list(session.prepare("what is the gate code"))
    assert readings and readings[-1].done == readings[-1].total > 0
    done = done_of(list(session.ask("what is the gate code?")))
    assert done.stats.prompt_tokens_evaluated <= 24  # the question and the assistant header
    assert done.stats.prompt_tokens > 3 * done.stats.prompt_tokens_evaluated


def test_read_ahead_can_be_cancelled_between_batches(session: ChatSession) -> None:
    session.engine.generator  # noqa: B018 - loaded
    cancel = threading.Event()
    seen = []
    for reading in session.prepare("what is the gate code", cancel=cancel):
        seen.append(reading)
        cancel.set()
    assert len(seen) == 1 and seen[0].done == 0


def test_a_conversation_asked_in_before_opening_is_kept(engine: Engine) -> None:
    store = ConversationStore(engine.paths)
    old = ChatSession(engine, store)
    engine.remember("The gate code is 4512.")
    list(old.ask("what is the gate code?", search_only=True))
    fresh = ChatSession(engine, store)
    list(fresh.ask("what is the gate code?", search_only=True))  # asked while "opening"
    assert fresh.restore_last() is None
    assert fresh.conversation_id != old.conversation_id and len(fresh.conversation.messages) == 2
    later = ChatSession(engine, store)
    restored = later.restore_last()
    assert restored is not None and restored.id == fresh.conversation_id


def test_one_question_at_a_time(session: ChatSession) -> None:
    stream = session.ask("what is the gate code?")
    next(stream)
    with pytest.raises(GenerationError, match="still answering"):
        next(session.ask("another?"))
    stream.close()


def test_open_switch_and_delete(session: ChatSession) -> None:
    list(session.ask("what is the gate code?", search_only=True))
    first = session.conversation_id
    session.new_conversation()
    list(session.ask("who is my accountant?", search_only=True))
    second = session.conversation_id
    assert {c.id for c in session.conversations.list()} == {first, second}
    opened = session.open(first)
    assert opened.messages[0].text == "what is the gate code?"
    assert session.delete(first) and session.conversation_id != first
    assert [c.id for c in session.conversations.list()] == [second]


def test_answer_json_has_the_query_and_the_checks(session: ChatSession) -> None:
    list(session.ask("who is my accountant?"))
    events = list(session.ask("what is her office number?"))
    data = answer_json(done_of(events), done_of(events).sources)
    assert "Keller" in data["query"] and set(data["checks"]) >= {"unsupported", "cut"}
    assert data["cut"] is True  # the tiny model always writes to the length limit
    assert data["answer"].endswith("[cut at the length limit]")
    assert data["sources"][0]["evidence"]
