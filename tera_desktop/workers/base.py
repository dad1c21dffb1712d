"""One worker base for all background work, on Qt's threads.

A ``Worker`` runs a function on a thread of Tera's ``QThreadPool`` (see ``thread_pool()``): one
pool for the whole app, sized so that a worker never waits behind another (each starts at once,
as it would on a thread of its own), whose idle threads are reused and expire on their own.
The function gets a ``threading.Event`` (set when the user cancels) and either returns a value or
is a generator: each yielded item is emitted as ``yielded``, the generator's return value as
``returned``. Cancellation is cooperative: the event is checked between items (and by core code at
its own yields); the generator is then closed, so its ``finally`` blocks run, and ``aborted`` is
emitted. Nothing is ever terminated.

Signals (emitted on the pool thread, delivered queued on the GUI thread): ``started``,
``yielded(object)``, ``returned(object)``, ``errored(object)`` (the exception), ``aborted``,
``finished`` (always last). Connect them to slots of QObjects living on the GUI thread (a dialog's
``_on_*`` methods), or hand plain callables to ``create_worker(fn, name=..., connect={...})``
(``workers/create.py``): it routes them through a receiver QObject on the GUI thread, owned by a
parent, so a window that is gone gets no late calls.

``Worker[Y, R]`` is typed by what its function yields (``Y``) and returns (``R``).
``join(timeout)`` waits until the worker's run has ended on its pool thread (after ``finished``
was emitted); ``running_workers()`` lists every worker started and not yet ended (the tests use it
to fail on leaked workers). ``WorkerManager`` starts workers, keeps them alive while they run, and
on shutdown cancels and joins every one of them.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any, Generic, Never, TypeVar, overload

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from tera_desktop.core.errors import Cancelled, TeraError

log = logging.getLogger("tera.workers")
_ids = itertools.count(1)

Y = TypeVar("Y")  # what the work yields
R = TypeVar("R")  # what the work returns

WorkFn = Callable[[threading.Event], Any]

# A worker never queues behind another: the pool has far more threads than the app ever runs at
# once (a handful), so one that waits for another (``join`` inside a worker) cannot starve it.
MAX_THREADS = 64

_pool: QThreadPool | None = None
_pool_lock = threading.Lock()
_live: set[Worker[Any, Any]] = set()  # started, run not ended: keeps each alive while it runs
_live_lock = threading.Lock()


def thread_pool() -> QThreadPool:
    """The pool every worker runs on (made on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            pool = QThreadPool()
            pool.setObjectName("tera-workers")
            pool.setMaxThreadCount(MAX_THREADS)
            _pool = pool
        return _pool


def running_workers() -> list[Worker[Any, Any]]:
    """Every worker started whose run has not ended yet (queued, running or finishing)."""
    with _live_lock:
        return list(_live)


class Worker(QObject, Generic[Y, R]):
    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)
    aborted = Signal()
    finished = Signal()

    @overload
    def __init__(
        self: Worker[Y, R],
        fn: Callable[[threading.Event], Generator[Y, Any, R]],
        name: str = ...,
        parent: QObject | None = ...,
    ) -> None: ...

    @overload
    def __init__(
        self: Worker[Y, None],
        fn: Callable[[threading.Event], Iterator[Y]],
        name: str = ...,
        parent: QObject | None = ...,
    ) -> None: ...

    @overload
    def __init__(
        self: Worker[Never, R],
        fn: Callable[[threading.Event], R],
        name: str = ...,
        parent: QObject | None = ...,
    ) -> None: ...

    def __init__(self, fn: WorkFn, name: str = "work", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.fn = fn
        self.name = name
        self.id = next(_ids)
        self.cancel_event = threading.Event()
        self.done = threading.Event()  # set just before `finished` is emitted
        self._ended = threading.Event()  # set when the run has returned (after `finished`)
        self._started = False

    def __repr__(self) -> str:
        return f"<Worker {self.id} {self.name!r}>"

    @property
    def running(self) -> bool:
        return self._started and not self.done.is_set()

    def start(self) -> None:
        if self._started:
            raise RuntimeError(f"worker {self.name} already started")
        self._started = True
        with _live_lock:
            _live.add(self)
        thread_pool().start(self._run)

    @Slot()
    def cancel(self) -> None:
        self.cancel_event.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the run has ended; True if it has (or never started)."""
        if not self._started:
            return True
        return self._ended.wait(timeout)

    def _run(self) -> None:  # on a pool thread
        try:
            self._work()
        finally:
            self.done.set()
            self.finished.emit()
            with _live_lock:
                _live.discard(self)
            self._ended.set()

    def _work(self) -> None:
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
        except TeraError as exc:  # expected (a missing model, a full disk): one line is enough
            log.warning("worker %s: %s", self.name, exc)
            self.errored.emit(exc)
        except BaseException as exc:  # every error reaches the user through `errored`
            log.exception("worker %s failed", self.name)
            self.errored.emit(exc)


class WorkerManager(QObject):
    """Owns running workers; ``shutdown()`` cancels and joins them all (on window close)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._workers: set[Worker[Any, Any]] = set()
        self._lock = threading.Lock()

    def start(self, worker: Worker[Y, R]) -> Worker[Y, R]:
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

    def active(self) -> list[Worker[Any, Any]]:
        with self._lock:
            return [w for w in self._workers if not w.done.is_set()]

    def cancel_all(self) -> None:
        for worker in self.active():
            worker.cancel()

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Cancel every worker and join each one (they stop side by side, so ``timeout`` bounds
        the whole wait). True if all stopped in time."""
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        deadline = time.monotonic() + timeout
        stopped = [worker.join(max(0.0, deadline - time.monotonic())) for worker in workers]
        ok = all(stopped)
        if not ok:
            log.error(
                "workers still running: %s",
                [w for w, s in zip(workers, stopped, strict=True) if not s],
            )
        with self._lock:
            self._workers.clear()
        return ok
