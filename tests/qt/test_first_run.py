"""The first-run setup in the real window, offscreen: one dialog for both missing models (sizes,
licenses, where they run), one Download with one progress view from the local fake hub, plain
words when there is no internet, resume after a restart, "I have model files…", facts typed before
the embedding model is ready (kept across a restart, stored in order once it is), and the memory
list and Forget working while the embedding model is missing. Real engine, tiny models."""

from __future__ import annotations

import hashlib
import shutil
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from hub_server import Hub
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QProgressBar
from window_actions import FakeFileDialog, drop, fake_file_dialog

from tera_desktop.core import friendly_errors, models
from tera_desktop.core.engine import Engine
from tera_desktop.core.model_setup import SetupProgress, format_size
from tera_desktop.core.models import CatalogModel, ModelFile
from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import Settings
from tera_desktop.ui import first_run as first_run_mod
from tera_desktop.ui.first_run import FirstRunDialog, show_first_run
from tera_desktop.ui.memory_panel import WAITING_MARK

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")

LEFT = Qt.MouseButton.LeftButton
EMB = "tera-test/tiny-embedding"
LLM = "tera-test-tiny-llm"
SAVED = "Saved — it will be added to memory when the model is ready."


@pytest.fixture
def catalog(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, tiny_gguf: Path, tiny_embedding: Path
) -> dict[str, CatalogModel]:
    """The tiny models as catalog entries (as the real ones are), served by the fake hub."""

    def file(repo: str, path: Path, name: str | None = None) -> ModelFile:
        data = path.read_bytes()
        hub.add(repo, name or path.name, data)
        return ModelFile(name or path.name, len(data), hashlib.sha256(data).hexdigest())

    emb_files = sorted(p for p in tiny_embedding.iterdir() if p.name != "tera_embedding.json")
    emb = CatalogModel(
        name=EMB,
        kind="embedding",
        repo="tera-test/tiny-embedding",
        files=tuple(file("tera-test/tiny-embedding", p) for p in emb_files),
        description="Tiny bag of words (64-d), for tests. Mean pooling.",
        license="mit",
        dim=64,
        pooling="mean",
        min_score=0.2,
        model_file="model.onnx",
    )
    llm = CatalogModel(
        name=LLM,
        kind="llm",
        repo="tera-test/tiny-GGUF",
        files=(file("tera-test/tiny-GGUF", tiny_gguf, "tiny.Q4_K_M.gguf"),),
        description="Tiny llama (2 layers), random weights. For tests.",
        license="apache-2.0",
        context_length=512,
    )
    monkeypatch.setitem(models.CATALOG, EMB, emb)
    monkeypatch.setitem(models.CATALOG, LLM, llm)
    monkeypatch.setenv("TERA_HUB_URL", hub.base_url)
    return {"embedding": emb, "llm": llm}


@pytest.fixture
def both_missing(tiny_settings: Settings, catalog: dict[str, CatalogModel]) -> Settings:
    return replace(tiny_settings, embedding_model=EMB, llm_model=LLM)


@pytest.fixture
def embedding_missing(tiny_settings: Settings, catalog: dict[str, CatalogModel]) -> Settings:
    return replace(tiny_settings, embedding_model=EMB)  # the language model is there


@pytest.fixture
def file_dialog(monkeypatch: pytest.MonkeyPatch) -> type[FakeFileDialog]:
    return fake_file_dialog(monkeypatch, first_run_mod)


def _setup(qtbot, window, kinds: list[str]) -> FirstRunDialog:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(
        lambda: window.setup_dialog is not None and window.setup_dialog.kinds() == kinds,
        timeout=30_000,
    )
    dialog = window.setup_dialog
    assert dialog.isVisible()
    return dialog  # type: ignore[no-any-return]


def _type_fact(qtbot, window, text: str) -> None:  # type: ignore[no-untyped-def]
    window.memory.remember_edit.setText(text)
    qtbot.keyClick(window.memory.remember_edit, Qt.Key.Key_Return)


def _click(qtbot, button) -> None:  # type: ignore[no-untyped-def]
    """Click ``button`` once it is laid out (as a person can only click what is drawn)."""
    qtbot.waitUntil(lambda: button.isVisible() and button.height() > 0 and button.isEnabled())
    qtbot.mouseClick(button, LEFT)


