"""The first-run setup: what Tera is, where its data lives, and the models it needs.

One dialog for every missing model (the embedding model and the language model): a row per model
with its role, name, license, size and where it runs; one Download button for all of them with one
progress view (bytes, speed, time left) that resumes from what an earlier download left on disk;
or "I have model files…" to use a .gguf file and an embedding-model folder the user already has.
A failed download says what happened in plain words (``core/friendly_errors.py``); the technical
details go to the log.

The dialog is modeless: the window behind it keeps listing the memory. Each model is announced
with ``model_ready`` as soon as it is usable, so the embedding model (small, first) is put to use
while the language model is still downloading. Downloads and copies run in a ``Worker``; the dialog
never closes while one runs: closing cancels it (what was downloaded is kept) and the dialog
finishes once its thread has ended.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPalette, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tera_desktop.core import models
from tera_desktop.core.embedder import spec_from_folder
from tera_desktop.core.errors import TeraError
from tera_desktop.core.friendly_errors import friendly_error, technical_detail
from tera_desktop.core.model_setup import (
    ROLES,
    ModelDownloaded,
    SetupProgress,
    bytes_on_disk,
    display_name,
    download_models,
    format_size,
    free_space,
    license_name,
    model_for,
    progress_text,
)
from tera_desktop.core.models import KIND_EMBEDDING, KIND_LLM, CatalogModel
from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import Settings
from tera_desktop.ui.safe_text import WrappedLabel, plain_label, set_plain, tooltip
from tera_desktop.workers.base import Worker, WorkerManager

log = logging.getLogger("tera.ui.setup")

_BAR_STEPS = 1000  # the bar counts in permille: model sizes overflow a 32-bit int
_JOB_DOWNLOAD = "download"
_JOB_IMPORT = "import"
_ORDER = (KIND_EMBEDDING, KIND_LLM)  # the small embedding model first: facts can be stored sooner

INTRO = (
    "Tera is your private second memory. Teach it facts, add your documents, then ask "
    "questions: it answers from what you gave it and shows where each answer comes from."
)
FOLDER_HINT = (
    "Choose the language model's .gguf file, and the folder that holds the embedding model "
    "(its model.onnx and tokenizer.json)."
)
NOT_AN_EMBEDDING_FOLDER = (
    "That folder does not hold an embedding model: choose the folder with the model's .onnx "
    "file and its tokenizer.json."
)


def _muted(label: QLabel) -> QLabel:
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


def _bold(label: QLabel, scale: float = 1.0) -> QLabel:
    font = label.font()
    font.setBold(True)
    if scale != 1.0 and font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * scale)
    label.setFont(font)
    return label


class _ModelRow(QWidget):
    """One model: role and purpose, name · license · where it runs, size, status, Choose…"""

    choose_requested = Signal(str)  # kind

    def __init__(self, kind: str, model: CatalogModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.model = model
        self.ready_path: Path | None = None  # set once the model is usable
        self.chosen_here = False  # made ready in this dialog (downloaded or chosen)
        role, purpose = ROLES[kind]
        self.setObjectName(f"modelRow-{kind}")
        self.setAccessibleName(role)

        self.title_label = _bold(plain_label(f"{role} — {purpose}"))
        self.detail_label = _muted(WrappedLabel())  # as tall as its lines need
        self.size_label = plain_label()
        self.size_label.setObjectName("sizeLabel")
        self.size_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.status_label = _muted(plain_label())
        self.status_label.setObjectName("statusLabel")
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.choose_button = QPushButton(
            "Choose file…" if kind == KIND_LLM else "Choose folder…", self
        )
        self.choose_button.setObjectName("chooseButton")
        self.choose_button.setAccessibleName(
            "Choose the language model file"
            if kind == KIND_LLM
            else "Choose the embedding model folder"
        )
        self.choose_button.setAutoDefault(False)
        self.choose_button.hide()
        self.choose_button.clicked.connect(lambda: self.choose_requested.emit(self.kind))

        grid = QGridLayout(self)
        grid.setContentsMargins(12, 8, 12, 8)
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(2)
        grid.addWidget(self.title_label, 0, 0)
        grid.addWidget(self.size_label, 0, 1)
        grid.addWidget(self.detail_label, 1, 0)
        grid.addWidget(self.status_label, 1, 1)
        grid.addWidget(self.choose_button, 0, 2, 2, 1, Qt.AlignmentFlag.AlignVCenter)
        grid.setColumnStretch(0, 1)
        self.set_model(model)

    def set_model(self, model: CatalogModel) -> None:
        self.model = model
        parts = [display_name(model), license_name(model), "runs on this computer"]
        set_plain(self.detail_label, " · ".join(p for p in parts if p))
        set_plain(self.size_label, format_size(model.size) if model.size > 0 else "")

    def set_own(self, path: Path) -> None:
        """The user's own folder or file stands in for the catalog model: name it, not the
        catalog's model, license and size."""
        name = Path(path).name or str(path)
        set_plain(self.detail_label, f"{name} (your {self.own_noun}) · runs on this computer")
        self.detail_label.setToolTip(tooltip(str(path)))
        set_plain(self.size_label, "")

    @property
    def own_noun(self) -> str:
        return "file" if self.kind == "llm" else "folder"

    @property
    def ready(self) -> bool:
        return self.ready_path is not None

    def set_status(self, text: str) -> None:
        set_plain(self.status_label, text)


