"""A follow-up never escapes the relevance threshold (issue 19.3) and is searched with the user's
own words and the sources' text only (issue 21): ``retrieval.retrieve_in_conversation``, THE
retrieval path of a chat, with the real all-MiniLM-L6-v2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tera_desktop.core.engine import Engine
from tera_desktop.core.paths import get_paths
from tera_desktop.core.retrieval import (
    Retrieval,
    Turn,
    plan_follow_up,
    retrieve_in_conversation,
    standalone_query,
)
from tera_desktop.core.settings import Settings
from tera_desktop.core.supersede import is_update

JSON_DOCS = """<html><head><title>json — JSON encoder and decoder</title></head><body>
<h1>json — JSON encoder and decoder</h1>
<p>JSON (JavaScript Object Notation) is a lightweight data interchange format inspired by
JavaScript object literal syntax. The json module exposes an API familiar to users of the
standard library marshal and pickle modules.</p>
<h2>Basic Usage</h2>
<p>json.dump(obj, fp, *, skipkeys=False, ensure_ascii=True, check_circular=True,
allow_nan=True, cls=None, indent=None, separators=None, default=None, sort_keys=False)
serializes obj as a JSON formatted stream to fp, a .write()-supporting file-like object.</p>
<p>If skipkeys is true, dict keys that are not of a basic type are skipped instead of raising
a TypeError. If ensure_ascii is true, the output is guaranteed to have all incoming non-ASCII
characters escaped.</p>
<h2>Encoders and Decoders</h2>
<p>class json.JSONEncoder is an extensible JSON encoder for Python data structures. It
supports dict, list, tuple, str, int, float, True, False and None by default. To extend it to
recognize other objects, subclass it and implement a default() method that returns a
serializable object for o if possible, otherwise it should call the superclass implementation
to raise TypeError.</p>
<p>class json.JSONDecoder(object_hook=None, parse_float=None, parse_int=None) is a simple JSON
decoder. object_hook is an optional function that will be called with the result of every
JSON object decoded and its return value will be used instead of the given dict.</p>
<h2>Command Line Interface</h2>
<p>The json.tool module provides a simple command line interface to validate and pretty-print
JSON objects. If the optional infile and outfile arguments are not specified, sys.stdin and
sys.stdout are used.</p>
</body></html>
"""

ACCOUNTANT = "My accountant is Maria Keller."
PHONE = "Maria Keller's phone number is 030 4417 220."
PLUMBER = "The plumber Jan Novak's phone number is 0176 3321 908."


@pytest.fixture(scope="module")
def engine(
    real_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    home = tmp_path_factory.mktemp("gate-home")
    eng = Engine(
        get_paths(home).ensure(),
        Settings(embedding_model=str(real_models["embedding"]), llm_model=str(real_models["gguf"])),
    )
    docs = tmp_path_factory.mktemp("docs")
    (docs / "json.html").write_text(JSON_DOCS, encoding="utf-8")
    list(eng.upload([docs]))
    for fact in (
        ACCOUNTANT, PHONE, PLUMBER, "The car is serviced on 4 April.",
        "The bike is serviced on 18 May.", "The gate code is 4512.",
    ):  # fmt: skip
        eng.remember(fact)
    eng.remember("The gate code changed to 7788.")
    yield eng
    eng.close()


def ask(engine: Engine, question: str, history: list[Turn] | None = None) -> Retrieval:
    return retrieve_in_conversation(question, history or [], engine.embedder, engine.store, top_k=4)


def turn(engine: Engine, question: str, history: list[Turn] | None = None) -> Turn:
    found = ask(engine, question, history)
    return Turn(question, "", found.query, tuple(h.text for h in found.hits))


@pytest.mark.integration
def test_a_follow_up_finds_what_it_means(engine: Engine) -> None:
    first = turn(engine, "Who is my accountant?")
    found = ask(engine, "What is her phone number?", [first])
    assert found.hits and found.hits[0].text == PHONE
    assert "Maria" in found.query


@pytest.mark.integration
def test_and_x_swaps_the_subject(engine: Engine) -> None:
    first = turn(engine, "When is the car serviced?")
    found = ask(engine, "And the bike?", [first])
    assert found.hits and "18 May" in found.hits[0].text
    assert all("car" not in h.text for h in found.hits)


@pytest.mark.integration
def test_the_models_answer_is_not_searched(engine: Engine) -> None:
    first = turn(engine, "Who is my accountant?")
    noisy = Turn(first.question, "The Plumber Jan Novak JSONEncoder [1]", first.query,
                 first.source_texts)  # fmt: skip
    assert ask(engine, "What is her phone number?", [noisy]).query == (
        ask(engine, "What is her phone number?", [first]).query
    )


@pytest.mark.integration
def test_after_a_forget_the_chat_says_nothing_in_memory_as_a_new_chat_does(
    engine: Engine,
) -> None:
    """Issue 19's journey: accountant, her phone (the plumber's fact among the sources), the
    plumber forgotten, then "Who is my plumber?" in that chat: nothing, as in a new chat, not
    the json.html chunks the conversation's words used to lift over the threshold."""
    first = turn(engine, "Who is my accountant?")
    second = turn(engine, "What is her phone number?", [first])
    plumber = next(h for h in engine.store.search(engine.embedder.embed_query(PLUMBER), 3))
    assert plumber.text == PLUMBER
    engine.forget(plumber.id)
    try:
        in_chat = ask(engine, "Who is my plumber?", [first, second])
        new_chat = ask(engine, "Who is my plumber?")
        assert [h.id for h in in_chat.hits] == [h.id for h in new_chat.hits]
        assert not any("json" in h.source for h in in_chat.hits)
        assert not any("JSON" in h.text for h in in_chat.hits)
        # and a follow-up whose subject is gone says nothing either, whatever the conversation
        again = ask(
            engine, "And his phone number?", [first, second, turn(engine, "Who is my plumber?")]
        )
        assert not any(h.text == PLUMBER or "json" in h.source for h in again.hits)
    finally:
        engine.remember(PLUMBER)


