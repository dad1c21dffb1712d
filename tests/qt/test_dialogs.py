"""The model-setup dialog (download with progress, cancel, resume, choose a file or folder, close
while downloading) against the local fake hub, and the settings dialog. Offscreen; no network."""

from __future__ import annotations

import hashlib
import random
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hub_server import Hub
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from tera_desktop.core import models
from tera_desktop.core.models import CatalogModel, ModelFile
from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import Settings
from tera_desktop.ui import settings_dialog as settings_mod
from tera_desktop.ui import setup_dialog as setup_mod
from tera_desktop.ui.settings_dialog import BROWSE_TEXT, SettingsDialog
from tera_desktop.ui.setup_dialog import (
    ModelSetupDialog,
    format_duration,
    format_size,
    progress_text,
)
from tera_desktop.workers.base import WorkerManager

# The offscreen platform says this on every show(); it is not a problem in Tera.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")

SIZE = 1_000_000
REASON = "The model tiny-llm is not installed."
LEFT = Qt.MouseButton.LeftButton


def _worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("tera-worker-") and t.is_alive()]


@pytest.fixture
def workers(qtbot) -> Iterator[WorkerManager]:  # type: ignore[no-untyped-def]
    manager = WorkerManager()
    yield manager
    assert manager.shutdown(10)


@pytest.fixture
def fake_llm(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> tuple[CatalogModel, bytes]:
    """A 1 MB "GGUF" on the fake hub, with its sha256, and TERA_HUB_URL pointing at the hub."""
    data = b"GGUF" + random.Random(7).randbytes(SIZE - 4)
    hub.add("test/tiny-GGUF", "tiny.Q4_K_M.gguf", data)
    monkeypatch.setenv("TERA_HUB_URL", hub.base_url)
    model = CatalogModel(
        name="tiny-llm",
        kind="llm",
        repo="test/tiny-GGUF",
        files=(ModelFile("tiny.Q4_K_M.gguf", SIZE, hashlib.sha256(data).hexdigest()),),
        description="A tiny random model for tests.",
    )
    return model, data


@pytest.fixture
def fake_embedding() -> CatalogModel:
    return CatalogModel(
        name="test/tiny-embed",
        kind="embedding",
        repo="test/tiny-embed",
        files=(ModelFile("model.onnx", 1000, None), ModelFile("tokenizer.json", 10, None)),
        dim=8,
        model_file="model.onnx",
    )


class FakeFileDialog:
    """Stands in for QFileDialog's static methods: answers with a preset path ("" = cancelled)."""

    answer = ""
    calls = 0

    @classmethod
    def getOpenFileName(cls, *args: object) -> tuple[str, str]:
        cls.calls += 1
        return cls.answer, ""

    @classmethod
    def getExistingDirectory(cls, *args: object) -> str:
        cls.calls += 1
        return cls.answer


@pytest.fixture
def file_dialog(monkeypatch: pytest.MonkeyPatch) -> type[FakeFileDialog]:
    fake = type("FileDialog", (FakeFileDialog,), {"answer": "", "calls": 0})
    monkeypatch.setattr(setup_mod, "QFileDialog", fake)
    monkeypatch.setattr(settings_mod, "QFileDialog", fake)
    return fake


def _dialog(qtbot, paths: Paths, model: CatalogModel, workers: WorkerManager) -> ModelSetupDialog:  # type: ignore[no-untyped-def]
    dialog = ModelSetupDialog(paths, model, REASON, workers)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _part(paths: Paths, model: CatalogModel) -> Path:
    return models._part_path(paths, model, model.files[0])


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


# ---- the model-setup dialog ---------------------------------------------------------------------


def test_download_shows_progress_and_accepts(
    qtbot,  # type: ignore[no-untyped-def]
    paths: Paths,
    hub: Hub,
    fake_llm: tuple[CatalogModel, bytes],
    workers: WorkerManager,
) -> None:
    model, data = fake_llm
    dialog = _dialog(qtbot, paths, model, workers)
    assert dialog.windowTitle() == "Language model needed"
    assert dialog.reason_label.text() == REASON
    assert dialog.download_button.text() == "Download tiny-llm (1.0 MB)"
    assert dialog.choose_button.text() == "Choose a file…"
    assert not dialog.cancel_button.isVisible()
    assert not dialog.error_label.isVisible()

    with qtbot.waitSignal(dialog.accepted, timeout=30_000):
        qtbot.mouseClick(dialog.download_button, LEFT)
        assert dialog.busy
        assert dialog.cancel_button.isVisible() and not dialog.download_button.isEnabled()

    assert dialog.result() == QDialog.DialogCode.Accepted
    installed = models.installed_path(paths, model)
    assert installed is not None and dialog.chosen_path() == installed
    assert installed.read_bytes() == data
    assert dialog.progress_label.text() == "1.0 MB of 1.0 MB"
    assert dialog.progress_bar.value() == dialog.progress_bar.maximum()
    assert hub.ranges() == [None]
    assert not _worker_threads()


def test_broken_download_is_shown_and_cancel_keeps_the_part_and_resume_completes(
    qtbot,  # type: ignore[no-untyped-def]
    paths: Paths,
    hub: Hub,
    fake_llm: tuple[CatalogModel, bytes],
    workers: WorkerManager,
) -> None:
    model, data = fake_llm
    part = _part(paths, model)
    dialog = _dialog(qtbot, paths, model, workers)

    # 1. the connection breaks off after 400 KB: a plain-words error, the bytes are kept
    hub.cut_after = 400_000
    qtbot.mouseClick(dialog.download_button, LEFT)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30_000)
    assert dialog.isVisible()
    assert dialog.error_label.isVisible()
    assert "broke off" in dialog.error_label.text() or "closed" in dialog.error_label.text()
    assert "try again" in dialog.error_label.text()
    assert part.stat().st_size == 400_000
    assert dialog.download_button.text() == "Resume download of tiny-llm (600 KB left)"
    assert dialog.download_button.isEnabled() and dialog.choose_button.isEnabled()
    assert "400 KB of 1.0 MB kept" in dialog.progress_label.text()

    # 2. resume, and cancel while it is under way (the hub holds its answer until released)
    hub.stalling = True
    qtbot.mouseClick(dialog.download_button, LEFT)
    assert not dialog.error_label.isVisible()
    qtbot.waitUntil(lambda: len(hub.requests) == 2, timeout=30_000)
    qtbot.mouseClick(dialog.cancel_button, LEFT)
    assert dialog.progress_label.text() == "Stopping the download…"
    assert not dialog.cancel_button.isEnabled()
    hub.stall.set()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30_000)
    assert dialog.isVisible() and not dialog.error_label.isVisible()
    assert dialog.progress_label.text().startswith("Download paused. 400 KB of 1.0 MB kept")
    assert dialog.download_button.text().startswith("Resume download")
    assert not dialog.cancel_button.isVisible()
    assert part.stat().st_size == 400_000
    assert models.installed_path(paths, model) is None

    # 3. "Not now"; a later dialog offers to resume, and resuming completes
    with qtbot.waitSignal(dialog.rejected):
        qtbot.mouseClick(dialog.not_now_button, LEFT)
    later = _dialog(qtbot, paths, model, workers)
    assert later.download_button.text() == "Resume download of tiny-llm (600 KB left)"
    assert later.progress_label.text() == "400 KB of 1.0 MB already downloaded."
    with qtbot.waitSignal(later.accepted, timeout=30_000):
        qtbot.mouseClick(later.download_button, LEFT)
    assert hub.ranges()[-1] == "bytes=400000-"
    assert later.chosen_path() == models.installed_path(paths, model)
    assert later.chosen_path().read_bytes() == data  # type: ignore[union-attr]
    assert not part.exists()


