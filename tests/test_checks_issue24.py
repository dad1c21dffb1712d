"""Issue 24.3: the unsupported-claim check reads a source's words whatever stands between them
(line breaks, markup, soft hyphens); an answer that is only "[1]" shows the source's sentence."""

from __future__ import annotations

import pytest

from tera_desktop.core.checks import check_answer, unsupported_claims

ANSWER = "JSON stands for JavaScript Object Notation [1]."


@pytest.mark.parametrize(
    "source",
    [
        "JSON (JavaScript Object\nNotation) is a text format.",
        "JSON (JavaScript **Object**\n**Notation**) is a text format.",
        "JSON (JavaScript <em>Object</em><br/>Notation) is a text format.",
        "JSON (JavaScript Object Nota\u00adtion) is a text format.",  # a soft hyphen (HTML)
        "JSON (JavaScript Ob\u200bject Notation) is a text format.",  # a zero-width space
        "JSON (JavaScript Object Nota&shy;tion) is a text format.",
        "JSON (JavaScript Object Nota\u2010\ntion) is a text format.",  # a PDF's hyphen, a break
        "JSON (JavaScript Object&nbsp;Notation) is a text format.",
    ],
)
def test_words_split_by_a_line_break_or_markup_are_found(source: str) -> None:
    assert unsupported_claims(ANSWER, [source]) == []
    _, check = check_answer(ANSWER, valid_citations=[1], source_texts=[source])
    assert check.unsupported == ()


def test_a_claim_no_source_holds_is_still_flagged() -> None:
    assert unsupported_claims(ANSWER, ["JSON is a <b>text</b> format."]) == ["Object Notation"]
    assert unsupported_claims("The code is 4512.", ["The code is 45<b>13</b>."]) == ["4512"]


def test_an_answer_that_is_only_a_citation_shows_the_sources_sentence() -> None:
    long_source = (
        "JSON is a text format for data. " * 3
        + "JSON stands for JavaScript Object Notation and was specified by Douglas Crockford. "
        + "It is used by web APIs to exchange data between a server and a client. " * 3
    )
    assert len(long_source) > 240  # too long to quote whole
    text, check = check_answer(
        "[1]",
        valid_citations=[1, 2],
        source_texts=[long_source, "x"],
        question="What does JSON stand for?",
    )
    assert text == (
        "JSON stands for JavaScript Object Notation and was specified by Douglas Crockford. [1]"
    )
    assert check.quoted_source and check.cited == (1,)
    short, c = check_answer(
        "[1]", valid_citations=[1], source_texts=["The gate code is 4512."], question="gate code?"
    )
    assert short == "The gate code is 4512. [1]" and c.quoted_source
