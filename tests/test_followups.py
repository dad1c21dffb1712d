"""Follow-up questions become standalone queries (retrieval.standalone_query): cheap, no model."""

from __future__ import annotations

from tera_desktop.core.retrieval import Turn, is_follow_up, names_in, standalone_query


def test_a_standalone_question_is_searched_as_it_is() -> None:
    history = [Turn("Who is my accountant?", "Your accountant is Maria Keller [1].")]
    assert standalone_query("What is the gate code?", history) == "What is the gate code?"
    assert standalone_query("What is her number?", []) == "What is her number?"


def test_a_pronoun_follow_up_carries_the_last_turns_subject() -> None:
    # the subject comes from the last turn's best SOURCE (issue 21: this test used to take it
    # from the model's answer, which is not evidence: a weak model's capitals are not names)
    history = [
        Turn(
            "Who is my accountant?",
            "Your accountant is Maria Keller [1].",
            source_texts=("My accountant is Maria Keller.",),
        )
    ]
    query = standalone_query("What is her office number?", history)
    assert query.startswith("What is her office number?") and "Maria Keller" in query


def test_the_models_answer_is_never_searched() -> None:
    history = [Turn("When is it due for a service?", "I'm sure You'll find the Reference [1].")]
    query = standalone_query("and when was it last done?", history)
    for word in ("You", "Reference", "sure"):
        assert word not in query


def test_names_the_user_said_come_before_the_answers() -> None:
    history = [Turn("Who is Anna?", "Our babysitter is Lena Braun.")]
    query = standalone_query("When is her birthday?", history)
    assert "Anna" in query and "Lena" not in query


def test_without_an_answer_the_best_source_names_the_subject() -> None:
    history = [Turn("Who is my accountant?", "", source_texts=("My accountant is Maria Keller.",))]
    assert "Maria Keller" in standalone_query("and her email?", history)


def test_what_about_swaps_the_subject() -> None:
    history = [Turn("When is Anna's birthday?", "Anna's birthday is on 14 March [1].")]
    query = standalone_query("What about Tom?", history)
    assert "Tom" in query and "birthday" in query and "Anna" not in query


def test_follow_up_detection_and_names() -> None:
    history = [Turn("Who is my dentist?")]
    assert is_follow_up("Where is his practice?", history)
    assert is_follow_up("And the address?", history)
    assert is_follow_up("Why?", history)
    assert not is_follow_up("Where is the vet's practice?", history)
    assert names_in("Your accountant is Maria Keller, office 030 5551234.") == [
        "Maria",
        "Keller",
        "030",
        "5551234",
    ]
