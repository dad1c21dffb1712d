"""The chat pane: the question box, the list of messages, and one message with its sources.

Pure widgets: they hold and show text and report what the user did through signals. Asking the
model, streaming its tokens and opening files happen elsewhere (the main window wires these widgets
to background workers), always on the GUI thread's side of a signal.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from string import Template

from PySide6.QtCore import QEvent, QMargins, QPoint, QRect, QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QColor, QContextMenuEvent, QKeyEvent, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tera_desktop.core.assistant import Source
from tera_desktop.core.ingest.formats.audio import format_time
from tera_desktop.core.store import KIND_DOCUMENT
from tera_desktop.ui.empty_state import EmptyState
from tera_desktop.ui.markdown import SafeTextBrowser
from tera_desktop.ui.safe_text import clip, one_line, tooltip
from tera_desktop.ui.source_viewer import SourceViewer

ROLE_USER = "user"
ROLE_ASSISTANT = "assistant"
ROLE_NOTICE = "notice"
ROLES = (ROLE_USER, ROLE_ASSISTANT, ROLE_NOTICE)

ASK_PLACEHOLDER = "Ask Tera…"
NO_MEMORY_NOTE = "No memory matched this question."
STOPPED_TEXT = "Stopped"
RENDER_INTERVAL_MS = 40  # while streaming, Markdown is re-rendered at most this often
_MAX_INPUT_LINES = 6
_ROLE_NAMES = {ROLE_USER: "You", ROLE_ASSISTANT: "Tera", ROLE_NOTICE: ""}
_ACCESSIBLE_TEXT = {
    ROLE_USER: "Your question",
    ROLE_ASSISTANT: "Tera's answer",
    ROLE_NOTICE: "Notice",
}


EVIDENCE_HIGHLIGHT = "rgba(255, 214, 0, 0.28)"
EVIDENCE_CHARS = 400


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
        return f"{name} {format_time(source.start_s)}"
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


_STYLE = Template("""
QWidget#chatPage { background: $page; }
QFrame#message { border-radius: 10px; }
QFrame#message[role="user"] { background: $user; border: 1px solid $user_border; }
QFrame#message[role="assistant"] { background: $assistant; border: 1px solid $border; }
QFrame#message[role="notice"] { background: transparent; border: none; }
QTextBrowser#messageText { background: transparent; border: none; }
QLabel#roleLabel { color: $muted; font-weight: 600; }
QLabel#stoppedMarker { color: $muted; font-style: italic; }
QLabel#noMemoryNote { color: $muted; font-style: italic; }
QLabel#evidence { color: $text; }
QLabel#readingProgress { color: $muted; font-style: italic; }
QLabel#checkNote { color: $muted; font-style: italic; }
QLabel#messageError { color: $error; }
QLabel#emptyHint { color: $muted; }
QToolButton#copyButton {
    border: none; color: $muted; padding: 1px 4px; background: transparent;
}
QToolButton#copyButton:hover { color: $text; }
QToolButton#sourceChip {
    border: 1px solid $border; border-radius: 10px; padding: 2px 9px; background: $chip;
}
QToolButton#sourceChip:hover { background: $chip_hover; }
QToolButton#sourceChip:checked { background: $chip_checked; border-color: $highlight; }
""")


def _mix(a: QColor, b: QColor, amount: float) -> QColor:
    """``a`` moved ``amount`` (0..1) of the way towards ``b``."""
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * amount,
        a.greenF() + (b.greenF() - a.greenF()) * amount,
        a.blueF() + (b.blueF() - a.blueF()) * amount,
    )


def _is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def assistant_background(palette: QPalette) -> QColor:
    """The background of an answer's bubble."""
    base = palette.color(QPalette.ColorRole.Base)
    return _mix(base, palette.color(QPalette.ColorRole.Window), 0.6)


def code_background(palette: QPalette) -> QColor:
    """The background of code in an answer: a shade off the bubble, lighter or darker by theme."""
    return _mix(assistant_background(palette), palette.color(QPalette.ColorRole.Text), 0.09)


