"""The compact panel that shows files being added to memory: hidden when nothing runs, one line
and a thin progress bar with Stop while work runs, a one-line summary after ("3 files added,
1 failed · Details"), and the per-file log one click away (``IngestLogDialog``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tera_desktop.core.ingest import (
    ADDED,
    FAILED,
    REMOVED,
    SKIPPED,
    UNCHANGED,
    UPDATED,
    FileResult,
)
from tera_desktop.core.units import plural
from tera_desktop.ui.error_text import with_action
from tera_desktop.ui.safe_text import one_line, set_plain, tooltip

LOG_LIMIT = 2000
"""File results kept for the log (the oldest runs go first); the counts are always complete."""

ERROR_RED = "#c0392b"
ERROR_RED_DARK = "#ff6b5e"

IDLE, RUNNING, STOPPING, DONE = "idle", "running", "stopping", "done"

# the order the summary names them in
_SUMMARY_ORDER = (ADDED, UPDATED, REMOVED, FAILED, SKIPPED, UNCHANGED)
# the log lists failures, then skipped files, then the rest (each in the order they came)
_LOG_RANK = {FAILED: 0, SKIPPED: 1}


def error_color(palette: QPalette) -> QColor:
    """A red that reads on the palette's background (light or dark)."""
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    return QColor(ERROR_RED_DARK if dark else ERROR_RED)


def reason_text(result: FileResult) -> str:
    """A file's reason in the window's words: what to do is a menu item, never a command."""
    return with_action(result.reason, result.action, result.hint) if result.reason else ""


def describe(result: FileResult) -> str:
    """One line of the per-file log: "✓ a.md: added (3 chunks)", "✗ b.pdf: <reason>"."""
    name = Path(result.path).name or result.path
    said = reason_text(result)
    if result.status == FAILED:
        return one_line(f"✗ {name}: {said or 'failed'}")
    if result.status in (ADDED, UPDATED):
        note = f" — {said}" if said else ""
        return one_line(f"✓ {name}: {result.status} ({plural(result.chunks, 'chunk')}){note}")
    reason = f": {said}" if said else ""
    return one_line(f"– {name}: {result.status}{reason}")


def summarize(counts: Counter[str], *, stopped: bool = False) -> str:
    """What a run did, in one line: "38 files added, 2 failed", "Up to date: 40 files checked"."""
    parts: list[str] = []
    for status in _SUMMARY_ORDER:
        n = counts.get(status, 0)
        if n and status != UNCHANGED:
            parts.append(f"{plural(n, 'file') if not parts else f'{n:,}'} {status}")
    unchanged = counts.get(UNCHANGED, 0)
    if parts and unchanged:
        parts.append(f"{unchanged:,} unchanged")
    if parts:
        text = ", ".join(parts)
    elif unchanged:
        text = f"Up to date: {plural(unchanged, 'file')} checked"
    else:
        text = "No files added"
    return f"Stopped: {text[0].lower()}{text[1:]}" if stopped else text


@dataclass
class _Run:
    started: datetime
    counts: Counter[str] = field(default_factory=Counter)
    results: list[FileResult] = field(default_factory=list)
    dropped: int = 0  # results left out of the log (LOG_LIMIT)
    stopped: bool = False
    finished: bool = False

    def summary(self) -> str:
        return summarize(self.counts, stopped=self.stopped)


