"""The one way to show untrusted text (memories, file names, model output, error messages that
quote them) in a widget: always as the exact characters, never as rich text.

Qt guesses: a ``QLabel``, a ``QMessageBox`` or a tooltip whose text *looks* like HTML
(``Qt.AutoText``) is rendered as HTML, and rendering ``<img src=/dev/zero>`` reads that file until
memory runs out, ``<img src=pipe>`` blocks the GUI thread on a FIFO forever, ``<a href>`` makes a
clickable link and ``<style>`` restyles the window. So:

- labels: ``plain_label()`` / ``set_plain()`` force ``Qt.TextFormat.PlainText``;
- tooltips take only rich text or a guess, so ``tooltip()`` escapes the text with ``html.escape``
  inside ``<qt>…</qt>`` (forced rich text whose only content is escaped characters);
- message boxes: ``message_box()`` / ``ask_yes_no()`` / ``show_error()`` set PlainText;
- list and tree rows, the status bar: ``one_line()`` caps the length (item views and the status
  bar draw plain text, but laying out a 1 MB line freezes the window).

Every text is also capped (``clip``): a 1 MB line in a tooltip or a dialog is not readable anyway.
"""

from __future__ import annotations

import html
import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton, QStatusBar, QWidget

LINE_LIMIT = 300
"""Characters shown in one row of a list or tree, and in the status bar."""
TOOLTIP_LIMIT = 2000
DIALOG_LIMIT = 1000
PANEL_LIMIT = 20_000
"""Characters of one memory shown in a panel (the chat's source panel)."""

_BREAKS = re.compile(r"[\r\n\t\v\f\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _encodable(text: str) -> str:
    """``text`` with lone surrogates (a non-UTF-8 file name decoded by ``os.fsdecode``) shown as
    U+FFFD: Qt cannot hold them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape" if _only_escapes(text) else "replace")
        return raw.decode("utf-8", "replace")
    return text


def _only_escapes(text: str) -> bool:
    return all(not ("\ud800" <= c <= "\udfff") or "\udc80" <= c <= "\udcff" for c in text)


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with "…" when it was cut."""
    text = _encodable(str(text))
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def one_line(text: str, limit: int = LINE_LIMIT) -> str:
    """``text`` on one line (line breaks → spaces, control characters dropped), capped."""
    text = _encodable(str(text))
    head = text[: limit * 4]  # never scan a megabyte to show a few hundred characters
    flat = _CONTROL.sub("", _BREAKS.sub(" ", head))
    if len(flat) > limit or len(text) > len(head):
        return flat[: max(limit - 1, 0)] + "…"
    return flat


def plain(text: str, limit: int = DIALOG_LIMIT) -> str:
    """``text`` capped, control characters other than line breaks and tabs dropped."""
    return _CONTROL.sub("", clip(str(text), limit))


def tooltip(text: str, limit: int = TOOLTIP_LIMIT) -> str:
    """A tooltip string that shows exactly ``text`` (capped), line breaks kept."""
    if not text:
        return ""
    escaped = html.escape(plain(text, limit), quote=True)
    return f"<qt><p style='white-space:pre-wrap'>{escaped}</p></qt>"


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A ``QLabel`` that can only ever show text."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(plain(text))
    return label


class WrappedLabel(QLabel):
    """A word-wrapped plain-text label that keeps the height its text needs at its width. Grid
    and form layouts give a wrapped label the height of its text at its *preferred* width, so
    when it is narrower its last lines were cut."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        self.setText(plain(text))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit()

    def _fit(self) -> None:
        need = self.heightForWidth(self.width()) if self.width() > 1 else -1
        if need > 0 and need != self.minimumHeight():
            self.setMinimumHeight(need)


def set_plain(label: QLabel, text: str, limit: int = DIALOG_LIMIT) -> None:
    """Show ``text`` in ``label`` as plain text (whatever the label's format was)."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(plain(text, limit))


def show_status(bar: QStatusBar, text: str, timeout_ms: int = 0) -> None:
    bar.showMessage(one_line(text), timeout_ms)


def message_box(
    parent: QWidget | None,
    title: str,
    text: str,
    icon: QMessageBox.Icon = QMessageBox.Icon.Information,
    buttons: QMessageBox.StandardButton = QMessageBox.StandardButton.Ok,
    default: QMessageBox.StandardButton = QMessageBox.StandardButton.NoButton,
) -> QMessageBox:
    """A message box (not shown yet) whose title and text are plain text."""
    box = QMessageBox(parent)
    box.setIcon(icon)
    box.setWindowTitle(one_line(title, 120))
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(plain(text))
    box.setStandardButtons(buttons)
    if default != QMessageBox.StandardButton.NoButton:
        box.setDefaultButton(default)
    return box


def confirm_box(parent: QWidget | None, title: str, text: str) -> QMessageBox:
    """A Yes/No question (not shown yet), No by default."""
    return message_box(
        parent,
        title,
        text,
        QMessageBox.Icon.Question,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )


def ask_yes_no(parent: QWidget | None, title: str, text: str) -> bool:
    """Ask a Yes/No question in a plain-text dialog; True for Yes."""
    box = confirm_box(parent, title, text)
    return box.exec() == QMessageBox.StandardButton.Yes


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    message_box(parent, title, text, QMessageBox.Icon.Critical).exec()


def choice_box(
    parent: QWidget | None, title: str, text: str, choices: list[str]
) -> tuple[QMessageBox, list[QPushButton]]:
    """A question with one button per choice and Cancel (not shown yet): plain text."""
    box = message_box(
        parent, title, text, QMessageBox.Icon.Question, QMessageBox.StandardButton.Cancel
    )
    buttons = [box.addButton(c, QMessageBox.ButtonRole.AcceptRole) for c in choices]
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box, buttons


def choose(parent: QWidget | None, title: str, text: str, choices: list[str]) -> int | None:
    """Ask which of ``choices``; the index chosen, or None for Cancel."""
    box, buttons = choice_box(parent, title, text, choices)
    box.exec()
    clicked = box.clickedButton()
    return next((i for i, b in enumerate(buttons) if b is clicked), None)
