"""File → Back Up… and File → Restore… in the real window, offscreen, with tiny models (issue 23,
point 5): the file dialogs are faked, the work runs on workers, the result is said in the
status bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QAction
from window_actions import FakeFileDialog, remember

from tera_desktop.core import backup as bk
from tera_desktop.core.engine import Engine
from tera_desktop.core.paths import get_paths
from tera_desktop.core.settings import Settings, save_settings
from tera_desktop.ui import menus as menus_mod

GATE = "the gate code is 4512"
PLUMBER = "my plumber is Bob Fixit"


class FileDialog(FakeFileDialog):
    answer = ""
    calls = 0

    @classmethod
    def getSaveFileName(cls, *args: object) -> tuple[str, str]:
        cls.calls += 1
        return cls.answer, ""


@pytest.fixture
def dialog(monkeypatch: pytest.MonkeyPatch) -> type[FileDialog]:
    fake = type("FileDialog", (FileDialog,), {"answer": "", "calls": 0})
    monkeypatch.setattr(menus_mod, "QFileDialog", fake)
    return fake


def file_action(window: Any, text: str) -> QAction:
    for menu_action in window.menuBar().actions():
        if menu_action.text() == "&File":
            for action in menu_action.menu().actions():
                if action.text().replace("&", "") == text:
                    return action
    raise AssertionError(f"no File → {text}")


def said(window: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    messages: list[tuple[str, bool]] = []
    real = window.notify

    def notify(message: str, *, error: bool = False, timeout_ms: int = 8000) -> None:
        messages.append((message, error))
        real(message, error=error, timeout_ms=timeout_ms)

    monkeypatch.setattr(window, "notify", notify)
    return messages


def test_back_up_from_the_window_restores_elsewhere(  # type: ignore[no-untyped-def]
    qtbot, make_window, dialog, monkeypatch, tmp_path: Path, tiny_settings: Settings
) -> None:
    window = make_window()
    remember(qtbot, window, GATE)
    messages = said(window, monkeypatch)
    target = tmp_path / "mine.tera-backup.zip"
    dialog.answer = str(target)
    file_action(window, "Back Up…").trigger()
    qtbot.waitUntil(lambda: any(m.startswith("Backed up") for m, _ in messages), timeout=30_000)
    assert dialog.calls == 1 and target.is_file()
    assert not any(error for _, error in messages)

    other = get_paths(tmp_path / "other")
    bk.restore(target, other)
    with Engine(other, tiny_settings) as engine:
        assert [f.text for f in engine.facts()] == [GATE]
        assert engine.search("gate code", 1)[0].id == window.engine.search("gate code", 1)[0].id


def test_cancelled_dialogs_do_nothing(qtbot, make_window, dialog, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    messages = said(window, monkeypatch)
    file_action(window, "Back Up…").trigger()
    file_action(window, "Restore…").trigger()
    assert dialog.calls == 2 and messages == []


def test_restore_replaces_the_open_memory(  # type: ignore[no-untyped-def]
    qtbot, make_window, dialog, monkeypatch, tmp_path: Path, tiny_settings: Settings
) -> None:
    elsewhere = get_paths(tmp_path / "elsewhere").ensure()
    save_settings(elsewhere, tiny_settings)
    with Engine(elsewhere, tiny_settings) as engine:
        engine.remember(PLUMBER)
        archive = bk.backup(engine, tmp_path / "b.zip").path
    window = make_window()
    remember(qtbot, window, GATE)
    messages = said(window, monkeypatch)
    asked: list[str] = []
    monkeypatch.setattr(window, "confirm", lambda title, text: asked.append(text) or True)
    dialog.answer = str(archive)
    file_action(window, "Restore…").trigger()
    qtbot.waitUntil(lambda: any(m.startswith("Restored") for m, _ in messages), timeout=30_000)
    qtbot.waitUntil(lambda: PLUMBER in window.memory.visible_texts(), timeout=30_000)
    assert GATE not in window.memory.visible_texts() and asked
    assert [f.text for f in window.engine.facts()] == [PLUMBER]
    assert window.engine.search("plumber", 1)[0].text == PLUMBER


def test_a_damaged_archive_changes_nothing_in_the_window(  # type: ignore[no-untyped-def]
    qtbot, make_window, dialog, monkeypatch, tmp_path: Path, worker_errors
) -> None:
    window = make_window()
    remember(qtbot, window, GATE)
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK\x03\x04 not a backup")
    messages = said(window, monkeypatch)
    monkeypatch.setattr(window, "confirm", lambda title, text: True)
    dialog.answer = str(archive)
    file_action(window, "Restore…").trigger()
    qtbot.waitUntil(lambda: bool(worker_errors), timeout=30_000)
    assert isinstance(worker_errors[0], bk.BackupError)
    assert any(error and "cannot be restored" in m for m, error in messages)
    assert [f.text for f in window.engine.facts()] == [GATE]  # the memory is still open
    assert window.engine.search("gate code", 1)[0].text == GATE