def _all_text(dialog: QDialog) -> str:
    return "\n".join(label.text() for label in dialog.findChildren(QLabel) if label.isVisible())


# ---- one setup for both models ------------------------------------------------------------------


def test_first_run_shows_one_setup_listing_both_models(
    qtbot, make_window, paths: Paths, both_missing: Settings, catalog
) -> None:  # type: ignore[no-untyped-def]
    window = make_window(both_missing)
    dialog = _setup(qtbot, window, ["embedding", "llm"])
    qtbot.waitUntil(lambda: window.llm_state == "missing", timeout=30_000)
    shown = [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]
    assert shown == [dialog]  # one setup, not a dialog per model
    assert not dialog.isModal()  # the memory list stays usable behind it

    assert dialog.windowTitle() == "Welcome to Tera"
    assert dialog.heading_label.text() == "Welcome to Tera"
    assert dialog.intro_label.isVisible() and "second memory" in dialog.intro_label.text()
    assert str(paths.data) in dialog.folder_label.text()
    assert dialog.models_label.text().startswith("Tera needs two models.")
    emb, llm = catalog["embedding"], catalog["llm"]
    assert dialog.row("embedding").size_label.text() == format_size(emb.size)
    assert dialog.row("llm").size_label.text() == format_size(llm.size)
    assert dialog.row("embedding").title_label.text() == (
        "Embedding model — finds what you taught Tera"
    )
    assert dialog.row("llm").title_label.text() == "Language model — writes the answers"
    assert dialog.row("embedding").detail_label.text() == (
        "Tiny bag of words · MIT license · runs on this computer"
    )
    assert dialog.row("llm").detail_label.text() == (
        "Tiny llama (2 layers) · Apache 2.0 license · runs on this computer"
    )
    assert dialog.row("llm").status_label.text() == "Not downloaded yet"
    total = emb.size + llm.size
    assert dialog.download_button.text() == f"Download ({format_size(total)})"
    assert dialog.space_label.text().startswith(f"To download: {format_size(total)} · ")
    text = _all_text(dialog)
    for terminal in ("tera models", "`", "TERA_", "put its files"):
        assert terminal not in text
    assert len(dialog.findChildren(QProgressBar)) == 1
    for button in (dialog.download_button, dialog.files_button, dialog.later_button):
        assert button.accessibleName()


def test_download_gets_both_models_with_one_progress_view(
    qtbot, make_window, paths: Paths, hub: Hub, both_missing: Settings, catalog, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    seen: list[SetupProgress] = []
    real = FirstRunDialog._on_yielded

    def record(self, item):  # type: ignore[no-untyped-def]
        if isinstance(item, SetupProgress):
            seen.append(item)
        real(self, item)

    monkeypatch.setattr(FirstRunDialog, "_on_yielded", record)
    window = make_window(both_missing)
    dialog = _setup(qtbot, window, ["embedding", "llm"])
    emb, llm = catalog["embedding"], catalog["llm"]
    total = emb.size + llm.size

    with qtbot.waitSignal(dialog.accepted, timeout=60_000):
        _click(qtbot, dialog.download_button)
        assert dialog.busy and dialog.cancel_button.isVisible()
        assert not dialog.download_button.isVisible()

    # one progress view over both models: one total, bytes only growing, both models in turn
    assert seen and {p.total for p in seen} == {total}
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert seen[0].model == EMB and seen[-1].model == LLM
    assert dialog.progress_label.text() == f"{format_size(total)} of {format_size(total)}"
    assert dialog.step_label.text() == "Both models are ready."
    assert models.installed_path(paths, emb) is not None
    assert models.installed_path(paths, llm) is not None
    assert {r["path"].split("/resolve/")[0] for r in hub.requests} == {
        "/tera-test/tiny-embedding",
        "/tera-test/tiny-GGUF",
    }

    # the window uses both at once, with the settings as they were (catalog names)
    qtbot.waitUntil(lambda: window.setup_dialog is None)
    qtbot.waitUntil(lambda: window.llm_state == "ready", timeout=30_000)
    qtbot.waitUntil(lambda: window.app.embedding_ready, timeout=30_000)
    assert (window.settings.embedding_model, window.settings.llm_model) == (EMB, LLM)
    _type_fact(qtbot, window, "the gate code is 4512")
    # an earlier listing (the embedding model's) may end first: wait for the count itself
    qtbot.waitUntil(lambda: window.memory_count == 1, timeout=30_000)


def test_no_internet_is_said_in_plain_words(
    qtbot, make_window, both_missing: Settings, monkeypatch, caplog
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TERA_HUB_URL", "https://models.example.invalid")

    def no_dns(*args: object, **kwargs: object) -> None:  # what an offline computer answers
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    window = make_window(both_missing)
    dialog = _setup(qtbot, window, ["embedding", "llm"])
    _click(qtbot, dialog.download_button)
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=30_000)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30_000)

    text = dialog.error_label.text()
    assert text == (
        "No internet connection: connect and press Retry, or choose model files you already have."
    )
    for technical in ("http", "example.invalid", "Errno", "Name or service", "gaierror"):
        assert technical not in _all_text(dialog)
    assert dialog.error_label.textFormat() == Qt.TextFormat.PlainText
    assert dialog.download_button.text() == "Retry" and dialog.download_button.isEnabled()
    assert dialog.files_button.isEnabled() and dialog.isVisible()
    assert "Name or service not known" in caplog.text  # the details are in the log


