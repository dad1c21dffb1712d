"""Updates worded differently from the fact they replace (issue 21, update sets v2).

The shapes come from the development set ``dev_updates_v2.json`` only (the held-out
``heldout_updates_v2.json`` is scored by ``bench.bench_conversation``, never tuned on): an
attribute named in other words (email / "reach", phone number / "a new number", address /
"live"), a verb of placing ("I put…"), a one-letter typo, "don't … anymore", an explicit end that
repeats the old fact's words; and what must still not be an update.
"""

from __future__ import annotations

import json

import pytest

from tera_desktop.core.checks import asked_kind, check_answer, holds_kind, unsupported_claims
from tera_desktop.core.store import KIND_FACT, Hit
from tera_desktop.core.supersede import SUPERSEDED_BY, current_first, is_update
from tera_desktop.testing.conversation_sets import eval_set_path

DEV_V2 = json.loads(
    (eval_set_path("dev").parent / "dev_updates_v2.json").read_text(encoding="utf-8")
)

WORDED_OTHERWISE = [
    ("Rosa's email is rosa@oldhost.example.", "You can now reach Rosa at rosa.m@newhost.example."),
    ("Felix's phone number is 555-0144.", "Felix has a new number, 555-0188."),
    ("My address is 4 Elm Row, Bristol.", "I now live at 27 Quay Street, Bath."),
    ("Uncle Ravi lives in Leeds.", "Uncle Ravi's new home is in York."),
    ("The passports are in the desk drawer.", "I put the passports in the safe."),
    ("the garage door code is 7731", "Garage dor code changed to 4409"),
    (
        "My phone contract costs 25 pounds a month.",
        "The mobile plan now bills me 19 pounds monthly.",
    ),
    (
        "Jake's football training is on Tuesday evenings.",
        "Jake trains on Thursday evenings from next week.",
    ),
    ("Noah plays the cello.", "Noah no longer plays the cello; he plays the double bass."),
    ("The pharmacy closes at 18:00.", "The pharmacy now stays open until 20:00."),
]

NOT_UPDATES = [
    ("Hannah works at the public library.", "Hannah's husband now works at the town hall."),
    ("Jake's swimming is on Monday evenings.", "Jake trains on Thursday evenings from next week."),
    ("The school concert is in the music room.", "The school play is in the church hall instead."),
    ("Felix's phone number is 555-0144.", "Felix's office phone number is 555-0100."),
    ("The garage door code is 7731.", "The garage door is painted green now."),
    ("Rosa's email is rosa@oldhost.example.", "Rosa's brother's email is dan@oldhost.example."),
    ("Lisa works at the bank.", "Lisa's son no longer works at the cafe."),
]


@pytest.mark.parametrize(("old", "new"), WORDED_OTHERWISE)
def test_an_update_worded_otherwise_is_recognised(old: str, new: str) -> None:
    assert is_update(old, new)


@pytest.mark.parametrize(("old", "new"), NOT_UPDATES)
def test_facts_that_share_words_are_not_updates(old: str, new: str) -> None:
    assert not is_update(old, new) and not is_update(new, old)


def test_the_dev_set_v2_look_alikes_and_rivals_are_not_updates() -> None:
    for item in DEV_V2["look_alikes"]:
        assert not is_update(item["first"], item["second"]), item["id"]
    for item in DEV_V2["updates"]:
        for rival in item["rivals"]:
            assert not is_update(item["old"], rival) and not is_update(rival, item["new"]), rival


def _fact(id_: str, score: float, text: str, **extra: str) -> Hit:
    return Hit(id_, score, KIND_FACT, "fact", text, "2026-01-01T00:00:00", "", 0, dict(extra))


def test_the_newer_fact_takes_the_place_the_older_one_was_found_at() -> None:
    old = _fact("o", 0.9, "Rosa's email is rosa@oldhost.example.", **{SUPERSEDED_BY: "n"})
    rival = _fact("r", 0.8, "Rosa's brother's email is dan@oldhost.example.")
    new = _fact("n", 0.5, "You can now reach Rosa at rosa.m@newhost.example.")
    ranked = current_first([old, rival, new])
    assert [h.id for h in ranked] == ["n", "r", "o"] and ranked[0].score == 0.9
    ahead = _fact("n", 0.95, new.text)  # already first: it keeps its own place and score
    assert [(h.id, h.score) for h in current_first([ahead, old, rival])][:2] == [
        ("n", 0.95), ("r", 0.8),
    ]  # fmt: skip


def test_a_stale_answer_is_replaced_by_the_current_fact() -> None:
    text, c = check_answer(
        "The gate code is 4512.",
        valid_citations=[1],
        source_texts=["The gate code changed to 7788."],
        question="What is the gate code?",
        superseded_texts=["The gate code is 4512."],
    )
    assert text == "The gate code changed to 7788. [1]"
    assert c.stale == ("4512",) and c.quoted_source and c.cited == (1,)


def test_a_garbled_email_is_unsupported_and_replaced_after_an_update() -> None:
    source = "Dr. Weiss has a new email address: k.weiss@gesund.example."
    assert unsupported_claims("It is kweiss@gesund.example.", [source]) == ["kweiss@gesund.example"]
    assert unsupported_claims("It is k.weiss@gesund.example.", [source]) == []
    text, c = check_answer(
        "Dr. Weiss's email is kweiss@gesund.example",
        valid_citations=[1],
        source_texts=[source],
        question="What is Dr. Weiss's email?",
        superseded_texts=["Dr. Weiss's email is weiss@praxis-mitte.example."],
    )
    assert text == f"{source} [1]" and c.quoted_source


def test_a_cancellation_answers_when() -> None:
    assert holds_kind("The neighbourhood barbecue was called off.", "time")
    assert not holds_kind("The neighbourhood barbecue is in the park.", "time")


def test_how_much_asks_a_price_even_of_a_phone() -> None:
    kind = asked_kind("How much is my phone contract?")
    assert kind is not None and kind.name == "price"
    phone = asked_kind("What is Felix's phone number?")
    assert phone is not None and phone.name == "phone"
