"""The chat as the app shows the core session: evidence before the answer, reading progress,
checked answers, the conversation list (switch, new chat keeps the old one, rename, delete,
export), quitting mid-answer and asking before the memory is open."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from window_actions import ask, remember

from tera_desktop.core.conversations import ConversationStore
from tera_desktop.ui.chat import MessageView


def test_evidence_shows_before_the_answer_and_the_answer_is_checked(
    qtbot, make_window, slow_tokens
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    remember(qtbot, window, "The gate code is 4512.")
    window.chat.input.setPlainText("what is the gate code?")
    qtbot.keyClick(window.chat.input, Qt.Key.Key_Return)
    view = window.chat.chat_view.messages()[-1]
    qtbot.waitUntil(lambda: view.evidence_label.isVisible(), timeout=20_000)
    assert not view.finished and "The gate code is 4512." in view.evidence_label.text()
    with qtbot.waitSignal(window.answer_finished, timeout=60_000):
        pass
    assert view.finished and view.text().endswith("[cut at the length limit]")
    assert not view.progress_label.isVisible()
    assert [c.source.number for c in view.source_chips()] == [1]


def test_reading_progress_is_shown(qtbot, make_window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    remember(qtbot, window, "The gate code is 4512.")
    shown: list[str] = []
    real = MessageView.set_progress
    monkeypatch.setattr(
        MessageView, "set_progress", lambda self, text: (shown.append(text), real(self, text))
    )
    ask(qtbot, window, "what is the gate code?")
    assert any(t.startswith("Reading 1 source… ") and t.endswith("%") for t in shown)
    assert "Reading 1 source… 100%" in shown


def test_new_chat_keeps_the_old_one_and_the_list_switches_back(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    remember(qtbot, window, "The gate code is 4512.")
    ask(qtbot, window, "what is the gate code?")
    first = window.session.conversation_id
    window.chat_controller.new_chat()
    assert window.chat.chat_view.messages() == []
    ask(qtbot, window, "and the gate code again?")
    qtbot.waitUntil(lambda: len(window.chats.conversation_ids()) == 2, timeout=10_000)
    assert set(window.chats.conversation_ids()) == {first, window.session.conversation_id}
    window.chats.conversation_selected.emit(first)
    qtbot.waitUntil(lambda: window.session.conversation_id == first, timeout=10_000)
    qtbot.waitUntil(
        lambda: window.chat.chat_view.messages()[0].text() == "what is the gate code?",
        timeout=10_000,
    )
    assert len(window.chat.chat_view.messages()) == 2


def test_rename_delete_and_export(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    remember(qtbot, window, "The gate code is 4512.")
    ask(qtbot, window, "what is the gate code?")
    conv_id = window.session.conversation_id
    store = ConversationStore(window.paths)
    window.chats.rename_requested.emit(conv_id, "House codes")
    qtbot.waitUntil(lambda: store.load(conv_id).title == "House codes", timeout=10_000)
    target = tmp_path / "chat.md"
    window.chat_controller.export_to(store.load(conv_id), target)
    qtbot.waitUntil(target.exists, timeout=10_000)
    text = target.read_text(encoding="utf-8")
    assert "# House codes" in text and "what is the gate code?" in text
    window.chats.delete_requested.emit(conv_id)
    qtbot.waitUntil(lambda: window.chat.chat_view.messages() == [], timeout=10_000)
    assert not store.exists(conv_id) and window.session.conversation_id != conv_id


def test_quitting_mid_answer_saves_it_once_and_nothing_empty(
    qtbot, make_window, slow_tokens, paths
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    remember(qtbot, window, "The gate code is 4512.")
    window.chat.input.setPlainText("what is the gate code?")
    qtbot.keyClick(window.chat.input, Qt.Key.Key_Return)
    view = window.chat.chat_view.messages()[-1]
    qtbot.waitUntil(lambda: bool(view.text()), timeout=20_000)
    conv_id = window.session.conversation_id
    window.close()  # quit during the answer
    conv = ConversationStore(paths).load(conv_id)
    assert [m.role for m in conv.messages] == ["user", "assistant"]
    assert conv.messages[1].text and conv.messages[1].stopped


def test_a_question_asked_while_the_memory_opens_is_kept(
    qtbot, make_window, paths, tiny_settings
) -> None:  # type: ignore[no-untyped-def]
    from tera_desktop.core.engine import Engine
    from tera_desktop.core.session import ChatSession

    with Engine(paths, tiny_settings) as engine:  # an earlier chat, reopened at start
        engine.remember("The gate code is 4512.")
        list(ChatSession(engine).ask("an earlier question about the gate?", search_only=True))
    window = make_window(start=False)
    with qtbot.waitSignal(window.answer_finished, timeout=60_000):
        window.chat.input.setPlainText("what is the gate code?")
        qtbot.keyClick(window.chat.input, Qt.Key.Key_Return)
        window.start()  # "Opening your memory…" while the question is answered
    qtbot.waitUntil(lambda: window.llm_state != "loading", timeout=30_000)
    qtbot.wait(200)
    texts = [m.text() for m in window.chat.chat_view.messages()]
    assert texts[0] == "what is the gate code?" and len(texts) == 2
    saved = ConversationStore(paths).load(window.session.conversation_id)
    assert next(m.text for m in saved.messages) == "what is the gate code?"
    assert len(ConversationStore(paths).list()) == 2
