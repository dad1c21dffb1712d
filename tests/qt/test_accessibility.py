"""Issue 11 point 5: every control a user can reach has a name a screen reader can say.

The name is read through Qt's accessibility layer (what Orca or NVDA would get), so a button's
visible text counts, and an icon-only button or a bare text box without a name fails."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QSlider,
    QTabBar,
    QTextEdit,
    QWidget,
)

CONTROLS = (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QSlider,
    QTabBar,
    QTextEdit,
)


def unnamed_controls(root: QWidget) -> list[str]:
    missing = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, CONTROLS) or not widget.isVisibleTo(root):
            continue
        if widget.focusPolicy().value == 0 and not isinstance(widget, QAbstractButton):
            continue  # not reachable: a read-only display, not a control
        if isinstance(widget.parentWidget(), (QComboBox, QAbstractSpinBox)):
            continue  # a combo box's or spin box's own editor: the box carries the name
        iface = QAccessible.queryAccessibleInterface(widget)
        name = iface.text(QAccessible.Text.Name).strip() if iface is not None else ""
        if not name:
            parent = widget.parentWidget()
            missing.append(
                f"{type(widget).__name__} {widget.objectName()!r} in "
                f"{type(parent).__name__ if parent else None} "
                f"{parent.objectName() if parent else ''!r}"
            )
    return missing


def test_every_control_in_the_main_window_has_an_accessible_name(make_window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.memory.remember_edit.setText("x")
    window.engine.remember("The gate code is 4512.")
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        window.refresh_memories()
    with qtbot.waitSignal(window.answer_finished, timeout=60_000):
        window.chat.question_asked.emit("What is the gate code?")
    missing = unnamed_controls(window)
    assert not missing, "\n".join(missing)
    window.sidebar.setCurrentWidget(window.chats)
    missing = unnamed_controls(window)
    assert not missing, "\n".join(missing)


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # offscreen: no window manager
def test_every_control_in_the_dialogs_has_an_accessible_name(make_window, qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tera_desktop.core.paths import get_paths
    from tera_desktop.ui.doctor_dialog import DoctorDialog
    from tera_desktop.ui.first_run import show_first_run
    from tera_desktop.ui.settings_dialog import SettingsDialog
    from tera_desktop.ui.shortcuts_dialog import ShortcutsDialog

    window = make_window()
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a.md").write_text("# Notes\n\nmy cat is blue")
    (folder / "empty.txt").write_text("")
    with qtbot.waitSignal(window.ingest_finished, timeout=60_000):
        window.add_paths([str(folder)])
    with qtbot.waitSignal(window.answer_finished, timeout=60_000):
        window.chat.question_asked.emit("my cat is blue")
    chips = window.chat.chat_view.messages()[-1].source_chips()
    assert chips
    chips[0].click()  # the source viewer
    missing = unnamed_controls(window)
    assert not missing, "\n".join(missing)
    doctor = DoctorDialog(window.paths, window.workers, window.engine, window)
    for dialog in (
        SettingsDialog(window.paths, window.settings, window),
        ShortcutsDialog(window.menus.shortcut_list(), window),
        window.memory.ingest.show_log(),
        show_first_run(get_paths(tmp_path / "new-user").ensure(), parent=window),
        doctor,
    ):
        qtbot.addWidget(dialog)
        dialog.show()
        missing = unnamed_controls(dialog)
        assert not missing, f"{type(dialog).__name__}: " + "\n".join(missing)
        dialog.close()
