"""The settings dialog: models, answering, the optional model and Qdrant servers, and where the
data lives.

It edits a copy of a ``Settings``; ``settings()`` returns the edited, validated settings. Saving
them (and applying them) is the caller's job. An invalid value keeps the dialog open with the
reason shown in it.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tera_desktop.core import models
from tera_desktop.core.embedder import spec_from_folder
from tera_desktop.core.errors import ConfigError, TeraError
from tera_desktop.core.models import KIND_EMBEDDING, KIND_LLM
from tera_desktop.core.paths import Paths
from tera_desktop.core.secrets import secret_location
from tera_desktop.core.settings import Settings
from tera_desktop.ui.error_text import error_text
from tera_desktop.ui.open_file import launch
from tera_desktop.ui.safe_text import WrappedLabel
from tera_desktop.workers.base import Worker, WorkerManager

BROWSE_TEXT = "Browse…"


def _catalog(kind: str) -> list[models.CatalogModel]:
    return [m for m in models.CATALOG.values() if m.kind == kind]


def _check_url(url: str) -> None:
    if not url:
        return
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"The Qdrant server address must look like http://host:6333 (got {url!r}).",
            "Leave it empty to use the built-in engine.",
        )


TestResult = tuple[list[str], str, int | None]  # model ids, the one that answers, its context


def _test_connection_fn(
    url: str, api_key: str, wanted: str, timeout: float
) -> Callable[[threading.Event], TestResult]:
    """Worker function (no widgets): the server's models and the one that would answer."""

    def run(_cancel: threading.Event) -> TestResult:
        from tera_desktop.core.openai_generator import choose_model, list_models

        found = list_models(url, api_key, timeout=timeout)
        chosen = choose_model(found, wanted, urllib.parse.urlsplit(url).netloc)
        return [m.id for m in found], chosen.id, chosen.n_ctx

    return run


SPEECH_LANGUAGES = (
    ("en", "English"), ("de", "German"), ("fr", "French"), ("es", "Spanish"), ("it", "Italian"),
    ("pt", "Portuguese"), ("nl", "Dutch"), ("pl", "Polish"), ("ru", "Russian"), ("uk", "Ukrainian"),
    ("tr", "Turkish"), ("ar", "Arabic"), ("hi", "Hindi"), ("zh", "Chinese"), ("ja", "Japanese"),
    ("ko", "Korean"),
)  # fmt: skip


