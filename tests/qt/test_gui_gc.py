"""Reference cycles holding Qt objects are collected on the GUI thread, never on a worker's."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QThread, QTimer
from PySide6.QtWidgets import QApplication

from tera_desktop.ui.gui_gc import collect_on_gui_thread
from tera_desktop.workers import Worker, WorkerManager


def test_a_qobject_in_a_cycle_dies_on_the_gui_thread_even_when_a_worker_allocates(qtbot) -> None:  # type: ignore[no-untyped-def]
    collector = collect_on_gui_thread()
    assert not gc.isenabled()
    assert collect_on_gui_thread() is collector  # one per application
    gc.collect()

    died_on: list[bool] = []
    gui_thread = QApplication.instance().thread()  # type: ignore[union-attr]

    class Holder:
        pass

    def make_garbage() -> None:
        holder = Holder()
        holder.timer = QTimer()  # type: ignore[attr-defined]
        holder.timer.start(60_000)  # type: ignore[attr-defined]  # a live timer, as windows have
        holder.me = holder  # type: ignore[attr-defined]  # a cycle: only the collector frees it
        holder.timer.destroyed.connect(  # type: ignore[attr-defined]
            lambda: died_on.append(QThread.currentThread() is gui_thread)
        )

    make_garbage()

    def churn(_cancel: threading.Event) -> int:
        # enough container allocations to fill generation 0 many times over: with CPython's
        # automatic collection this thread would collect the cycle above
        junk = [[i] for i in range(50 * gc.get_threshold()[0])]
        return len(junk)

    manager = WorkerManager()
    worker = manager.start(Worker(churn, name="churn"))
    assert worker.join(30)
    assert died_on == []  # not collected on the worker thread
    keep = [[i] for i in range(2 * gc.get_threshold()[0])]  # the GUI thread allocates: due now
    qtbot.waitUntil(lambda: died_on != [], timeout=10_000)
    del keep
    assert died_on == [True]
    manager.shutdown()


def test_stopping_gives_python_its_collector_back(qtbot) -> None:  # type: ignore[no-untyped-def]
    parent = QObject()
    from tera_desktop.ui.gui_gc import GuiThreadCollector

    collector = GuiThreadCollector(parent)
    assert not gc.isenabled()
    collector.stop()
    assert gc.isenabled()
    collect_on_gui_thread()  # the application's own stays in charge for the other tests
