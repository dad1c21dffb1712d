"""PySide6 6.12.0 takes a reference off Python's None on every void Qt call under Python 3.11, so a
long streamed answer aborted the interpreter ("deallocating None"). The project pins a release
without the bug; this guards the pin."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QWidget


def test_void_qt_calls_do_not_leak_references_to_none(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = QWidget()
    qtbot.addWidget(widget)
    before = sys.getrefcount(None)
    for _ in range(2000):
        widget.setFixedHeight(30)
    assert sys.getrefcount(None) - before > -100