@pytest.mark.integration
def test_a_superseded_fact_stays_out_unless_the_past_is_asked(engine: Engine) -> None:
    found = ask(engine, "What is the gate code?")
    assert found.hits[0].text == "The gate code changed to 7788."
    assert all("4512" not in h.text for h in found.hits)
    assert any("4512" in h.text for h in found.superseded)
    first = turn(engine, "What is the gate code?")
    before = ask(engine, "What was it before?", [first])
    assert any("4512" in h.text for h in before.hits)


@pytest.mark.parametrize(
    ("first", "follow_up", "wanted", "gone"),
    [
        ("When is the car serviced?", "And the bike?", "bike", "car"),
        ("What is Marco's blood type?", "And Luis's?", "Luis", "Marco"),
        ("How heavy is the red suitcase?", "Sorry, I meant the blue one.", "blue suitcase", "red"),
        ("What is Mum allergic to?", "Dad too?", "Dad", "Mum"),
        ("When does the Berlin office open?", "and for Hamburg?", "Hamburg", "Berlin"),
        ("When does Noah's school start?", "Same for Mia?", "Mia", "Noah"),
        ("How wide is the kitchen window?", "the bathroom window too?", "bathroom", "kitchen"),
    ],
)
def test_an_elliptical_question_swaps_the_subject(
    first: str, follow_up: str, wanted: str, gone: str
) -> None:
    plan = plan_follow_up(follow_up, [Turn(first, query=first)])
    assert plan is not None and plan.swap
    assert wanted in plan.query and gone not in plan.query


def test_a_question_with_its_own_subject_is_not_a_follow_up() -> None:
    history = [Turn("Who is my accountant?", source_texts=("My accountant is Maria Keller.",))]
    assert plan_follow_up("Who is my plumber?", history) is None
    assert plan_follow_up("And the address?", history) is not None  # another attribute
    assert not plan_follow_up("And the address?", history).swap  # type: ignore[union-attr]
    assert plan_follow_up("Email?", history) is not None
    assert "Maria" in standalone_query("WHAT IS HER EMAIL?", history)


@pytest.mark.parametrize(
    ("old", "new"),
    [  # the dev half's updates worded differently from the fact they replace
        ("Yoga class is on Tuesday evenings.", "Yoga switched to Thursday evenings."),
        (
            "Grandpa keeps his boat in Kiel.",
            "Grandpa's sailboat is now at the marina in Flensburg.",
        ),
        ("Our babysitter is Hannah.", "Hannah moved away, so Zoe babysits for us now."),
        ("Uncle Raj lives at 8 Harbour Lane, Dover.", "Uncle Raj has moved to 31 Mill Road."),
        ("The monthly rent is 950 euros.", "From July the rent goes up to 1,020 euros a month."),
        ("The pharmacy closes at 18:00.", "The pharmacy now stays open until 20:00."),
        ("I take the 7:40 bus to work.", "I no longer take the bus; I cycle to work now."),
    ],
)
def test_an_update_worded_differently_is_recognised(old: str, new: str) -> None:
    assert is_update(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("You can reach Kofi Mensah on 0151 7788 412.", "You can reach the locksmith on 0151 22."),
        ("The rented DVDs are due back on 2 June.", "From July the rent goes up to 1,020 euros."),
        ("Anna's phone number is 555-0134.", "Anna is now 30."),
        ("My cat is blue.", "My dog is now blue."),
    ],
)
def test_a_change_about_something_else_is_not_an_update(old: str, new: str) -> None:
    assert not is_update(old, new)
