"""Files dropped anywhere on a window are added to memory, instead of a child widget (the chat
box, a list) inserting their paths as text."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget

_DRAG_EVENTS = (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop)


def local_files(event: QEvent) -> list[str]:
    """The local files a drag carries; [] when it carries anything else."""
    mime = event.mimeData()  # type: ignore[attr-defined]
    urls = mime.urls() if mime is not None and mime.hasUrls() else []
    if urls and all(u.isLocalFile() for u in urls):
        return [u.toLocalFile() for u in urls]
    return []


class FileDropFilter(QObject):
    """An application-wide event filter: drags of local files onto ``window``'s children are
    accepted, and a drop calls ``dropped(paths)``."""

    def __init__(self, window: QWidget, dropped: Callable[[list[str]], None]) -> None:
        super().__init__(window)
        self._window = window
        self._dropped = dropped

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if (
            kind in _DRAG_EVENTS
            and isinstance(watched, QWidget)
            and (
                watched.window() is self._window  # the window itself calls this from its handlers
            )
        ):
            paths = local_files(event)
            if paths:
                event.acceptProposedAction()  # type: ignore[attr-defined]
                if kind == QEvent.Type.Drop:
                    self._dropped(paths)
                return True
        return False  # not a file drop: let the event through (never touch `watched` again)
