"""The one worker base on Qt's threads (issue 11, point 6): work runs on Tera's QThreadPool,
handlers on the GUI thread, generator items in order, cooperative cancel (the generator is closed,
its ``finally`` runs, ``aborted`` is emitted), errors reach ``errored``, ``shutdown()`` joins every
worker, and a finished worker is let go by everyone."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Generator, Iterator
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QObject, QThread
from pytestqt.qtbot import QtBot

from tera_desktop.core.errors import Cancelled
from tera_desktop.workers import (
    Worker,
    WorkerManager,
    create_worker,
    running_workers,
    thread_pool,
)
from tera_desktop.workers.create import _Receiver


@pytest.fixture
def manager(qtbot: QtBot) -> Iterator[WorkerManager]:
    workers = WorkerManager()
    yield workers
    assert workers.shutdown(10)


def _app() -> QCoreApplication:
    app = QCoreApplication.instance()
    assert app is not None
    return app


class Recorder:
    """Plain callables for ``connect``: each records what it got and on which thread."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.threads: set[int] = set()

    def _record(self, name: str, value: object = None) -> None:
        self.threads.add(threading.get_ident())
        self.events.append((name, value))

    def handlers(self) -> Any:  # a Handlers dict, whatever the worker's types
        return {
            name: (lambda *args, _name=name: self._record(_name, *args))
            for name in ("started", "yielded", "returned", "errored", "aborted", "finished")
        }

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def values(self, name: str) -> list[object]:
        return [value for event, value in self.events if event == name]

    @property
    def finished(self) -> bool:
        return "finished" in self.names()


def test_work_runs_on_a_pool_thread_and_handlers_on_the_gui_thread(
    qtbot: QtBot,
    manager: WorkerManager,
) -> None:
    seen: dict[str, object] = {}

    def work(cancel: threading.Event) -> str:
        thread = QThread.currentThread()
        seen["gui"] = thread == _app().thread()
        seen["pooled"] = thread_pool().contains(thread)
        seen["ident"] = threading.get_ident()
        return "answer"

    recorder = Recorder()
    worker = create_worker(work, name="where", connect=recorder.handlers(), manager=manager)
    qtbot.waitUntil(lambda: recorder.finished, timeout=10_000)

    assert seen["gui"] is False  # not the GUI thread...
    assert seen["pooled"] is True  # ...but one of the pool's QThreads
    assert seen["ident"] != threading.get_ident()
    assert recorder.threads == {threading.main_thread().ident}  # every handler, lambdas too
    assert recorder.names() == ["started", "returned", "finished"]
    assert recorder.values("returned") == ["answer"]
    assert worker.join(10) and worker.done.is_set() and not worker.running


def test_generator_items_arrive_in_order_then_the_return_value(
    qtbot: QtBot,
    manager: WorkerManager,
) -> None:
    def counting(cancel: threading.Event) -> Generator[int, None, str]:
        yield from range(200)
        return "counted"

    recorder = Recorder()
    create_worker(counting, name="count", connect=recorder.handlers(), manager=manager)
    qtbot.waitUntil(lambda: recorder.finished, timeout=10_000)

    assert recorder.values("yielded") == list(range(200))
    assert recorder.names()[0] == "started"
    assert recorder.names()[-2:] == ["returned", "finished"]
    assert recorder.values("returned") == ["counted"]


def test_cancel_closes_the_generator_runs_its_finally_and_emits_aborted(
    qtbot: QtBot,
    manager: WorkerManager,
) -> None:
    resume = threading.Event()
    steps: list[tuple[str, bool]] = []

    def stepping(cancel: threading.Event) -> Generator[int, None, str]:
        try:
            for n in range(1000):
                yield n
                resume.wait(30)
            steps.append(("ran to the end", False))
            return "all"
        finally:
            steps.append(("finally", threading.current_thread() is threading.main_thread()))

    recorder = Recorder()
    worker = create_worker(stepping, name="stepping", connect=recorder.handlers(), manager=manager)
    qtbot.waitUntil(lambda: recorder.values("yielded") == [0], timeout=10_000)
    worker.cancel()
    assert worker.cancel_event.is_set()
    resume.set()
    qtbot.waitUntil(lambda: recorder.finished, timeout=10_000)

    assert steps == [("finally", False)]  # closed early, on its pool thread
    assert "aborted" in recorder.names() and "returned" not in recorder.names()
    assert len(recorder.values("yielded")) < 1000
    assert recorder.names()[-2:] == ["aborted", "finished"]


