"""The settings dialog (models, browse for files, invalid values, data folder), and the wording
of download progress. The model setup is tested in test_first_run.py. Offscreen; no network."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import Opener
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QApplication, QDialog
from window_actions import FakeFileDialog, fake_file_dialog

from tera_desktop.core import models
from tera_desktop.core.model_setup import format_duration, format_size, progress_text
from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import Settings
from tera_desktop.ui import open_file as open_file_mod
from tera_desktop.ui import settings_dialog as settings_mod
from tera_desktop.ui.settings_dialog import BROWSE_TEXT, SettingsDialog

# The offscreen platform says this on every show(); it is not a problem in Tera.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")

SIZE = 1_000_000
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def file_dialog(monkeypatch: pytest.MonkeyPatch) -> type[FakeFileDialog]:
    return fake_file_dialog(monkeypatch, settings_mod)


# ---- wording ------------------------------------------------------------------------------------


def test_progress_wording() -> None:
    assert progress_text(123_000_000, 1_800_000_000, 4_200_000, 360) == (
        "123 MB of 1.8 GB · 4.2 MB/s · about 6 min left"
    )
    assert progress_text(0, 1_800_000_000, 0.0, None) == "0 bytes of 1.8 GB"
    assert progress_text(SIZE, SIZE, 5e6, 0.0) == "1.0 MB of 1.0 MB"
    assert format_size(850) == "850 bytes"
    assert format_size(64_000) == "64 KB"
    assert format_size(4_200) == "4.2 KB"
    assert format_size(400_000) == "400 KB"
    assert format_size(2_019_377_696) == "2.0 GB"
    assert format_duration(40) == "40 s"
    assert format_duration(3900) == "1 h 5 min"


# ---- the settings dialog ------------------------------------------------------------------------


def _settings_dialog(qtbot, paths: Paths, settings: Settings) -> SettingsDialog:  # type: ignore[no-untyped-def]
    dialog = SettingsDialog(paths, settings)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _items(combo) -> list[str]:  # type: ignore[no-untyped-def]
    return [combo.itemText(i) for i in range(combo.count())]


def test_settings_round_trip(qtbot, paths: Paths, tiny_gguf: Path) -> None:  # type: ignore[no-untyped-def]
    paths.llm_models.mkdir(parents=True, exist_ok=True)
    local = paths.llm_models / "my-model.gguf"
    shutil.copyfile(tiny_gguf, local)
    original = Settings(chunk_tokens=300, llm_threads=2, qdrant_api_key="secret")
    dialog = _settings_dialog(qtbot, paths, original)

    llms = _items(dialog.llm_combo)
    catalog_llms = [m.name for m in models.CATALOG.values() if m.kind == "llm"]
    assert llms == [*catalog_llms, str(local), BROWSE_TEXT]
    assert dialog.llm_combo.currentText() == original.llm_model
    assert dialog.embedding_combo.currentText() == original.embedding_model
    assert _items(dialog.embedding_combo)[-1] == BROWSE_TEXT
    assert dialog.threads_spin.value() == 2
    assert dialog.context_spin.value() == original.llm_context
    assert dialog.top_k_spin.value() == original.top_k
    assert dialog.temperature_spin.value() == pytest.approx(original.temperature)
    assert dialog.max_tokens_spin.value() == original.max_answer_tokens
    assert dialog.unload_spin.value() == 5 and dialog.unload_spin.text() == "5 min idle"
    assert dialog.qdrant_url_edit.text() == ""
    assert dialog.qdrant_key_edit.echoMode() == dialog.qdrant_key_edit.EchoMode.Password
    assert dialog.data_folder_edit.isReadOnly()
    assert dialog.data_folder_edit.text() == str(paths.data)
    assert dialog.settings() == original  # nothing edited: nothing changes

    dialog.llm_combo.setCurrentIndex(dialog.llm_combo.findText(str(local)))
    dialog.embedding_combo.setEditText("sentence-transformers/all-MiniLM-L6-v2")
    dialog.threads_spin.setValue(3)
    dialog.context_spin.setValue(4096)
    dialog.top_k_spin.setValue(6)
    dialog.temperature_spin.setValue(0.7)
    dialog.max_tokens_spin.setValue(256)
    dialog.unload_spin.setValue(0)
    assert dialog.unload_spin.text() == "Never"
    dialog.qdrant_url_edit.setText(" http://localhost:6333 ")
    dialog.qdrant_key_edit.setText("new-key")
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.button_box.button(dialog.button_box.StandardButton.Save), LEFT)
    assert dialog.settings() == replace(
        original,
        llm_model=str(local),
        embedding_model="sentence-transformers/all-MiniLM-L6-v2",
        llm_threads=3,
        llm_context=4096,
        top_k=6,
        temperature=0.7,
        max_answer_tokens=256,
        llm_unload_after_minutes=0.0,
        qdrant_url="http://localhost:6333",
        qdrant_api_key="new-key",
    )
    assert dialog.settings().chunk_tokens == 300  # fields the dialog does not show are kept


def test_invalid_settings_keep_the_dialog_open(qtbot, paths: Paths) -> None:  # type: ignore[no-untyped-def]
    dialog = _settings_dialog(qtbot, paths, Settings())
    save = dialog.button_box.button(dialog.button_box.StandardButton.Save)

    dialog.qdrant_url_edit.setText("localhost 6333")
    qtbot.mouseClick(save, LEFT)
    assert dialog.isVisible() and dialog.result() == 0
    assert dialog.error_label.isVisible()
    assert "must look like http://host:6333" in dialog.error_label.text()

    dialog.qdrant_url_edit.setText("")
    dialog.llm_combo.setEditText("  ")
    qtbot.mouseClick(save, LEFT)
    assert dialog.isVisible()
    assert dialog.error_label.text() == "Choose a language model."

    dialog.llm_combo.setEditText("qwen3-1.7b")
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(save, LEFT)
    assert not dialog.error_label.isVisible()
    assert dialog.settings().llm_model == "qwen3-1.7b"


def test_cancel_leaves_settings_unchanged(qtbot, paths: Paths) -> None:  # type: ignore[no-untyped-def]
    dialog = _settings_dialog(qtbot, paths, Settings())
    dialog.top_k_spin.setValue(9)
    with qtbot.waitSignal(dialog.rejected):
        qtbot.mouseClick(dialog.button_box.button(dialog.button_box.StandardButton.Cancel), LEFT)
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_browse_for_models(
    qtbot,  # type: ignore[no-untyped-def]
    paths: Paths,
    tmp_path: Path,
    tiny_gguf: Path,
    tiny_embedding: Path,
    file_dialog: type[FakeFileDialog],
) -> None:
    dialog = _settings_dialog(qtbot, paths, Settings())
    llm = dialog.llm_combo
    before = llm.currentText()

    file_dialog.answer = ""  # cancelled: the previous choice comes back
    llm.setCurrentIndex(llm.findText(BROWSE_TEXT))
    qtbot.waitUntil(lambda: file_dialog.calls == 1)
    assert llm.currentText() == before

    file_dialog.answer = str(tiny_gguf)
    llm.setCurrentIndex(llm.findText(BROWSE_TEXT))
    qtbot.waitUntil(lambda: llm.currentText() == str(tiny_gguf))
    assert _items(llm)[-2:] == [str(tiny_gguf), BROWSE_TEXT]

    emb = dialog.embedding_combo
    empty = tmp_path / "empty"
    empty.mkdir()
    file_dialog.answer = str(empty)
    emb.setCurrentIndex(emb.findText(BROWSE_TEXT))
    qtbot.waitUntil(lambda: dialog.error_label.isVisible())
    assert "No ONNX model file" in dialog.error_label.text()
    assert emb.currentText() == Settings().embedding_model

    file_dialog.answer = str(tiny_embedding)
    emb.setCurrentIndex(emb.findText(BROWSE_TEXT))
    qtbot.waitUntil(lambda: emb.currentText() == str(tiny_embedding))
    assert not dialog.error_label.isVisible()
    settings = dialog.settings()
    assert settings.llm_model == str(tiny_gguf)
    assert settings.embedding_model == str(tiny_embedding)


def _no_watch_left() -> bool:
    """Every started xdg-open's watch has ended (its verdict given) and been deleted."""
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)  # its deleteLater()
    return not QApplication.instance().findChildren(open_file_mod._Watch)  # type: ignore[union-attr]


def test_open_data_folder(qtbot, paths: Paths, opener: Opener) -> None:  # type: ignore[no-untyped-def]
    opener.set(code=0)
    dialog = _settings_dialog(qtbot, paths, Settings())
    qtbot.mouseClick(dialog.open_folder_button, LEFT)
    qtbot.waitUntil(lambda: opener.asked == [str(paths.data)])
    qtbot.waitUntil(_no_watch_left)  # xdg-open's exit has been seen: no error
    assert not dialog.error_label.isVisible()

    opener.set(code=4)  # no file manager: said in the dialog, a moment later
    qtbot.mouseClick(dialog.open_folder_button, LEFT)
    qtbot.waitUntil(dialog.error_label.isVisible, timeout=5000)
    assert dialog.error_label.text() == (
        f"Could not open {paths.data} in the file manager: no file manager is set up on this "
        "computer."
    )
