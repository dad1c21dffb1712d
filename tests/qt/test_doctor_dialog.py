"""Help → Check Installation…: the doctor's report in a read-only view, checks on a worker, Copy."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from tera_desktop.core.doctor import FAIL, OK, WARN
from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import Settings, save_settings
from tera_desktop.ui.doctor_dialog import DoctorDialog
from tera_desktop.workers import WorkerManager


def _finish(qtbot, dialog: DoctorDialog) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not dialog.busy, timeout=60_000)


def test_the_report_appears_and_copy_puts_it_on_the_clipboard(
    qtbot, paths: Paths, tiny_settings: Settings
) -> None:
    save_settings(paths, tiny_settings)
    workers = WorkerManager()
    dialog = DoctorDialog(paths, workers)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.text.isReadOnly()
    assert not dialog.copy_button.isEnabled()  # until the checks are done
    _finish(qtbot, dialog)
    text = dialog.text.toPlainText()
    for name in ("Python", "llama.cpp build", "Embedding model", "Language model", "Memory store"):
        assert name in text
    assert {c.status for c in dialog.checks()} <= {OK, WARN}
    assert dialog.status_label.text() in (
        "Everything checked is healthy.",
        *(f"{n} warning{'s' if n > 1 else ''}." for n in range(1, 11)),
    )
    assert dialog.copy_button.isEnabled()
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == dialog.report_text() == text
    assert "Copied" in dialog.status_label.text()
    dialog.close()
    assert workers.shutdown(10)


def test_problems_show_with_their_fix(qtbot, paths: Paths) -> None:
    workers = WorkerManager()
    dialog = DoctorDialog(paths, workers)  # default models: none downloaded
    qtbot.addWidget(dialog)
    _finish(qtbot, dialog)
    failed = [c for c in dialog.checks() if c.status == FAIL]
    assert [c.name for c in failed] == ["Embedding model"]
    text = dialog.text.toPlainText()
    assert "[FAIL] Embedding model" in text
    # the window's words, never a terminal command (issue 24.2); Copy copies the same
    assert "fix: Get one with File → Set Up Models…" in text
    assert "tera models" not in text and "tera models" not in dialog.report_text()
    assert "problem to fix" in dialog.status_label.text()
    assert workers.shutdown(10)


def test_closing_while_checking_stops_the_checks(qtbot, paths: Paths) -> None:
    workers = WorkerManager()
    dialog = DoctorDialog(paths, workers)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.reject()  # at once: the worker is still running
    qtbot.waitUntil(lambda: not dialog.isVisible() and not dialog.busy, timeout=60_000)
    assert workers.shutdown(10)


def test_the_help_menu_opens_it_on_the_windows_engine(qtbot, make_window, monkeypatch) -> None:
    window = make_window()
    window.engine.remember("The gate code is 4512")
    opened: list[DoctorDialog] = []

    def show_instead_of_exec(self: DoctorDialog) -> int:  # exec() would block the test
        opened.append(self)
        self.show()
        return 0

    monkeypatch.setattr(DoctorDialog, "exec", show_instead_of_exec)
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    action = next(a for a in menu.actions() if a.text() == "&Check Installation…")
    action.trigger()
    assert len(opened) == 1
    dialog = opened[0]
    qtbot.addWidget(dialog)
    _finish(qtbot, dialog)
    store = next(c for c in dialog.checks() if c.name == "Memory store")
    assert store.status == OK
    assert "open in this window, 1 memories" in store.detail
    dialog.close()