def test_server_error_is_shown_in_the_dialog(
    qtbot,  # type: ignore[no-untyped-def]
    paths: Paths,
    hub: Hub,
    fake_llm: tuple[CatalogModel, bytes],
    workers: WorkerManager,
) -> None:
    model, _ = fake_llm
    hub.fail_status = 404
    dialog = _dialog(qtbot, paths, model, workers)
    qtbot.mouseClick(dialog.download_button, LEFT)
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=30_000)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30_000)
    text = dialog.error_label.text()
    assert "Could not download tiny.Q4_K_M.gguf for tiny-llm" in text
    assert "HTTP 404" in text and "Traceback" not in text
    assert dialog.isVisible() and dialog.result() == 0
    assert dialog.download_button.text() == "Download tiny-llm (1.0 MB)"
    assert dialog.download_button.isEnabled()


def test_closing_while_downloading_cancels_and_leaves_no_thread(
    qtbot,  # type: ignore[no-untyped-def]
    paths: Paths,
    hub: Hub,
    fake_llm: tuple[CatalogModel, bytes],
    workers: WorkerManager,
) -> None:
    model, _ = fake_llm
    dialog = _dialog(qtbot, paths, model, workers)
    hub.stalling = True
    qtbot.mouseClick(dialog.download_button, LEFT)
    qtbot.waitUntil(lambda: len(hub.requests) == 1, timeout=30_000)
    assert _worker_threads()

    with qtbot.waitSignal(dialog.rejected, timeout=30_000):
        dialog.close()  # the window's close button
        # it stays up, stopping, until the worker has ended
        assert dialog.isVisible()
        assert dialog.progress_label.text() == "Stopping the download…"
        assert not dialog.not_now_button.isEnabled()
        hub.stall.set()

    assert not dialog.isVisible()
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert dialog.chosen_path() is None
    assert not _worker_threads()
    assert not workers.active()
    assert models.installed_path(paths, model) is None


