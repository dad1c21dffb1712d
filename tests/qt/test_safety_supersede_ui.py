"""The desktop app says which fact a new one replaces, shows the older one as superseded, and
Undo keeps both current (issue 12, point 5)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tera_desktop.testing.supersede_pairs import UPDATES

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")


def remember(qtbot, window, text: str) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        window.memory.remember_edit.setText(text)
        qtbot.keyClick(window.memory.remember_edit, Qt.Key.Key_Return)


def details(window) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Each fact's text → "fact", or "fact · superseded" for one shown as replaced."""
    return {
        row.text: "fact · superseded" if row.status == "superseded" else "fact"
        for row in window.memory.rows()
        if row.kind == "fact"
    }


def test_a_replaced_fact_is_shown_superseded_and_undo_keeps_both(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    old, new, _question = UPDATES[0]
    remember(qtbot, window, old)
    assert not window.memory.replaced_box.isVisible()
    remember(qtbot, window, new)
    assert window.memory.replaced_box.isVisible()
    assert old in window.memory.replaced_label.text()
    assert window.memory.replaced_label.textFormat() == Qt.TextFormat.PlainText
    assert details(window) == {new: "fact", old: "fact · superseded"}
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        qtbot.mouseClick(window.memory.undo_replace_button, Qt.MouseButton.LeftButton)
    assert not window.memory.replaced_box.isVisible()
    assert details(window) == {new: "fact", old: "fact"}
    assert window.engine.count() == 2
