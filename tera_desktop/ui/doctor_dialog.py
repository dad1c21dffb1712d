"""Help → Check Installation…: the ``tera doctor`` report in a read-only text view, with Copy.

The checks (core/doctor.py) run in a ``Worker``: each finished check is appended as it arrives,
so the window stays responsive while models load. Given the app's ``Engine``, the checks reuse
what it has open (the memory, loaded models) instead of opening them a second time. Closing the
dialog while checks run cancels the rest (between checks) and the dialog closes once its worker
has ended.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tera_desktop.core import doctor
from tera_desktop.core.paths import Paths
from tera_desktop.ui.error_text import window_fix
from tera_desktop.workers.base import Worker, WorkerManager

if TYPE_CHECKING:
    from tera_desktop.core.engine import Engine


class DoctorDialog(QDialog):
    """Runs the installation checks on open; ``report_text()`` is what Copy puts on the
    clipboard (the same text ``tera doctor`` prints)."""

    def __init__(
        self,
        paths: Paths,
        workers: WorkerManager,
        engine: Engine | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._paths = paths
        self._workers = workers
        self._engine = engine
        self._worker: Worker | None = None
        self._checks: list[doctor.Check] = []
        self._error = ""
        self._closing = False
        self._pending_result: int | None = None

        self.setWindowTitle("Check installation")
        self.resize(760, 520)

        self.status_label = QLabel("Checking…")
        self.status_label.setObjectName("statusLabel")
        self.status_label.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setObjectName("reportText")
        self.text.setAccessibleName("Installation report")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.copy_button = QPushButton("Copy")
        self.copy_button.setObjectName("copyButton")
        self.copy_button.setToolTip("Copy the report, e.g. for a bug report.")
        self.rerun_button = QPushButton("Check again")
        self.rerun_button.setObjectName("rerunButton")
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("closeButton")
        self.close_button.setDefault(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.rerun_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)

        self.copy_button.clicked.connect(self._on_copy_clicked)
        self.rerun_button.clicked.connect(self._on_rerun_clicked)
        self.close_button.clicked.connect(self.reject)
        self.start()

    # ---- public --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._worker is not None

    def checks(self) -> list[doctor.Check]:
        return list(self._checks)

    def report_text(self) -> str:
        """The report so far, as plain text (complete once ``busy`` is False)."""
        text = doctor.format_report(self._checks) if not self.busy else self._partial_text()
        return text + (f"\nThe checks stopped: {self._error}\n" if self._error else "")

    def start(self) -> None:
        """(Re)run every check in the background."""
        if self._worker is not None:
            return
        self._checks = []
        self._error = ""
        self.text.setPlainText(doctor.header() + "\n")
        self.status_label.setText("Checking… (loading the models takes a few seconds)")
        paths, engine = self._paths, self._engine

        def work(cancel: threading.Event) -> Iterator[doctor.Check]:
            yield from doctor.run_checks(paths, engine=engine)

        worker = Worker(work, name="doctor")
        worker.yielded.connect(self._on_check_done)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self._refresh()
        self._workers.start(worker)

    # ---- closing -------------------------------------------------------------------------------
    def done(self, result: int) -> None:
        """Close; while checks run, cancel the rest and close once the worker has ended."""
        if self._worker is None:
            super().done(result)
            return
        self._closing = True
        self._pending_result = result
        self._worker.cancel()
        self.status_label.setText("Stopping the checks…")
        self._refresh()

    # ---- slots ---------------------------------------------------------------------------------
    @Slot(object)
    def _on_check_done(self, check: doctor.Check) -> None:
        check = replace(check, fix=window_fix(check.fix, check.action))  # no CLI command here
        self._checks.append(check)
        if not self._closing:
            self.text.appendPlainText(doctor.format_check(check))

    @Slot(object)
    def _on_errored(self, exc: object) -> None:
        self._error = str(exc) or repr(exc)

    @Slot()
    def _on_finished(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.join(10)  # it has emitted its last signal: its thread is ending now
        result, self._pending_result = self._pending_result, None
        if result is not None:
            super().done(result)
            return
        self.text.setPlainText(self.report_text())
        if self._error:
            self.status_label.setText(f"The checks stopped: {self._error}")
        else:
            self.status_label.setText(doctor.summary(self._checks))
        self._refresh()

    @Slot()
    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.report_text())
        self.status_label.setText("Copied the report to the clipboard.")

    @Slot()
    def _on_rerun_clicked(self) -> None:
        self.start()

    # ---- helpers -------------------------------------------------------------------------------
    def _partial_text(self) -> str:
        return "\n".join([doctor.header(), *(doctor.format_check(c) for c in self._checks)]) + "\n"

    def _refresh(self) -> None:
        busy = self._worker is not None
        self.copy_button.setEnabled(not busy)
        self.rerun_button.setEnabled(not busy)
        self.close_button.setEnabled(not self._closing)
