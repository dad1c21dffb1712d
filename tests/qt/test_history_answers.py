"""Issue 24.3: evidence in rank order, reopened chats keep their evidence lines, an unanswered
question is marked instead of leaving two questions in a row."""

from __future__ import annotations

from dataclasses import asdict

from tera_desktop.core.conversations import ChatMessage, Conversation
from tera_desktop.core.prompts import Source
from tera_desktop.ui.chat import MessageView
from tera_desktop.ui.chat_controller import NO_ANSWER_TEXT


def source(number: int, sentence: str) -> Source:
    return Source(
        number=number,
        id=f"id-{number}",
        kind="fact",
        source="",
        score=1.0 / number,
        text=f"{sentence} More text.",
        created_at="2026-12-01T10:00:00+00:00",
        evidence=(sentence,),
    )


def test_evidence_is_listed_in_rank_order(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = MessageView("assistant", "")
    qtbot.addWidget(view)
    # the prompt's order can differ from the ranks (the best source nearest the question)
    view.set_evidence([source(1, "One."), source(2, "Two."), source(4, "Four."), source(3, "Th.")])
    text = view.evidence_label.text()
    marks = [text.index(f"[{n}]") for n in (1, 2, 3, 4)]
    assert marks == sorted(marks), text


def test_a_reopened_chat_keeps_its_evidence_and_marks_an_unanswered_question(  # type: ignore[no-untyped-def]
    qtbot, make_window
) -> None:
    window = make_window()
    sources = [source(1, "The gate code is 4512."), source(2, "The shed code is 1234.")]
    conv = Conversation()
    conv.add(ChatMessage("user", "what is the gate code?"))
    conv.add(ChatMessage("assistant", "4512 [1]", sources=[asdict(s) for s in sources]))
    conv.add(ChatMessage("user", "and the shed?"))  # stopped before the first word: not saved
    conv.add(ChatMessage("user", "what is the shed code?"))
    conv.add(ChatMessage("assistant", "1234 [2]", sources=[asdict(s) for s in sources]))
    conv.add(ChatMessage("user", "and the door?"))  # the app quit before an answer
    window.chat_controller.show(conv)
    shown = window.chat.chat_view.messages()
    assert [(m.role, m.text()) for m in shown] == [
        ("user", "what is the gate code?"),
        ("assistant", "4512 [1]"),
        ("user", "and the shed?"),
        ("notice", NO_ANSWER_TEXT),
        ("user", "what is the shed code?"),
        ("assistant", "1234 [2]"),
        ("user", "and the door?"),
        ("notice", NO_ANSWER_TEXT),
    ]
    for answer in (shown[1], shown[5]):
        assert not answer.evidence_label.isHidden()
        text = answer.evidence_label.text()
        assert "The gate code is 4512." in text and "The shed code is 1234." in text
        assert text.index("[1]") < text.index("[2]")
