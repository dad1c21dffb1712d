"""What a person does in the main window, for the Qt tests: ask a question, remember a fact."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tera_desktop.ui.chat import MessageView


def ask(qtbot, window, question: str) -> MessageView:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.answer_finished, timeout=60_000):
        window.chat.input.setPlainText(question)
        qtbot.keyClick(window.chat.input, Qt.Key.Key_Return)
    return window.chat.chat_view.messages()[-1]


def remember(qtbot, window, text: str) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        window.memory.remember_edit.setText(text)
        qtbot.keyClick(window.memory.remember_edit, Qt.Key.Key_Return)
