"""The window's status bar: the one place messages reach the user (``say``), who answers (the
language model's state) and how much is remembered, and a Set Up Models… button beside an error
whose action is getting a model (never a terminal command)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtWidgets import QLabel, QPushButton, QStatusBar

from tera_desktop.core.units import plural
from tera_desktop.ui.model_status import model_status
from tera_desktop.ui.safe_text import plain_label, show_status, tooltip

log = logging.getLogger("tera.ui")
ERROR_COLOUR = "#c0392b"


class StatusArea:
    def __init__(self, bar: QStatusBar, on_setup: Callable[[], None]) -> None:
        self.bar = bar
        self.model_label = plain_label("Language model: not loaded")  # holds a model's name
        self.model_label.setObjectName("modelStatus")
        self.count_label = QLabel("")
        self.count_label.setObjectName("memoryCount")
        self.setup_button = QPushButton("Set Up Models…")
        self.setup_button.setObjectName("statusSetupButton")
        self.setup_button.setAccessibleName("Open the model setup")
        self.setup_button.hide()
        self.setup_button.clicked.connect(self._on_setup_clicked)
        self._on_setup = on_setup
        bar.addPermanentWidget(self.setup_button)  # a message hides plain widgets, not these
        bar.addPermanentWidget(self.model_label)
        bar.addPermanentWidget(self.count_label)

    def say(self, message: str, *, error: bool = False, timeout_ms: int = 8000) -> None:
        """Show (and log) a message; an error stays until the next message."""
        (log.warning if error else log.info)("%s", message)
        self.bar.setStyleSheet(f"color: {ERROR_COLOUR};" if error else "")
        self.setup_button.hide()  # it belongs to the message it came with
        show_status(self.bar, message, 0 if error else timeout_ms)

    def offer_setup(self) -> None:
        self.setup_button.show()

    def _on_setup_clicked(self) -> None:
        self.setup_button.hide()
        self._on_setup()

    def show_model(self, state: str, detail: str, server: str) -> None:
        text, tip = model_status(state, detail, server)
        self.model_label.setText(text)
        self.model_label.setToolTip(tooltip(tip))

    def show_count(self, count: int) -> None:
        self.count_label.setText(plural(count, "memory", "memories"))