class FirstRunDialog(QDialog):
    """Get the models Tera needs: download them all at once, or use files already here.

    ``need(kind, model)`` adds a model to get (the window calls it for each missing model; a
    second call for the same kind is a no-op). ``model_ready(kind, path)`` is emitted as each one
    becomes usable: ``path`` is the installed ``.gguf`` (language model) or the model's folder
    (embedding model). The dialog accepts itself once every model is ready; "Not now" rejects.
    """

    model_ready = Signal(str, str)  # kind, path
    busy_changed = Signal(bool)

    def __init__(
        self,
        paths: Paths,
        workers: WorkerManager,
        parent: QWidget | None = None,
        *,
        welcome: bool = True,
    ) -> None:
        super().__init__(parent)
        self._paths = paths
        self._workers = workers
        self._welcome = welcome
        self._rows: dict[str, _ModelRow] = {}
        self._worker: Worker | None = None
        self._job = ""
        self._job_kind = ""  # the model a copy is for
        self._failed = False  # the last download failed: the button says Retry
        self._choosing = False  # the rows show their Choose… buttons
        self._pending_result: int | None = None  # close with this once the worker has ended
        self._closing = False

        self.setWindowTitle("Welcome to Tera" if welcome else "Tera needs its models")
        self.setObjectName("firstRunDialog")
        self.setMinimumWidth(740)  # the catalog rows fit on one line each

        self.heading_label = _bold(plain_label(), 1.5)
        self.heading_label.setObjectName("headingLabel")
        self.intro_label = plain_label(INTRO)
        self.intro_label.setObjectName("introLabel")
        self.intro_label.setWordWrap(True)
        self.intro_label.setVisible(welcome)
        self.folder_label = plain_label(
            f"Everything stays on this computer. Your memory is kept in {paths.data}."
        )
        self.folder_label.setObjectName("folderLabel")
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.models_label = plain_label()
        self.models_label.setObjectName("modelsLabel")
        self.models_label.setWordWrap(True)

        self.models_box = QFrame()
        self.models_box.setObjectName("modelsBox")
        self.models_box.setFrameShape(QFrame.Shape.StyledPanel)
        self._rows_layout = QVBoxLayout(self.models_box)
        self._rows_layout.setContentsMargins(0, 4, 0, 4)
        self._rows_layout.setSpacing(0)

        self.space_label = _muted(plain_label())
        self.space_label.setObjectName("spaceLabel")
        self.choose_hint_label = plain_label(FOLDER_HINT)
        self.choose_hint_label.setObjectName("chooseHintLabel")
        self.choose_hint_label.setWordWrap(True)
        self.choose_hint_label.hide()

        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("progressBar")
        self.progress_bar.setAccessibleName("Download progress")
        self.progress_bar.setRange(0, _BAR_STEPS)
        self.progress_bar.setTextVisible(False)
        self.step_label = plain_label()
        self.step_label.setObjectName("stepLabel")
        self.step_label.setWordWrap(True)
        self.progress_label = plain_label()
        self.progress_label.setObjectName("progressLabel")
        self.progress_label.setAccessibleName("Download status")
        self.progress_label.setWordWrap(True)
        self.error_label = plain_label()
        self.error_label.setObjectName("errorLabel")
        self.error_label.setAccessibleName("Error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()

        self.files_button = QPushButton("I have model files…")
        self.files_button.setObjectName("filesButton")
        self.files_button.setAccessibleName("I have model files")
        self.files_button.setToolTip(
            "Use a language model (.gguf file) and an embedding model folder you already have."
        )
        self.files_button.setAutoDefault(False)
        self.later_button = QPushButton("Not now")
        self.later_button.setObjectName("laterButton")
        self.later_button.setAccessibleName("Not now")
        self.later_button.setToolTip(
            "Tera opens without them: your memories are listed, and facts you type wait until "
            "the embedding model is ready."
        )
        self.later_button.setAutoDefault(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setAccessibleName("Cancel the download")
        self.cancel_button.setToolTip("Stop the download; what was downloaded is kept.")
        self.cancel_button.setAutoDefault(False)
        self.download_button = QPushButton()
        self.download_button.setObjectName("downloadButton")
        self.download_button.setDefault(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.files_button)
        buttons.addStretch(1)
        buttons.addWidget(self.later_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.download_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(8)
        layout.addWidget(self.heading_label)
        layout.addWidget(self.intro_label)
        layout.addWidget(self.folder_label)
        layout.addSpacing(6)
        layout.addWidget(self.models_label)
        layout.addWidget(self.models_box)
        layout.addWidget(self.space_label)
        layout.addWidget(self.choose_hint_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.step_label)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        layout.addSpacing(10)
        layout.addLayout(buttons)

        self.download_button.clicked.connect(self._on_download_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.files_button.clicked.connect(self._on_files_clicked)
        self.later_button.clicked.connect(self.reject)
        self._refresh()

    # ---- public --------------------------------------------------------------------------------
    def need(self, kind: str, model: CatalogModel) -> None:
        """Add ``model`` as the ``kind`` model to get (a model already on disk is ready at once)."""
        row = self._rows.get(kind)
        if row is None:
            row = _ModelRow(kind, model, self.models_box)
            row.choose_requested.connect(self._on_choose_requested)
            self._rows[kind] = row
            self._rows = {k: self._rows[k] for k in _ORDER if k in self._rows}
            self._lay_out_rows()
        elif row.model.name == model.name or row.ready or self.busy:
            return
        else:
            row.set_model(model)
        installed = models.installed_path(self._paths, model)
        if installed is not None:
            self._make_ready(row, installed)
        self._show_kept()
        self._refresh()

    def _lay_out_rows(self) -> None:
        """The rows in their order, a thin line between two."""
        while (item := self._rows_layout.takeAt(0)) is not None:
            widget = item.widget()
            if widget is not None and not isinstance(widget, _ModelRow):
                widget.deleteLater()
        for i, row in enumerate(self._rows.values()):
            if i:
                line = QFrame(self.models_box)
                line.setFrameShape(QFrame.Shape.HLine)
                line.setFrameShadow(QFrame.Shadow.Sunken)
                self._rows_layout.addWidget(line)
            self._rows_layout.addWidget(row)
            row.show()  # now, not once the event loop runs: the dialog may be up already

    def set_welcome(self, welcome: bool) -> None:
        """Greet a new user (what Tera is) or, when a memory exists, just say what is missing."""
        self._welcome = welcome
        self.setWindowTitle("Welcome to Tera" if welcome else "Tera needs its models")
        self.intro_label.setVisible(welcome)
        self._refresh()

    def kinds(self) -> list[str]:
        """The kinds of model listed, in order."""
        return list(self._rows)

    def row(self, kind: str) -> _ModelRow:
        return self._rows[kind]

    def chosen_paths(self) -> dict[str, Path]:
        """The models made ready in this dialog: kind → .gguf file or embedding folder."""
        return {k: r.ready_path for k, r in self._rows.items() if r.chosen_here and r.ready_path}

    @property
    def all_ready(self) -> bool:
        return bool(self._rows) and all(r.ready for r in self._rows.values())

    @property
    def busy(self) -> bool:
        """True while a download or a copy runs."""
        return self._worker is not None

    def use_files(self, kind: str, path: Path) -> None:
        """Use a model the user already has (what "Choose…" does once a path is picked).

        A ``.gguf`` is checked and copied into Tera's model folder in the background; an embedding
        folder is checked at once. Either makes the model ready, or says why it cannot be used.
        """
        row = self._rows.get(kind)
        if row is None or self._worker is not None:
            return
        self._set_error("")
        path = Path(path).expanduser()
        if kind == KIND_EMBEDDING:
            try:
                spec = spec_from_folder(path)
            except TeraError as exc:
                log.info("not an embedding model folder: %s", exc)
                self._set_error(NOT_AN_EMBEDDING_FOLDER)
                return
            row.chosen_here = True
            self._make_ready(row, spec.folder)
            self._after_ready()
            return
        self._job_kind = kind
        self.step_label.setText(f"Copying {path.name} into Tera's model folder…")
        row.set_status("Copying…")
        worker = Worker(_import_fn(self._paths, path), name="import-model")
        self._start(_JOB_IMPORT, worker)

    # ---- closing -------------------------------------------------------------------------------
    def done(self, result: int) -> None:
        """Close; while a worker runs, cancel it first and close (rejected) once it has ended."""
        if self._worker is None:
            super().done(result)
            return
        self._closing = True
        self._pending_result = int(QDialog.DialogCode.Rejected)
        self._worker.cancel()
        self.step_label.setText(
            "Stopping the download…" if self._job == _JOB_DOWNLOAD else "Finishing the copy…"
        )
        self._refresh()

    # ---- slots ---------------------------------------------------------------------------------
    @Slot()
    def _on_download_clicked(self) -> None:
        if self._worker is not None:
            return
        entries = [r.model for r in self._rows.values() if not r.ready]
        if not entries:
            self._after_ready()
            return
        self._set_error("")
        self._failed = False
        for row in self._waiting():
            row.set_status("Waiting…")
        self.step_label.setText("Connecting…")
        worker = Worker(_download_fn(self._paths, entries), name="download-models")
        worker.yielded.connect(self._on_yielded)
        self._start(_JOB_DOWNLOAD, worker)

    @Slot()
    def _on_cancel_clicked(self) -> None:
        if self._worker is not None and self._job == _JOB_DOWNLOAD:
            self._worker.cancel()
            self.step_label.setText("Stopping the download…")
            self._refresh()

    @Slot()
    def _on_files_clicked(self) -> None:
        waiting = [k for k, r in self._rows.items() if not r.ready]
        if len(waiting) == 1:  # one model to choose: straight to the file dialog
            self._choosing = False
            self._on_choose_requested(waiting[0])
        else:
            self._choosing = not self._choosing
        self._refresh()

    @Slot(str)
    def _on_choose_requested(self, kind: str) -> None:
        start = Path.home() / "Downloads"
        if not start.is_dir():
            start = Path.home()
        if kind == KIND_LLM:
            chosen, _ = QFileDialog.getOpenFileName(
                self,
                "Choose a language model file",
                str(start),
                "GGUF models (*.gguf);;All files (*)",
            )
        else:
            chosen = QFileDialog.getExistingDirectory(
                self, "Choose the embedding model's folder", str(start)
            )
        if chosen:
            self.use_files(kind, Path(chosen))

    @Slot(object)
    def _on_yielded(self, item: object) -> None:
        if self._closing:
            return
        if isinstance(item, SetupProgress):
            self._show_progress(item.done, item.total)
            self.progress_label.setText(
                progress_text(item.done, item.total, item.bytes_per_s, item.eta_s)
            )
            current = self._row_of(item.model)
            if current is not None:
                role = ROLES[current.kind][0].lower()
                of = f" ({item.index + 1} of {item.count})" if item.count > 1 else ""
                self.step_label.setText(f"Downloading the {role}{of}…")
                for row in self._waiting():
                    row.set_status("Downloading…" if row is current else "Waiting…")
        elif isinstance(item, ModelDownloaded):
            ready = self._row_of(item.model.name)
            if ready is not None:
                ready.chosen_here = True
                self._make_ready(ready, item.path)

    @Slot(object)
    def _on_returned(self, result: object) -> None:
        if self._closing:
            return
        if self._job == _JOB_IMPORT:
            row = self._rows.get(self._job_kind)
            if row is not None:
                row.chosen_here = True
                self._make_ready(row, Path(str(result)))
        if self.all_ready:
            self._pending_result = int(QDialog.DialogCode.Accepted)
            self.step_label.setText(
                "Both models are ready." if len(self._rows) > 1 else "The model is ready."
            )

    @Slot(object)
    def _on_errored(self, exc: object) -> None:
        if self._closing:
            return
        error = exc if isinstance(exc, BaseException) else RuntimeError(str(exc))
        log.warning("model %s failed: %s", self._job, technical_detail(error))
        self._set_error(friendly_error(error))
        self.step_label.setText("")
        if self._job == _JOB_DOWNLOAD:
            self._failed = True
            kept, total = self._kept()
            text = f"{format_size(kept)} of {format_size(total)} downloaded so far." if kept else ""
            self.progress_label.setText(text)
        else:
            self.progress_label.setText("")

    @Slot()
    def _on_aborted(self) -> None:
        if self._closing:
            return
        self.step_label.setText("")
        if self._job == _JOB_DOWNLOAD:
            kept, total = self._kept()
            self.progress_label.setText(
                f"Paused: {format_size(kept)} of {format_size(total)} downloaded. "
                "Press Continue whenever you are ready."
                if kept
                else "Download stopped."
            )

    @Slot()
    def _on_finished(self) -> None:
        worker, self._worker = self._worker, None
        self._job = ""
        if worker is not None:
            worker.join(10)  # it has emitted its last signal: its thread is ending now
        result, self._pending_result = self._pending_result, None
        for row in self._rows.values():
            if not row.ready:
                row.set_status(self._idle_status(row))
        self._refresh()
        self.busy_changed.emit(False)
        if result is not None:
            super().done(result)

    # ---- helpers -------------------------------------------------------------------------------
    def _start(self, job: str, worker: Worker) -> None:
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self._job = job
        if job == _JOB_IMPORT:
            self.progress_bar.setRange(0, 0)  # busy: a copy reports no progress
        self._refresh()
        self.busy_changed.emit(True)
        self._workers.start(worker)

    def _row_of(self, model_name: str) -> _ModelRow | None:
        return next((r for r in self._rows.values() if r.model.name == model_name), None)

    def _make_ready(self, row: _ModelRow, path: Path) -> None:
        row.ready_path = path
        try:
            inside = Path(path).resolve().is_relative_to(self._paths.models.resolve())
        except OSError:
            inside = False
        if not inside:
            row.set_own(path)
        row.set_status("✓ Ready" if inside else f"✓ Using your {row.own_noun}")
        self.model_ready.emit(row.kind, str(path))

    def _after_ready(self) -> None:
        """A model was chosen outside a worker: close if nothing else is missing."""
        self._refresh()
        if self.all_ready:
            super().done(int(QDialog.DialogCode.Accepted))

    def _waiting(self) -> list[_ModelRow]:
        return [r for r in self._rows.values() if not r.ready]

    def _kept(self) -> tuple[int, int]:
        """Bytes already on disk of the models still missing, and their total size."""
        rows = self._waiting()
        return (
            sum(bytes_on_disk(self._paths, r.model) for r in rows),
            sum(r.model.size for r in rows),
        )

    def _idle_status(self, row: _ModelRow) -> str:
        kept = bytes_on_disk(self._paths, row.model)
        if 0 < kept < row.model.size:
            return f"{format_size(kept)} of {format_size(row.model.size)} downloaded"
        return "Not downloaded yet"

    def _show_kept(self) -> None:
        """After a restart: say how much an earlier download left, and that it continues."""
        if self.busy or self._failed:
            return
        for row in self._waiting():
            row.set_status(self._idle_status(row))
        kept, total = self._kept()
        if 0 < kept < total:
            self.progress_label.setText(
                f"{format_size(kept)} of {format_size(total)} already downloaded — Continue to "
                "get the rest."
            )
            self._show_progress(kept, total)
        elif not kept:
            self.progress_label.setText("")

    def _show_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress_bar.setRange(0, _BAR_STEPS)
            self.progress_bar.setValue(min(_BAR_STEPS, int(_BAR_STEPS * done / total)))
        else:
            self.progress_bar.setRange(0, 0)

    def _set_error(self, text: str) -> None:
        set_plain(self.error_label, text)
        self.error_label.setVisible(bool(text))
        self._fit()

    def showEvent(self, event: QShowEvent) -> None:
        """Open exactly as tall as the text needs at the dialog's width (a size hint for wrapped
        text is taken at a narrower width, which leaves a gap above the buttons)."""
        super().showEvent(event)
        layout = self.layout()
        if layout is not None:
            layout.activate()
            height = self.heightForWidth(self.width())
            if height > 0:
                self.resize(self.width(), max(height, self.minimumSizeHint().height()))

    def _fit(self) -> None:
        """Grow to show everything after the content changed (a row, an error, Choose…
        buttons): a window does not grow by itself for wrapped text, it squeezes its rows."""
        layout = self.layout()
        if layout is None or not self.isVisible():
            return
        layout.activate()
        width = max(self.width(), self.minimumSizeHint().width())
        height = self.heightForWidth(width)
        if height < 0:
            height = self.sizeHint().height()
        if width > self.width() or height > self.height():
            self.resize(width, max(height, self.height()))

    def _download_text(self) -> str:
        kept, total = self._kept()
        if self._failed:
            return "Retry"
        if 0 < kept < total:
            return f"Continue ({format_size(total - kept)} left)"
        return f"Download ({format_size(total)})" if total > 0 else "Download"

    def _refresh(self) -> None:
        busy = self._worker is not None
        downloading = busy and self._job == _JOB_DOWNLOAD
        stopping = busy and self._worker is not None and self._worker.cancel_event.is_set()
        waiting = self._waiting()
        n = len(waiting)

        if self._welcome:
            self.heading_label.setText("Welcome to Tera")
        else:
            self.heading_label.setText("Tera needs a model" if n == 1 else "Tera needs its models")
        if n == 0:
            models_text = "Everything Tera needs is on this computer."
        elif n == 1:
            models_text = (
                f"Tera needs one {'more ' if len(self._rows) > 1 else ''}model. It is "
                "downloaded once from Hugging Face and then runs on this computer: nothing you "
                "write is sent anywhere."
            )
        else:
            models_text = (
                f"Tera needs {'two' if n == 2 else n} models. They are downloaded once from "
                "Hugging Face and then run on this computer: nothing you write is sent anywhere."
            )
        self.models_label.setText(models_text)

        left = sum(max(0, r.model.size - bytes_on_disk(self._paths, r.model)) for r in waiting)
        free = free_space(self._paths)
        space = [f"To download: {format_size(left)}"] if waiting else []
        if free is not None and waiting:
            space.append(f"{format_size(free)} free on this disk")
        self.space_label.setText(" · ".join(space))
        self.space_label.setVisible(bool(space) and not busy)

        self.download_button.setText(self._download_text())
        self.download_button.setAccessibleName(self.download_button.text())
        self.download_button.setEnabled(not busy and n > 0)
        self.download_button.setVisible(not downloading)
        self.cancel_button.setVisible(downloading)
        self.cancel_button.setEnabled(downloading and not stopping)
        self.files_button.setEnabled(not busy and n > 0)
        self.later_button.setEnabled(not self._closing)
        self.later_button.setVisible(not downloading)  # Cancel stops; closing stops too
        choosing = self._choosing and not busy and n > 0
        self.choose_hint_label.setVisible(choosing)
        for row in self._rows.values():
            row.choose_button.setVisible(choosing and not row.ready)
        if not busy and self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, _BAR_STEPS)
        kept, _total = self._kept()
        self.progress_bar.setVisible(busy or kept > 0 or self.all_ready)
        self.step_label.setVisible(bool(self.step_label.text()))
        self.progress_label.setVisible(bool(self.progress_label.text()))
        self._fit()


# ---- worker functions (they run on the worker thread: no widgets in here) -----------------------


def _download_fn(paths: Paths, entries: list[CatalogModel]) -> Callable[[threading.Event], Any]:
    def work(cancel: threading.Event) -> Any:
        return download_models(paths, entries, cancel=cancel)

    return work


def _import_fn(paths: Paths, source: Path) -> Callable[[threading.Event], Any]:
    def work(cancel: threading.Event) -> Path:
        return models.import_gguf(paths, source)

    return work


def show_first_run(
    paths: Paths, settings: Settings | None = None, parent: QWidget | None = None
) -> FirstRunDialog:
    """Show the first-run setup as a new user sees it, on ``paths`` with no model installed:
    the settings' models (or the defaults) for both roles. For screenshots and demos; the dialog
    owns its workers."""
    settings = settings or Settings()
    workers = WorkerManager()
    dialog = FirstRunDialog(paths, workers, parent, welcome=True)
    workers.setParent(dialog)
    dialog.need(KIND_EMBEDDING, model_for(KIND_EMBEDDING, settings.embedding_model))
    dialog.need(KIND_LLM, model_for(KIND_LLM, settings.llm_model))
    dialog.show()
    return dialog
