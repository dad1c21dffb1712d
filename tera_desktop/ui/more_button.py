"""The "⋯" button that opens a menu of less common actions (the sidebar's, the chat list's)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMenu, QToolButton


def more_button(
    object_name: str, accessible_name: str, tooltip: str, menu: Callable[[], QMenu]
) -> QToolButton:
    """A "⋯" button that pops up ``menu()`` below itself on click, without a nested event loop.
    No menu indicator and no style sheet: a style sheet on a button keeps it out of the dark
    theme's palette."""
    button = QToolButton()
    button.setObjectName(object_name)
    button.setText("⋯")
    button.setAccessibleName(accessible_name)
    button.setToolTip(tooltip)
    button.clicked.connect(lambda: menu().popup(button.mapToGlobal(button.rect().bottomLeft())))
    return button
