"""Issue 24.5: the waiting-fact line starts with a glyph the app's font has (it showed a
missing-glyph box for "⏳")."""

from __future__ import annotations

from PySide6.QtGui import QFontMetrics

from tera_desktop.ui.memory_panel import WAITING_MARK, MemoryPanel


def test_the_waiting_lines_glyphs_are_in_the_font(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = MemoryPanel()
    qtbot.addWidget(panel)
    panel.set_pending_facts(["the spare key is under the blue pot"], ["/notes/boiler.txt"])
    text = panel.pending_label.text()
    assert text.startswith(WAITING_MARK) and text.count(WAITING_MARK) == 2
    metrics = QFontMetrics(panel.pending_label.font())
    missing = {c for c in text if not c.isascii() and not metrics.inFontUcs4(ord(c))}
    assert not missing, missing
