"""Background work for the desktop app: Qt signals, no widgets."""

from tera_desktop.workers.base import Worker, WorkerManager

__all__ = ["Worker", "WorkerManager"]
