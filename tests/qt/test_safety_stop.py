"""Stop on an ingestion says "Stopping…" at once (issue 12, point 7: the file being embedded
finishes first, so the stop is not instant)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tera_desktop.ui.memory_panel import MemoryPanel


def test_stop_says_stopping_until_the_ingestion_ends(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = MemoryPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_ingesting(True)
    button = panel.stop_button
    assert button.text() == "Stop" and button.isEnabled()
    with qtbot.waitSignal(panel.stop_ingest_requested, timeout=1000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert button.text() == "Stopping…" and not button.isEnabled()
    panel.set_ingesting(False)
    panel.set_ingesting(True)  # the next ingestion starts with a live Stop button
    assert button.text() == "Stop" and button.isEnabled()
