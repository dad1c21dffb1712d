"""The list of past chats: a search box, one row per conversation (title and when it was last
used), "New chat", and rename / delete / export as Markdown from a context menu, a "⋯" button or
keys (F2, Delete). Widgets only: it shows what ``set_conversations`` gives it and emits signals; the
window does the work with ``core.conversations.ConversationStore``.

Wiring, for the window:
- ``conversation_selected(id)``: the user picked a chat; load it and show it.
- ``new_chat_requested()``, ``rename_requested(id, title)``, ``delete_requested(id)`` (already
  confirmed through ``confirm``), ``export_requested(id)``: do it, then call ``set_conversations``
  again with the new list (a failed rename shows the error and the refresh restores the old title).
- ``search_changed(text)`` (200 ms after typing stops; at once when cleared): call
  ``set_conversations(store.search(text), current_id)``. While ``search_text()`` is not empty, every
  refresh should pass search results: rows given while a search is active are shown as they are
  (they matched in a message, not only in the title). Between a keystroke and those results, the
  rows already shown are filtered by title here, so typing feels instant.

Titles are untrusted text (a question can hold ``<img src=/dev/zero>``): rows are painted as plain
text by the delegate, and the tooltip is escaped (``safe_text.tooltip``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QFont, QFontMetrics, QKeyEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemDelegate,
    QAbstractItemView,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from tera_desktop.core import clock
from tera_desktop.core.conversations import RENAME_MAX_CHARS, ConversationSummary
from tera_desktop.core.folding import fold
from tera_desktop.ui.more_button import more_button
from tera_desktop.ui.safe_text import ask_yes_no, one_line, plain_label, set_plain, tooltip

ROLE_ID = Qt.ItemDataRole.UserRole
ROLE_TITLE = Qt.ItemDataRole.UserRole + 1  # the full title ("" for an untitled chat)
ROLE_DATE = Qt.ItemDataRole.UserRole + 2  # the relative date shown ("Today 14:02")
ROLE_PREVIEW = Qt.ItemDataRole.UserRole + 3

EMPTY_TEXT = "No chats yet. Ask a question below."
NO_MATCH_TEXT = "No chats match “{text}”."
UNTITLED = "Untitled chat"
SEARCH_DELAY_MS = 200
_PAD = 6  # pixels around a row's text


def relative_date(iso: str, now: datetime | None = None) -> str:
    """When a chat was last used, as a row shows it: "Today 14:02", "Yesterday", "12 Nov", or
    "12 Nov 2024" in another year; local time. "" for a timestamp that cannot be read."""
    return clock.relative_date(iso, now, capitalized=True)


def title_matches(title: str, text: str) -> bool:
    """True if ``title`` holds every word of ``text``, ignoring case and accents, as the store's
    keyword search does (``folding.fold``)."""
    folded = fold(title)
    return all(word in folded for word in fold(text).split())


class _RowDelegate(QStyledItemDelegate):
    """Paints a row as two plain-text lines (the title, then the date and a preview), each elided;
    edits the title in place."""

    title_edited = Signal(str, str)  # conversation id, new title

    def _fonts(self, option: QStyleOptionViewItem) -> tuple[QFont, QFont]:
        title_font = QFont(option.font)
        title_font.setWeight(QFont.Weight.DemiBold)
        small = QFont(option.font)
        if small.pointSizeF() > 0:
            small.setPointSizeF(max(small.pointSizeF() * 0.9, 7.0))
        return title_font, small

    def title_text(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> str:
        """The title as painted: one line, elided to the row's width."""
        title = one_line(str(index.data(ROLE_TITLE) or "")) or UNTITLED
        width = max(option.rect.width() - 2 * _PAD, 0)
        return QFontMetrics(self._fonts(option)[0]).elidedText(
            title, Qt.TextElideMode.ElideRight, width
        )

    def detail_text(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> str:
        parts = [str(index.data(ROLE_DATE) or ""), one_line(str(index.data(ROLE_PREVIEW) or ""))]
        detail = " · ".join(part for part in parts if part)
        width = max(option.rect.width() - 2 * _PAD, 0)
        return QFontMetrics(self._fonts(option)[1]).elidedText(
            detail, Qt.TextElideMode.ElideRight, width
        )

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""  # the background, selection and focus only: the text is painted below
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        palette = opt.palette
        text_color = palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        muted = text_color if selected else palette.color(QPalette.ColorRole.PlaceholderText)
        title_font, small_font = self._fonts(opt)
        rect = opt.rect.adjusted(_PAD, _PAD // 2, -_PAD, -_PAD // 2)
        title_height = QFontMetrics(title_font).lineSpacing()
        painter.save()
        painter.setFont(title_font)
        painter.setPen(text_color)
        title_rect = QRect(rect.left(), rect.top(), rect.width(), title_height)
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(title_rect, flags, self.title_text(opt, index))
        painter.setFont(small_font)
        painter.setPen(muted)
        detail_rect = QRect(rect.left(), title_rect.bottom() + 1, rect.width(), rect.height())
        painter.drawText(detail_rect, Qt.AlignmentFlag.AlignLeft, self.detail_text(opt, index))
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        title_font, small_font = self._fonts(option)
        height = QFontMetrics(title_font).lineSpacing() + QFontMetrics(small_font).lineSpacing()
        return QSize(max(option.rect.width(), 100), height + _PAD + 2)

    def createEditor(
        self,
        parent: QWidget,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> QWidget:
        editor = QLineEdit(parent)
        editor.setObjectName("chatTitleEdit")
        editor.setAccessibleName("Chat title")
        editor.setMaxLength(RENAME_MAX_CHARS)
        return editor

    def updateEditorGeometry(
        self,
        editor: QWidget,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        rect = option.rect.adjusted(2, 2, -2, -2)
        rect.setHeight(min(rect.height(), editor.sizeHint().height()))
        editor.setGeometry(rect)

    def setEditorData(self, editor: QWidget, index: QModelIndex | QPersistentModelIndex) -> None:
        if isinstance(editor, QLineEdit):
            editor.setText(str(index.data(ROLE_TITLE) or ""))
            editor.selectAll()

    def setModelData(
        self,
        editor: QWidget,
        model: QAbstractItemModel,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        """Nothing is written to the model: the window renames and refreshes the list."""
        if not isinstance(editor, QLineEdit):
            return
        title = " ".join(editor.text().split())
        if title and title != str(index.data(ROLE_TITLE) or ""):
            self.title_edited.emit(str(index.data(ROLE_ID)), title)


class ConversationList(QWidget):
    """Past chats, newest first. ``confirm(question) -> bool`` asks before a delete (a Yes/No
    dialog by default; tests pass their own)."""

    conversation_selected = Signal(str)
    new_chat_requested = Signal()
    rename_requested = Signal(str, str)  # conversation id, new title
    delete_requested = Signal(str)
    export_requested = Signal(str)
    search_changed = Signal(str)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        confirm: Callable[[str], bool] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("conversationList")
        self._confirm = confirm or self._ask_confirm
        self._now = now
        self._updating = False
        self._summaries: list[ConversationSummary] = []
        self._current_id: str | None = None
        self._pending: tuple[list[ConversationSummary], str | None] | None = None
        self._search_sent = ""  # the text last sent with search_changed
        self._results_for = ""  # the search text the rows shown are results for ("" = none)

        self.search_edit = QLineEdit(placeholderText="Search chats")
        self.search_edit.setObjectName("chatSearchEdit")
        self.search_edit.setAccessibleName("Search chats")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self._on_search_text_changed)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._on_search_timer_timeout)

        self.new_button = QPushButton("New chat")
        self.new_button.setObjectName("newChatButton")
        self.new_button.setAccessibleName("New chat")
        self.new_button.setToolTip("Start a new chat; this one stays in the list")
        self.new_button.clicked.connect(self.new_chat_requested)

        self.more_button = more_button(
            "chatActionsButton",
            "Chat actions",
            "Rename, delete or export the selected chat",
            self.context_menu,
        )

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.new_button, 1)
        top.addWidget(self.more_button)

        self.list = QListWidget()
        self.list.setObjectName("chatList")
        self.list.setAccessibleName("Past chats")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setUniformItemSizes(True)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.delegate = _RowDelegate(self.list)
        self.list.setItemDelegate(self.delegate)
        self.delegate.title_edited.connect(self._on_title_edited)
        self.delegate.closeEditor.connect(self._on_editor_closed)
        self.list.currentItemChanged.connect(self._on_current_item_changed)
        self.list.customContextMenuRequested.connect(self._on_context_menu_requested)
        self.list.installEventFilter(self)

        self._menu_target: str | None = None
        self._menu = QMenu(self)
        self._menu.setObjectName("chatMenu")
        self._menu.setAccessibleName("Chat actions")
        for text, slot in (
            ("Rename…\tF2", self.rename),
            ("Export as Markdown…", self.export),
            ("Delete…\tDel", self.delete),
        ):
            action = QAction(text, self._menu)
            action.triggered.connect(lambda _checked=False, s=slot: self._on_menu_action(s))
            self._menu.addAction(action)

        self.empty_label = plain_label(EMPTY_TEXT)
        self.empty_label.setObjectName("chatsEmptyLabel")
        self.empty_label.setAccessibleName("No chats")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.search_edit)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty_label)
        layout.addStretch(0)
        self._update_empty_state()

    # ---- what the window calls -------------------------------------------------------------------
    def set_conversations(
        self, summaries: Sequence[ConversationSummary], current_id: str | None
    ) -> None:
        """Show these chats in this order, with ``current_id`` selected (None: none is, e.g. a new
        chat not saved yet). While a title is being edited in place, the update waits for it."""
        if self.list.state() == QAbstractItemView.State.EditingState:
            self._pending = (list(summaries), current_id)
            return
        self._pending = None
        self._summaries = list(summaries)
        self._current_id = current_id
        query = self.search_text()
        self._results_for = query if query and query == self._search_sent else ""
        scroll = self.list.verticalScrollBar().value()
        self._updating = True
        try:
            self.list.clear()
            for summary in self._summaries:
                self.list.addItem(self._make_item(summary))
            self._select(current_id)
        finally:
            self._updating = False
        self._apply_filter()
        self.list.verticalScrollBar().setValue(scroll)
        current = self.list.currentItem()
        if current is not None and not current.isHidden():
            self.list.scrollToItem(current)

    def set_current(self, conv_id: str | None) -> None:
        """Select the row of ``conv_id`` (None: none), not emitting ``conversation_selected``."""
        self._current_id = conv_id
        self._updating = True
        try:
            self._select(conv_id)
        finally:
            self._updating = False

    def current_id(self) -> str | None:
        return self._current_id

    def set_filter(self, text: str) -> None:
        """Type ``text`` into the search box (filters at once; ``search_changed`` follows)."""
        self.search_edit.setText(text)

    def search_text(self) -> str:
        return " ".join(self.search_edit.text().split())

    def conversation_ids(self, *, visible_only: bool = False) -> list[str]:
        """The ids of the rows, top to bottom (only those the filter shows, if asked)."""
        return [
            str(item.data(ROLE_ID))
            for item in (self.list.item(row) for row in range(self.list.count()))
            if item is not None and not (visible_only and item.isHidden())
        ]

    def item_for(self, conv_id: str) -> QListWidgetItem | None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item is not None and item.data(ROLE_ID) == conv_id:
                return item
        return None

    # ---- actions (also the menu's and the keys') -------------------------------------------------
    def rename(self, conv_id: str | None = None) -> bool:
        """Start editing the title of ``conv_id`` (default: the current chat) in place."""
        item = self._target(conv_id)
        if item is None or self.list.state() == QAbstractItemView.State.EditingState:
            return False
        self.list.scrollToItem(item)
        self.list.editItem(item)
        return True

    def delete(self, conv_id: str | None = None) -> bool:
        """Ask, then emit ``delete_requested``. Returns whether it was emitted."""
        item = self._target(conv_id)
        if item is None:
            return False
        target = str(item.data(ROLE_ID))  # read now: the list may be refreshed while asking
        title = one_line(str(item.data(ROLE_TITLE) or "")) or UNTITLED
        if not self._confirm(f"Delete the chat “{title}”? This cannot be undone."):
            return False
        self.delete_requested.emit(target)
        return True

    def export(self, conv_id: str | None = None) -> bool:
        item = self._target(conv_id)
        if item is None:
            return False
        self.export_requested.emit(str(item.data(ROLE_ID)))
        return True

    def context_menu(self, conv_id: str | None = None) -> QMenu:
        """The menu (not shown) for ``conv_id``, default the current chat: Rename, Export as
        Markdown, Delete. One menu serves every row; its actions are off when there is no chat."""
        item = self._target(conv_id)
        self._menu_target = None if item is None else str(item.data(ROLE_ID))
        for action in self._menu.actions():
            action.setEnabled(self._menu_target is not None)
        return self._menu

    # ---- internals ------------------------------------------------------------------------------
    def _make_item(self, summary: ConversationSummary) -> QListWidgetItem:
        title = summary.title
        shown = one_line(title) or UNTITLED
        date = relative_date(summary.updated_at, self._now() if self._now else None)
        item = QListWidgetItem(shown)
        item.setFlags(
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable
        )
        item.setData(ROLE_ID, summary.id)
        item.setData(ROLE_TITLE, title)
        item.setData(ROLE_DATE, date)
        item.setData(ROLE_PREVIEW, summary.preview)
        item.setToolTip(tooltip(title or UNTITLED))
        item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{shown}, {date}" if date else shown)
        if summary.preview:
            item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, one_line(summary.preview))
        return item

    def _select(self, conv_id: str | None) -> None:
        item = self.item_for(conv_id) if conv_id else None
        if item is None:
            self.list.setCurrentRow(-1)
            self.list.clearSelection()
        else:
            self.list.setCurrentItem(item)

    def _target(self, conv_id: str | None) -> QListWidgetItem | None:
        if conv_id is not None:
            return self.item_for(conv_id)
        return self.list.currentItem()

    def _apply_filter(self) -> None:
        query = self.search_text()
        as_given = not query or query == self._results_for
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item is not None:
                title = str(item.data(ROLE_TITLE) or "")
                item.setHidden(not as_given and not title_matches(title, query))
        self._update_empty_state()

    def _update_empty_state(self) -> None:
        visible = any(not self.list.item(r).isHidden() for r in range(self.list.count()))
        query = self.search_text()
        if not visible:
            set_plain(self.empty_label, NO_MATCH_TEXT.format(text=query) if query else EMPTY_TEXT)
        self.empty_label.setVisible(not visible)
        self.list.setVisible(visible)
        self.more_button.setEnabled(self.list.currentItem() is not None)

    def _ask_confirm(self, question: str) -> bool:
        return ask_yes_no(self, "Delete chat", question)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.list and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key, mods = event.key(), event.modifiers()
            if mods == Qt.KeyboardModifier.NoModifier and self.list.currentItem() is not None:
                if key == Qt.Key.Key_F2:
                    return self.rename()
                if key == Qt.Key.Key_Delete:
                    self.delete()
                    return True
        return super().eventFilter(watched, event)

    # ---- slots ----------------------------------------------------------------------------------
    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_item_changed(
        self, current: QListWidgetItem | None, _previous: QListWidgetItem | None
    ) -> None:
        self.more_button.setEnabled(current is not None)
        if self._updating or current is None:
            return
        conv_id = str(current.data(ROLE_ID))
        if conv_id != self._current_id:
            self._current_id = conv_id
            self.conversation_selected.emit(conv_id)

    @Slot(str)
    def _on_search_text_changed(self, _text: str) -> None:
        self._apply_filter()
        if self.search_text():
            self._search_timer.start()
        else:
            self._search_timer.stop()
            if self._search_sent:
                self._search_sent = ""
                self.search_changed.emit("")

    @Slot()
    def _on_search_timer_timeout(self) -> None:
        query = self.search_text()
        if query != self._search_sent:
            self._search_sent = query
            self.search_changed.emit(query)

    @Slot(str, str)
    def _on_title_edited(self, conv_id: str, title: str) -> None:
        item = self.item_for(conv_id)
        if item is not None:  # shown at once; the window's refresh confirms or restores it
            item.setText(one_line(title))
            item.setData(ROLE_TITLE, title)
            item.setToolTip(tooltip(title))
        self.rename_requested.emit(conv_id, title)

    @Slot(QWidget, QAbstractItemDelegate.EndEditHint)
    def _on_editor_closed(self, _editor: QWidget, _hint: QAbstractItemDelegate.EndEditHint) -> None:
        if self._pending is not None:
            summaries, current_id = self._pending
            QTimer.singleShot(0, self, lambda: self._apply_pending(summaries, current_id))

    def _apply_pending(self, summaries: list[ConversationSummary], current_id: str | None) -> None:
        if self._pending is not None and self._pending == (summaries, current_id):
            self.set_conversations(summaries, current_id)

    @Slot(QPoint)
    def _on_context_menu_requested(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        menu = self.context_menu(str(item.data(ROLE_ID)))
        menu.popup(self.list.viewport().mapToGlobal(pos))  # no nested event loop

    def _on_menu_action(self, slot: Callable[[str | None], bool]) -> None:
        if self._menu_target is not None:
            slot(self._menu_target)
