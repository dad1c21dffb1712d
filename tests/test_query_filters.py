"""Who and when, read from a question, and how they narrow retrieval."""

from __future__ import annotations

from datetime import date

import pytest

from tera_desktop.core.query_filters import extract_filters, find_period, find_senders

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("question", "period"),
    [
        ("what did Sam say about the trip in May 2023?", ("2023-05-01", "2023-05-31")),
        ("messages from 3 May 2023", ("2023-05-03", "2023-05-03")),
        ("what happened on May 3rd, 2023", ("2023-05-03", "2023-05-03")),
        ("plans for February of 2024", ("2024-02-01", "2024-02-29")),
        ("notes from 2023-07", ("2023-07-01", "2023-07-31")),
        ("what did we decide in 2022?", ("2022-01-01", "2022-12-31")),
        ("what did Anna say in December?", ("2025-12-01", "2025-12-31")),  # the latest December
        ("what did Anna say in sept?", ("2026-09-01", "2026-09-30")),
    ],
)
def test_periods(question: str, period: tuple[str, str]) -> None:
    found = find_period(question, TODAY)
    assert found is not None
    assert (found[0][:10], found[1][:10]) == period


@pytest.mark.parametrize(
    "question", ["what is the gate code?", "room 2023b", "May I ask something?", "in room 12"]
)
def test_no_period(question: str) -> None:
    assert find_period(question, TODAY) is None


def test_senders_by_full_or_first_name_whole_words() -> None:
    known = ["Sam Lee", "Alex", "Samantha", "Zoë"]
    assert find_senders("what did Sam say?", known) == ("Sam Lee",)
    assert find_senders("what did samantha and zoë write", known) == ("Samantha", "Zoë")
    assert find_senders("alexandra said", known) == ()


def test_extract_filters_is_falsy_without_filters() -> None:
    assert not extract_filters("what is the gate code?", ["Sam"], TODAY)
    f = extract_filters("What did Sam say about the trip in May 2023?", ["Sam", "Alex"], TODAY)
    assert f.senders == ("Sam",) and f.date_from == "2023-05-01T00:00:00"
    assert f.date_to == "2023-05-31T23:59:59"


def test_mentions_ignores_accents_and_case() -> None:
    from tera_desktop.core.query_filters import mentions

    assert mentions("Le café de la gare ferme à 22h", ["Cafe"])
    assert mentions("Meet at the CAFE", ["café"])
    assert not mentions("cafeteria", ["cafe"])
