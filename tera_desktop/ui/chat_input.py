"""The question box: Enter sends, Shift+Enter starts a new line, Esc asks to stop."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QPlainTextEdit,
    QSizePolicy,
    QWidget,
)

ASK_PLACEHOLDER = "Ask Tera…"
_MAX_INPUT_LINES = 6


class ChatInput(QPlainTextEdit):
    """The question box. Enter sends, Shift+Enter starts a new line, Esc asks to stop."""

    send_requested = Signal(str)
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatInput")
        self.setAccessibleName("Question for Tera")
        self.setPlaceholderText(ASK_PLACEHOLDER)
        self.setTabChangesFocus(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._send_enabled = True
        self.document().documentLayout().documentSizeChanged.connect(self._on_content_resized)
        self._update_height()

    @property
    def send_enabled(self) -> bool:
        return self._send_enabled

    def set_send_enabled(self, enabled: bool) -> None:
        """When off, Enter keeps the text (the next question may be typed) but sends nothing."""
        self._send_enabled = enabled

    def submit(self) -> bool:
        """Send the current text, as Enter does. Returns whether something was sent."""
        text = self.toPlainText().strip()
        if not text or not self._send_enabled or not self.isEnabled():
            return False
        self.send_requested.emit(text)
        self.clear()
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.submit()
            event.accept()
            return
        if key == Qt.Key.Key_Escape and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            self.stop_requested.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._update_height()

    def _update_height(self) -> None:
        lines = int(self.document().documentLayout().documentSize().height())
        lines = max(1, min(_MAX_INPUT_LINES, lines))
        margins = self.contentsMargins()
        height = (
            lines * self.fontMetrics().lineSpacing()
            + 2 * int(self.document().documentMargin())
            + margins.top()
            + margins.bottom()
            + 2
        )
        if self.minimumHeight() != height or self.maximumHeight() != height:
            self.setFixedHeight(height)

    @Slot()
    def _on_content_resized(self) -> None:
        self._update_height()
