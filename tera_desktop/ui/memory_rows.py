"""The memory sidebar's rows: what each row holds (roles, ``Row``), how it is painted
(``RowDelegate``: plain text, to read well at any width) and the tree that shows them.

A fact wraps (up to ``FACT_LINES`` lines) above a muted line with its date; a document shows a
kind badge, its name (elided in the middle, so the extension stays) and "12 chunks · PDF · added
3 Nov"; a watched folder shows its state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QPainter,
    QPalette,
    QPen,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from tera_desktop.core.clock import full_date, relative_date
from tera_desktop.core.ingest import FAILED
from tera_desktop.ui.file_kinds import document_kind
from tera_desktop.ui.ingest_panel import error_color

ROLE_KIND = Qt.ItemDataRole.UserRole
ROLE_KEY = Qt.ItemDataRole.UserRole + 1  # fact id, document source path or folder path
ROLE_LABEL = Qt.ItemDataRole.UserRole + 2
ROLE_META = Qt.ItemDataRole.UserRole + 3  # the muted line: date, chunks, kind, state
ROLE_STATUS = Qt.ItemDataRole.UserRole + 4  # "", superseded, updated, failed, syncing, missing…
ROLE_TITLE = Qt.ItemDataRole.UserRole + 5  # group rows: "Facts"
TEXT_SEARCH_DELAY_MS = 250  # after the last key press, the filter also searches documents' text
ROLE_COUNT = Qt.ItemDataRole.UserRole + 6  # group rows: "12", or "3 of 12" while filtering

FACT, DOCUMENT, FOLDER = "fact", "document", "folder"
SUPERSEDED = "superseded"
WATCHING, SYNCING, MISSING = "watching", "syncing", "missing"
FOLDER_STATES = {WATCHING: "Watching", SYNCING: "Syncing…", MISSING: "Missing"}

FACT_LINES = 6
"""Lines a fact wraps to in the list; a longer one ends in "…" (the tooltip has all of it)."""


def friendly_date(iso: str, now: datetime | None = None) -> str:
    """A stored time as people say it, in local time: "today 14:05", "yesterday", "3 Nov",
    "3 Nov 2024" (``clock.relative_date``); an unreadable one as its first 10 characters."""
    return relative_date(iso, now) or iso[:10]


def _full_date(iso: str) -> str:
    return full_date(iso) or iso


@dataclass(frozen=True)
class Row:
    """One row of the sidebar as shown: ``text`` the main line(s), ``meta`` the muted line."""

    kind: str
    key: str
    text: str
    meta: str
    status: str


@dataclass(frozen=True)
class _Spec:
    kind: str
    key: str
    text: str
    label: str
    meta: str
    status: str
    tip: str
    accessible: str


# ---- painting ------------------------------------------------------------------------------------


def _utf16_slices(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """``text`` cut at Qt's (UTF-16) positions."""
    raw = text.encode("utf-16-le", "surrogatepass")
    return [raw[2 * s : 2 * (s + n)].decode("utf-16-le", "replace") for s, n in spans]