class SettingsDialog(QDialog):
    """Edit settings; ``settings()`` gives the result once accepted."""

    def __init__(self, paths: Paths, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._paths = paths
        self._original = settings
        self._result: Settings | None = None
        self._previous: dict[QComboBox, str] = {}
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)

        # ---- models ----
        self.llm_combo = self._model_combo()
        for model in _catalog(KIND_LLM):
            installed = models.installed_path(paths, model)
            state = "downloaded" if installed else f"not downloaded yet, {model.size / 1e9:.1f} GB"
            self._add_item(self.llm_combo, model.name, f"{model.description} ({state})")
        catalog_files = {
            p.resolve() for m in _catalog(KIND_LLM) if (p := models.installed_path(paths, m))
        }
        for file in models.list_local_llms(paths):
            if file.resolve() not in catalog_files:
                self._add_item(self.llm_combo, str(file), "A model file on this computer")
        self._add_item(self.llm_combo, BROWSE_TEXT, "Choose a .gguf model file")
        self._select(self.llm_combo, settings.llm_model)

        self.embedding_combo = self._model_combo()
        for model in _catalog(KIND_EMBEDDING):
            self._add_item(self.embedding_combo, model.name, model.description)
        self._add_item(self.embedding_combo, BROWSE_TEXT, "Choose a folder with an ONNX model")
        self._select(self.embedding_combo, settings.embedding_model)
        embedding_note = WrappedLabel(
            "Your memory is indexed with this model: after changing it, Tera has to read "
            "your facts and documents again."
        )
        embedding_note.setWordWrap(True)
        embedding_note.setTextFormat(Qt.TextFormat.PlainText)

        self.speech_combo = QComboBox()
        self.speech_combo.setEditable(True)  # a catalog name or a local model folder
        self.speech_combo.setAccessibleName("Speech-to-text model")
        for model in _catalog("speech"):
            self.speech_combo.addItem(model.name)
        self.speech_combo.setCurrentText(settings.speech_model)
        self.speech_combo.setToolTip(
            "Transcribes voice notes and recordings on this computer (faster-whisper): a catalog "
            "model or a folder with a CTranslate2 Whisper model."
        )
        self.speech_language_combo = QComboBox()
        self.speech_language_combo.setEditable(True)
        self.speech_language_combo.setAccessibleName("Language of recordings")
        self.speech_language_combo.addItem("Detect automatically", "")
        for code, name in SPEECH_LANGUAGES:
            self.speech_language_combo.addItem(name, code)
        index = self.speech_language_combo.findData(settings.speech_language)
        if index >= 0:
            self.speech_language_combo.setCurrentIndex(index)
        else:
            self.speech_language_combo.setCurrentText(settings.speech_language)

        self.llm_combo.currentIndexChanged.connect(self._on_llm_index_changed)
        self.embedding_combo.currentIndexChanged.connect(self._on_embedding_index_changed)

        # ---- answering ----
        self.threads_spin = QSpinBox()
        self.threads_spin.setRange(1, max(256, os.cpu_count() or 1))
        self.threads_spin.setValue(settings.llm_threads)
        self.threads_spin.setToolTip("CPU threads the language model uses to write answers.")
        self.context_spin = QSpinBox()
        self.context_spin.setRange(256, 1_048_576)
        self.context_spin.setSingleStep(256)
        self.context_spin.setSuffix(" tokens")
        self.context_spin.setValue(settings.llm_context)
        self.context_spin.setToolTip(
            "How much text the language model reads at once: the question, the memories and the "
            "answer. Larger uses more memory."
        )
        self.unload_spin = QSpinBox()
        self.unload_spin.setRange(0, 24 * 60)
        self.unload_spin.setSuffix(" min idle")
        self.unload_spin.setSpecialValueText("Never")
        self.unload_spin.setValue(round(settings.llm_unload_after_minutes))
        self.unload_spin.setToolTip(
            "Free the language model's memory after this long without a question; the next "
            "question loads it again (a second or two). Never: keep it loaded."
        )
        self.top_k_spin = QSpinBox()
        self.top_k_spin.setRange(1, 100)
        self.top_k_spin.setValue(settings.top_k)
        self.top_k_spin.setToolTip("How many memories are given to the model with each question.")
        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setRange(0.0, 2.0)
        self.temperature_spin.setDecimals(2)
        self.temperature_spin.setSingleStep(0.05)
        self.temperature_spin.setValue(settings.temperature)
        self.temperature_spin.setToolTip("Lower: more focused answers. Higher: more varied.")
        self.max_tokens_spin = QSpinBox()
        self.max_tokens_spin.setRange(1, 32_768)
        self.max_tokens_spin.setSuffix(" tokens")
        self.max_tokens_spin.setValue(settings.max_answer_tokens)

        # ---- store ----
        self.qdrant_url_edit = QLineEdit(settings.qdrant_url)
        self.qdrant_url_edit.setPlaceholderText("Empty: the built-in engine (recommended)")
        self.qdrant_key_edit = QLineEdit(settings.qdrant_api_key)
        self.qdrant_key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.qdrant_key_edit.setPlaceholderText("Only if the server needs one")

        # ---- model server ----
        self.server_url_edit = QLineEdit(settings.llm_url)
        self.server_url_edit.setPlaceholderText("Empty: the language model on this computer")
        self.server_url_edit.setToolTip(
            "An OpenAI-compatible server answers instead: llama.cpp's server "
            "(http://host:8080), Ollama (http://host:11434/v1), vLLM (http://host:8000/v1), "
            "LM Studio (http://host:1234/v1). Only your question and the memories picked for it "
            "are sent to it."
        )
        self.server_key_edit = QLineEdit(settings.llm_api_key)
        self.server_key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.server_key_edit.setPlaceholderText("Only if the server needs one")
        self.server_key_edit.setToolTip(f"Kept in {secret_location(paths)}, not in settings.json.")
        self.server_model_combo = QComboBox()
        self.server_model_combo.setEditable(True)
        self.server_model_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.server_model_combo.setEditText(settings.llm_server_model)
        line = self.server_model_combo.lineEdit()
        if line is not None:
            line.setPlaceholderText("Empty: the server's only model")
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self._on_test_clicked)
        self.test_label = QLabel()
        self.test_label.setObjectName("serverTestLabel")
        self.test_label.setWordWrap(True)
        self.test_label.setTextFormat(Qt.TextFormat.PlainText)  # server text is never markup
        self.test_label.hide()
        self._workers = WorkerManager(self)
        self._test_worker: Worker | None = None

        # ---- data folder ----
        self.data_folder_edit = QLineEdit(str(paths.data))
        self.data_folder_edit.setReadOnly(True)
        self.open_folder_button = QPushButton("Open folder")
        self.open_folder_button.clicked.connect(self._on_open_folder_clicked)

        self.error_label = QLabel()
        self.error_label.setObjectName("errorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828;")
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)  # it may quote a path or an error
        self.error_label.hide()

        self.button_box = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.button_box.accepted.connect(self.accept)
        self.button_box.rejected.connect(self.reject)

        models_box = QGroupBox("Models")
        form = QFormLayout(models_box)
        form.addRow("Language model:", self.llm_combo)
        form.addRow("Embedding model:", self.embedding_combo)
        form.addRow("", embedding_note)
        form.addRow("Speech-to-text model:", self.speech_combo)
        form.addRow("Language of recordings:", self.speech_language_combo)

        answers_box = QGroupBox("Answers")
        form = QFormLayout(answers_box)
        form.addRow("Threads:", self.threads_spin)
        form.addRow("Context size:", self.context_spin)
        form.addRow("Unload the model after:", self.unload_spin)
        form.addRow("Memories per question:", self.top_k_spin)
        form.addRow("Temperature:", self.temperature_spin)
        form.addRow("Maximum answer length:", self.max_tokens_spin)

        server_box = QGroupBox("Model server (optional)")
        form = QFormLayout(server_box)
        form.addRow("Server URL:", self.server_url_edit)
        form.addRow("API key:", self.server_key_edit)
        row = QHBoxLayout()
        row.addWidget(self.server_model_combo, 1)
        row.addWidget(self.test_button)
        form.addRow("Model:", row)
        form.addRow("", self.test_label)

        store_box = QGroupBox("Qdrant server (optional)")
        form = QFormLayout(store_box)
        form.addRow("Server URL:", self.qdrant_url_edit)
        form.addRow("API key:", self.qdrant_key_edit)

        data_box = QGroupBox("Data")
        row = QHBoxLayout()
        row.addWidget(self.data_folder_edit, 1)
        row.addWidget(self.open_folder_button)
        form = QFormLayout(data_box)
        form.addRow("Data folder:", row)

        layout = QVBoxLayout(self)
        for box in (models_box, answers_box, server_box, store_box, data_box):
            layout.addWidget(box)
        layout.addWidget(self.error_label)
        layout.addWidget(self.button_box)

    # ---- public --------------------------------------------------------------------------------
    def settings(self) -> Settings:
        """The edited settings, validated; ConfigError says what is wrong."""
        if self._result is not None:
            return self._result
        return self._build()

    def accept(self) -> None:
        try:
            self._result = self._build()
        except ConfigError as exc:
            self._set_error(error_text(exc))
            return
        self._set_error("")
        super().accept()

    # ---- building ------------------------------------------------------------------------------
    def _build(self) -> Settings:
        llm = self.llm_combo.currentText().strip()
        embedding = self.embedding_combo.currentText().strip()
        server = self.server_url_edit.text().strip()
        if (not llm or llm == BROWSE_TEXT) and not server:
            raise ConfigError("Choose a language model.")
        if llm == BROWSE_TEXT:
            llm = self._original.llm_model
        if not embedding or embedding == BROWSE_TEXT:
            raise ConfigError("Choose an embedding model.")
        url = self.qdrant_url_edit.text().strip()
        _check_url(url)
        return replace(
            self._original,
            llm_model=llm,
            embedding_model=embedding,
            llm_threads=self.threads_spin.value(),
            llm_context=self.context_spin.value(),
            llm_unload_after_minutes=(  # a fraction set in the file stays unless edited here
                self._original.llm_unload_after_minutes
                if self.unload_spin.value() == round(self._original.llm_unload_after_minutes)
                else float(self.unload_spin.value())
            ),
            top_k=self.top_k_spin.value(),
            temperature=round(self.temperature_spin.value(), 2),
            max_answer_tokens=self.max_tokens_spin.value(),
            qdrant_url=url,
            qdrant_api_key=self.qdrant_key_edit.text().strip(),
            llm_url=server,
            llm_api_key=self.server_key_edit.text().strip(),
            llm_server_model=self.server_model_combo.currentText().strip(),
            speech_model=self.speech_combo.currentText().strip() or self._original.speech_model,
            speech_language=self._speech_language(),
        ).validate()

    def _speech_language(self) -> str:
        combo = self.speech_language_combo
        if combo.currentIndex() >= 0 and combo.currentText() == combo.itemText(
            combo.currentIndex()
        ):
            return str(combo.currentData() or "")
        return combo.currentText().strip().lower()  # a language code typed by the user

    # ---- combos --------------------------------------------------------------------------------
    def _model_combo(self) -> QComboBox:
        combo = QComboBox()
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        combo.setMinimumContentsLength(30)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.editTextChanged.connect(self._on_edit_text_changed)
        return combo

    @staticmethod
    def _add_item(combo: QComboBox, text: str, tooltip: str) -> None:
        browse = combo.findText(BROWSE_TEXT)
        index = browse if browse >= 0 else combo.count()
        combo.insertItem(index, text)
        combo.setItemData(index, tooltip, Qt.ItemDataRole.ToolTipRole)

    def _select(self, combo: QComboBox, value: str) -> None:
        combo.blockSignals(True)
        try:
            index = combo.findText(value) if value and value != BROWSE_TEXT else -1
            combo.setCurrentIndex(index)
            if index < 0:
                combo.setEditText(value)
        finally:
            combo.blockSignals(False)
        self._previous[combo] = value

    @Slot(str)
    def _on_edit_text_changed(self, text: str) -> None:
        combo = self.sender()
        if isinstance(combo, QComboBox) and text != BROWSE_TEXT:
            self._previous[combo] = text

    @Slot(int)
    def _on_llm_index_changed(self, index: int) -> None:
        if index >= 0 and self.llm_combo.itemText(index) == BROWSE_TEXT:
            QTimer.singleShot(0, self._browse_llm)  # after the popup has closed

    @Slot(int)
    def _on_embedding_index_changed(self, index: int) -> None:
        if index >= 0 and self.embedding_combo.itemText(index) == BROWSE_TEXT:
            QTimer.singleShot(0, self._browse_embedding)

    @Slot()
    def _browse_llm(self) -> None:
        previous = self._previous.get(self.llm_combo, "")
        chosen, _ = QFileDialog.getOpenFileName(
            self,
            "Choose a language model file",
            str(Path(previous).parent if previous.lower().endswith(".gguf") else Path.home()),
            "GGUF models (*.gguf);;All files (*)",
        )
        if not chosen:
            self._select(self.llm_combo, previous)
            return
        self._set_error("")
        if self.llm_combo.findText(chosen) < 0:
            self._add_item(self.llm_combo, chosen, "A model file on this computer")
        self._select(self.llm_combo, chosen)

    @Slot()
    def _browse_embedding(self) -> None:
        previous = self._previous.get(self.embedding_combo, "")
        chosen = QFileDialog.getExistingDirectory(
            self, "Choose the embedding model's folder", str(Path.home())
        )
        if not chosen:
            self._select(self.embedding_combo, previous)
            return
        try:
            spec_from_folder(Path(chosen))
        except TeraError as exc:
            self._select(self.embedding_combo, previous)
            self._set_error(error_text(exc))
            return
        self._set_error("")
        if self.embedding_combo.findText(chosen) < 0:
            self._add_item(self.embedding_combo, chosen, "A model folder on this computer")
        self._select(self.embedding_combo, chosen)

    # ---- model server ----------------------------------------------------------------------------
    @Slot()
    def _on_test_clicked(self) -> None:
        url = self.server_url_edit.text().strip()
        if not url:
            self._set_test_result("Enter the server's address first, like http://127.0.0.1:8080.")
            return
        if self._test_worker is not None:
            return
        self.test_button.setEnabled(False)
        self._set_test_result(f"Connecting to {url}…")
        worker = Worker(
            _test_connection_fn(
                url,
                self.server_key_edit.text().strip(),
                self.server_model_combo.currentText().strip(),
                min(10.0, self._original.llm_timeout),
            ),
            name="test-model-server",
        )
        worker.returned.connect(self._on_test_returned)
        worker.errored.connect(self._on_test_errored)
        worker.finished.connect(self._on_test_finished)
        self._test_worker = worker
        self._workers.start(worker)

    @Slot(object)
    def _on_test_returned(self, result: TestResult) -> None:
        names, chosen, n_ctx = result
        current = self.server_model_combo.currentText().strip()
        self.server_model_combo.blockSignals(True)
        self.server_model_combo.clear()
        self.server_model_combo.addItems(names)
        self.server_model_combo.setEditText(current or (chosen if len(names) == 1 else ""))
        self.server_model_combo.blockSignals(False)
        context = f", context {n_ctx:,} tokens" if n_ctx else ""
        count = f"{len(names)} model" + ("s" if len(names) != 1 else "")
        self._set_test_result(f"Connected: {count} on the server; {chosen} will answer{context}.")

    @Slot(object)
    def _on_test_errored(self, exc: object) -> None:
        if isinstance(exc, TeraError):
            self._set_test_result(error_text(exc), error=True)
        else:
            self._set_test_result(f"The connection test failed: {exc}", error=True)

    @Slot()
    def _on_test_finished(self) -> None:
        worker, self._test_worker = self._test_worker, None
        if worker is not None:
            worker.join(10)
        self.test_button.setEnabled(True)

    def _set_test_result(self, text: str, *, error: bool = False) -> None:
        self.test_label.setStyleSheet("color: #c62828;" if error else "")
        self.test_label.setText(text)
        self.test_label.setVisible(bool(text))

    def done(self, result: int) -> None:
        self._workers.shutdown(15.0)  # a running connection test ends within its timeout
        super().done(result)

    # ---- misc ----------------------------------------------------------------------------------
    @Slot()
    def _on_open_folder_clicked(self) -> None:
        folder = self._paths.data
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._set_error(f"Cannot create {folder}: {exc.strerror or exc}.")
            return
        if not launch(folder, self._on_open_folder_failed):
            self._on_open_folder_failed()

    def _on_open_folder_failed(self) -> None:
        if shiboken6.isValid(self):
            self._set_error(
                f"Could not open {self._paths.data} in the file manager: no file manager is set "
                "up on this computer."
            )

    def _set_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))
