"""One worker base for all background work.

A ``Worker`` runs a function on a background thread. The function gets a ``threading.Event`` (set
when the user cancels) and either returns a value or is a generator: each yielded item is emitted
as ``yielded``, the generator's return value as ``returned``. Cancellation is cooperative: the
event is checked between items (and by core code at its own yields); the generator is then closed,
so its ``finally`` blocks run, and ``aborted`` is emitted. Nothing is ever terminated.

Signals (all delivered on the GUI thread, queued): ``started``, ``yielded(object)``,
``returned(object)``, ``errored(object)`` (the exception), ``aborted``, ``finished`` (always last).
Connect them to methods of QObjects living on the GUI thread, never to lambdas: a lambda has no
thread and would run on the worker thread.

``WorkerManager`` starts workers, keeps them alive while they run, and on shutdown cancels and
joins every one of them.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from tera_desktop.core.errors import Cancelled

log = logging.getLogger("tera.workers")
_ids = itertools.count(1)

WorkFn = Callable[[threading.Event], Any]


class Worker(QObject):
    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)
    aborted = Signal()
    finished = Signal()

    def __init__(self, fn: WorkFn, name: str = "work", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.fn = fn
        self.name = name
        self.cancel_event = threading.Event()
        self._thread: threading.Thread | None = None
        self.done = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None and not self.done.is_set()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"worker {self.name} already started")
        self._thread = threading.Thread(
            target=self._run, name=f"tera-worker-{next(_ids)}-{self.name}", daemon=True
        )
        self._thread.start()

    @Slot()
    def cancel(self) -> None:
        self.cancel_event.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _run(self) -> None:
        self.started.emit()
        try:
            result = self.fn(self.cancel_event)
            if inspect.isgenerator(result):
                gen = result
                try:
                    while True:
                        if self.cancel_event.is_set():
                            gen.close()
                            self.aborted.emit()
                            return
                        try:
                            item = next(gen)
                        except StopIteration as stop:
                            self.returned.emit(stop.value)
                            return
                        self.yielded.emit(item)
                finally:
                    gen.close()
            elif self.cancel_event.is_set():
                self.aborted.emit()
            else:
                self.returned.emit(result)
        except Cancelled:
            self.aborted.emit()
        except BaseException as exc:  # every error reaches the user through `errored`
            log.exception("worker %s failed", self.name)
            self.errored.emit(exc)
        finally:
            self.done.set()
            self.finished.emit()


class WorkerManager(QObject):
    """Owns running workers; ``shutdown()`` cancels and joins them all (on window close)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._workers: set[Worker] = set()
        self._lock = threading.Lock()

    def start(self, worker: Worker) -> Worker:
        with self._lock:
            self._workers.add(worker)
        worker.finished.connect(self._on_finished)
        worker.start()
        return worker

    @Slot()
    def _on_finished(self) -> None:
        with self._lock:
            for worker in [w for w in self._workers if w.done.is_set()]:
                worker.join(1.0)
                self._workers.discard(worker)

    def active(self) -> list[Worker]:
        with self._lock:
            return [w for w in self._workers if not w.done.is_set()]

    def cancel_all(self) -> None:
        for worker in self.active():
            worker.cancel()

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Cancel every worker and wait for each to stop. True if all stopped in time."""
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        ok = all(worker.join(timeout) for worker in workers)
        with self._lock:
            self._workers.clear()
        return ok
