"""The source viewer: one source of an answer, read in place beside the chat.

Clicking a source chip under an answer shows that source here: what it is ("Source 2 · PDF
document"), its name, where in the file the passage is (the page of a PDF, the time in a voice
note, whether its text was read by OCR; for a fact, when it was remembered and whether a newer
fact replaced it) and the whole chunk, with the sentences that matched the question highlighted
and scrolled into view.

Memory text is untrusted: the chunk is shown in a read-only ``QPlainTextEdit`` (plain text, never
markup) and the highlights are extra selections over character positions, not HTML built from the
text. Labels are plain text (``safe_text``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QFont,
    QKeyEvent,
    QPalette,
    QResizeEvent,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from tera_desktop.core.ingest.formats.audio import AUDIO_SUFFIXES, format_time
from tera_desktop.core.ingest.formats.ocr import IMAGE_SUFFIXES
from tera_desktop.core.prompts import Source
from tera_desktop.core.store import KIND_DOCUMENT
from tera_desktop.ui.safe_text import PANEL_LIMIT, one_line, plain, tooltip

HIGHLIGHT = QColor(
    255, 214, 0, 110
)  # the evidence: a translucent yellow, readable on light and dark
MATCH_NOTE = "Highlighted: what matched your question."
_KINDS = {
    ".pdf": "PDF document",
    ".docx": "Word document",
    ".html": "Web page",
    ".htm": "Web page",
    ".xhtml": "Web page",
    ".shtml": "Web page",
    ".md": "Markdown note",
    ".markdown": "Markdown note",
    ".mdown": "Markdown note",
    ".mkd": "Markdown note",
    ".zip": "WhatsApp chat",
    ".txt": "Text file",
    ".text": "Text file",
    ".log": "Log file",
    ".csv": "Spreadsheet (CSV)",
    ".tsv": "Spreadsheet (TSV)",
}


def kind_name(source: Source) -> str:
    """What a source is, in words: "Fact", "PDF document", "Voice note", "Scanned image"…"""
    if source.kind != KIND_DOCUMENT:
        return "Fact"
    suffix = Path(source.source).suffix.lower()
    if source.start_s is not None or suffix in AUDIO_SUFFIXES:
        return "Voice note"
    if suffix in IMAGE_SUFFIXES:
        return "Scanned image"
    return _KINDS.get(suffix, "Document")


def time_range(source: Source) -> str:
    """Where a voice note's passage is: "3:10–3:40" ("" when the source has no time)."""
    if source.start_s is None:
        return ""
    end = f"–{format_time(source.end_s)}" if source.end_s is not None else ""
    return f"{format_time(source.start_s)}{end}"


def remembered_on(created_at: str) -> str:
    """ "Remembered 1 May 2024" from an ISO timestamp ("" when there is none)."""
    try:
        when = datetime.fromisoformat(created_at)
    except ValueError:
        return f"Remembered {created_at[:10]}" if created_at else ""
    return f"Remembered {when.day} {when:%B %Y}"


def source_details(source: Source) -> list[str]:
    """The short facts under the viewer's title: page, time, OCR; a fact's date and standing."""
    if source.kind != KIND_DOCUMENT:
        status = source.status[:1].upper() + source.status[1:]
        return [d for d in (remembered_on(source.created_at), status) if d]
    details = []
    if source.page:
        details.append(f"p. {source.page}")
    if source.start_s is not None:
        details.append(time_range(source))
    if source.ocr:
        details.append("Text read by OCR from an image")
    return details


def shown_text(text: str) -> str:
    """A chunk as the viewer shows it: capped, one kind of line break, no control characters."""
    return plain(text, PANEL_LIMIT).replace("\r\n", "\n").replace("\r", "\n")