def test_retry_after_the_connection_comes_back(
    qtbot, make_window, paths: Paths, hub: Hub, both_missing: Settings, catalog
) -> None:  # type: ignore[no-untyped-def]
    window = make_window(both_missing)
    dialog = _setup(qtbot, window, ["embedding", "llm"])
    hub.fail_status = 503
    _click(qtbot, dialog.download_button)
    qtbot.waitUntil(lambda: dialog.error_label.isVisible() and not dialog.busy, timeout=30_000)
    assert dialog.error_label.text() == friendly_errors.SERVER_TROUBLE
    assert dialog.download_button.text() == "Retry"

    hub.fail_status = None
    with qtbot.waitSignal(dialog.accepted, timeout=60_000):
        _click(qtbot, dialog.download_button)
        assert not dialog.error_label.isVisible()
    assert models.installed_path(paths, catalog["llm"]) is not None


def test_resume_after_a_restart_continues_from_the_part(
    qtbot, make_window, paths: Paths, hub: Hub, both_missing: Settings, catalog
) -> None:  # type: ignore[no-untyped-def]
    emb, llm = catalog["embedding"], catalog["llm"]
    data = (hub.root / llm.repo / "resolve/main" / llm.files[0].name).read_bytes()
    part = models._part_path(paths, llm, llm.files[0])  # what a download killed midway leaves
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(data[:300_000])
    total = emb.size + llm.size

    window = make_window(both_missing)
    dialog = _setup(qtbot, window, ["embedding", "llm"])
    assert dialog.progress_label.text() == (
        f"300 KB of {format_size(total)} already downloaded — Continue to get the rest."
    )
    assert dialog.download_button.text() == f"Continue ({format_size(total - 300_000)} left)"
    assert dialog.row("llm").status_label.text() == (
        f"300 KB of {format_size(llm.size)} downloaded"
    )
    assert dialog.progress_bar.isVisible() and dialog.progress_bar.value() > 0

    with qtbot.waitSignal(dialog.accepted, timeout=60_000):
        _click(qtbot, dialog.download_button)
    assert "bytes=300000-" in hub.ranges()  # continued from the part, not from the start
    assert models.installed_path(paths, llm).read_bytes() == data  # type: ignore[union-attr]
    assert not part.exists()


