"""Issue 24.1: at 800×560 and at 1920×1080, in both themes, with and without the source viewer,
every visible label's text fits its label (or is deliberately elided, with a tooltip)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from window_actions import ask, remember

from tera_desktop.ui import theme as theme_module

SIZES = [(800, 560), (1920, 1080)]


def clipped_labels(root: QWidget) -> list[str]:
    """Each visible label whose text does not fit (plain labels on one line: their width;
    word-wrapped ones: the height they need at their width). An elided text with its whole text
    as tooltip is deliberate."""
    for _ in range(5):  # layouts settle over a few passes
        QApplication.processEvents()
    out = []
    for label in root.findChildren(QLabel):
        if not label.isVisible() or not label.text().strip() or label.width() <= 1:
            continue
        text = label.text()
        if "…" in text and label.toolTip():
            continue  # elided on purpose: the whole text is in the tooltip
        room = label.contentsRect()
        if label.wordWrap() or label.textFormat() == Qt.TextFormat.RichText or "<" in text:
            need = label.heightForWidth(room.width()) if label.wordWrap() else -1
            if need > room.height() + 2:
                out.append(
                    f"{label.objectName() or text[:40]!r}: needs {need} px, has {room.height()}"
                )
            continue
        metrics = label.fontMetrics()
        widest = max(metrics.horizontalAdvance(line) for line in text.splitlines())
        if widest > room.width() + 1:
            out.append(
                f"{label.objectName() or text[:40]!r}: needs {widest} px, has {room.width()}"
            )
    return out


def cut_messages(window) -> list[str]:  # type: ignore[no-untyped-def]
    """Messages (and their source chips) wider than the chat column: their right part, words
    included, was cut off (the column does not scroll sideways)."""
    view = window.chat.chat_view
    room = view.viewport().width()
    out = []
    for message in view.messages():
        for widget in [message, *message.source_chips()]:
            right = widget.mapTo(view.viewport(), widget.rect().topRight()).x()
            if widget.isVisible() and right > room:
                out.append(f"{message.role} {type(widget).__name__} ends at {right}, room {room}")
    return out


@pytest.fixture
def light_again():  # type: ignore[no-untyped-def]
    yield
    theme_module.theme_manager().apply("light")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_main_window_text_fits(qtbot, make_window, theme: str, light_again) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.theme_actions[theme].trigger()
    problems = []
    for width, height in SIZES:  # the empty state's steps first
        window.resize(width, height)
        problems += [f"{width}x{height} empty: {p}" for p in clipped_labels(window)]
    remember(qtbot, window, "The home insurance renews on 14 March with Allianz.")
    ask(qtbot, window, "When does the home insurance renew?")
    for width, height in SIZES:
        window.resize(width, height)
        problems += [f"{width}x{height}: {p}" for p in clipped_labels(window)]
        answer = window.chat.chat_view.messages()[-1]
        chips = answer.source_chips()
        window.chat.show_source(chips[0].source)
        problems += [f"{width}x{height} viewer: {p}" for p in clipped_labels(window)]
        problems += [f"{width}x{height} viewer: {p}" for p in cut_messages(window)]
        window.chat.source_viewer.hide()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_dialog_text_fits(qtbot, make_window, tmp_path, theme: str, light_again) -> None:  # type: ignore[no-untyped-def]
    from tera_desktop.core.paths import get_paths
    from tera_desktop.ui.doctor_dialog import DoctorDialog
    from tera_desktop.ui.first_run import FirstRunDialog, show_first_run
    from tera_desktop.ui.settings_dialog import SettingsDialog
    from tera_desktop.ui.shortcuts_dialog import ShortcutsDialog

    window = make_window()
    window.theme_actions[theme].trigger()
    problems = []
    for width, height in SIZES:
        window.resize(width, height)
        doctor = DoctorDialog(window.paths, window.workers, window.engine, window)
        for dialog in (
            SettingsDialog(window.paths, window.settings, window),
            ShortcutsDialog(window.menus.shortcut_list(), window),
            show_first_run(get_paths(tmp_path / "new-user").ensure(), parent=window),
            doctor,
        ):
            qtbot.addWidget(dialog)
            dialog.show()
            if isinstance(dialog, DoctorDialog):
                qtbot.waitUntil(lambda d=dialog: not d.busy, timeout=60_000)
            name = type(dialog).__name__
            problems += [f"{width}x{height} {name}: {p}" for p in clipped_labels(dialog)]
            if isinstance(dialog, FirstRunDialog):  # "I have model files…": Choose… on each row
                dialog.files_button.click()
                problems += [f"{width}x{height} {name} files: {p}" for p in clipped_labels(dialog)]
            dialog.close()
    assert not problems, "\n".join(problems)
