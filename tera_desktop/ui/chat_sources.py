"""An answer's sources as chips under it: their names, and the flow layout that wraps them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal, Slot
from PySide6.QtGui import QAction, QContextMenuEvent, QResizeEvent
from PySide6.QtWidgets import (
    QLayout,
    QLayoutItem,
    QMenu,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from tera_desktop.core.clock import format_clock
from tera_desktop.core.prompts import Source
from tera_desktop.core.store import KIND_DOCUMENT
from tera_desktop.ui.safe_text import one_line, tooltip

CHIP_CHARS = 36  # a chip names its source in about this many characters


def source_chip_text(source: Source) -> str:
    """A chip's text: "[1] the gate code is 4512", "[2] report.pdf p. 12", "[3] memo.m4a 3:10"."""
    return f"[{source.number}] {source_name(source)}"


def source_name(source: Source) -> str:
    """What a source is called on its chip: the start of a fact's text, or a document's file name
    with its page (PDF) or the time of the passage (voice note)."""
    if source.kind != KIND_DOCUMENT:
        return _elide_words(one_line(source.text, CHIP_CHARS * 4), CHIP_CHARS) or "fact"
    name = one_line(Path(source.source).name or source.title or source.source or "document")
    if len(name) > CHIP_CHARS:
        name = f"{name[: CHIP_CHARS - 13]}…{name[-12:]}"
    if source.start_s is not None:
        return f"{name} {format_clock(source.start_s)}"
    return f"{name} p. {source.page}" if source.page else name


def _elide_words(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters at a word boundary, with "…" when cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + "…"


def _evidence_name(source: Source) -> str:
    """A source's name beside its evidence sentence ("fact": the sentence is the fact itself)."""
    return source_name(source) if source.kind == KIND_DOCUMENT else "fact"


class _FlowLayout(QLayout):
    """Lays widgets out left to right, wrapping onto new rows (Qt's flow layout example)."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._gap = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, apply=True)

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        margins = self.contentsMargins()
        return size + QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def _arrange(self, rect: QRect, *, apply: bool) -> int:
        area = rect.marginsRemoved(self.contentsMargins())
        x, y, row_height = area.x(), area.y(), 0
        for item in self._items:
            if item.isEmpty():
                continue
            hint = item.sizeHint()
            # never wider than the row: a long chip elides its text instead of being cut off
            hint = QSize(min(hint.width(), max(area.width(), 1)), hint.height())
            if x + hint.width() > area.right() + 1 and row_height > 0:
                x, y = area.x(), y + row_height + self._gap
                row_height = 0
            if apply:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._gap
            row_height = max(row_height, hint.height())
        margins = self.contentsMargins()
        return y + row_height - rect.y() + margins.bottom()


CHIP_MIN_WIDTH = 96


class _SourceChip(QToolButton):
    """One numbered source under an answer. Hover: the sentences that matched. Click: read it in
    the source viewer (click again to close it); documents also offer "Open file" in their
    context menu."""

    chosen = Signal(object, bool)  # the Source, whether it is now selected
    open_requested = Signal(str)

    def __init__(self, source: Source, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.setObjectName("sourceChip")
        self._full_text = source_chip_text(source)
        self.setText(self._full_text.replace("&", "&&"))  # "&" is not a mnemonic
        self._full_hint = super().sizeHint()  # the whole text's size, whatever is shown
        # may shrink to minimumSizeHint (a tool button is Fixed: its whole text or cut off)
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.setToolTip(tooltip(" ".join(source.evidence) or source.text))
        self.setCheckable(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        kind = "fact" if source.kind != KIND_DOCUMENT else "document"
        self.setAccessibleName(f"Source {source.number}, {kind}: {source_name(source)}")
        self.setAccessibleDescription("Shows this source beside the chat")
        self.clicked.connect(self._on_clicked)
        self.open_action: QAction | None = None
        if source.kind == KIND_DOCUMENT and source.source:
            self.open_action = QAction("Open file", self)
            self.open_action.triggered.connect(self._on_open_triggered)

    def sizeHint(self) -> QSize:
        return self._full_hint

    def minimumSizeHint(self) -> QSize:  # a narrow chat column elides the label, never cuts it
        return QSize(min(self._full_hint.width(), CHIP_MIN_WIDTH), self._full_hint.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        metrics = self.fontMetrics()
        frame = self._full_hint.width() - metrics.horizontalAdvance(self._full_text)
        room = self.width() - frame
        shown = (
            self._full_text
            if self.width() >= self._full_hint.width()
            else metrics.elidedText(self._full_text, Qt.TextElideMode.ElideRight, max(room, 0))
        )
        if shown.replace("&", "&&") != self.text():
            self.setText(shown.replace("&", "&&"))

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if self.open_action is None:
            super().contextMenuEvent(event)
            return
        menu = QMenu(self)
        menu.addAction(self.open_action)
        menu.exec(event.globalPos())
        menu.deleteLater()

    @Slot(bool)
    def _on_clicked(self, checked: bool) -> None:
        self.chosen.emit(self.source, checked)

    @Slot()
    def _on_open_triggered(self) -> None:
        self.open_requested.emit(self.source.source)
