"""Background work for the desktop app, on Qt's threads: Qt signals, no widgets."""

from tera_desktop.workers.base import Worker, WorkerManager, running_workers, thread_pool
from tera_desktop.workers.create import Handlers, create_worker

__all__ = [
    "Handlers",
    "Worker",
    "WorkerManager",
    "create_worker",
    "running_workers",
    "thread_pool",
]
