"""What a UI controller may use of the window around it: narrow callbacks, never the window
itself (no controller imports ``ui/main_window.py``; the window imports them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import QWidget

from tera_desktop.core.app import TeraApp
from tera_desktop.workers import Worker, WorkerManager


@dataclass(frozen=True)
class Shell:
    app: TeraApp  # the application core: state and flows live there
    parent: QWidget  # for dialogs
    workers: WorkerManager
    run_worker: Callable[..., Worker]  # (name, fn, **handlers): handlers run on the GUI thread
    notify: Callable[..., None]  # (message, *, error=False, timeout_ms=8000)
    report_error: Callable[[object], None]  # a worker's error, said to the user
    confirm: Callable[[str, str], bool]
    choose: Callable[[str, str, list[str]], int | None]
    closing: Callable[[], bool]
    status: Callable[[str, int], Any]  # a transient status-bar line (text, timeout ms)
