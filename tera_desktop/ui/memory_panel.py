"""The memory sidebar: what Tera remembers (facts, documents, watched folders), a field to teach it
a fact, a filter, forgetting, and the compact panel of files being added. Widgets only: the main
window does the work in background workers and calls back with the results.

Rows are painted by ``RowDelegate`` as plain text, to read well at any width: a fact wraps (up to
``FACT_LINES`` lines) above a muted line with its date; a document shows a kind badge, its name
(elided in the middle, so the extension stays) and "12 chunks · PDF · added 3 Nov"; a watched
folder shows its state. The filter matches fact text, document names, titles and paths, and the
group headings count what it shows ("Facts 3 of 12")."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QIcon,
    QKeySequence,
    QPainter,
    QPalette,
    QPen,
    QShortcut,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tera_desktop.core.ingest import FAILED, REMOVED, UPDATED, FileResult
from tera_desktop.core.store import DocumentInfo, FactInfo
from tera_desktop.core.units import plural
from tera_desktop.ui.ingest_panel import IngestPanel, error_color
from tera_desktop.ui.more_button import more_button
from tera_desktop.ui.safe_text import one_line, set_plain, tooltip

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

# suffix → (what it is, badge colour)
_KINDS: dict[str, tuple[str, str]] = {
    ".pdf": ("PDF", "#c0392b"),
    ".docx": ("Word", "#2b579a"),
    ".md": ("Markdown", "#4a5568"),
    ".markdown": ("Markdown", "#4a5568"),
    ".mdown": ("Markdown", "#4a5568"),
    ".mkd": ("Markdown", "#4a5568"),
    ".html": ("Web page", "#c05621"),
    ".htm": ("Web page", "#c05621"),
    ".xhtml": ("Web page", "#c05621"),
    ".shtml": ("Web page", "#c05621"),
    ".csv": ("Table", "#2f855a"),
    ".tsv": ("Table", "#2f855a"),
    ".json": ("Data", "#4a5568"),
    ".yaml": ("Data", "#4a5568"),
    ".yml": ("Data", "#4a5568"),
    ".zip": ("Chat export", "#1f9d55"),
}
_TEXT_KIND = ("Text", "#718096")
_AUDIO = (".wav", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".flac", ".webm")
_IMAGES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")


def document_kind(source: str) -> tuple[str, str, str]:
    """(badge text, kind in words, badge colour) for a document by its file name."""
    suffix = os.path.splitext(source)[1].lower()
    if suffix in _AUDIO:
        kind, color = "Recording", "#6b46c1"
    elif suffix in _IMAGES:
        kind, color = "Image", "#2c7a7b"
    else:
        kind, color = _KINDS.get(suffix, _TEXT_KIND)
    badge = suffix[1:5].upper() if 1 < len(suffix) <= 6 and suffix[1:].isalnum() else "TXT"
    return badge, kind, color


_MONTHS = "January February March April May June July August September October November December"
MONTHS = _MONTHS.split()  # English, as the rest of the app (strftime is slow and locale-bound)


def _local_time(iso: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # stored times are UTC
    return when.astimezone()


def friendly_date(iso: str, now: datetime | None = None) -> str:
    """A stored time as people say it, in local time: "today 14:05", "yesterday", "3 Nov",
    "3 Nov 2024"."""
    local = _local_time(iso)
    if local is None:
        return iso[:10]
    now = now or datetime.now().astimezone()
    days = (now.date() - local.date()).days
    if days == 0:
        return f"today {local.hour:02d}:{local.minute:02d}"
    if days == 1:
        return "yesterday"
    month = MONTHS[local.month - 1][:3]
    if local.year == now.year:
        return f"{local.day} {month}"
    return f"{local.day} {month} {local.year}"


def _full_date(iso: str) -> str:
    local = _local_time(iso)
    if local is None:
        return iso
    month = MONTHS[local.month - 1]
    return f"{local.day} {month} {local.year}, {local.hour:02d}:{local.minute:02d}"


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


class MemoryPanel(QWidget):
    remember_requested = Signal(str)
    forget_requested = Signal(str, str, str)  # kind, fact id | document source | folder, label
    forget_all_requested = Signal()
    add_files_requested = Signal()
    add_folder_requested = Signal()
    stop_ingest_requested = Signal()
    undo_replace_requested = Signal(str)  # the id of the newer fact: keep both facts current
    # the filter's words, to look for inside documents' text (the window searches the store and
    # answers with ``set_text_matches``); sent a moment after typing stops
    text_search_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._facts: list[FactInfo] = []
        self._documents: list[DocumentInfo] = []
        self._watched: list[str] = []
        self._folder_state: dict[str, tuple[str, str]] = {}  # folder → (state, reason)
        self._doc_status: dict[str, tuple[str, str]] = {}  # source → (status, reason)
        self._specs: dict[tuple[str, str], _Spec] = {}
        self._spec_cache: dict[object, tuple[object, _Spec]] = {}  # data → (context, row)
        self._keys: dict[int, list[tuple[str, str]]] = {}  # id(group) → its rows' keys
        self._items_by_key: dict[tuple[str, str], QTreeWidgetItem] = {}
        self._haystacks: dict[tuple[str, str], str] = {}
        self._text_matches: set[str] = set()  # documents whose text holds the filter's words
        self._text_search_timer = QTimer(self)
        self._text_search_timer.setSingleShot(True)
        self._text_search_timer.setInterval(TEXT_SEARCH_DELAY_MS)
        self._text_search_timer.timeout.connect(self._on_text_search_due)

        self.remember_edit = QLineEdit(placeholderText="Remember a fact…")
        self.remember_edit.setObjectName("rememberEdit")
        self.remember_edit.setAccessibleName("Fact to remember")
        self.remember_edit.setToolTip("Type something for Tera to remember and press Enter")
        self.remember_edit.returnPressed.connect(self._on_remember_entered)
        self.remember_button = QPushButton("Remember")
        self.remember_button.setAccessibleName("Remember the fact")
        self.remember_button.clicked.connect(self._on_remember_entered)
        remember_row = QHBoxLayout()
        remember_row.setSpacing(6)
        remember_row.addWidget(self.remember_edit, 1)
        remember_row.addWidget(self.remember_button)

        self.pending_label = QLabel(self)  # facts typed before the embedding model was ready
        self.pending_label.setObjectName("pendingFacts")
        self.pending_label.setTextFormat(Qt.TextFormat.PlainText)
        self.pending_label.setWordWrap(True)
        self.pending_label.setAccessibleName("Facts and files waiting for the embedding model")
        self.pending_label.hide()
        self.filter_edit = QLineEdit(placeholderText="Search memories")
        self.filter_edit.setObjectName("filterEdit")
        self.filter_edit.setAccessibleName("Filter memories")
        self.filter_edit.setToolTip("Shows the facts, documents and folders that contain all words")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._on_filter_changed)

        self.tree = MemoryTree()
        self.tree.setObjectName("memoryTree")
        self.tree.setAccessibleName("Memories")
        self.tree.setColumnCount(1)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(0)
        self.tree.setUniformRowHeights(False)
        self.tree.setWordWrap(True)
        self.tree.setExpandsOnDoubleClick(False)
        self.tree.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.delegate = RowDelegate(self.tree)
        self.tree.setItemDelegate(self.delegate)
        self.tree.itemSelectionChanged.connect(self._on_selection_changed)
        self.tree.itemClicked.connect(self._on_item_clicked)
        self.tree.customContextMenuRequested.connect(self._on_context_menu_requested)
        self.facts_root = self._group("Facts")
        self.folders_root = self._group("Watched folders")  # few, and their state matters
        self.docs_root = self._group("Documents")
        QShortcut(QKeySequence.StandardKey.Delete, self.tree, self._on_forget_clicked)
        QShortcut(QKeySequence.StandardKey.Copy, self.tree, self._on_copy_requested)

        self.empty_label = QLabel()
        self.empty_label.setObjectName("memoryEmpty")
        self.empty_label.setAccessibleName("No memories shown")
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)  # may quote the filter
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setMargin(16)
        self.empty_label.setEnabled(False)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.tree)
        self.stack.addWidget(self.empty_label)

        self.ingest = IngestPanel()
        self.ingest.stop_requested.connect(self.stop_ingest_requested)
        self.stop_button = self.ingest.stop_button
        self.progress = self.ingest.progress

        drop = "You can also drop files and folders anywhere on the window."
        self.add_files_button = QPushButton("Add files…")
        self.add_files_button.setAccessibleName("Add files")
        self.add_files_button.setToolTip(f"Add documents to memory. {drop}")
        self.add_files_button.clicked.connect(self.add_files_requested)
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.setAccessibleName("Add a folder")
        self.add_folder_button.setToolTip(f"Add a folder and keep it in sync. {drop}")
        self.add_folder_button.clicked.connect(self.add_folder_requested)
        self.forget_button = QPushButton("Forget")
        self.forget_button.setObjectName("forgetButton")
        self.forget_button.setAccessibleName("Forget the selected memory")
        self.forget_button.setEnabled(False)
        self.forget_button.clicked.connect(self._on_forget_clicked)
        self.more_menu = QMenu(self)
        self.more_menu.setAccessibleName("More memory actions")
        self.forget_all_action = self.more_menu.addAction("Forget everything…")
        self.forget_all_action.setObjectName("forgetAllAction")
        self.forget_all_action.triggered.connect(self.forget_all_requested)
        self.more_button = more_button(
            "memoryMoreButton",
            "More memory actions",
            "More: forget everything",
            lambda: self.more_menu,
        )
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.add_files_button)
        buttons.addWidget(self.add_folder_button)
        buttons.addStretch(1)
        buttons.addWidget(self.forget_button)
        buttons.addWidget(self.more_button)

        self.replaced_label = QLabel()
        self.replaced_label.setObjectName("replacedNote")
        self.replaced_label.setTextFormat(Qt.TextFormat.PlainText)  # holds memory text
        self.replaced_label.setWordWrap(True)
        self.undo_replace_button = QPushButton("Undo")
        self.undo_replace_button.setObjectName("undoReplaceButton")
        self.undo_replace_button.setAccessibleName("Undo: keep both facts current")
        self.undo_replace_button.setToolTip("Keep both facts current")
        self.undo_replace_button.clicked.connect(self._on_undo_replace_clicked)
        replaced_row = QHBoxLayout()
        replaced_row.setContentsMargins(0, 0, 0, 0)
        replaced_row.addWidget(self.replaced_label, 1)
        replaced_row.addWidget(self.undo_replace_button)
        self.replaced_box = QWidget()
        self.replaced_box.setLayout(replaced_row)
        self.replaced_box.hide()
        self._replacing_id = ""

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addLayout(remember_row)
        layout.addWidget(self.replaced_box)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.pending_label)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.ingest)
        layout.addLayout(buttons)
        self._rebuild()

    def _roots(self) -> tuple[QTreeWidgetItem, ...]:
        return (self.facts_root, self.folders_root, self.docs_root)

    def _group(self, title: str) -> QTreeWidgetItem:
        root = QTreeWidgetItem(self.tree, [title])
        root.setFlags(Qt.ItemFlag.ItemIsEnabled)
        root.setData(0, ROLE_TITLE, title)
        root.setExpanded(True)
        return root

    # ---- content ---------------------------------------------------------------------------------
    def set_memories(self, facts: list[FactInfo], documents: list[DocumentInfo]) -> None:
        self._facts, self._documents = list(facts), list(documents)
        self._rebuild()

    def set_watched(self, folders: list[str]) -> None:
        self._watched = list(folders)
        self._folder_state = {f: s for f, s in self._folder_state.items() if f in self._watched}
        self._rebuild()

    def set_folder_state(self, folder: str, state: str, reason: str = "") -> None:
        """Say what a watched folder is doing: ``"watching"``, ``"syncing"`` or ``"missing"``
        (ignored for a folder that is not watched)."""
        if folder not in self._watched:
            return
        self._folder_state[folder] = (state, reason)
        self._refresh_row(FOLDER, folder)

    def folder_state(self, folder: str) -> str:
        return self._folder_state.get(folder, (WATCHING, ""))[0]

    def _fact_spec(self, fact: FactInfo, now: datetime | None = None) -> _Spec:
        superseded = bool(fact.superseded_by)
        when = friendly_date(fact.created_at, now)
        meta = f"{when} · replaced by a newer fact" if superseded else when
        note = "\n\n(Superseded: a newer fact replaces it.)" if superseded else ""
        text = one_line(fact.text)
        return _Spec(
            FACT,
            fact.id,
            text,
            fact.text,
            meta,
            SUPERSEDED if superseded else "",
            tooltip(fact.text + note),
            f"{text}. {meta}",
        )

    def _document_spec(self, doc: DocumentInfo, now: datetime | None = None) -> _Spec:
        name = os.path.basename(doc.source) or doc.source
        _badge, kind, _color = document_kind(doc.source)
        status, reason = self._doc_status.get(doc.source, ("", ""))
        verb = "updated" if status == UPDATED else "added"
        parts = [plural(doc.chunks, "chunk"), kind, f"{verb} {friendly_date(doc.created_at, now)}"]
        if status == FAILED:
            parts.insert(0, "Update failed")
        meta = " · ".join(parts)
        title = f"{doc.title}\n" if doc.title and doc.title != name else ""
        problem = f"\n\nThe last update failed: {reason}" if status == FAILED and reason else ""
        tip = f"{title}{doc.source}\n{meta}\nStored {_full_date(doc.created_at)}{problem}"
        text = one_line(name)
        return _Spec(
            DOCUMENT, doc.source, text, name, meta, status, tooltip(tip), f"{text}. {meta}"
        )

    def _folder_spec(self, folder: str, documents: int) -> _Spec:
        state, reason = self._folder_state.get(folder, (WATCHING, ""))
        if state == MISSING:
            meta = "Missing: not found on disk"
        else:
            meta = f"{FOLDER_STATES.get(state, state)} · {plural(documents, 'document')}"
        why = f"\n{reason}" if state == MISSING and reason else ""
        tip = f"{folder}\n{meta}{why}"
        tip += "\nTera keeps this folder in sync: new and changed files are read."
        text = one_line(Path(folder).name or folder)
        return _Spec(FOLDER, folder, text, folder, meta, state, tooltip(tip), f"{text}. {meta}")

    def _folder_documents(self) -> dict[str, int]:
        counts = dict.fromkeys(self._watched, 0)
        prefixes = [(f, f.rstrip(os.sep) + os.sep) for f in self._watched]
        for doc in self._documents:
            for folder, prefix in prefixes:
                if doc.source.startswith(prefix):
                    counts[folder] += 1
        return counts

    def _rebuild(self) -> None:
        chosen = self.selected()
        top = self.tree.itemAt(QPoint(4, 4))
        top_key = (top.data(0, ROLE_KIND), top.data(0, ROLE_KEY)) if top is not None else None
        counts = self._folder_documents()
        now = datetime.now().astimezone()
        today = now.date()
        old, self._spec_cache = self._spec_cache, {}

        def cached(data: object, context: object, make: Callable[[], _Spec]) -> _Spec:
            hit = old.get(data)
            spec = hit[1] if hit is not None and hit[0] == context else make()
            self._spec_cache[data] = (context, spec)
            return spec

        fact_specs = [cached(f, today, partial(self._fact_spec, f, now)) for f in self._facts]
        doc_specs = [
            cached(d, (today, self._doc_status.get(d.source)), partial(self._document_spec, d, now))
            for d in self._documents
        ]
        groups = (
            (self.facts_root, fact_specs),
            (self.folders_root, [self._folder_spec(f, counts[f]) for f in self._watched]),
            (self.docs_root, doc_specs),
        )
        self._haystacks = {}
        for fact in self._facts:
            self._haystacks[(FACT, fact.id)] = fact.text.casefold()
        for doc in self._documents:
            self._haystacks[(DOCUMENT, doc.source)] = f"{doc.source}\n{doc.title}".casefold()
        for folder in self._watched:
            self._haystacks[(FOLDER, folder)] = folder.casefold()
        self.tree.blockSignals(True)  # selection signals while items are replaced
        try:
            moved = [self._sync_group(root, specs) for root, specs in groups]
        finally:
            self.tree.blockSignals(False)
        self._apply_filter()
        if chosen is not None:
            item = self._items_by_key.get((chosen[0], chosen[1]))
            if item is not None and not item.isHidden():
                self.tree.setCurrentItem(item)
                item.setSelected(True)
        if any(moved) and top_key is not None and top_key[0] is not None:
            item = self._items_by_key.get((str(top_key[0]), str(top_key[1])))
            if item is not None:
                self.tree.scrollToItem(item, QAbstractItemView.ScrollHint.PositionAtTop)
        self._on_selection_changed()

    def _sync_group(self, root: QTreeWidgetItem, specs: list[_Spec]) -> bool:
        """Show ``specs`` under ``root``, keeping the rows that stay; True if rows came, went
        or moved."""
        keys = [(s.kind, s.key) for s in specs]
        current = self._keys.get(id(root), [])
        if keys == current:
            for key, spec in zip(keys, specs, strict=True):
                if self._specs.get(key) is not spec and self._specs.get(key) != spec:
                    self._fill(self._items_by_key[key], spec)
            return False
        kept = {key: self._items_by_key.pop(key) for key in current if key in self._items_by_key}
        root.takeChildren()
        items = []
        for key, spec in zip(keys, specs, strict=True):
            item = kept.pop(key, None)
            if item is None or self._specs.get(key) != spec:
                item = item or QTreeWidgetItem()
                self._fill(item, spec)
            self._items_by_key[key] = item
            items.append(item)
        for key in kept:  # gone
            self._specs.pop(key, None)
        root.addChildren(items)
        self._keys[id(root)] = keys
        return True

    def _fill(self, item: QTreeWidgetItem, spec: _Spec) -> None:
        item.setText(0, spec.text)
        item.setToolTip(0, spec.tip)
        item.setData(0, ROLE_KIND, spec.kind)
        item.setData(0, ROLE_KEY, spec.key)
        item.setData(0, ROLE_LABEL, spec.label)
        item.setData(0, ROLE_META, spec.meta)
        item.setData(0, ROLE_STATUS, spec.status)
        item.setData(0, Qt.ItemDataRole.AccessibleTextRole, spec.accessible)
        self._specs[(spec.kind, spec.key)] = spec
        self._items_by_key[(spec.kind, spec.key)] = item

    def _refresh_row(self, kind: str, key: str) -> None:
        """Show a new state of one document or folder without rebuilding the list."""
        item = self._items_by_key.get((kind, key))
        if item is None:
            return
        if kind == FOLDER:
            spec = self._folder_spec(key, self._folder_documents().get(key, 0))
        else:
            doc = next((d for d in self._documents if d.source == key), None)
            if doc is None:
                return
            spec = self._document_spec(doc)
        self._fill(item, spec)

    def _apply_filter(self) -> None:
        words = self.filter_edit.text().casefold().split()
        shown_total = 0
        for root in self._roots():
            keys = self._keys.get(id(root), [])
            total = len(keys)
            shown = 0
            for key in keys:
                item = self._items_by_key[key]
                hay = self._haystacks.get(key, "")
                match = all(w in hay for w in words) or (
                    bool(words) and key[0] == DOCUMENT and key[1] in self._text_matches
                )
                if item.isHidden() == match:
                    item.setHidden(not match)
                shown += match
            count = f"{shown:,} of {total:,}" if words else f"{total:,}"
            title = str(root.data(0, ROLE_TITLE))
            root.setText(0, f"{title} ({count})")
            root.setData(0, ROLE_COUNT, count)
            root.setData(0, Qt.ItemDataRole.AccessibleTextRole, f"{title}, {count}")
            hide = total == 0 or (bool(words) and shown == 0)
            if root.isHidden() != hide:  # (setting it again lays the whole list out again)
                root.setHidden(hide)
            shown_total += shown
        if not words and shown_total == 0:
            self.empty_label.setText(
                "Nothing remembered yet.\n\nType a fact above and press Enter, or add files and "
                "folders: drop them anywhere on the window."
            )
            self.stack.setCurrentWidget(self.empty_label)
        elif shown_total == 0:
            set_plain(
                self.empty_label,
                f"No memory matches “{one_line(self.filter_edit.text(), 80)}”.",
            )
            self.stack.setCurrentWidget(self.empty_label)
        else:
            self.stack.setCurrentWidget(self.tree)
        current = self.tree.currentItem()
        if current is not None and current.isHidden():
            self.tree.clearSelection()

    def _items(self) -> list[QTreeWidgetItem]:
        return [child for root in self._roots() for child in _children(root)]

    def rows(self) -> list[Row]:
        """The rows the filter shows, in order, as shown."""
        return [
            Row(
                str(item.data(0, ROLE_KIND)),
                str(item.data(0, ROLE_KEY)),
                item.text(0),
                str(item.data(0, ROLE_META)),
                str(item.data(0, ROLE_STATUS)),
            )
            for item in self._items()
            if not item.isHidden()
        ]

    def row(self, key: str) -> Row | None:
        return next((r for r in self.rows() if r.key == key), None)

    def group_titles(self) -> list[str]:
        """The group headings shown, with their counts: "Facts (3 of 12)"."""
        return [root.text(0) for root in self._roots() if not root.isHidden()]

    def visible_texts(self) -> list[str]:
        return [r.text for r in self.rows()]

    def selected(self) -> tuple[str, str, str] | None:
        items = [i for i in self.tree.selectedItems() if i.data(0, ROLE_KIND)]
        if not items:
            return None
        item = items[0]
        return (
            str(item.data(0, ROLE_KIND)),
            str(item.data(0, ROLE_KEY)),
            str(item.data(0, ROLE_LABEL)),
        )

    def select_key(self, key: str) -> bool:
        for item in self._items():
            if item.data(0, ROLE_KEY) == key and not item.isHidden():
                self.tree.setCurrentItem(item)
                item.setSelected(True)
                self.tree.scrollToItem(item)
                return True
        return False

    def show_replaced(self, new_id: str, old_text: str) -> None:
        """Say that the fact just remembered replaces ``old_text``, with an Undo button."""
        self._replacing_id = new_id
        self.replaced_label.setText(f"Replaces: {one_line(old_text, 160)}")
        self.replaced_label.setToolTip(tooltip(old_text))
        self.replaced_box.show()

    def hide_replaced(self) -> None:
        self._replacing_id = ""
        self.replaced_box.hide()

    @Slot()
    def _on_undo_replace_clicked(self) -> None:
        if self._replacing_id:
            self.undo_replace_requested.emit(self._replacing_id)
        self.hide_replaced()

    # ---- ingestion -------------------------------------------------------------------------------
    def set_ingesting(self, active: bool) -> None:
        """Work on files starts (again, for the next queued work) or ends. Folders that were
        syncing are watched again either way."""
        for folder, (state, _reason) in list(self._folder_state.items()):
            if state == SYNCING:
                self.set_folder_state(folder, WATCHING)
        if active:
            self.ingest.start()
        else:
            self.ingest.finish()

    def set_progress(self, done: int, total: int) -> None:
        self.ingest.set_progress(done, total)

    def add_file_result(self, result: FileResult) -> None:
        self.ingest.add_result(result)
        if result.path in self._watched and result.status == FAILED:  # the folder itself
            self.set_folder_state(result.path, MISSING, result.reason)
            return
        if result.status == REMOVED:
            self._doc_status.pop(result.path, None)
            return
        self._doc_status[result.path] = (result.status, result.reason)
        self._refresh_row(DOCUMENT, result.path)

    def file_statuses(self) -> list[str]:
        """The per-file log, newest first: "✓ a.md: added (3 chunks)", "✗ b.pdf: <reason>"."""
        return self.ingest.log_texts()

    # ---- slots -----------------------------------------------------------------------------------
    @Slot()
    def _on_remember_entered(self) -> None:
        text = self.remember_edit.text().strip()
        if text:
            self.remember_requested.emit(text)
            self.remember_edit.clear()

    @Slot(str)
    def _on_filter_changed(self, _text: str) -> None:
        self._text_matches = set()  # they were for other words
        self._apply_filter()
        self._on_selection_changed()
        if self.filter_edit.text().split():
            self._text_search_timer.start()
        else:
            self._text_search_timer.stop()

    @Slot()
    def _on_text_search_due(self) -> None:
        words = self.filter_edit.text().split()
        if words:
            self.text_search_requested.emit(" ".join(words))

    def set_pending_facts(self, texts: list[str], files: list[str] | None = None) -> None:
        """Facts typed, and files added, before the embedding model was ready: saved, waiting."""
        files = files or []
        if not texts and not files:
            self.pending_label.hide()
            return
        lines = []
        if texts:
            verb = "waits" if len(texts) == 1 else "wait"
            lines.append(
                f"⏳ {plural(len(texts), 'fact')} {verb} for the embedding model and will be "
                "stored when it is ready: "
                + "; ".join(one_line(t, 60) for t in texts[:3])
                + ("; …" if len(texts) > 3 else "")
            )
        if files:
            verb = "waits" if len(files) == 1 else "wait"
            names = [one_line(Path(f).name or f, 40) for f in files[:3]]
            lines.append(
                f"⏳ {plural(len(files), 'file or folder', 'files or folders')} {verb} for the "
                "embedding model and will be read when it is ready: "
                + ", ".join(names)
                + (", …" if len(files) > 3 else "")
            )
        set_plain(self.pending_label, "\n".join(lines))
        self.pending_label.setToolTip(tooltip("\n".join([*texts, *files])))
        self.pending_label.show()

    def pending_text(self) -> str:
        return self.pending_label.text() if self.pending_label.isVisibleTo(self) else ""

    def set_text_matches(self, query: str, sources: set[str]) -> None:
        """Documents whose text holds every word of ``query`` are shown by the filter too (an
        answer for older words than the filter's is ignored)."""
        if " ".join(self.filter_edit.text().split()) != query:
            return
        self._text_matches = set(sources)
        self._apply_filter()

    @Slot(QTreeWidgetItem, int)
    def _on_item_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        if item.parent() is None:  # a group heading opens and closes its group
            item.setExpanded(not item.isExpanded())

    @Slot()
    def _on_selection_changed(self) -> None:
        chosen = self.selected()
        self.forget_button.setEnabled(chosen is not None)
        folder = bool(chosen and chosen[0] == FOLDER)
        self.forget_button.setText("Stop watching" if folder else "Forget")
        self.forget_button.setAccessibleName(
            "Stop watching the selected folder" if folder else "Forget the selected memory"
        )

    @Slot()
    def _on_forget_clicked(self) -> None:
        chosen = self.selected()
        if chosen:
            self.forget_requested.emit(*chosen)

    @Slot()
    def _on_copy_requested(self) -> None:
        chosen = self.selected()
        if chosen:
            QGuiApplication.clipboard().setText(chosen[2])

    @Slot(QPoint)
    def _on_context_menu_requested(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        if item is None or not item.data(0, ROLE_KIND):
            return
        self.tree.setCurrentItem(item)
        kind = str(item.data(0, ROLE_KIND))
        menu = QMenu(self)
        menu.setAccessibleName("Memory actions")
        copy = menu.addAction("Copy text" if kind == FACT else "Copy path")
        copy.triggered.connect(self._on_copy_requested)
        forget = menu.addAction("Stop watching" if kind == FOLDER else "Forget…")
        forget.triggered.connect(self._on_forget_clicked)
        menu.exec(self.tree.viewport().mapToGlobal(pos))