def chat_style_sheet(palette: QPalette) -> str:
    """The chat pane's style, derived from ``palette`` so light and dark themes both work."""
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    highlight = palette.color(QPalette.ColorRole.Highlight)
    muted = _mix(text, base, 0.45)
    border = _mix(base, text, 0.16)
    error = QColor("#ff8a80") if _is_dark(palette) else QColor("#b3261e")
    colors = {
        "page": base.name(),
        "user": _mix(base, highlight, 0.16).name(),
        "user_border": _mix(base, highlight, 0.35).name(),
        "assistant": assistant_background(palette).name(),
        "border": border.name(),
        "chip": _mix(base, text, 0.05).name(),
        "chip_hover": _mix(base, highlight, 0.12).name(),
        "chip_checked": _mix(base, highlight, 0.25).name(),
        "highlight": highlight.name(),
        "muted": muted.name(),
        "text": text.name(),
        "error": error.name(),
    }
    return _STYLE.substitute(colors)


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
            if x + hint.width() > area.right() + 1 and row_height > 0:
                x, y = area.x(), y + row_height + self._gap
                row_height = 0
            if apply:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._gap
            row_height = max(row_height, hint.height())
        margins = self.contentsMargins()
        return y + row_height - rect.y() + margins.bottom()


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
        self.setText(source_chip_text(source).replace("&", "&&"))  # "&" is not a mnemonic
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


