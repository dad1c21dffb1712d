"""What a person does in the main window, for the Qt tests: ask a question, remember a fact,
drop files on the window, pick a file in a file dialog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

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


class FakeFileDialog:
    """Stands in for QFileDialog's static methods: answers with a preset path ("" = cancelled)."""

    answer = ""
    calls = 0

    @classmethod
    def getOpenFileName(cls, *args: object) -> tuple[str, str]:
        cls.calls += 1
        return cls.answer, ""

    @classmethod
    def getExistingDirectory(cls, *args: object) -> str:
        cls.calls += 1
        return cls.answer


def fake_file_dialog(monkeypatch: Any, module: object) -> type[FakeFileDialog]:
    """``module``'s QFileDialog replaced by a fresh FakeFileDialog (its own answer and count)."""
    fake = type("FileDialog", (FakeFileDialog,), {"answer": "", "calls": 0})
    monkeypatch.setattr(module, "QFileDialog", fake)
    return fake


def drop(window, *paths: Path) -> None:  # type: ignore[no-untyped-def]
    """Drop ``paths`` on the window, as from a file manager."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert event.isAccepted()
