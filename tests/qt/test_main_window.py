"""The desktop app end to end, offscreen, with tiny models: ask and stream with sources, stop,
drop files and folders, forget, the missing-model dialog, one instance per data folder, closing
while generating, conversations that persist, and an event loop that keeps running during work."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication
from window_actions import ask, drop, remember

from tera_desktop.core.instance import InstanceLock
from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import Settings
from tera_desktop.ui.chat import MessageView


def test_window_opens_before_models_load(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(start=False)
    assert window.isVisible() and window.windowTitle() == "Tera"
    assert not window.engine.generator_loaded and window.engine._store is None


def test_ask_streams_tokens_then_shows_sources(qtbot, make_window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    assert window.llm_state == "ready"
    remember(qtbot, window, "the gate code is 4512")
    assert window.memory_count == 1 and "the gate code is 4512" in window.memory.visible_texts()
    pieces: list[str] = []
    real_append = MessageView.append_text
    monkeypatch.setattr(
        MessageView, "append_text", lambda self, t: (pieces.append(t), real_append(self, t))
    )
    answer = ask(qtbot, window, "what is the gate code?")
    assert len(pieces) >= 2  # streamed piece by piece
    streamed = "".join(pieces).strip()
    # the checked answer: the tiny model always writes up to the length limit, so it is marked
    assert answer.text().endswith("[cut at the length limit]") and streamed
    chips = answer.source_chips()
    assert chips, "no source chips under the answer"
    assert chips[0].text() == "[1] the gate code is 4512"  # a fact's chip: its text
    assert "the gate code is 4512" in chips[0].toolTip()


def test_nothing_relevant_says_so(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    answer = ask(qtbot, window, "zzzz qqqq")
    assert "don't have anything in my memory" in answer.text()


def test_stop_mid_answer_keeps_the_partial_text(
    qtbot, make_window, paths: Paths, tiny_settings: Settings, slow_tokens
) -> None:  # type: ignore[no-untyped-def]
    window = make_window(replace(tiny_settings, max_answer_tokens=300))
    remember(qtbot, window, "the gate code is 4512")
    with qtbot.waitSignal(window.answer_finished, timeout=60_000):
        window.chat.input.setPlainText("gate code?")
        qtbot.keyClick(window.chat.input, Qt.Key.Key_Return)
        view = window.chat.chat_view.messages()[-1]
        qtbot.waitUntil(lambda: len(view.text()) > 0, timeout=30_000)
        qtbot.keyClick(window.chat.input, Qt.Key.Key_Escape)
    assert view.text()
    marker = view.findChild(object, "stoppedMarker")
    assert marker is not None and marker.isVisible()
    assert window.conversation.messages[-1].stopped


def test_drop_file_and_folder_updates_sidebar_and_statuses(
    qtbot, make_window, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    single = tmp_path / "single.txt"
    single.write_text("the capital of france is paris")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("# Notes\n\nmy cat is blue")
    (folder / "sub" / "b.txt").write_text("meeting on tuesday")
    (folder / "empty.txt").write_text("")
    with qtbot.waitSignal(window.ingest_finished, timeout=60_000):
        drop(window, single, folder)
    statuses = window.memory.file_statuses()
    assert any("single.txt: added" in s for s in statuses)
    assert any("a.md: added" in s for s in statuses)
    assert any("b.txt: added" in s for s in statuses)
    assert any("empty.txt: The file is empty." in s for s in statuses)
    qtbot.waitUntil(lambda: window.memory_count == 3, timeout=10_000)
    assert {"single.txt", "a.md", "b.txt"} <= set(window.memory.visible_texts())
    window.memory.filter_edit.setText("a.md")
    assert window.memory.visible_texts() == ["a.md"]


def test_files_dropped_on_the_chat_box_are_added_not_typed(
    qtbot, make_window, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QDragEnterEvent

    window = make_window()
    note = tmp_path / "dropped.txt"
    note.write_text("my cat is blue")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(note))])
    target = window.chat.input.viewport()
    args = (
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter = QDragEnterEvent(QPoint(5, 5), *args)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    with qtbot.waitSignal(window.ingest_finished, timeout=60_000):
        QApplication.sendEvent(target, QDropEvent(QPointF(5, 5), *args))
    assert window.chat.input.toPlainText() == ""
    assert any("dropped.txt: added" in s for s in window.memory.file_statuses())


def test_a_failing_worker_reaches_the_user_and_the_app_lives_on(
    qtbot, make_window, worker_errors, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()

    def broken(text: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(window.engine, "remember", broken)
    window.memory.remember_edit.setText("my cat is blue")
    qtbot.keyClick(window.memory.remember_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(worker_errors), timeout=10_000)
    assert "No space left on device" in window.statusBar().currentMessage()
    assert str(window.paths.log_file) in window.statusBar().currentMessage()
    monkeypatch.undo()
    remember(qtbot, window, "my cat is blue")  # still working
    assert window.memory_count == 1


@pytest.mark.qt_log_ignore(r"This plugin does not support")  # offscreen: a menu pops up
def test_forget_one_and_forget_all(qtbot, make_window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    asked: list[str] = []
    monkeypatch.setattr(window, "confirm", lambda title, text: asked.append(text) or True)
    remember(qtbot, window, "the gate code is 4512")
    remember(qtbot, window, "my cat is blue")
    assert window.memory.select_key(window.memory._facts[0].id)
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        qtbot.mouseClick(window.memory.forget_button, Qt.MouseButton.LeftButton)
    assert window.memory_count == 1 and "Forget the fact" in asked[0]
    qtbot.mouseClick(window.memory.more_button, Qt.MouseButton.LeftButton)  # the sidebar's ⋯
    menu = window.memory.more_menu
    qtbot.waitUntil(menu.isVisible)
    assert window.memory.forget_all_action in menu.actions()
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        menu.hide()
        window.memory.forget_all_action.trigger()  # Forget everything…
    assert "Forget everything Tera remembers (1 memory:" in asked[1]
    assert window.memory_count == 0 and window.memory.visible_texts() == []


def test_declining_to_forget_keeps_everything(qtbot, make_window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    asked: list[str] = []
    monkeypatch.setattr(window, "confirm", lambda title, text: asked.append(text) or False)
    remember(qtbot, window, "my cat is blue")
    started: list[str] = []
    monkeypatch.setattr(window, "run_worker", lambda name, *_a, **_k: started.append(name))
    window.memory.forget_all_action.trigger()
    # asked and declined before trigger() returns, and no work started: nothing to wait for
    assert asked and "Forget everything" in asked[0]
    assert started == []
    assert window.engine.count() == 1


def test_missing_model_dialog_and_search_only_mode(
    qtbot, make_window, tiny_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    window = make_window(replace(tiny_settings, llm_model="dolphin-2.6-phi-2"))
    assert window.llm_state == "missing"
    qtbot.waitUntil(lambda: window.setup_dialog is not None and window.setup_dialog.isVisible())
    assert window.setup_dialog.kinds() == ["llm"]
    assert "Phi-2" in window.setup_dialog.row("llm").detail_label.text()
    window.setup_dialog.reject()
    qtbot.waitUntil(lambda: window.setup_dialog is None)
    assert window.model_label.text() == "No language model"
    remember(qtbot, window, "the gate code is 4512")
    answer = ask(qtbot, window, "gate code?")
    assert "No language model is loaded" in answer.text()
    chips = answer.source_chips()
    assert chips and "the gate code is 4512" in chips[0].toolTip()


def test_close_while_generating_stops_and_joins(
    qtbot, make_window, tiny_settings: Settings, slow_tokens
) -> None:  # type: ignore[no-untyped-def]
    window = make_window(replace(tiny_settings, max_answer_tokens=300))
    remember(qtbot, window, "the gate code is 4512")
    window.chat.input.setPlainText("gate code?")
    qtbot.keyClick(window.chat.input, Qt.Key.Key_Return)
    view = window.chat.chat_view.messages()[-1]
    qtbot.waitUntil(lambda: len(view.text()) > 0, timeout=30_000)
    window.close()  # must cancel the answer, join every worker and close the store
    assert window.workers.active() == []
    assert window.engine._store is None


def test_conversation_persists_across_restarts(
    qtbot, make_window, paths: Paths, tiny_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    remember(qtbot, window, "the gate code is 4512")
    answer = ask(qtbot, window, "what is the gate code?")
    text = answer.text()
    qtbot.waitUntil(lambda: not window.workers.active(), timeout=10_000)
    window.close()
    again = make_window()
    messages = again.chat.chat_view.messages()
    assert [m.text() for m in messages] == ["what is the gate code?", text]
    assert messages[1].source_chips()
    again.chat_controller.new_chat()
    assert again.chat.chat_view.messages() == []


def test_second_instance_is_refused_and_data_untouched(
    paths: Paths, tiny_settings: Settings
) -> None:
    lock = InstanceLock(paths.data / "tera-desktop.lock")
    assert lock.acquire()
    try:
        env = {**os.environ, "TERA_HOME": str(paths.data.parent), "QT_QPA_PLATFORM": "offscreen"}
        before = sorted(p.name for p in paths.data.iterdir())
        result = subprocess.run(
            [sys.executable, "-m", "tera_desktop"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2
        assert "already running" in result.stderr and str(paths.data) in result.stderr
        assert sorted(p.name for p in paths.data.iterdir()) == before
    finally:
        lock.release()


def test_event_loop_keeps_running_while_ingesting_and_answering(
    qtbot, make_window, tmp_path: Path, tiny_settings: Settings, slow_tokens
) -> None:  # type: ignore[no-untyped-def]
    """A GUI-thread timer keeps firing all through an ingestion and a streamed answer at once."""
    window = make_window(replace(tiny_settings, max_answer_tokens=40))
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(120):
        (folder / f"n{i:03}.txt").write_text(f"note {i}: the gate code, the cat and paris " * 20)
    remember(qtbot, window, "the gate code is 4512")
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    marks: dict[str, int] = {}
    window.ingest_finished.connect(lambda: marks.setdefault("ingested", len(ticks)))
    window.answer_finished.connect(lambda: marks.setdefault("answered", len(ticks)))
    drop(window, folder)
    window.chat.input.setPlainText("gate code?")
    qtbot.keyClick(window.chat.input, Qt.Key.Key_Return)
    marks["both_started"] = len(ticks)
    assert window.library.ingest_worker is not None and window._ask_worker is not None
    qtbot.waitUntil(lambda: "ingested" in marks and "answered" in marks, timeout=120_000)
    timer.stop()
    # the GUI-thread timer fired while the ingestion and the answer were both running
    assert min(marks["ingested"], marks["answered"]) > marks["both_started"]
    assert threading.current_thread() is threading.main_thread()
    assert QApplication.instance() is not None


def test_watched_folder_follows_the_disk(
    qtbot, make_window, tmp_path: Path, monkeypatch, paths: Paths, tiny_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "watched"
    folder.mkdir()
    (folder / "a.txt").write_text("my cat is blue")
    window = make_window()
    with qtbot.waitSignal(window.ingest_finished, timeout=60_000):
        window.watch_folder(str(folder))
    qtbot.waitUntil(lambda: window.memory_count == 1, timeout=10_000)
    assert str(folder.resolve()) in window.settings.watched_folders
    assert folder.name in window.memory.visible_texts()  # listed under "Watched folders"

    (folder / "b.txt").write_text("the gate code is 4512")  # the app notices by itself
    qtbot.waitUntil(lambda: "b.txt" in window.memory.visible_texts(), timeout=30_000)
    (folder / "a.txt").unlink()
    qtbot.waitUntil(lambda: "a.txt" not in window.memory.visible_texts(), timeout=30_000)
    qtbot.waitUntil(
        lambda: any("a.txt: removed" in s for s in window.memory.file_statuses()), timeout=10_000
    )

    monkeypatch.setattr(window, "confirm", lambda title, text: True)
    assert window.memory.select_key(str(folder.resolve()))
    assert window.memory.forget_button.text() == "Stop watching"
    qtbot.mouseClick(window.memory.forget_button, Qt.MouseButton.LeftButton)
    assert window.settings.watched_folders == ()
    assert window.engine.count() == 1  # its documents stay


def test_both_models_missing_offers_one_setup_for_both(
    qtbot, make_window, tiny_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    from tera_desktop.core.settings import DEFAULT_EMBEDDING_MODEL

    settings = replace(
        tiny_settings, embedding_model=DEFAULT_EMBEDDING_MODEL, llm_model="dolphin-2.6-phi-2"
    )
    window = make_window(settings, start=False)
    window.start()
    qtbot.waitUntil(lambda: window.setup_dialog is not None, timeout=30_000)
    qtbot.waitUntil(lambda: window.llm_state == "missing", timeout=30_000)
    assert window.setup_dialog.kinds() == ["embedding", "llm"]  # one dialog lists both
    window.setup_dialog.reject()
    qtbot.waitUntil(lambda: window.setup_dialog is None, timeout=10_000)