def test_cancel_pauses_and_closing_while_downloading_stops_cleanly(
    qtbot, make_window, paths: Paths, hub: Hub, both_missing: Settings, catalog
) -> None:  # type: ignore[no-untyped-def]
    window = make_window(both_missing)
    dialog = _setup(qtbot, window, ["embedding", "llm"])
    hub.stalling = True
    _click(qtbot, dialog.download_button)
    qtbot.waitUntil(lambda: len(hub.requests) == 1, timeout=30_000)
    _click(qtbot, dialog.cancel_button)
    assert dialog.step_label.text() == "Stopping the download…"
    assert not dialog.cancel_button.isEnabled()
    hub.stall.set()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30_000)
    assert dialog.isVisible() and not dialog.error_label.isVisible()
    assert dialog.download_button.isVisible() and dialog.download_button.isEnabled()

    hub.stall.clear()
    _click(qtbot, dialog.download_button)
    qtbot.waitUntil(lambda: len(hub.requests) >= 2 and dialog.busy, timeout=30_000)
    with qtbot.waitSignal(dialog.rejected, timeout=30_000):
        dialog.close()  # the window's close button: it stays up, stopping, until the work ended
        assert dialog.isVisible()
        assert dialog.step_label.text() == "Stopping the download…"
        hub.stall.set()
    assert not window.workers.active()
    qtbot.waitUntil(lambda: window.setup_dialog is None)
    assert models.installed_path(paths, catalog["llm"]) is None
    assert "No embedding model yet" in window.statusBar().currentMessage()


# ---- "I have model files…" ----------------------------------------------------------------------


def test_i_have_model_files(
    qtbot,
    make_window,
    paths: Paths,
    tmp_path: Path,
    tiny_gguf: Path,
    tiny_embedding: Path,
    both_missing: Settings,
    file_dialog: type[FakeFileDialog],
) -> None:  # type: ignore[no-untyped-def]
    window = make_window(both_missing)
    dialog = _setup(qtbot, window, ["embedding", "llm"])
    assert not dialog.row("llm").choose_button.isVisible()
    _click(qtbot, dialog.files_button)  # two models: a Choose… button on each row
    assert dialog.choose_hint_label.isVisible()
    assert dialog.row("llm").choose_button.isVisible()
    assert dialog.row("embedding").choose_button.text() == "Choose folder…"

    empty = tmp_path / "Downloads"
    empty.mkdir()
    file_dialog.answer = str(empty)
    _click(qtbot, dialog.row("embedding").choose_button)
    assert dialog.error_label.text() == first_run_mod.NOT_AN_EMBEDDING_FOLDER
    assert not dialog.row("embedding").ready

    file_dialog.answer = str(tiny_embedding)
    _click(qtbot, dialog.row("embedding").choose_button)
    assert dialog.row("embedding").status_label.text() == "✓ Using your folder"
    # the row names the folder, not the catalog's model, license and size (issue 24.5)
    own = dialog.row("embedding")
    assert own.detail_label.text() == (
        f"{tiny_embedding.name} (your folder) · runs on this computer"
    )
    assert own.size_label.text() == "" and str(tiny_embedding) in own.detail_label.toolTip()
    assert not dialog.error_label.isVisible() and dialog.isVisible()
    assert not dialog.row("embedding").choose_button.isVisible()
    assert dialog.models_label.text().startswith("Tera needs one more model.")

    file_dialog.answer = str(tiny_gguf)
    with qtbot.waitSignal(dialog.accepted, timeout=30_000):
        _click(qtbot, dialog.row("llm").choose_button)
    copied = paths.llm_models / "tiny.gguf"
    assert copied.read_bytes() == tiny_gguf.read_bytes()
    qtbot.waitUntil(
        lambda: (
            window.settings.llm_model == str(copied)
            and window.settings.embedding_model == str(tiny_embedding.resolve())
        ),
        timeout=30_000,
    )
    qtbot.waitUntil(lambda: window.llm_state == "ready", timeout=30_000)
    qtbot.waitUntil(lambda: window.app.embedding_ready, timeout=30_000)
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        _type_fact(qtbot, window, "my bike is green")
    assert window.engine.count() == 1


def test_one_missing_model_goes_straight_to_the_file_dialog(
    qtbot,
    make_window,
    tiny_gguf: Path,
    tiny_settings: Settings,
    catalog,
    file_dialog: type[FakeFileDialog],
) -> None:  # type: ignore[no-untyped-def]
    window = make_window(replace(tiny_settings, llm_model=LLM))
    dialog = _setup(qtbot, window, ["llm"])
    assert dialog.heading_label.text() == "Welcome to Tera"
    assert dialog.models_label.text().startswith("Tera needs one model.")
    bad = tiny_gguf.parent / "notes.txt"
    bad.write_text("not a model")
    file_dialog.answer = str(bad)
    _click(qtbot, dialog.files_button)
    qtbot.waitUntil(lambda: dialog.error_label.isVisible() and not dialog.busy, timeout=30_000)
    assert file_dialog.calls == 1
    assert "notes.txt is not a GGUF model file" in dialog.error_label.text()
    assert dialog.isVisible() and not dialog.row("llm").ready


