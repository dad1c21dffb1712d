"""The dialog shown when a model Tera needs is not on this computer.

It says which model is missing and why, and offers to download it (with progress, speed and time
left; cancellable, and a cancelled download resumes later), to use a file or folder the user
already has, or to carry on without it for now. Downloads and file copies run in a ``Worker``; the
dialog never closes while one runs: closing cancels it and the dialog finishes once its thread has
ended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
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
from tera_desktop.core.models import KIND_LLM, CatalogModel, DownloadProgress
from tera_desktop.core.paths import Paths
from tera_desktop.workers.base import Worker, WorkerManager

_BAR_STEPS = 1000  # the bar counts in permille: model sizes overflow a 32-bit int
_JOB_DOWNLOAD = "download"
_JOB_IMPORT = "import"


# ---- wording ------------------------------------------------------------------------------------


def format_size(n: float) -> str:
    """``850 bytes``, ``64 KB``, ``4.2 MB``, ``123 MB``, ``1.8 GB`` (decimal units, as disks)."""
    if n < 1000:
        return f"{n:.0f} bytes"
    for unit in ("KB", "MB"):
        n /= 1000
        if n < 999.5:
            return f"{n:.1f} {unit}" if n < 9.95 else f"{n:.0f} {unit}"
    return f"{n / 1000:.1f} GB"


def format_duration(seconds: float) -> str:
    """``40 s``, ``6 min``, ``1 h 5 min``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    minutes = round(s / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def progress_text(done: int, total: int, bytes_per_s: float, eta_s: float | None) -> str:
    """``123 MB of 1.8 GB · 4.2 MB/s · about 6 min left``; parts not known yet are left out."""
    parts = [f"{format_size(done)} of {format_size(total)}" if total > 0 else format_size(done)]
    if bytes_per_s > 0 and (total <= 0 or done < total):
        parts.append(f"{format_size(bytes_per_s)}/s")
    if eta_s is not None and total > 0 and done < total:
        parts.append(f"about {format_duration(eta_s)} left")
    return " · ".join(parts)


def _error_text(exc: object) -> str:
    if isinstance(exc, TeraError):
        return str(exc)
    return f"Something went wrong: {exc}" if str(exc) else f"Something went wrong ({exc!r})."


# ---- worker functions (they run on the worker thread: no widgets in here) -----------------------


def _download_fn(paths: Paths, model: CatalogModel) -> Callable[[threading.Event], Any]:
    def work(cancel: threading.Event) -> Any:
        return models.download(paths, model, cancel=cancel)

    return work


def _import_fn(paths: Paths, source: Path) -> Callable[[threading.Event], Any]:
    def work(cancel: threading.Event) -> Path:
        return models.import_gguf(paths, source)

    return work


class ModelSetupDialog(QDialog):
    """Get a missing model: download it, or choose one already on disk, or not now.

    After ``exec()`` returns ``Accepted``, ``chosen_path()`` is the model to use: the installed
    ``.gguf`` file (language model) or the model's folder (embedding model).
    """

    def __init__(
        self,
        paths: Paths,
        model: CatalogModel,
        reason: str,
        workers: WorkerManager,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._paths = paths
        self._model = model
        self._workers = workers
        self._worker: Worker | None = None
        self._job = ""
        self._chosen: Path | None = None
        self._pending_result: int | None = None  # close with this once the worker has ended
        self._closing = False
        is_llm = model.kind == KIND_LLM

        self.setWindowTitle("Language model needed" if is_llm else "Embedding model needed")
        self.setMinimumWidth(520)

        heading = QLabel(
            "Tera needs a language model to write its answers."
            if is_llm
            else "Tera needs an embedding model to read and find what you teach it."
        )
        font = heading.font()
        font.setBold(True)
        heading.setFont(font)
        heading.setWordWrap(True)

        self.reason_label = QLabel(reason)
        self.reason_label.setObjectName("reasonLabel")
        self.reason_label.setWordWrap(True)
        self.reason_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        about = f"{model.name}: {model.description}" if model.description else model.name
        if model.license:
            about += f" License: {model.license}."
        about += (
            f"\nIt runs on this computer; nothing you ask leaves it. It is saved in "
            f"{models.model_dir(paths, model)}."
        )
        self.model_label = QLabel(about)
        self.model_label.setWordWrap(True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.download_button = QPushButton()
        self.download_button.setObjectName("downloadButton")
        self.download_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setToolTip("Stop the download; what was downloaded is kept.")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, _BAR_STEPS)
        self.progress_bar.setTextVisible(False)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("progressLabel")
        self.progress_label.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setObjectName("errorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()

        self.choose_button = QPushButton("Choose a file…" if is_llm else "Choose a folder…")
        self.choose_button.setObjectName("chooseButton")
        self.choose_button.setToolTip(
            "Use a .gguf model file you already have (it is copied into Tera's model folder)."
            if is_llm
            else "Use a folder holding an ONNX embedding model and its tokenizer.json."
        )
        self.not_now_button = QPushButton("Not now")
        self.not_now_button.setObjectName("notNowButton")
        self.not_now_button.setAutoDefault(False)

        download_row = QHBoxLayout()
        download_row.addWidget(self.download_button, 1)
        download_row.addWidget(self.cancel_button)
        bottom_row = QHBoxLayout()
        bottom_row.addWidget(self.choose_button)
        bottom_row.addStretch(1)
        bottom_row.addWidget(self.not_now_button)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.reason_label)
        layout.addWidget(self.model_label)
        layout.addSpacing(8)
        layout.addLayout(download_row)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.error_label)
        layout.addSpacing(8)
        layout.addLayout(bottom_row)

        self.download_button.clicked.connect(self._on_download_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.choose_button.clicked.connect(self._on_choose_clicked)
        self.not_now_button.clicked.connect(self.reject)

        kept = self._bytes_on_disk()
        if kept > 0 and model.size > 0:
            self.progress_label.setText(
                f"{format_size(kept)} of {format_size(model.size)} already downloaded."
            )
        self._refresh()

    # ---- public --------------------------------------------------------------------------------
    def chosen_path(self) -> Path | None:
        """The model file (language model) or folder (embedding model) to use, once accepted."""
        return self._chosen

    @property
    def busy(self) -> bool:
        """True while a download or a copy runs."""
        return self._worker is not None

    def use_path(self, path: Path) -> None:
        """Use a model the user already has (what "Choose…" does once a path is picked).

        A ``.gguf`` is checked and copied into Tera's model folder in the background; a folder is
        checked at once. Either accepts the dialog, or shows why the choice cannot be used.
        """
        if self._worker is not None:
            return
        self._set_error("")
        path = Path(path).expanduser()
        if self._model.kind != KIND_LLM:
            try:
                spec = spec_from_folder(path)
            except TeraError as exc:
                self._set_error(str(exc))
                return
            self._chosen = spec.folder
            self.accept()
            return
        self.progress_label.setText(f"Copying {path.name} into Tera's model folder…")
        self._start(_JOB_IMPORT, Worker(_import_fn(self._paths, path), name="import-model"))

    # ---- closing -------------------------------------------------------------------------------
    def done(self, result: int) -> None:
        """Close; while a worker runs, cancel it first and close (rejected) once it has ended."""
        if self._worker is None:
            super().done(result)
            return
        self._closing = True
        self._pending_result = int(QDialog.DialogCode.Rejected)
        self._worker.cancel()
        self.progress_label.setText(
            "Stopping the download…" if self._job == _JOB_DOWNLOAD else "Finishing the copy…"
        )
        self._refresh()

    # ---- slots ---------------------------------------------------------------------------------
    @Slot()
    def _on_download_clicked(self) -> None:
        if self._worker is not None:
            return
        self._set_error("")
        self.progress_label.setText("Connecting…")
        worker = Worker(_download_fn(self._paths, self._model), name="download-model")
        worker.yielded.connect(self._on_download_progress)
        self._start(_JOB_DOWNLOAD, worker)

    @Slot()
    def _on_cancel_clicked(self) -> None:
        if self._worker is not None and self._job == _JOB_DOWNLOAD:
            self._worker.cancel()
            self.progress_label.setText("Stopping the download…")
            self._refresh()

    @Slot()
    def _on_choose_clicked(self) -> None:
        start = Path.home() / "Downloads"
        if not start.is_dir():
            start = Path.home()
        if self._model.kind == KIND_LLM:
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
            self.use_path(Path(chosen))

    @Slot(object)
    def _on_download_progress(self, progress: DownloadProgress) -> None:
        if self._job != _JOB_DOWNLOAD or self._closing:
            return
        self._show_progress(progress.done, progress.total)
        self.progress_label.setText(
            progress_text(progress.done, progress.total, progress.bytes_per_s, progress.eta_s)
        )

    @Slot(object)
    def _on_returned(self, result: object) -> None:
        if self._closing:
            return
        if self._job == _JOB_IMPORT:
            self._chosen = Path(str(result))
        else:
            found = models.installed_path(self._paths, self._model)
            if found is None:  # pragma: no cover - download() verified every file
                self._set_error(f"The download of {self._model.name} did not complete.")
                return
            self._chosen = found
            self._show_progress(self._model.size, self._model.size)
        self._pending_result = int(QDialog.DialogCode.Accepted)

    @Slot(object)
    def _on_errored(self, exc: object) -> None:
        if self._closing:
            return
        self._set_error(_error_text(exc))
        if self._job == _JOB_DOWNLOAD:
            self._say_kept("")
        else:
            self.progress_label.setText("")

    @Slot()
    def _on_aborted(self) -> None:
        if self._closing:
            return
        if self._job == _JOB_DOWNLOAD:
            self._say_kept("Download paused.")
        else:
            self.progress_label.setText("")

    @Slot()
    def _on_finished(self) -> None:
        worker, self._worker = self._worker, None
        self._job = ""
        if worker is not None:
            worker.join(10)  # it has emitted its last signal: its thread is ending now
        result, self._pending_result = self._pending_result, None
        self._refresh()
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
        self._workers.start(worker)

    def _bytes_on_disk(self) -> int:
        """Bytes of this model already here: installed files plus partial downloads."""
        folder = models.model_dir(self._paths, self._model)
        total = 0
        for file in self._model.files:
            installed = folder / file.name
            if file.size > 0 and installed.is_file() and installed.stat().st_size == file.size:
                total += file.size
                continue
            part = models._part_path(self._paths, self._model, file)
            if part.is_file():
                total += part.stat().st_size
        return total

    def _download_text(self) -> str:
        size = self._model.size
        kept = self._bytes_on_disk()
        if 0 < kept < size:
            return f"Resume download of {self._model.name} ({format_size(size - kept)} left)"
        if kept > 0 and size <= 0:
            return f"Resume download of {self._model.name}"
        if size > 0:
            return f"Download {self._model.name} ({format_size(size)})"
        return f"Download {self._model.name}"

    def _say_kept(self, prefix: str) -> None:
        kept = self._bytes_on_disk()
        if kept > 0:
            of = f" of {format_size(self._model.size)}" if self._model.size > 0 else ""
            text = f"{format_size(kept)}{of} kept; the download resumes from there."
        else:
            text = ""
        self.progress_label.setText(f"{prefix} {text}".strip())
        self._show_progress(kept, self._model.size)

    def _show_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress_bar.setRange(0, _BAR_STEPS)
            self.progress_bar.setValue(min(_BAR_STEPS, int(_BAR_STEPS * done / total)))
        else:
            self.progress_bar.setRange(0, 0)

    def _set_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def _refresh(self) -> None:
        busy = self._worker is not None
        downloading = busy and self._job == _JOB_DOWNLOAD
        stopping = busy and self._worker is not None and self._worker.cancel_event.is_set()
        self.download_button.setText(self._download_text())
        self.download_button.setEnabled(not busy)
        self.choose_button.setEnabled(not busy)
        self.not_now_button.setEnabled(not self._closing)
        self.cancel_button.setVisible(downloading)
        self.cancel_button.setEnabled(downloading and not stopping)
        if not busy and self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, _BAR_STEPS)
        self.progress_bar.setVisible(busy or self._bytes_on_disk() > 0)
