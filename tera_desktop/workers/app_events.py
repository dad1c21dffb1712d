"""The application core's events as a Qt signal: the core tells what changed on the thread that
changed it; ``AppEvents.event_received`` delivers it on the GUI thread (a queued connection when
it was emitted elsewhere), so widgets only ever change there."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from tera_desktop.core.app import TeraApp


class AppEvents(QObject):
    event_received = Signal(object)  # a core.app event (MemoryChanged, ReadinessChanged, …)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: Callable[[], None] | None = None

    def follow(self, app: TeraApp) -> None:
        """Relay ``app``'s events (and stop relaying the previous one's)."""
        self.stop()
        self._unsubscribe = app.subscribe(self.event_received.emit)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