# ---- nothing typed is dropped -------------------------------------------------------------------


def test_a_fact_typed_before_the_model_is_ready_waits_and_survives_a_restart(
    qtbot, make_window, paths: Paths, embedding_missing: Settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    stored: list[str] = []
    real = Engine.remember

    def remember(self, text, **kwargs):  # type: ignore[no-untyped-def]
        result = real(self, text, **kwargs)
        stored.append(text)
        return result

    monkeypatch.setattr(Engine, "remember", remember)
    first = make_window(embedding_missing)
    dialog = _setup(qtbot, first, ["embedding"])
    _click(qtbot, dialog.later_button)  # "Not now"
    qtbot.waitUntil(lambda: first.setup_dialog is None)

    _type_fact(qtbot, first, "the spare key is under the blue pot")
    assert first.statusBar().currentMessage() == SAVED
    assert first.app.waiting.texts() == ["the spare key is under the blue pot"]
    assert "the spare key is under the blue pot" in paths.waiting_file.read_text()
    assert stored == [] and first.memory.remember_edit.text() == ""
    assert first.memory.pending_text().startswith(
        f"{WAITING_MARK} 1 fact waits for the embedding model"
    )
    assert "the spare key is under the blue pot" in first.memory.pending_text()
    first.close()  # quit before the model is ready

    second = make_window(embedding_missing)
    assert second.app.waiting.texts() == ["the spare key is under the blue pot"]
    assert second.statusBar().currentMessage().startswith("The fact you typed waits")
    dialog = _setup(qtbot, second, ["embedding"])
    assert dialog.heading_label.text() == "Welcome to Tera"  # still no memory: still a first run
    _type_fact(qtbot, second, "the recycling goes out on Tuesdays")
    assert second.app.waiting.texts() == [
        "the spare key is under the blue pot",
        "the recycling goes out on Tuesdays",
    ]

    with qtbot.waitSignal(dialog.accepted, timeout=60_000):
        _click(qtbot, dialog.download_button)
    qtbot.waitUntil(lambda: second.memory_count == 2, timeout=30_000)
    assert stored == ["the spare key is under the blue pot", "the recycling goes out on Tuesdays"]
    assert not second.app.waiting and not paths.waiting_file.exists()
    assert second.memory.pending_text() == ""
    assert {f.text for f in second.engine.facts()} == set(stored)
    qtbot.waitUntil(
        lambda: (
            second.statusBar().currentMessage()
            == "Remembered the 2 facts you typed while the model was getting ready."
        )
    )


def test_files_added_before_the_model_is_ready_wait_and_are_read_once_it_is(
    qtbot, make_window, paths: Paths, embedding_missing: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "boiler.txt").write_text("The boiler was serviced in October by Heat & Co.")
    (notes / "bike.md").write_text("# Bike\n\nThe bike lock code is 0451.")
    first = make_window(embedding_missing)
    dialog = _setup(qtbot, first, ["embedding"])
    _click(qtbot, dialog.later_button)
    qtbot.waitUntil(lambda: first.setup_dialog is None)

    drop(first, notes / "boiler.txt", notes / "bike.md")
    assert first.statusBar().currentMessage() == (
        "Saved — the 2 files or folders are read when the model is ready."
    )
    assert first.app.waiting.files() == [str(notes / "boiler.txt"), str(notes / "bike.md")]
    assert first.library.ingest_worker is None  # nothing was started, nothing failed
    assert first.memory.pending_text().startswith(
        f"{WAITING_MARK} 2 files or folders wait for the embedding model and will be read when "
        "it is ready: boiler.txt, bike.md"
    )
    first.close()  # quit before the model is ready

    second = make_window(embedding_missing)
    assert second.statusBar().currentMessage() == (
        "The 2 files or folders you added wait for the embedding model; they are added once it "
        "is ready."
    )
    dialog = _setup(qtbot, second, ["embedding"])
    with qtbot.waitSignal(dialog.accepted, timeout=60_000):
        _click(qtbot, dialog.download_button)
    qtbot.waitUntil(lambda: len(second.engine.documents()) == 2, timeout=60_000)
    qtbot.waitUntil(lambda: not second.app.waiting.files(), timeout=30_000)
    # the sidebar hears of it through the app's event, a moment later
    qtbot.waitUntil(lambda: second.memory.pending_text() == "", timeout=10_000)
    assert not paths.waiting_file.exists()
    assert {Path(d.source).name for d in second.engine.documents()} == {"boiler.txt", "bike.md"}


def test_memory_list_and_forget_work_without_the_embedding_model(
    qtbot, make_window, paths: Paths, embedding_missing: Settings, catalog, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    emb = catalog["embedding"]
    list(models.download(paths, emb))
    engine = Engine(paths, embedding_missing)
    try:
        keep = engine.remember("the gate code is 4512")
        gone = engine.remember("the wifi password is tulip-42")
    finally:
        engine.close()
    shutil.rmtree(models.model_dir(paths, emb))  # the embedding model is gone

    window = make_window(embedding_missing)
    dialog = _setup(qtbot, window, ["embedding"])
    assert dialog.heading_label.text() == "Tera needs a model"  # not a first run: a memory exists
    assert not dialog.intro_label.isVisible()
    assert window.memory_count == 2
    assert {"the gate code is 4512", "the wifi password is tulip-42"} <= set(
        window.memory.visible_texts()
    )

    monkeypatch.setattr(window, "confirm", lambda title, text: True)
    assert window.memory.select_key(gone.id)
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        qtbot.mouseClick(window.memory.forget_button, LEFT)
    assert window.memory_count == 1
    assert [f.id for f in window.engine.facts()] == [keep.id]
    assert "the wifi password is tulip-42" not in window.memory.visible_texts()


# ---- for screenshots ----------------------------------------------------------------------------


def test_show_first_run_for_a_home_with_no_models(qtbot, paths: Paths) -> None:  # type: ignore[no-untyped-def]
    dialog = show_first_run(paths)
    qtbot.addWidget(dialog)
    assert dialog.isVisible() and dialog.kinds() == ["embedding", "llm"]
    assert dialog.row("embedding").detail_label.text() == (
        "BGE small English v1.5 · MIT license · runs on this computer"
    )
    assert dialog.row("llm").size_label.text() == "1.8 GB"
    assert dialog.download_button.text() == "Download (1.9 GB)"
    assert not dialog.grab().isNull()
    dialog.close()


def test_forget_everything_also_drops_the_facts_still_waiting(
    qtbot, make_window, paths: Paths, embedding_missing: Settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    window = make_window(embedding_missing)
    dialog = _setup(qtbot, window, ["embedding"])
    _click(qtbot, dialog.later_button)
    qtbot.waitUntil(lambda: window.setup_dialog is None)
    _type_fact(qtbot, window, "the code of the bike lock is 0451")
    asked: list[str] = []
    monkeypatch.setattr(window, "confirm", lambda _title, text: asked.append(text) or True)
    window.library._on_forget_all_requested()
    assert "1 fact still waiting to be stored" in asked[0]
    assert not window.app.waiting and not paths.waiting_file.exists()
    assert window.memory.pending_text() == ""


def test_set_up_models_reopens_the_setup_after_not_now(
    qtbot, make_window, embedding_missing: Settings
) -> None:  # type: ignore[no-untyped-def]
    window = make_window(embedding_missing)
    dialog = _setup(qtbot, window, ["embedding"])
    _click(qtbot, dialog.later_button)
    qtbot.waitUntil(lambda: window.setup_dialog is None)
    action = next(
        a
        for m in window.menuBar().actions()
        if m.menu() is not None
        for a in m.menu().actions()
        if a.text() == "Set Up &Models…"
    )
    action.trigger()
    qtbot.waitUntil(lambda: window.setup_dialog is not None and window.setup_dialog.isVisible())
