"""Issue 11 point 5: theme (system, light, dark, saved), shortcuts listed in Help and working,
a second launch raising the running window, file dialogs opening in the home folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QAbstractButton, QApplication, QFileDialog, QLabel

from tera_desktop.core.paths import Paths, get_paths
from tera_desktop.core.settings import Settings, load_settings
from tera_desktop.ui import theme as theme_module
from tera_desktop.ui.shortcuts_dialog import ShortcutsDialog
from tera_desktop.ui.single_instance import InstanceServer, ask_running_to_raise, server_name


def _window_is_dark() -> bool:
    return QApplication.palette().color(QPalette.ColorRole.Window).lightnessF() < 0.5


@pytest.fixture
def light_again():  # type: ignore[no-untyped-def]
    yield
    theme_module.theme_manager().apply("light")


def test_theme_menu_switches_and_is_saved(make_window, qtbot, paths: Paths, light_again) -> None:  # type: ignore[no-untyped-def]
    window = make_window(start=False)
    assert set(window.theme_actions) == {"system", "light", "dark"}
    assert window.theme_actions["system"].isChecked()
    window.theme_actions["dark"].trigger()
    assert _window_is_dark()
    text = QApplication.palette().color(QPalette.ColorRole.Text)
    assert text.lightnessF() > 0.7  # light text on the dark background
    assert load_settings(paths).theme == "dark"
    dark_base = QApplication.palette().color(QPalette.ColorRole.Base).name()
    dark_page = f"#chatPage {{ background: {dark_base}; }}"
    qtbot.waitUntil(lambda: dark_page in window.chat.chat_view.styleSheet(), timeout=5000)
    window.theme_actions["light"].trigger()
    assert not _window_is_dark()
    assert load_settings(paths).theme == "light"
    light_page = "#chatPage { background: #ffffff; }"
    qtbot.waitUntil(lambda: light_page in window.chat.chat_view.styleSheet(), timeout=5000)


def test_a_saved_dark_theme_applies_at_start(
    make_window, tiny_settings: Settings, light_again
) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    window = make_window(replace(tiny_settings, theme="dark"), start=False)
    assert _window_is_dark()
    assert window.theme_actions["dark"].isChecked()


def test_every_button_follows_the_dark_theme(make_window, qtbot, light_again) -> None:  # type: ignore[no-untyped-def]
    """No control keeps a light face in the dark theme (a style sheet on a widget once kept the
    sidebar's ⋯ button white): each visible button's face, sampled inside its border and away
    from its text, is dark."""
    window = make_window(start=False)
    window.resize(1000, 700)
    window.theme_actions["dark"].trigger()
    qtbot.wait(50)
    light = []
    for button in window.findChildren(QAbstractButton):
        if not button.isVisible() or button.width() < 12:
            continue
        image = button.grab().toImage()
        face = image.pixelColor(4, image.height() // 2)  # inside the frame, left of the text
        if face.lightnessF() > 0.6:
            light.append((button.objectName() or button.text(), face.name()))
    assert light == []


def test_system_choice_follows_the_desktop(monkeypatch, light_again) -> None:  # type: ignore[no-untyped-def]
    # Offscreen and bare X servers report no colour scheme, so the desktop's answer is simulated
    # here; the palette switch it triggers is the real one.
    manager = theme_module.theme_manager()
    manager.apply("light")
    monkeypatch.setattr(theme_module, "system_is_dark", lambda: True)
    manager.apply("system")
    assert _window_is_dark()
    monkeypatch.setattr(theme_module, "system_is_dark", lambda: False)
    manager._on_system_scheme_changed(Qt.ColorScheme.Light)
    assert not _window_is_dark()
    manager.apply("light")
    monkeypatch.setattr(theme_module, "system_is_dark", lambda: True)
    manager._on_system_scheme_changed(Qt.ColorScheme.Dark)
    assert not _window_is_dark()  # a manual choice is not overridden by the desktop


def test_invalid_theme_setting_is_refused() -> None:
    from tera_desktop.core.errors import ConfigError

    with pytest.raises(ConfigError, match="theme must be"):
        Settings(theme="purple").validate()


def test_help_lists_the_shortcuts_and_they_work(make_window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window = make_window(start=False)
    rows = dict((what, keys) for keys, what in window.menus.shortcut_list())
    assert rows["New Chat"] == "Ctrl+N"
    assert rows["Search Memory"] == "Ctrl+K"
    assert rows["Focus Question Box"] == "Ctrl+L"
    assert rows["Add Files"] == "Ctrl+O"
    assert rows["Stop Answer"] == "Esc"
    dialog = ShortcutsDialog(window.menus.shortcut_list(), window)
    qtbot.addWidget(dialog)
    shown = [label.text() for label in dialog.findChildren(QLabel)]
    for keys in ("Ctrl+N", "Ctrl+K", "Ctrl+L", "Ctrl+O", "Esc"):
        assert keys in shown

    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWindow() is not None, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.memory.filter_edit.hasFocus()
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.chat.input.hasFocus()
    stopped: list[bool] = []
    window.chat_controller.stop = lambda: stopped.append(True)  # type: ignore[method-assign]
    qtbot.keyClick(window.memory.filter_edit, Qt.Key.Key_Escape)
    assert stopped  # Esc stops from anywhere in the window, not only the question box


def test_file_dialogs_open_in_home(make_window, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window(start=False)
    seen: list[str] = []

    def files(_parent, _title, folder="", *_a, **_k):  # type: ignore[no-untyped-def]
        seen.append(folder)
        return [], ""

    def folder(_parent, _title, start="", *_a, **_k):  # type: ignore[no-untyped-def]
        seen.append(start)
        return ""

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", files)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", folder)
    monkeypatch.chdir(tmp_path)  # the launch folder: never where the dialogs open
    window.library.choose_files()
    window.library.choose_folder()
    assert seen == [str(Path.home()), str(Path.home())]


def test_second_launch_raises_the_running_window(
    make_window, qtbot, paths: Paths, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from tera_desktop.core.instance import InstanceLock

    window = make_window(start=False)
    lock = InstanceLock(paths.data / "tera-desktop.lock")
    assert lock.acquire()
    server = InstanceServer(paths, window)
    assert server.listening
    raised: list[bool] = []
    window.bring_to_front = lambda: raised.append(True)  # type: ignore[method-assign]
    server.activated.connect(window.bring_to_front)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TERA_NO_AUTOSTART="1")
    env.pop("TERA_HOME", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tera_desktop", "--home", str(paths.data.parent)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=60_000)
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()
        lock.release()
    assert proc.returncode == 0, err
    assert "brought to the front" in out
    assert raised == [True]


def test_raise_request_without_a_running_tera_is_refused(paths: Paths) -> None:
    assert not ask_running_to_raise(paths, timeout_ms=500)
    assert server_name(paths) != server_name(get_paths(paths.data.parent / "other"))


@pytest.mark.qt_log_ignore("This plugin does not support")  # offscreen: no window manager
def test_bring_to_front_restores_a_minimized_window(make_window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window = make_window(start=False)
    window.showMinimized()
    window.bring_to_front()
    assert not window.isMinimized()
    assert window.isVisible()


def test_the_empty_chat_shows_what_to_do_first(make_window, qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    empty = window.chat.chat_view.empty_hint
    assert empty.isVisible()
    assert not empty.status.isVisible()  # nothing stored yet: no "Ask away"
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWindow() is not None, timeout=5000)
    qtbot.mouseClick(empty.buttons["remember"], Qt.MouseButton.LeftButton)
    assert window.memory.remember_edit.hasFocus()
    qtbot.mouseClick(empty.buttons["ask"], Qt.MouseButton.LeftButton)
    assert window.chat.input.hasFocus()
    opened: list[str] = []
    monkeypatch.setattr(
        QFileDialog,
        "getOpenFileNames",
        lambda _p, _t, folder="", *_a, **_k: (opened.append(folder), ([], ""))[1],
    )
    qtbot.mouseClick(empty.buttons["add_files"], Qt.MouseButton.LeftButton)
    assert opened == [str(Path.home())]
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        window.memory.remember_requested.emit("The gate code is 4512.")
    qtbot.waitUntil(lambda: window.memory_count == 1, timeout=30_000)
    assert empty.status.isVisible() and empty.status.text() == "Tera holds 1 memory. Ask away."
    with qtbot.waitSignal(window.answer_finished, timeout=60_000):
        window.chat.question_asked.emit("What is the gate code?")
    assert not empty.isVisible()