def evidence_spans(text: str, evidence: Sequence[str]) -> list[tuple[int, int]]:
    """Where each evidence sentence is in ``text``, as (start, end) indices, in text order.

    Evidence sentences have their whitespace collapsed (and one cut short ends with " …"), so a
    sentence is found by its words with any whitespace between them."""
    spans: list[tuple[int, int]] = []
    for sentence in evidence:
        key = sentence.strip()
        if key.endswith("…") and key != "…":
            key = key[:-1].rstrip()
        parts = key.split()
        if not parts:
            continue
        match = re.search(r"\s+".join(re.escape(p) for p in parts), text)
        if match is not None:
            spans.append((match.start(), match.end()))
    spans.sort()
    kept: list[tuple[int, int]] = []
    for start, end in spans:  # overlapping sentences would be painted twice
        if kept and start < kept[-1][1]:
            kept[-1] = (kept[-1][0], max(end, kept[-1][1]))
        else:
            kept.append((start, end))
    return kept


def _utf16(text: str, index: int) -> int:
    """A Python index in ``text`` as a Qt document position (Qt counts UTF-16 code units)."""
    head = text[:index]
    return index + sum(1 for c in head if ord(c) > 0xFFFF)


class _ElidedLabel(QLabel):
    """A one-line plain-text label that elides in the middle when narrow (long file names and
    paths must not make the panel wider); the whole text is in its tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self._full = ""

    def set_full_text(self, text: str) -> None:
        self._full = one_line(text, 1000)
        self.setToolTip(tooltip(self._full) if self._full else "")
        self.setAccessibleName(self._full)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), 40), hint.height())

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(min(hint.width(), 240), hint.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        metrics = self.fontMetrics()
        self.setText(metrics.elidedText(self._full, Qt.TextElideMode.ElideMiddle, self.width()))


class SourceViewer(QFrame):
    """One source read in place: its kind, name and place in the file, and the whole chunk with
    the matching sentences highlighted. "Open file" asks to open a document with its usual app;
    Close (or Esc) hides the viewer."""

    open_requested = Signal(str)  # a document's path
    closed = Signal()  # the user closed the viewer

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sourceViewer")
        self.setAccessibleName("Source viewer")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAutoFillBackground(True)
        self.setMinimumWidth(240)
        self.source: Source | None = None
        self._spans: list[tuple[int, int]] = []  # Qt positions of the highlights

        self._kind = QLabel(self)
        self._kind.setObjectName("sourceKind")
        self._kind.setTextFormat(Qt.TextFormat.PlainText)
        self._kind.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._title = _ElidedLabel(self)
        self._title.setObjectName("sourceTitle")
        font = QFont(self._title.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self._title.setFont(font)
        self._details = QLabel(self)
        self._details.setObjectName("sourceDetails")
        self._details.setTextFormat(Qt.TextFormat.PlainText)
        self._details.setWordWrap(True)
        self._folder = _ElidedLabel(self)
        self._folder.setObjectName("sourceFolder")
        self._folder.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self._text = QPlainTextEdit(self)
        self._text.setObjectName("sourceText")
        self._text.setAccessibleName("Source text")
        self._text.setReadOnly(True)
        self._text.setUndoRedoEnabled(False)
        self._text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self._text.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self._text.document().setDocumentMargin(8)
        self._note = QLabel(MATCH_NOTE, self)
        self._note.setObjectName("matchNote")
        self._note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._note.setWordWrap(True)

        self._open = QPushButton("Open file", self)
        self._open.setObjectName("openSourceButton")
        self._open.setAccessibleName("Open file")
        self._open.setToolTip("Open this document with its usual app")
        self._open.clicked.connect(self._on_open_clicked)
        self._close = QPushButton("Close", self)
        self._close.setObjectName("closeSourceButton")
        self._close.setAccessibleName("Close source viewer")
        self._close.setToolTip("Close the source viewer (Esc)")
        self._close.clicked.connect(self._on_close_clicked)
        for button in (self._open, self._close):
            button.setAutoDefault(False)

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self._open)
        buttons.addStretch(1)
        buttons.addWidget(self._close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(4)
        layout.addWidget(self._kind)
        layout.addWidget(self._title)
        layout.addWidget(self._details)
        layout.addWidget(self._folder)
        layout.addSpacing(6)
        layout.addWidget(self._text, 1)
        layout.addWidget(self._note)
        layout.addSpacing(4)
        layout.addLayout(buttons)

        self._scroll_timer = QTimer(self)  # once laid out, bring the first highlight into view
        self._scroll_timer.setSingleShot(True)
        self._scroll_timer.setInterval(0)
        self._scroll_timer.timeout.connect(self._on_scroll_due)

    # -- what tests and the window read ---------------------------------------------------------
    @property
    def text_view(self) -> QPlainTextEdit:
        return self._text

    @property
    def kind_label(self) -> QLabel:
        return self._kind

    @property
    def title_label(self) -> QLabel:
        return self._title

    @property
    def title(self) -> str:
        """The full title (the label may show it elided)."""
        return self._title.full_text()

    @property
    def details_label(self) -> QLabel:
        return self._details

    @property
    def folder(self) -> str:
        return self._folder.full_text()

    @property
    def open_button(self) -> QPushButton:
        return self._open

    @property
    def close_button(self) -> QPushButton:
        return self._close

    def highlighted_texts(self) -> list[str]:
        """The text under each highlight, as shown (for tests and accessibility checks)."""
        return [
            s.cursor.selectedText().replace("\u2029", "\n") for s in self._text.extraSelections()
        ]

    # -- showing a source -----------------------------------------------------------------------
    def show_source(self, source: Source) -> None:
        """Show ``source`` (and the viewer), scrolled to its first highlighted sentence."""
        self.source = source
        self._kind.setText(f"Source {source.number} · {kind_name(source)}")
        if source.kind == KIND_DOCUMENT:
            path = Path(source.source) if source.source else None
            self._title.set_full_text(
                (path.name if path else "") or source.title or source.source or "Document"
            )
            self._folder.set_full_text(str(path.parent) if path and path.name else "")
        else:
            self._title.set_full_text("Fact")
            self._folder.set_full_text("")
        self._folder.setVisible(bool(self._folder.full_text()))
        details = source_details(source)
        self._details.setText(one_line(" · ".join(details)))
        self._details.setVisible(bool(details))
        document_file = source.kind == KIND_DOCUMENT and bool(source.source)
        self._open.setVisible(document_file)

        text = shown_text(source.text)
        self._text.setPlainText(text)
        spans = evidence_spans(text, source.evidence)
        self._spans = [(_utf16(text, a), _utf16(text, b)) for a, b in spans]
        selections = []
        for start, end in self._spans:
            selection = QTextEdit.ExtraSelection()
            cursor = QTextCursor(self._text.document())
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            highlight = QTextCharFormat()
            highlight.setBackground(HIGHLIGHT)
            selection.cursor = cursor
            selection.format = highlight
            selections.append(selection)
        self._text.setExtraSelections(selections)
        self._note.setVisible(bool(selections))
        self.setAccessibleDescription(
            one_line(f"{kind_name(source)} {self.title}. " + " · ".join(details), 300)
        )
        self.show()
        self._scroll_to_highlight()
        self._scroll_timer.start()

    def close_viewer(self) -> None:
        """Hide the viewer as the user's Close does (``closed`` is emitted)."""
        self.hide()
        self.closed.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            self.close_viewer()
            event.accept()
            return
        super().keyPressEvent(event)

    # -- internals ------------------------------------------------------------------------------
    def _scroll_to_highlight(self) -> None:
        cursor = QTextCursor(self._text.document())
        cursor.setPosition(self._spans[0][0] if self._spans else 0)
        self._text.setTextCursor(cursor)
        if self._spans:
            self._text.centerCursor()
        else:
            self._text.verticalScrollBar().setValue(0)

    @Slot()
    def _on_scroll_due(self) -> None:
        if self.source is not None:
            self._scroll_to_highlight()

    @Slot()
    def _on_open_clicked(self) -> None:
        if self.source is not None and self.source.source:
            self.open_requested.emit(self.source.source)

    @Slot()
    def _on_close_clicked(self) -> None:
        self.close_viewer()


__all__ = [
    "SourceViewer",
    "evidence_spans",
    "kind_name",
    "remembered_on",
    "source_details",
    "time_range",
]