def test_core_code_that_raises_cancelled_is_aborted_not_an_error(
    qtbot: QtBot,
    manager: WorkerManager,
) -> None:
    def waiting(cancel: threading.Event) -> None:
        cancel.wait(30)
        raise Cancelled()

    recorder = Recorder()
    worker = create_worker(waiting, name="waiting", connect=recorder.handlers(), manager=manager)
    worker.cancel()
    qtbot.waitUntil(lambda: recorder.finished, timeout=10_000)
    assert recorder.names() == ["started", "aborted", "finished"]


def test_errors_reach_errored_with_the_exception(
    qtbot: QtBot,
    manager: WorkerManager,
) -> None:
    def failing(cancel: threading.Event) -> Generator[int, None, None]:
        yield 1
        raise ValueError("the disk is full")

    recorder = Recorder()
    create_worker(failing, name="failing", connect=recorder.handlers(), manager=manager)
    qtbot.waitUntil(lambda: recorder.finished, timeout=10_000)

    assert recorder.names() == ["started", "yielded", "errored", "finished"]
    [error] = recorder.values("errored")
    assert isinstance(error, ValueError) and str(error) == "the disk is full"


def test_shutdown_cancels_and_joins_every_worker_even_one_mid_yield(
    qtbot: QtBot,
    manager: WorkerManager,
) -> None:
    closed: list[str] = []
    lock = threading.Lock()

    def streaming(cancel: threading.Event) -> Generator[int, None, None]:
        try:
            n = 0
            while True:  # only the worker's check between items stops it
                yield n
                n += 1
                time.sleep(0.001)
        finally:
            with lock:
                closed.append("streaming")

    def blocked(cancel: threading.Event) -> Generator[int, None, None]:
        try:
            yield 0
            cancel.wait()  # core code waiting on the event, as a model load would
            raise Cancelled()
        finally:
            with lock:
                closed.append("blocked")

    def plain(cancel: threading.Event) -> str:
        cancel.wait()
        return "stopped"

    recorders = {name: Recorder() for name in ("streaming", "blocked", "plain")}
    workers = [
        create_worker(fn, name=name, connect=recorders[name].handlers(), manager=manager)
        for name, fn in (("streaming", streaming), ("blocked", blocked), ("plain", plain))
    ]
    qtbot.waitUntil(lambda: len(recorders["streaming"].values("yielded")) >= 3, timeout=10_000)
    qtbot.waitUntil(lambda: recorders["blocked"].values("yielded") == [0], timeout=10_000)
    assert len(manager.active()) == 3

    assert manager.shutdown(30)

    # joined: every run has ended, every generator closed, before shutdown returned
    assert sorted(closed) == ["blocked", "streaming"]
    assert all(w.done.is_set() and not w.running for w in workers)
    assert not set(running_workers()) & set(workers)
    assert manager.active() == []
    qtbot.waitUntil(lambda: all(r.finished for r in recorders.values()), timeout=10_000)
    assert all(r.names()[-2:] == ["aborted", "finished"] for r in recorders.values())


def test_shutdown_says_when_a_worker_ignores_cancel_and_still_cancels_the_rest(
    qtbot: QtBot,
) -> None:
    manager = WorkerManager()
    release = threading.Event()
    stubborn = manager.start(Worker(lambda cancel: release.wait(30), name="stubborn"))
    polite = manager.start(Worker(lambda cancel: cancel.wait(30), name="polite"))
    try:
        assert manager.shutdown(timeout=0.5) is False  # the stubborn one cannot end yet
        assert polite.cancel_event.is_set() and stubborn.cancel_event.is_set()
        assert polite.join(10)
        assert stubborn.running
    finally:
        release.set()
    assert stubborn.join(10)


