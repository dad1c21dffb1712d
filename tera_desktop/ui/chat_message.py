"""One message of the chat: a question, an answer (streamed, Markdown, with its sources and
evidence) or a notice."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tera_desktop.core.prompts import Source
from tera_desktop.ui.chat_sources import (
    _evidence_name,
    _FlowLayout,
    _SourceChip,
)
from tera_desktop.ui.chat_style import code_background
from tera_desktop.ui.markdown import SafeTextBrowser
from tera_desktop.ui.safe_text import clip, one_line

ROLE_USER = "user"
ROLE_ASSISTANT = "assistant"
ROLE_NOTICE = "notice"
ROLES = (ROLE_USER, ROLE_ASSISTANT, ROLE_NOTICE)

NO_MEMORY_NOTE = "No memory matched this question."
STOPPED_TEXT = "Stopped"
RENDER_INTERVAL_MS = 40  # while streaming, Markdown is re-rendered at most this often
_ROLE_NAMES = {ROLE_USER: "You", ROLE_ASSISTANT: "Tera", ROLE_NOTICE: ""}
_ACCESSIBLE_TEXT = {
    ROLE_USER: "Your question",
    ROLE_ASSISTANT: "Tera's answer",
    ROLE_NOTICE: "Notice",
}


EVIDENCE_HIGHLIGHT = "rgba(255, 214, 0, 0.28)"
EVIDENCE_CHARS = 400


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
        for source in sorted(sources, key=lambda s: s.number):  # rank order, as the chips
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
