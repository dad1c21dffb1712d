"""The chat pane: the list of messages (``ChatView``) and the pane around it (``ChatPanel``). Its
parts live beside it: the question box (``chat_input``), one message with its sources
(``chat_message``, ``chat_sources``) and the style (``chat_style``); their names are importable
from here too.

Pure widgets: they hold and show text and report what the user did through signals. Asking the
model, streaming its tokens and opening files happen elsewhere (the main window wires these widgets
to background workers), always on the GUI thread's side of a signal.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMargins, Qt, QUrl, Signal, Slot
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from tera_desktop.core.prompts import Source
from tera_desktop.ui.chat_input import ASK_PLACEHOLDER, ChatInput
from tera_desktop.ui.chat_message import (
    EVIDENCE_CHARS,
    EVIDENCE_HIGHLIGHT,
    NO_MEMORY_NOTE,
    RENDER_INTERVAL_MS,
    ROLE_ASSISTANT,
    ROLE_NOTICE,
    ROLE_USER,
    ROLES,
    STOPPED_TEXT,
    MessageView,
)
from tera_desktop.ui.chat_sources import CHIP_CHARS, source_chip_text, source_name
from tera_desktop.ui.chat_style import assistant_background, chat_style_sheet, code_background
from tera_desktop.ui.empty_state import EmptyState
from tera_desktop.ui.safe_text import tooltip
from tera_desktop.ui.source_viewer import SourceViewer

__all__ = [  # the chat's widgets and names, importable from here as before they moved out
    "ASK_PLACEHOLDER",
    "CHIP_CHARS",
    "EVIDENCE_CHARS",
    "EVIDENCE_HIGHLIGHT",
    "NO_MEMORY_NOTE",
    "RENDER_INTERVAL_MS",
    "ROLES",
    "ROLE_ASSISTANT",
    "ROLE_NOTICE",
    "ROLE_USER",
    "STOPPED_TEXT",
    "ChatInput",
    "ChatPanel",
    "ChatView",
    "MessageView",
    "assistant_background",
    "chat_style_sheet",
    "code_background",
    "source_chip_text",
    "source_name",
]


class ChatView(QScrollArea):
    """The conversation: messages stacked top to bottom, following the newest text unless the user
    has scrolled up to read something."""

    open_source_requested = Signal(str)
    source_selected = Signal(object)  # a Source to show in the viewer
    source_closed = Signal()  # the source shown is no longer selected
    link_activated = Signal(QUrl)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatView")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._messages: list[MessageView] = []
        self._follow = True
        self._style_key = ""

        self._page = QWidget()
        self._page.setObjectName("chatPage")
        self._layout = QVBoxLayout(self._page)
        self._layout.setContentsMargins(16, 14, 16, 14)
        self._layout.setSpacing(10)
        self._hint = EmptyState(self._page)  # what to do first, while nothing is asked
        self._layout.addStretch(1)
        self._layout.addWidget(self._hint, 0, Qt.AlignmentFlag.AlignHCenter)
        self._layout.addStretch(2)
        self.setWidget(self._page)

        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_scroll_range_changed)
        self._apply_style()

    @property
    def empty_hint(self) -> EmptyState:
        return self._hint

    def messages(self) -> list[MessageView]:
        return list(self._messages)

    def add_message(self, role: str, text: str = "") -> MessageView:
        """Append a message and follow it to the bottom. An assistant message without text is an
        answer about to stream: feed it with ``append_text()`` and close it with ``finish()``."""
        view = MessageView(role, text, self._page)
        view.open_source_requested.connect(self._on_open_source_requested)
        view.source_toggled.connect(self._on_source_toggled)
        view.link_activated.connect(self._on_link_activated)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        if role == ROLE_USER:
            row.addStretch(1)
            row.addWidget(view, 6)
        elif role == ROLE_ASSISTANT:
            row.addWidget(view, 6)
            row.addStretch(1)
        else:
            row.addWidget(view)
        self._layout.insertLayout(self._layout.count() - 1, row)
        self._messages.append(view)
        self._hint.hide()
        self._layout.setStretch(0, 0)
        self._follow = True
        self.scroll_to_bottom()
        return view

    def selected_source(self) -> Source | None:
        """The source shown in the viewer (its chip is checked), if any."""
        return next((s for m in self._messages if (s := m.selected_source()) is not None), None)

    def clear_source_selection(self) -> None:
        """Uncheck every source chip (the viewer was closed)."""
        for view in self._messages:
            view.select_source(None)

    def clear(self) -> None:
        """Remove every message and show the empty-state hint again."""
        if self.selected_source() is not None:
            self.source_closed.emit()
        for view in self._messages:
            view.hide()
            view.deleteLater()
        while self._layout.count() > 3:  # rows sit between the hint and the last stretch
            item = self._layout.takeAt(2)
            row = item.layout() if item is not None else None
            if row is not None:
                row.deleteLater()
        self._messages = []
        self._layout.setStretch(0, 1)
        self._hint.show()
        self._follow = True

    def scroll_to_bottom(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_style()

    def _apply_style(self) -> None:
        # the application's palette: a widget with a style sheet keeps its own copy of the old one
        palette = QApplication.palette()
        sheet = chat_style_sheet(palette)
        if sheet != self._style_key:  # setting a style sheet changes palettes: avoid a loop
            self._style_key = sheet
            self.setStyleSheet(sheet)
            for view in self._messages:  # code blocks follow the theme too
                view.set_code_background(code_background(palette))

    @Slot(int)
    def _on_scrolled(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = value >= bar.maximum() - 8

    @Slot(int, int)
    def _on_scroll_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    @Slot(str)
    def _on_open_source_requested(self, path: str) -> None:
        self.open_source_requested.emit(path)

    @Slot(object, bool)
    def _on_source_toggled(self, source: Source, selected: bool) -> None:
        if not selected:
            self.source_closed.emit()
            return
        sender = self.sender()
        for view in self._messages:  # one source at a time, across the conversation
            if view is not sender:
                view.select_source(None)
        self.source_selected.emit(source)

    @Slot(QUrl)
    def _on_link_activated(self, url: QUrl) -> None:
        self.link_activated.emit(url)


class ChatPanel(QWidget):
    """The chat pane: the conversation, the question box and a Send button that becomes Stop while
    an answer is being written; beside them, shown when a source chip is clicked, the source
    viewer."""

    question_asked = Signal(str)
    stop_requested = Signal()
    open_source_requested = Signal(str)
    link_activated = Signal(QUrl)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatPanel")
        self._busy = False
        self._ask_enabled = True
        self._ask_reason = ""

        self._splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self._splitter.setObjectName("chatSplitter")
        self._splitter.setChildrenCollapsible(False)
        column = QWidget(self._splitter)
        column.setObjectName("chatColumn")
        self._viewer = SourceViewer(self._splitter)
        self._viewer.hide()
        self._viewer.open_requested.connect(self._on_open_source_requested)
        self._viewer.closed.connect(self._on_viewer_closed)
        self._splitter.addWidget(column)
        self._splitter.addWidget(self._viewer)
        self._splitter.setStretchFactor(0, 3)
        self._splitter.setStretchFactor(1, 2)

        self._view = ChatView(column)
        self._view.open_source_requested.connect(self._on_open_source_requested)
        self._view.source_selected.connect(self._on_source_selected)
        self._view.source_closed.connect(self._on_source_closed)
        self._view.link_activated.connect(self._on_link_activated)
        self._input = ChatInput(self)
        self._input.send_requested.connect(self._on_send_requested)
        self._input.stop_requested.connect(self._on_stop_key)
        self._send = QPushButton("Send", self)
        self._send.setObjectName("sendButton")
        self._send.setDefault(False)
        self._send.setAutoDefault(False)
        self._send.clicked.connect(self._on_send_clicked)

        bottom = QHBoxLayout()
        bottom.setContentsMargins(12, 8, 12, 12)
        bottom.setSpacing(8)
        bottom.addWidget(self._input, 1)
        bottom.addWidget(self._send, 0, Qt.AlignmentFlag.AlignBottom)
        separator = QFrame(column)
        separator.setFrameShape(QFrame.Shape.HLine)
        separator.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QVBoxLayout(column)
        layout.setContentsMargins(QMargins())
        layout.setSpacing(0)
        layout.addWidget(self._view, 1)
        layout.addWidget(separator)
        layout.addLayout(bottom)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(QMargins())
        outer.addWidget(self._splitter)
        self.setFocusProxy(self._input)
        self._sync()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # the chat view has a style sheet, so Qt stops palette changes before it: pass them on
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._view._apply_style()

    @property
    def chat_view(self) -> ChatView:
        return self._view

    @property
    def input(self) -> ChatInput:
        return self._input

    @property
    def source_viewer(self) -> SourceViewer:
        return self._viewer

    def show_source(self, source: Source) -> None:
        """Show ``source`` in the viewer beside the chat (giving the viewer room the first time)."""
        opening = not self._viewer.isVisible()
        self._viewer.show_source(source)
        if opening:
            total = sum(self._splitter.sizes()) or self._splitter.width()
            width = max(self._viewer.minimumWidth(), min(480, int(total * 0.42)))
            self._splitter.setSizes([max(total - width, 1), width])

    @property
    def send_button(self) -> QPushButton:
        return self._send

    @property
    def busy(self) -> bool:
        return self._busy

    def set_busy(self, busy: bool) -> None:
        """While busy the button is Stop, and Enter keeps the text instead of asking again."""
        self._busy = busy
        self._sync()

    def set_ask_enabled(self, enabled: bool, reason: str = "") -> None:
        """Allow or forbid asking; when forbidden, ``reason`` is shown in the question box."""
        self._ask_enabled = enabled
        self._ask_reason = "" if enabled else reason
        self._sync()

    def _sync(self) -> None:
        self._input.setEnabled(self._ask_enabled)
        self._input.set_send_enabled(self._ask_enabled and not self._busy)
        self._input.setPlaceholderText(self._ask_reason or ASK_PLACEHOLDER)
        self._input.setToolTip(tooltip(self._ask_reason))
        if self._busy:
            self._send.setText("Stop")
            self._send.setToolTip("Stop the answer (Esc)")
            self._send.setEnabled(True)
        else:
            self._send.setText("Send")
            self._send.setToolTip(
                tooltip(self._ask_reason) or "Ask (Enter) · new line: Shift+Enter"
            )
            self._send.setEnabled(self._ask_enabled)

    @Slot()
    def _on_send_clicked(self) -> None:
        if self._busy:
            self.stop_requested.emit()
        else:
            self._input.submit()
            self._input.setFocus()

    @Slot(str)
    def _on_send_requested(self, text: str) -> None:
        if self._ask_enabled and not self._busy:
            self.question_asked.emit(text)

    @Slot()
    def _on_stop_key(self) -> None:
        if self._busy:
            self.stop_requested.emit()

    @Slot(str)
    def _on_open_source_requested(self, path: str) -> None:
        self.open_source_requested.emit(path)

    @Slot(object)
    def _on_source_selected(self, source: Source) -> None:
        self.show_source(source)

    @Slot()
    def _on_source_closed(self) -> None:
        self._viewer.hide()

    @Slot()
    def _on_viewer_closed(self) -> None:
        self._view.clear_source_selection()

    @Slot(QUrl)
    def _on_link_activated(self, url: QUrl) -> None:
        self.link_activated.emit(url)


__all__ = [
    "NO_MEMORY_NOTE",
    "ROLE_ASSISTANT",
    "ROLE_NOTICE",
    "ROLE_USER",
    "ChatInput",
    "ChatPanel",
    "ChatView",
    "MessageView",
    "chat_style_sheet",
    "source_chip_text",
    "source_name",
]
