"""``create_worker``: a worker whose signals go to plain callables on the GUI thread.

The model is superqt's ``create_worker``: one call makes a typed worker, wires its signals and
starts it::

    def counting(cancel: threading.Event) -> Generator[int, None, str]:
        for n in range(3):
            yield n  # the worker checks ``cancel`` between items
        return "done"

    worker = create_worker(  # a Worker[int, str]
        counting,
        name="count",
        connect={"yielded": show_number, "returned": show_text, "errored": show_error},
        manager=window.workers,
        parent=window,
    )

The callables (bound methods, closures, lambdas) all run on the GUI thread: they are called by a
receiver QObject that lives there, so each connection is queued, never run on the pool thread.
mypy checks them against what ``fn`` yields and returns, and rejects an unknown signal name.
The receiver (a child of ``parent``, else of the application) keeps the worker alive until its
``finished`` has been handled, then is deleted; it also goes with its parent, so a window that is
gone gets no late calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any, Generic, Never, TypedDict, overload

from PySide6.QtCore import QCoreApplication, QObject, QThread, Slot

from tera_desktop.workers.base import R, Worker, WorkerManager, Y

SIGNALS = ("started", "yielded", "returned", "errored", "aborted", "finished")


class FunctionHandlers(TypedDict, Generic[R], total=False):
    """What ``connect`` takes for a plain function: one callable per signal, all optional."""

    started: Callable[[], object]
    returned: Callable[[R], object]
    errored: Callable[[BaseException], object]
    aborted: Callable[[], object]
    finished: Callable[[], object]


class Handlers(FunctionHandlers[R], Generic[Y, R], total=False):
    """What ``connect`` takes for a generator function: ``yielded`` too."""

    yielded: Callable[[Y], object]


class _Receiver(QObject):
    """Routes one worker's signals to plain callables on the GUI thread (a QObject receiver on
    the GUI thread makes every connection queued; the callables then run here)."""

    def __init__(self, worker: Worker[Any, Any], handlers: Mapping[str, Callable[..., object]]):
        super().__init__()
        self._worker: Worker[Any, Any] | None = worker
        self._handlers = dict(handlers)
        for name in SIGNALS:
            if name in self._handlers or name == "finished":
                getattr(worker, name).connect(getattr(self, f"_on_{name}"))

    @Slot()
    def _on_started(self) -> None:
        self._handlers["started"]()

    @Slot(object)
    def _on_yielded(self, item: object) -> None:
        self._handlers["yielded"](item)

    @Slot(object)
    def _on_returned(self, value: object) -> None:
        self._handlers["returned"](value)

    @Slot(object)
    def _on_errored(self, exc: object) -> None:
        self._handlers["errored"](exc)

    @Slot()
    def _on_aborted(self) -> None:
        self._handlers["aborted"]()

    @Slot()
    def _on_finished(self) -> None:
        try:
            if "finished" in self._handlers:
                self._handlers["finished"]()
        finally:
            self._worker = None
            self._handlers.clear()
            self.deleteLater()


# A generator function also matches the later overloads; as in typeshed, the first match wins.
@overload
def create_worker(  # type: ignore[overload-overlap]
    fn: Callable[[threading.Event], Generator[Y, Any, R]],
    *,
    name: str,
    connect: Handlers[Y, R] | None = ...,
    manager: WorkerManager | None = ...,
    parent: QObject | None = ...,
    start: bool = ...,
) -> Worker[Y, R]: ...


@overload
def create_worker(  # type: ignore[overload-overlap]
    fn: Callable[[threading.Event], Iterator[Y]],
    *,
    name: str,
    connect: Handlers[Y, None] | None = ...,
    manager: WorkerManager | None = ...,
    parent: QObject | None = ...,
    start: bool = ...,
) -> Worker[Y, None]: ...


@overload
def create_worker(
    fn: Callable[[threading.Event], R],
    *,
    name: str,
    connect: FunctionHandlers[R] | None = ...,
    manager: WorkerManager | None = ...,
    parent: QObject | None = ...,
    start: bool = ...,
) -> Worker[Never, R]: ...


def create_worker(
    fn: Callable[[threading.Event], Any],
    *,
    name: str,
    connect: Mapping[str, object] | None = None,
    manager: WorkerManager | None = None,
    parent: QObject | None = None,
    start: bool = True,
) -> Worker[Any, Any]:
    """A worker running ``fn(cancel_event)`` on the pool, its signals wired to ``connect``'s
    callables (called on the GUI thread), started through ``manager`` (or on its own) unless
    ``start`` is False (then start it with ``manager.start(worker)`` or ``worker.start()``).

    ``parent`` (a QObject on the GUI thread, e.g. the window; by default the application) owns
    the receiver: once the parent is gone, no callable is called any more. Call this on the GUI
    thread."""
    handlers: dict[str, Callable[..., object]] = {}
    for key, handler in (connect or {}).items():
        if key not in SIGNALS:
            raise ValueError(f"no such worker signal: {key!r} (signals: {', '.join(SIGNALS)})")
        if not callable(handler):
            raise TypeError(f"connect[{key!r}] is not callable: {handler!r}")
        handlers[key] = handler
    worker: Worker[Any, Any] = Worker(fn, name=name)
    if handlers:
        app = QCoreApplication.instance()
        if app is None:
            raise RuntimeError(
                "create_worker needs the application: its handlers run on its thread"
            )
        receiver = _Receiver(worker, handlers)
        if QThread.currentThread() != app.thread():
            receiver.moveToThread(app.thread())  # a receiver must live where the GUI runs
        # Qt owns it from here (no parent: the application), and deletes it after `finished`.
        receiver.setParent(parent if parent is not None else app)
    if start:
        if manager is not None:
            manager.start(worker)
        else:
            worker.start()
    return worker