def test_choosing_an_invalid_file_shows_why_and_stays_open(
    qtbot,  # type: ignore[no-untyped-def]
    paths: Paths,
    tmp_path: Path,
    fake_llm: tuple[CatalogModel, bytes],
    workers: WorkerManager,
    file_dialog: type[FakeFileDialog],
) -> None:
    model, _ = fake_llm
    bad = tmp_path / "notes.gguf"
    bad.write_bytes(b"PK\x03\x04 this is a zip, not a model")
    dialog = _dialog(qtbot, paths, model, workers)

    file_dialog.answer = ""  # the user closes the file dialog: nothing happens
    qtbot.mouseClick(dialog.choose_button, LEFT)
    assert file_dialog.calls == 1 and not dialog.busy and dialog.isVisible()

    file_dialog.answer = str(bad)
    qtbot.mouseClick(dialog.choose_button, LEFT)
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=30_000)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30_000)
    assert "notes.gguf is not a GGUF model file" in dialog.error_label.text()
    assert dialog.isVisible() and dialog.result() == 0 and dialog.chosen_path() is None
    assert models.list_local_llms(paths) == []
    assert dialog.choose_button.isEnabled()


def test_choosing_a_gguf_file_imports_it_and_accepts(
    qtbot,  # type: ignore[no-untyped-def]
    paths: Paths,
    tiny_gguf: Path,
    fake_llm: tuple[CatalogModel, bytes],
    workers: WorkerManager,
    file_dialog: type[FakeFileDialog],
) -> None:
    model, _ = fake_llm
    dialog = _dialog(qtbot, paths, model, workers)
    file_dialog.answer = str(tiny_gguf)
    with qtbot.waitSignal(dialog.accepted, timeout=30_000):
        qtbot.mouseClick(dialog.choose_button, LEFT)
    chosen = dialog.chosen_path()
    assert chosen == paths.llm_models / "tiny.gguf"
    assert chosen.read_bytes() == tiny_gguf.read_bytes()
    assert models.list_local_llms(paths) == [chosen]


def test_embedding_model_folder_is_checked(
    qtbot,  # type: ignore[no-untyped-def]
    paths: Paths,
    tmp_path: Path,
    tiny_embedding: Path,
    fake_embedding: CatalogModel,
    workers: WorkerManager,
    file_dialog: type[FakeFileDialog],
) -> None:
    dialog = _dialog(qtbot, paths, fake_embedding, workers)
    assert dialog.windowTitle() == "Embedding model needed"
    assert dialog.choose_button.text() == "Choose a folder…"

    empty = tmp_path / "empty"
    empty.mkdir()
    file_dialog.answer = str(empty)
    qtbot.mouseClick(dialog.choose_button, LEFT)
    assert dialog.error_label.isVisible()
    assert "No ONNX model file" in dialog.error_label.text()
    assert dialog.isVisible() and dialog.chosen_path() is None

    file_dialog.answer = str(tiny_embedding)
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.choose_button, LEFT)
    assert dialog.chosen_path() == tiny_embedding.resolve()


def test_not_now_rejects(
    qtbot,  # type: ignore[no-untyped-def]
    paths: Paths,
    fake_llm: tuple[CatalogModel, bytes],
    workers: WorkerManager,
) -> None:
    model, _ = fake_llm
    dialog = _dialog(qtbot, paths, model, workers)
    with qtbot.waitSignal(dialog.rejected):
        qtbot.mouseClick(dialog.not_now_button, LEFT)
    assert dialog.chosen_path() is None


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


def test_open_data_folder(
    qtbot,  # type: ignore[no-untyped-def]
    paths: Paths,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[str] = []

    class FakeDesktopServices:
        @staticmethod
        def openUrl(url) -> bool:  # type: ignore[no-untyped-def]
            opened.append(url.toLocalFile())
            return True

    monkeypatch.setattr(settings_mod, "QDesktopServices", FakeDesktopServices)
    dialog = _settings_dialog(qtbot, paths, Settings())
    qtbot.mouseClick(dialog.open_folder_button, LEFT)
    assert opened == [str(paths.data)]
    assert not dialog.error_label.isVisible()