class RowDelegate(QStyledItemDelegate):
    """Paints the sidebar's rows as plain text (``QPainter.drawText``, ``QTextLayout``): no rich
    text ever, whatever a memory contains."""

    PAD_X = 8
    PAD_Y = 5
    ICON = 30
    GAP = 8

    def __init__(self, tree: QTreeWidget) -> None:
        super().__init__(tree)
        self._tree = tree
        self._wrap_cache: dict[tuple[str, int], list[str]] = {}
        self._fonts: tuple[QFont, QFont, int, int] | None = None

    # fonts and geometry
    def fonts(self) -> tuple[QFont, QFont]:
        """The rows' font and the smaller one of their muted line."""
        if self._fonts is None:
            main = QFont(self._tree.font())
            meta = QFont(main)
            if main.pointSizeF() > 0:
                meta.setPointSizeF(max(main.pointSizeF() * 0.88, 6.0))
            else:
                meta.setPixelSize(max(int(main.pixelSize() * 0.88), 8))
            fm, mfm = QFontMetrics(main), QFontMetrics(meta)
            heading = fm.height() + 14
            two_lines = max(
                2 * self.PAD_Y + fm.lineSpacing() + 2 + mfm.height(), self.ICON + 2 * self.PAD_Y
            )
            self._fonts = (main, meta, heading, two_lines)
        return self._fonts[0], self._fonts[1]

    def reset_fonts(self) -> None:
        """The view's font changed: measure again."""
        self._fonts = None
        self._wrap_cache.clear()

    def text_width(self, kind: str | None) -> int:
        width = self._tree.viewport().width()
        left = self.PAD_X + (self.ICON + self.GAP if kind in (DOCUMENT, FOLDER) else 0)
        return max(width - left - self.PAD_X, 40)

    def fact_lines(self, text: str, width: int) -> list[str]:
        """``text`` wrapped to ``width`` pixels, at most ``FACT_LINES`` lines, the last one
        ending in "…" when the text goes on."""
        main, _ = self.fonts()
        key = (text, width)
        cached = self._wrap_cache.get(key)
        if cached is not None:
            return cached
        layout = QTextLayout(text, main)
        option = QTextOption()
        option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        layout.setTextOption(option)
        spans: list[tuple[int, int]] = []
        layout.beginLayout()
        while len(spans) <= FACT_LINES:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            spans.append((line.textStart(), line.textLength()))
        layout.endLayout()
        lines = [s.rstrip() for s in _utf16_slices(text, spans[:FACT_LINES])] or [""]
        if len(spans) > FACT_LINES:
            rest = _utf16_slices(text, [(spans[FACT_LINES - 1][0], 1 << 30)])[0]
            lines[-1] = QFontMetrics(main).elidedText(rest, Qt.TextElideMode.ElideRight, width)
        if len(self._wrap_cache) > 4000:
            self._wrap_cache.clear()
        self._wrap_cache[key] = lines
        return lines

    def shown_name(self, name: str, width: int) -> str:
        """A file or folder name that fits ``width``: cut in the middle, so its start and its
        extension stay ("note-087-quart…final.txt")."""
        return QFontMetrics(self.fonts()[0]).elidedText(name, Qt.TextElideMode.ElideMiddle, width)

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        main, meta = self.fonts()
        assert self._fonts is not None
        kind = index.data(ROLE_KIND)
        if kind is None:  # a group heading
            return QSize(0, self._fonts[2])
        if kind != FACT:  # a document or a folder: two lines (called for every row: be quick)
            return QSize(0, self._fonts[3])
        lines = self.fact_lines(str(index.data(Qt.ItemDataRole.DisplayRole)), self.text_width(FACT))
        fm, mfm = QFontMetrics(main), QFontMetrics(meta)
        return QSize(0, 2 * self.PAD_Y + len(lines) * fm.lineSpacing() + 2 + mfm.height())

    # painting
    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        opt.icon = QIcon()
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, widget)
        state = opt.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        palette: QPalette = opt.palette
        group = (
            QPalette.ColorGroup.Normal
            if state & QStyle.StateFlag.State_Enabled
            else QPalette.ColorGroup.Disabled
        )
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text_color = palette.color(group, role)
        muted = QColor(text_color)
        muted.setAlphaF(0.62)
        rect: QRect = opt.rect
        main, meta = self.fonts()
        painter.save()
        painter.setClipRect(rect)
        kind = index.data(ROLE_KIND)
        status = str(index.data(ROLE_STATUS) or "")
        red = error_color(palette) if not selected else text_color
        meta_color = red if status in (FAILED, MISSING) else muted
        if kind is None:
            self._paint_heading(painter, rect, index, main, text_color, muted, style, opt)
        elif kind == FACT:
            fm = QFontMetrics(main)
            x, y = rect.left() + self.PAD_X, rect.top() + self.PAD_Y
            painter.setFont(main)
            painter.setPen(muted if status == SUPERSEDED else text_color)
            text = str(index.data(Qt.ItemDataRole.DisplayRole))
            for line in self.fact_lines(text, self.text_width(FACT)):
                painter.drawText(QPoint(x, y + fm.ascent()), line)
                y += fm.lineSpacing()
            self._paint_meta(painter, x, y + 2, index, meta, meta_color, self.text_width(FACT))
        else:
            fm = QFontMetrics(main)
            mfm = QFontMetrics(meta)
            block = fm.lineSpacing() + 2 + mfm.height()
            top = rect.top() + max((rect.height() - block) // 2, 0)
            icon_rect = QRect(
                rect.left() + self.PAD_X, rect.top() + (rect.height() - 22) // 2, self.ICON, 22
            )
            if kind == DOCUMENT:
                self._paint_badge(painter, icon_rect, str(index.data(ROLE_KEY)), meta)
            else:
                mode = QIcon.Mode.Disabled if status == MISSING else QIcon.Mode.Normal
                icon = style.standardIcon(QStyle.StandardPixmap.SP_DirIcon)
                icon.paint(painter, icon_rect, Qt.AlignmentFlag.AlignCenter, mode)
            x = rect.left() + self.PAD_X + self.ICON + self.GAP
            width = self.text_width(kind)
            painter.setFont(main)
            painter.setPen(text_color)
            shown = self.shown_name(str(index.data(Qt.ItemDataRole.DisplayRole)), width)
            painter.drawText(QPoint(x, top + fm.ascent()), shown)
            self._paint_meta(painter, x, top + fm.lineSpacing() + 2, index, meta, meta_color, width)
        painter.restore()

    def _paint_meta(
        self,
        painter: QPainter,
        x: int,
        y: int,
        index: QModelIndex | QPersistentModelIndex,
        font: QFont,
        color: QColor,
        width: int,
    ) -> None:
        fm = QFontMetrics(font)
        painter.setFont(font)
        painter.setPen(color)
        text = fm.elidedText(str(index.data(ROLE_META) or ""), Qt.TextElideMode.ElideRight, width)
        painter.drawText(QPoint(x, y + fm.ascent()), text)

    def _paint_badge(self, painter: QPainter, rect: QRect, source: str, meta: QFont) -> None:
        badge, _kind, color = document_kind(source)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(color))
        painter.drawRoundedRect(rect, 4, 4)
        font = QFont(meta)
        font.setBold(True)
        if font.pointSizeF() > 0:
            font.setPointSizeF(max(font.pointSizeF() * 0.82, 5.5))
        fm = QFontMetrics(font)
        while fm.horizontalAdvance(badge) > rect.width() - 4 and font.pointSizeF() > 5.0:
            font.setPointSizeF(font.pointSizeF() - 0.5)
            fm = QFontMetrics(font)
        while fm.horizontalAdvance(badge) > rect.width() - 4 and len(badge) > 1:
            badge = badge[:-1]
        painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, badge)

    def _paint_heading(
        self,
        painter: QPainter,
        rect: QRect,
        index: QModelIndex | QPersistentModelIndex,
        main: QFont,
        text_color: QColor,
        muted: QColor,
        style: QStyle,
        opt: QStyleOptionViewItem,
    ) -> None:
        if index.row() > 0:  # a hairline between groups
            line = QColor(muted)
            line.setAlphaF(0.25)
            painter.setPen(QPen(line, 1))
            painter.drawLine(rect.left() + 4, rect.top(), rect.right() - 4, rect.top())
        arrow = QStyleOptionViewItem(opt)
        arrow.rect = QRect(rect.left() + 4, rect.top() + (rect.height() - 10) // 2, 10, 10)
        arrow.palette.setColor(QPalette.ColorRole.ButtonText, muted)
        expanded = self._tree.isExpanded(index)
        element = (
            QStyle.PrimitiveElement.PE_IndicatorArrowDown
            if expanded
            else QStyle.PrimitiveElement.PE_IndicatorArrowRight
        )
        style.drawPrimitive(element, arrow, painter, self._tree)
        bold = QFont(main)
        bold.setBold(True)
        fm = QFontMetrics(bold)
        baseline = rect.top() + (rect.height() - fm.height()) // 2 + fm.ascent()
        painter.setFont(bold)
        painter.setPen(text_color)
        painter.drawText(QPoint(rect.left() + 20, baseline), str(index.data(ROLE_TITLE) or ""))
        count = str(index.data(ROLE_COUNT) or "")
        painter.setFont(main)
        painter.setPen(muted)
        width = QFontMetrics(main).horizontalAdvance(count)
        painter.drawText(QPoint(rect.right() - self.PAD_X - width, baseline), count)


def _children(root: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    children = (root.child(i) for i in range(root.childCount()))
    return [c for c in children if c is not None]


class MemoryTree(QTreeWidget):
    """The list of memories: one column, rows as tall as their wrapped text, re-laid out when its
    width changes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._width = -1

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            delegate = self.itemDelegate()
            if isinstance(delegate, RowDelegate):
                delegate.reset_fonts()
            self.scheduleDelayedItemsLayout()
        super().changeEvent(event)

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.viewport().width() != self._width:
            self._width = self.viewport().width()
            self.scheduleDelayedItemsLayout()  # row heights depend on the width
        return super().viewportEvent(event)


# ---- the panel -----------------------------------------------------------------------------------
