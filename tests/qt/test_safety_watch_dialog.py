"""The desktop app asks before forgetting a file in a watched folder, and then keeps its word."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from tera_desktop.core.ingest.ignored import IgnoreList

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")


def answer_next_choice(index: int | None, seen: list[str]) -> None:
    """Click choice ``index`` (None: Cancel) in the next modal message box; note its text."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, click)
            return
        seen.append(box.text())
        assert box.textFormat() == Qt.TextFormat.PlainText
        choices = [
            b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole
        ]
        if index is None:
            box.button(QMessageBox.StandardButton.Cancel).click()
        else:
            choices[index].click()

    QTimer.singleShot(0, click)


def watched(qtbot, window, folder: Path) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.ingest_finished, timeout=60_000):
        window.watch_folder(str(folder))


@pytest.mark.parametrize("choice", [0, 1, None], ids=["keep-ignoring", "stop-watching", "cancel"])
def test_forgetting_a_watched_file_asks_and_is_never_undone(
    qtbot, make_window, tmp_path: Path, choice: int | None
) -> None:  # type: ignore[no-untyped-def]
    folder = (tmp_path / "watched").resolve()
    folder.mkdir()
    (folder / "a.txt").write_text("The blue door is on the left.")
    (folder / "b.txt").write_text("The red door is on the right.")
    window = make_window()
    watched(qtbot, window, folder)
    qtbot.waitUntil(lambda: window.engine.count() == 2, timeout=30_000)
    source = str(folder / "a.txt")
    qtbot.waitUntil(lambda: window.memory.select_key(source), timeout=30_000)  # listed
    seen: list[str] = []
    answer_next_choice(choice, seen)
    if choice is None:
        qtbot.mouseClick(window.memory.forget_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
        assert window.engine.count() == 2 and window.settings.watched_folders == (str(folder),)
        return
    qtbot.mouseClick(window.memory.forget_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.memory.select_key(source) is False, timeout=30_000)
    assert "watched folder" in seen[0] and str(folder) in seen[0]
    assert source not in {d.source for d in window.engine.documents()}
    if choice == 0:
        assert window.settings.watched_folders == (str(folder),)
        assert source in IgnoreList(window.paths).all()
        with qtbot.waitSignal(window.ingest_finished, timeout=60_000):  # the folder changes
            (folder / "c.txt").write_text("A new note about the green door.")
            window.library._on_watched_folder_changed(str(folder))
        qtbot.waitUntil(lambda: window.engine.count() == 2, timeout=30_000)  # b and c, not a
    else:
        assert window.settings.watched_folders == ()
    assert source not in {d.source for d in window.engine.documents()}
