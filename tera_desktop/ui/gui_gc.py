"""Python's cycle collector runs on the GUI thread only.

CPython collects reference cycles in whichever thread happens to allocate when a generation fills
up, so a worker thread can end up destroying a window or dialog that became garbage (a closed
window held in a cycle by its own lambdas and closures). Qt objects must die on their own thread:
destroying one elsewhere stops its timers from the wrong thread ("Timers cannot be stopped from
another thread") and crashes the app later. So while the app runs, automatic collection is off and
a GUI-thread timer collects instead, one generation at a time, as often as CPython would have
(its thresholds, checked every ``interval_ms``). Plain reference counting still frees everything
that is not in a cycle at once, on any thread, as before.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject, interval_ms: int = 500) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.collections = 0
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        gc.disable()
        self._timer.start()

    @Slot()
    def check(self) -> None:
        """Collect each generation whose count passed CPython's own threshold."""
        counts = gc.get_count()
        for generation in (2, 1, 0):  # collecting one also collects the younger ones
            if counts[generation] > self.thresholds[generation]:
                gc.collect(generation)
                self.collections += 1
                return

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()


def collect_on_gui_thread() -> GuiThreadCollector:
    """Install the collector for this application (once) and return it."""
    app = QApplication.instance()
    if app is None:
        raise RuntimeError("no QApplication")
    found = app.findChild(GuiThreadCollector)
    if isinstance(found, GuiThreadCollector):
        return found
    collector = GuiThreadCollector(app)
    app.aboutToQuit.connect(collector.stop)
    return collector
