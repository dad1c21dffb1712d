"""The settings dialog: models, answering, the optional Qdrant server, and where the data lives.

It edits a copy of a ``Settings``; ``settings()`` returns the edited, validated settings. Saving
them (and applying them) is the caller's job. An invalid value keeps the dialog open with the
reason shown in it.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices
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
from tera_desktop.core.settings import Settings

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
        embedding_note = QLabel(
            "Your memory is indexed with this model: after changing it, Tera has to read "
            "your facts and documents again."
        )
        embedding_note.setWordWrap(True)

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

        # ---- data folder ----
        self.data_folder_edit = QLineEdit(str(paths.data))
        self.data_folder_edit.setReadOnly(True)
        self.open_folder_button = QPushButton("Open folder")
        self.open_folder_button.clicked.connect(self._on_open_folder_clicked)

        self.error_label = QLabel()
        self.error_label.setObjectName("errorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828;")
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

        answers_box = QGroupBox("Answers")
        form = QFormLayout(answers_box)
        form.addRow("Threads:", self.threads_spin)
        form.addRow("Context size:", self.context_spin)
        form.addRow("Memories per question:", self.top_k_spin)
        form.addRow("Temperature:", self.temperature_spin)
        form.addRow("Maximum answer length:", self.max_tokens_spin)

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
        for box in (models_box, answers_box, store_box, data_box):
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
            self._set_error(str(exc))
            return
        self._set_error("")
        super().accept()

    # ---- building ------------------------------------------------------------------------------
    def _build(self) -> Settings:
        llm = self.llm_combo.currentText().strip()
        embedding = self.embedding_combo.currentText().strip()
        if not llm or llm == BROWSE_TEXT:
            raise ConfigError("Choose a language model.")
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
            top_k=self.top_k_spin.value(),
            temperature=round(self.temperature_spin.value(), 2),
            max_answer_tokens=self.max_tokens_spin.value(),
            qdrant_url=url,
            qdrant_api_key=self.qdrant_key_edit.text().strip(),
        ).validate()

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
            self._set_error(str(exc))
            return
        self._set_error("")
        if self.embedding_combo.findText(chosen) < 0:
            self._add_item(self.embedding_combo, chosen, "A model folder on this computer")
        self._select(self.embedding_combo, chosen)

    # ---- misc ----------------------------------------------------------------------------------
    @Slot()
    def _on_open_folder_clicked(self) -> None:
        folder = self._paths.data
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._set_error(f"Cannot create {folder}: {exc.strerror or exc}.")
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self._set_error(f"Could not open {folder} in the file manager.")

    def _set_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))
