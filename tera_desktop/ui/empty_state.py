"""What an empty chat shows: what Tera is and the three things to do first, each one click away;
while the memory opens, only a quiet "Opening your memory…"."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from tera_desktop.core.units import plural
from tera_desktop.ui.safe_text import WrappedLabel

STEPS = (
    (
        "remember",
        "Teach it a fact",
        "Type it in the Remember box on the left, for example “The gate code is 4512.”",
        "Remember a Fact",
    ),
    (
        "add_files",
        "Add your documents",
        "PDF, Word, Markdown, web pages, voice notes and scans. Drop them anywhere in this "
        "window, or press Ctrl+O.",
        "Add Files…",
    ),
    (
        "ask",
        "Ask in your own words",
        "Tera answers from what you gave it, shows the sources it used, and keeps the "
        "conversation so you can ask follow-ups.",
        "Ask a Question",
    ),
)


def _label(text: str, parent: QWidget, *, name: str = "", wrap: bool = True) -> QLabel:
    label = WrappedLabel(text, parent) if wrap else QLabel(parent)  # wrapped: never cut short
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    label.setWordWrap(wrap)
    if name:
        label.setObjectName(name)
    return label


OPENING_TEXT = "Opening your memory…"


class EmptyState(QWidget):
    """Shown while the conversation is empty. ``step_requested`` carries a step's key:
    "remember", "add_files" or "ask". Until the memory is open (``set_opening``; the first
    ``set_memory_count`` ends it) it shows "Opening your memory…" instead of the steps."""

    step_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        self.setAccessibleName("Getting started")
        self.setMaximumWidth(560)
        self.title = _label("Your private second memory", self, name="emptyTitle")
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setWeight(QFont.Weight.DemiBold)
        self.title.setFont(font)
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.subtitle = _label(
            "Everything you give Tera stays on this computer.", self, name="emptySubtitle"
        )
        self.subtitle.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.status = _label("", self, name="emptyStatus")
        self.status.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.status.hide()

        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(4)
        self.buttons: dict[str, QPushButton] = {}
        for row, (key, heading, detail, button_text) in enumerate(STEPS):
            number = _label(str(row + 1), self, name="emptyStepNumber", wrap=False)
            number.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            bold = QFont(number.font())
            bold.setWeight(QFont.Weight.Bold)
            bold.setPointSizeF(bold.pointSizeF() * 1.25)
            number.setFont(bold)
            head = _label(heading, self, name="emptyStepTitle")
            head_font = QFont(head.font())
            head_font.setWeight(QFont.Weight.DemiBold)
            head.setFont(head_font)
            text = _label(detail, self, name="emptyStepText")
            button = QPushButton(button_text, self)
            button.setAccessibleName(button_text.rstrip("…"))
            button.setAccessibleDescription(detail)
            button.setAutoDefault(False)
            button.clicked.connect(lambda _checked=False, k=key: self.step_requested.emit(k))
            self.buttons[key] = button
            base = row * 3
            grid.addWidget(number, base, 0, 2, 1)
            grid.addWidget(head, base, 1)
            grid.addWidget(button, base, 2, 2, 1, Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(text, base + 1, 1)
            grid.setRowMinimumHeight(base + 2, 14)
        grid.setColumnStretch(1, 1)

        self.welcome = QWidget(self)  # the title, the steps and the status, while open
        welcome = QVBoxLayout(self.welcome)
        welcome.setContentsMargins(0, 0, 0, 0)
        welcome.setSpacing(10)
        welcome.addWidget(self.title)
        welcome.addWidget(self.subtitle)
        welcome.addSpacing(18)
        welcome.addLayout(grid)
        welcome.addWidget(self.status)
        self.opening_label = _label(OPENING_TEXT, self, name="emptyOpening")
        self.opening_label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.opening_label.setEnabled(False)  # muted: a placeholder, nothing to act on
        self.opening_label.setWordWrap(False)  # one short line: never broken in two

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.setSpacing(10)
        layout.addWidget(self.welcome)
        layout.addWidget(self.opening_label)
        self._opening = False
        self.set_opening(True)

    @property
    def opening(self) -> bool:
        return self._opening

    def set_opening(self, opening: bool) -> None:
        """While the memory opens: "Opening your memory…", never the welcome steps (they would
        say there is nothing yet before Tera knows)."""
        self._opening = opening
        self.welcome.setHidden(opening)
        self.opening_label.setHidden(not opening)
        self.setAccessibleName("Opening your memory" if opening else "Getting started")

    def set_memory_count(self, count: int) -> None:
        """With memories stored, say so: asking is the next step. The memory is open by now."""
        self.set_opening(False)
        if count > 0:
            self.status.setText(f"Tera holds {plural(count, 'memory', 'memories')}. Ask away.")
            self.status.show()
        else:
            self.status.hide()