class IngestPanel(QFrame):
    """Progress, then the summary, of adding files; the per-file log behind "Details"."""

    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ingestPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("Adding files")
        self.state = IDLE
        self._runs: list[_Run] = []
        self._total = 0
        self._done = 0
        self._dialog: IngestLogDialog | None = None

        self.icon_label = QLabel()
        self.icon_label.setObjectName("ingestIcon")
        self.icon_label.hide()
        self.status_label = QLabel()
        self.status_label.setObjectName("ingestStatus")
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setWordWrap(True)
        self.status_label.setAccessibleName("Adding files status")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopIngestButton")
        self.stop_button.setAccessibleName("Stop adding files")
        self.stop_button.setToolTip("Stop after the file being read (files already added stay)")
        self.stop_button.clicked.connect(self._on_stop_clicked)
        self.details_button = QPushButton("Details")
        self.details_button.setObjectName("ingestDetailsButton")
        self.details_button.setAccessibleName("Show the list of files and what happened to each")
        self.details_button.setToolTip("Each file and what happened to it")
        self.details_button.clicked.connect(self.show_log)
        self.dismiss_button = QToolButton()
        self.dismiss_button.setObjectName("ingestDismissButton")
        self.dismiss_button.setText("✕")
        self.dismiss_button.setAutoRaise(True)
        self.dismiss_button.setAccessibleName("Dismiss")
        self.dismiss_button.setToolTip("Dismiss")
        self.dismiss_button.clicked.connect(self.dismiss)

        self.progress = QProgressBar()
        self.progress.setObjectName("ingestProgress")
        self.progress.setAccessibleName("Files added")
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(6)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        row.addWidget(self.icon_label, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.status_label, 1)
        row.addWidget(self.stop_button)
        row.addWidget(self.details_button)
        row.addWidget(self.dismiss_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        self.hide()

    # ---- the run ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Work starts (or the next queued work starts within the same run)."""
        if self.state not in (RUNNING, STOPPING):
            self._runs.insert(0, _Run(datetime.now().astimezone()))
            self._trim()
        self.state = RUNNING
        self._done = self._total = 0
        self.progress.setRange(0, 0)  # busy until the file count is known
        self.stop_button.setText("Stop")
        self.stop_button.setEnabled(True)
        self.stop_button.show()
        self.details_button.hide()
        self.dismiss_button.hide()
        self.icon_label.hide()
        self.progress.show()
        self._show_status("Looking for files…")
        self.show()
        self._refresh_dialog()

    def set_progress(self, done: int, total: int) -> None:
        if self.state not in (RUNNING, STOPPING):
            return
        self._done, self._total = done, total
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        if self.state == RUNNING:
            self._show_status(self.progress_text())

    def progress_text(self) -> str:
        if not self._total:
            return "Looking for files…"
        return f"Adding {min(self._done + 1, self._total):,} of {plural(self._total, 'file')}…"

    def add_result(self, result: FileResult) -> None:
        if not self._runs:
            self._runs.append(_Run(datetime.now().astimezone()))
        run = self._runs[0]
        run.counts[result.status] += 1
        run.results.append(result)
        self._trim()
        self._refresh_dialog()

    def finish(self) -> None:
        """The work ended (done, stopped or failed): collapse to the summary, or hide if there
        is nothing to report."""
        if self.state not in (RUNNING, STOPPING):
            return
        run = self._runs[0]
        run.stopped = self.state == STOPPING
        run.finished = True
        self.state = DONE
        self.progress.hide()
        self.stop_button.hide()
        if not run.counts and not run.stopped:
            self.dismiss()
            return
        problems = run.counts.get(FAILED, 0)
        icon = QStyle.StandardPixmap.SP_MessageBoxWarning if problems else None
        if icon is not None:
            size = self.fontMetrics().height()
            self.icon_label.setPixmap(self.style().standardIcon(icon).pixmap(size, size))
        self.icon_label.setVisible(icon is not None)
        self._show_status(run.summary())
        self.details_button.setVisible(bool(run.results))
        self.dismiss_button.show()
        self._refresh_dialog()

    @Slot()
    def dismiss(self) -> None:
        """Hide the summary (the log stays, for the next Details)."""
        if self.state in (RUNNING, STOPPING):
            return
        self.state = IDLE
        self.hide()

    @Slot()
    def _on_stop_clicked(self) -> None:
        """Say at once that the stop was heard: the file being read finishes first."""
        if self.state != RUNNING:
            return
        self.state = STOPPING
        self.stop_button.setText("Stopping…")
        self.stop_button.setEnabled(False)
        self._show_status("Stopping after the current file…")
        self.stop_requested.emit()

    # ---- what it shows ---------------------------------------------------------------------------
    def summary_text(self) -> str:
        return self.status_label.text()

    def last_summary(self) -> str:
        return self._runs[0].summary() if self._runs else ""

    def log_texts(self) -> list[str]:
        """Every logged file result as its log line, newest first."""
        return [describe(r) for run in self._runs for r in reversed(run.results)]

    @Slot()
    def show_log(self) -> IngestLogDialog:
        """Open (or raise) the per-file log."""
        if self._dialog is None:
            self._dialog = IngestLogDialog(self.window())
        self._dialog.show_runs(self._runs)
        self._dialog.show()
        self._dialog.raise_()
        self._dialog.activateWindow()
        return self._dialog

    def _show_status(self, text: str) -> None:
        set_plain(self.status_label, text)
        self.status_label.setToolTip(tooltip(text))

    def _refresh_dialog(self) -> None:
        if self._dialog is not None and self._dialog.isVisible():
            self._dialog.show_runs(self._runs)

    def _trim(self) -> None:
        total = sum(len(r.results) for r in self._runs)
        while total > LOG_LIMIT:
            oldest = self._runs[-1]
            if len(self._runs) > 1:
                total -= len(oldest.results)
                self._runs.pop()
            else:  # one huge run: keep its newest results
                cut = total - LOG_LIMIT
                del oldest.results[:cut]
                oldest.dropped += cut
                total -= cut


class IngestLogDialog(QDialog):
    """Each file of the recent runs and what happened to it, newest run first, its problems at
    the top; plain text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ingestLog")
        self.setWindowTitle("Files added to memory")
        self.setAccessibleName("Files added to memory")
        self.resize(560, 420)
        self.log_list = QListWidget()
        self.log_list.setObjectName("fileStatusList")
        self.log_list.setAccessibleName("Files and what happened to each")
        self.log_list.setWordWrap(True)
        self.log_list.setUniformItemSizes(False)
        self.log_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.log_list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setAccessibleName("Copy the list")
        self.copy_button.clicked.connect(self._on_copy_clicked)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setAccessibleName("Close")
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.log_list, 1)
        layout.addWidget(buttons)

    def show_runs(self, runs: list[_Run]) -> None:
        self.log_list.clear()
        red = QBrush(error_color(self.palette()))
        muted = QBrush(self.palette().color(QPalette.ColorRole.PlaceholderText))
        today = datetime.now().astimezone().date()
        for run in runs:
            when = run.started.strftime("%H:%M")
            if run.started.date() != today:
                when = f"{run.started.day} {run.started:%b} {when}"
            state = run.summary() if run.finished else "in progress"
            heading = QListWidgetItem(f"{when} · {state}")
            font = QFont(self.font())
            font.setBold(True)
            heading.setFont(font)
            heading.setFlags(Qt.ItemFlag.ItemIsEnabled)
            heading.setData(Qt.ItemDataRole.UserRole, "run")
            self.log_list.addItem(heading)
            if run.dropped:
                more = QListWidgetItem(f"({plural(run.dropped, 'earlier file')} not listed)")
                more.setForeground(muted)
                more.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.log_list.addItem(more)
            problems_first = sorted(run.results, key=lambda r: _LOG_RANK.get(r.status, 2))
            for result in problems_first:
                item = QListWidgetItem(describe(result))
                item.setToolTip(tooltip(f"{result.path}\n{reason_text(result) or result.status}"))
                item.setData(Qt.ItemDataRole.UserRole, result.status)
                if result.status == FAILED:
                    item.setForeground(red)
                elif result.status in (UNCHANGED, SKIPPED, REMOVED):
                    item.setForeground(muted)
                self.log_list.addItem(item)
        self.log_list.scrollToTop()

    def texts(self) -> list[str]:
        return [self.log_list.item(i).text() for i in range(self.log_list.count())]

    @Slot()
    def _on_copy_clicked(self) -> None:
        chosen = self.log_list.selectedItems()
        rows = chosen or [self.log_list.item(i) for i in range(self.log_list.count())]
        QGuiApplication.clipboard().setText("\n".join(r.text() for r in rows))