class MessageView(QFrame):
    """One message: a question, an answer (streamed, Markdown, with its sources) or a notice."""

    open_source_requested = Signal(str)
    source_toggled = Signal(object, bool)  # a Source chosen (True) or put away (False)
    link_activated = Signal(QUrl)

    def __init__(
        self, role: str = ROLE_ASSISTANT, text: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        if role not in ROLES:
            raise ValueError(f"unknown message role {role!r}; expected one of {ROLES}")
        self.role = role
        self._parts: list[str] = []
        self._text_cache: str | None = ""
        self._finished = False
        self._stopped = False
        self._sources: list[Source] = []
        self._chips: list[_SourceChip] = []
        self.setObjectName("message")
        self.setProperty("role", role)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)

        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self._on_render_due)
        self._copied_timer = QTimer(self)
        self._copied_timer.setSingleShot(True)
        self._copied_timer.setInterval(1500)
        self._copied_timer.timeout.connect(self._on_copied_feedback_done)

        self._role_label = QLabel(_ROLE_NAMES[role], self)
        self._role_label.setObjectName("roleLabel")
        self._copy = QToolButton(self)
        self._copy.setObjectName("copyButton")
        self._copy.setText("Copy")
        self._copy.setToolTip("Copy this message")
        self._copy.setCursor(Qt.CursorShape.PointingHandCursor)
        self._copy.clicked.connect(self._on_copy_clicked)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self._role_label)
        header.addStretch(1)
        header.addWidget(self._copy)

        self._browser = SafeTextBrowser(self)
        self._browser.setObjectName("messageText")
        self._browser.setAccessibleName(_ACCESSIBLE_TEXT[role])
        self._browser.link_activated.connect(self._on_link_activated)
        self._browser.set_code_background(code_background(QApplication.palette()))

        self._stopped_marker = QLabel(f"■ {STOPPED_TEXT}", self)
        self._stopped_marker.setObjectName("stoppedMarker")
        self._stopped_marker.setToolTip("You stopped this answer")
        self._error = QLabel(self)
        self._error.setObjectName("messageError")
        self._error.setTextFormat(Qt.TextFormat.PlainText)
        self._error.setWordWrap(True)
        self._error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._no_memory = QLabel(NO_MEMORY_NOTE, self)
        self._no_memory.setObjectName("noMemoryNote")
        self._evidence = QLabel(self)  # the best sentence of each source, before the answer
        self._evidence.setObjectName("evidence")
        self._evidence.setTextFormat(Qt.TextFormat.RichText)  # built from escaped text only
        self._evidence.setWordWrap(True)
        self._evidence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._evidence.setAccessibleName("Evidence from your memory")
        self._progress = QLabel(self)
        self._progress.setObjectName("readingProgress")
        self._progress.setTextFormat(Qt.TextFormat.PlainText)
        self._checks = QLabel(self)
        self._checks.setObjectName("checkNote")
        self._checks.setTextFormat(Qt.TextFormat.PlainText)
        self._checks.setWordWrap(True)

        self._chips_box = QWidget(self)
        self._chips_box.setObjectName("sourceChips")
        self._chips_layout = _FlowLayout(self._chips_box, spacing=6)

        layout = QVBoxLayout(self)
        if role == ROLE_NOTICE:
            layout.setContentsMargins(12, 2, 12, 2)
        else:
            layout.setContentsMargins(12, 8, 12, 10)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self._evidence)
        layout.addWidget(self._progress)
        layout.addWidget(self._browser)
        layout.addWidget(self._checks)
        layout.addWidget(self._stopped_marker)
        layout.addWidget(self._error)
        layout.addWidget(self._no_memory)
        layout.addWidget(self._chips_box)
        for hidden in (
            self._evidence,
            self._progress,
            self._checks,
            self._stopped_marker,
            self._error,
            self._no_memory,
            self._chips_box,
        ):
            hidden.hide()

        if role == ROLE_NOTICE:
            self._role_label.hide()
            self._copy.hide()
        if role == ROLE_ASSISTANT and not text:
            self._browser.setPlaceholderText("Thinking…")
        else:
            self.set_text(text)
            self.finish()

    # -- text ----------------------------------------------------------------------------------

    def set_code_background(self, color: QColor) -> None:
        self._browser.set_code_background(color)

    def text(self) -> str:
        """The message exactly as written (Markdown source for answers)."""
        if self._text_cache is None:
            self._text_cache = "".join(self._parts)
            self._parts = [self._text_cache] if self._text_cache else []
        return self._text_cache

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def text_browser(self) -> SafeTextBrowser:
        return self._browser

    def append_text(self, piece: str) -> None:
        """Add a streamed piece. Cheap: the view is re-rendered at most every
        ``RENDER_INTERVAL_MS``; ``finish()`` renders the exact final text."""
        if not piece:
            return
        self._parts.append(piece)
        self._text_cache = None
        if not self._render_timer.isActive():
            self._render_timer.start()

    def set_text(self, text: str) -> None:
        """Replace the whole text and show it now."""
        self._parts = [text] if text else []
        self._text_cache = text
        self._render_timer.stop()
        self._render()

    def finish(self, stopped: bool = False) -> None:
        """The answer is complete (or was stopped): render the final text."""
        self._finished = True
        self._stopped = self._stopped or stopped
        self._render_timer.stop()
        self._browser.setPlaceholderText("")
        self._render()
        self._stopped_marker.setVisible(self._stopped)

    def show_error(self, message: str) -> None:
        """Show what went wrong under whatever was already written; the message is then final."""
        self._error.setText(message)
        self._error.show()
        self.finish()

    # -- evidence, progress, checks ----------------------------------------------------------------

    @property
    def evidence_label(self) -> QLabel:
        return self._evidence

    @property
    def progress_label(self) -> QLabel:
        return self._progress

    @property
    def checks_label(self) -> QLabel:
        return self._checks

    def set_evidence(self, sources: Sequence[Source]) -> None:
        """Show, at once, the sentence(s) of each source that best match the question."""
        rows = []
        for source in sources:
            sentence = " ".join(source.evidence) or source.text
            label = html.escape(_evidence_name(source))
            rows.append(
                f"<b>[{source.number}]</b> <span style='color:gray'>{label}</span> "
                f"<span style='background-color:{EVIDENCE_HIGHLIGHT}'>"
                f"{html.escape(clip(' '.join(sentence.split()), EVIDENCE_CHARS))}</span>"
            )
        self._evidence.setText("<br>".join(rows))
        self._evidence.setVisible(bool(rows))

    def set_progress(self, text: str) -> None:
        """A short status above the answer ("Reading 4 sources… 40%"); "" hides it."""
        self._progress.setText(text)
        self._progress.setVisible(bool(text))

    def set_checks(self, unsupported: Sequence[str], removed: Sequence[int] = ()) -> None:
        """Say what the answer checks found: claims found in no source, dropped citations."""
        notes = []
        if unsupported:
            notes.append("Not found in memory: " + ", ".join(one_line(u, 60) for u in unsupported))
        if removed:
            notes.append(
                "Removed citations to sources that do not exist: "
                + ", ".join(f"[{n}]" for n in removed)
            )
        self._checks.setText("\n".join(notes))
        self._checks.setVisible(bool(notes))

    # -- sources -------------------------------------------------------------------------------

    def sources(self) -> list[Source]:
        return list(self._sources)

    def source_chips(self) -> list[_SourceChip]:
        return list(self._chips)

    def selected_source(self) -> Source | None:
        """The source whose chip is checked (shown in the viewer), if any."""
        return next((c.source for c in self._chips if c.isChecked()), None)

    def select_source(self, number: int | None) -> None:
        """Check the chip of source ``number`` (None: none), without emitting anything."""
        for chip in self._chips:
            chip.setChecked(chip.source.number == number)

    def set_sources(self, sources: Sequence[Source], no_memory: bool = False) -> None:
        """Show the numbered memories the answer was given, as chips in rank order: by their
        numbers, which the session gives by rank and the answer cites. With no sources and
        ``no_memory`` set, say plainly that nothing in memory matched. A source shown in the
        viewer stays selected when it is still among them, else the viewer is told to close."""
        selected = self.selected_source()
        for chip in self._chips:
            self._chips_layout.removeWidget(chip)
            chip.deleteLater()
        self._chips = []
        self._sources = list(sources)
        for source in sorted(self._sources, key=lambda s: s.number):
            chip = _SourceChip(source, self._chips_box)
            chip.chosen.connect(self._on_chip_chosen)
            chip.open_requested.connect(self._on_open_source_requested)
            self._chips_layout.addWidget(chip)
            self._chips.append(chip)
        self._chips_box.setVisible(bool(self._chips))
        self._no_memory.setVisible(not self._sources and no_memory)
        self.updateGeometry()
        if selected is not None:
            key = (selected.number, selected.id)
            same = next((c for c in self._chips if (c.source.number, c.source.id) == key), None)
            if same is None:
                self.source_toggled.emit(selected, False)
            else:
                same.setChecked(True)
                if same.source != selected:  # e.g. other evidence sentences: show the new ones
                    self.source_toggled.emit(same.source, True)

    # -- internals -----------------------------------------------------------------------------

    def _render(self) -> None:
        text = self.text()
        if self.role == ROLE_ASSISTANT:
            self._browser.set_markdown(text)
        else:
            self._browser.set_plain_text(text)
            if self.role == ROLE_NOTICE:
                document = self._browser.document()
                option = document.defaultTextOption()
                option.setAlignment(Qt.AlignmentFlag.AlignHCenter)
                document.setDefaultTextOption(option)
        self._browser.setVisible(bool(text) or not self._finished)
        self._copy.setEnabled(bool(text))

    @Slot()
    def _on_render_due(self) -> None:
        self._render()

    @Slot()
    def _on_copy_clicked(self) -> None:
        QApplication.clipboard().setText(self.text())
        self._copy.setText("Copied")
        self._copied_timer.start()

    @Slot()
    def _on_copied_feedback_done(self) -> None:
        self._copy.setText("Copy")

    @Slot(object, bool)
    def _on_chip_chosen(self, source: Source, checked: bool) -> None:
        for chip in self._chips:  # one source at a time
            if chip.source is not source:
                chip.setChecked(False)
        self.source_toggled.emit(source, checked)

    @Slot(str)
    def _on_open_source_requested(self, path: str) -> None:
        self.open_source_requested.emit(path)

    @Slot(QUrl)
    def _on_link_activated(self, url: QUrl) -> None:
        self.link_activated.emit(url)


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
