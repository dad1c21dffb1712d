"""The first paint while the memory opens (issue 19, point 4): the sidebar and the empty chat say
"Opening your memory…", never "Nothing remembered yet." or the welcome steps, until the memory's
contents arrive."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from tera_desktop.core.store import FactInfo
from tera_desktop.ui.chat import ChatView
from tera_desktop.ui.empty_state import EmptyState
from tera_desktop.ui.memory_panel import MemoryPanel

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

FACT = FactInfo("f1", "the gate code is 4512", "2024-11-03T12:00:00+00:00")


def _show(qtbot: QtBot, widget: QWidget) -> None:
    qtbot.addWidget(widget)
    widget.resize(420, 560)
    widget.show()
    qtbot.waitExposed(widget)


def test_the_sidebar_says_opening_until_the_first_listing(qtbot: QtBot) -> None:
    panel = MemoryPanel()
    _show(qtbot, panel)
    assert panel.opening
    assert panel.stack.currentWidget() is panel.empty_label
    assert panel.empty_label.isVisible()
    assert panel.empty_label.text() == "Opening your memory…"
    panel.set_watched([])  # other news before the listing does not end it
    assert "Nothing remembered" not in panel.empty_label.text()

    panel.set_memories([], [])  # open, and empty: now it may say so
    assert not panel.opening
    assert panel.empty_label.text().startswith("Nothing remembered yet.")

    panel.set_opening(True)  # another memory is being opened
    assert panel.empty_label.text() == "Opening your memory…"
    panel.set_memories([FACT], [])
    assert panel.stack.currentWidget() is panel.tree
    assert panel.visible_texts() == ["the gate code is 4512"]


def test_the_empty_chat_says_opening_until_the_memory_count(qtbot: QtBot) -> None:
    empty = EmptyState()
    _show(qtbot, empty)
    assert empty.opening
    assert empty.opening_label.isVisible()
    assert empty.opening_label.text() == "Opening your memory…"
    assert not empty.welcome.isVisible()
    assert not any(button.isVisible() for button in empty.buttons.values())
    assert not empty.title.isVisible()

    empty.set_memory_count(0)  # the memory is open: the welcome steps
    assert not empty.opening
    assert not empty.opening_label.isVisible()
    assert empty.title.isVisible() and all(b.isVisible() for b in empty.buttons.values())
    assert not empty.status.isVisible()

    empty.set_opening(True)
    assert empty.opening_label.isVisible() and not empty.welcome.isVisible()
    empty.set_opening(False)
    assert empty.welcome.isVisible()


def test_a_new_chat_view_paints_opening_first(qtbot: QtBot) -> None:
    view = ChatView()
    _show(qtbot, view)
    assert view.empty_hint.isVisible()
    assert view.empty_hint.opening_label.isVisible()
    assert not view.empty_hint.welcome.isVisible()