def test_workers_never_queue_behind_each_other(
    qtbot: QtBot,
    manager: WorkerManager,
) -> None:
    """More workers than cores all run at once (the global pool would run only a core's worth)."""
    n = max(6, QThread.idealThreadCount() + 2)
    barrier = threading.Barrier(n, timeout=30)
    recorders = [Recorder() for _ in range(n)]
    for i, recorder in enumerate(recorders):
        create_worker(
            lambda cancel: barrier.wait(),
            name=f"side-{i}",
            connect=recorder.handlers(),
            manager=manager,
        )
    qtbot.waitUntil(lambda: all(r.finished for r in recorders), timeout=60_000)
    assert all(r.values("errored") == [] and len(r.values("returned")) == 1 for r in recorders)


def test_a_finished_worker_is_let_go_by_the_manager_the_pool_and_its_receiver(
    qtbot: QtBot,
    manager: WorkerManager,
) -> None:
    def counting(cancel: threading.Event) -> Generator[int, None, int]:
        yield from range(3)
        return 3

    recorder = Recorder()
    worker = create_worker(counting, name="leak", connect=recorder.handlers(), manager=manager)
    ref = weakref.ref(worker)
    del worker
    qtbot.waitUntil(lambda: recorder.finished, timeout=10_000)

    def gone() -> bool:
        gc.collect()
        return ref() is None and not _app().findChildren(_Receiver)

    qtbot.waitUntil(gone, timeout=10_000)
    assert manager.active() == [] and running_workers() == []
    assert recorder.values("returned") == [3]


def test_a_parent_that_is_gone_gets_no_late_calls(qtbot: QtBot) -> None:
    parent = QObject()
    late, control = Recorder(), Recorder()
    worker = create_worker(lambda cancel: 1, name="late", connect=late.handlers(), parent=parent)
    assert worker.join(10)  # it has emitted everything; nothing is delivered yet
    del parent  # the parent (say, a closed window) goes, and its receiver with it
    create_worker(lambda cancel: 2, name="control", connect=control.handlers())
    qtbot.waitUntil(lambda: control.finished, timeout=10_000)  # later events arrived: so did its
    assert late.events == []
    assert control.values("returned") == [2]


def test_connect_names_only_worker_signals(qtbot: QtBot) -> None:
    with pytest.raises(ValueError, match="no such worker signal: 'yeilded'"):
        create_worker(lambda cancel: None, name="typo", connect={"yeilded": print})  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="not callable"):
        create_worker(lambda cancel: None, name="bad", connect={"returned": 3})  # type: ignore[call-overload]
    assert running_workers() == []  # neither was started


def test_a_worker_starts_once_and_joins_before_it_starts(qtbot: QtBot) -> None:
    recorder = Recorder()
    worker = create_worker(
        lambda cancel: "late", name="manual", connect=recorder.handlers(), start=False
    )
    assert worker.join(0) and not worker.running and running_workers() == []
    worker.start()
    with pytest.raises(RuntimeError, match="already started"):
        worker.start()
    qtbot.waitUntil(lambda: recorder.finished, timeout=10_000)
    assert worker.join(10)
    assert recorder.values("returned") == ["late"]


def test_the_windows_run_worker_routes_to_the_gui_thread_and_reports_errors(
    qtbot: QtBot,
    make_window,
    worker_errors: list[object],
) -> None:
    window = make_window(start=False)
    got: list[tuple[object, bool]] = []

    def work(cancel: threading.Event) -> Generator[str, None, None]:
        yield "one"
        raise RuntimeError("the model file is damaged")

    worker = window.run_worker(
        "run-worker",
        work,
        yielded=lambda item: got.append(
            (item, threading.current_thread() is threading.main_thread())
        ),
    )
    assert worker in window.workers.active() or worker.done.is_set()
    qtbot.waitUntil(lambda: bool(worker_errors), timeout=10_000)
    assert got == [("one", True)]
    [error] = worker_errors
    assert isinstance(error, RuntimeError) and "the model file is damaged" in str(error)
