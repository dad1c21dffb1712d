"""Qt test fixtures: a main window on tiny models; every test fails on leaked worker threads
(and, through pytest-qt's qt_log_level_fail, on Qt warnings)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import Settings


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Workers run on Qt's pool threads (reused, so never "leaked" as threads): a leak is a
    worker whose run has not ended after the test."""
    from tera_desktop.workers import running_workers

    before = set(running_workers())
    yield
    for worker in running_workers():  # give finishing workers a moment to end
        if worker not in before:
            worker.join(10)
    leaked = set(running_workers()) - before
    assert not leaked, f"workers still running after the test: {sorted(map(repr, leaked))}"


@pytest.fixture
def make_window(qtbot, paths: Paths, tiny_settings: Settings):  # type: ignore[no-untyped-def]
    from tera_desktop.ui.main_window import MainWindow

    made = []

    def make(settings: Settings | None = None, *, start: bool = True) -> MainWindow:
        window = MainWindow(paths, settings or tiny_settings)
        qtbot.addWidget(window)
        window.show()
        made.append(window)
        if start:
            with qtbot.waitSignal(window.memories_changed, timeout=30_000):
                window.start()
            qtbot.waitUntil(lambda: window.llm_state != "loading", timeout=30_000)
        return window

    yield make
    for window in made:
        window.shutdown()


@pytest.fixture
def worker_errors() -> list[object]:
    """Request this in a test that expects worker errors; they are then not a failure."""
    return []


@pytest.fixture(autouse=True)
def fail_on_unhandled_worker_errors(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    from tera_desktop.ui.chat_controller import ChatController
    from tera_desktop.ui.main_window import MainWindow

    expected = "worker_errors" in request.fixturenames
    seen: list[object] = request.getfixturevalue("worker_errors") if expected else []
    for cls, name in ((MainWindow, "_on_worker_error"), (ChatController, "_on_answer_error")):
        original = getattr(cls, name)

        def recording(self, exc, _original=original):  # type: ignore[no-untyped-def]
            seen.append(exc)
            _original(self, exc)

        monkeypatch.setattr(cls, name, recording)
    yield
    if not expected:
        assert not seen, f"unexpected worker errors: {seen!r}"


@pytest.fixture
def slow_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny models answer in milliseconds; give each token 20 ms so a test can act mid-answer."""
    import time

    from tera_desktop.core.generator import LlamaGenerator

    real = LlamaGenerator.stream

    def slow(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        for piece in real(self, *args, **kwargs):
            time.sleep(0.02)
            yield piece

    monkeypatch.setattr(LlamaGenerator, "stream", slow)


class Opener:
    """A stand-in ``xdg-open`` first on PATH: it logs what it was asked to open, waits
    ``sleep`` seconds and exits with ``code`` (the real one exits 3 or 4 when no app is set for
    the file, 0 when it handed the file to one)."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        folder = tmp / "opener-bin"
        folder.mkdir(exist_ok=True)
        self.log = tmp / "opener.log"
        self.script = folder / "xdg-open"
        self.set(code=3)
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
        from tera_desktop.ui import open_file

        monkeypatch.setattr(open_file, "_uses_xdg_open", lambda: True)

    def set(self, *, code: int, sleep: float = 0.0) -> None:
        self.script.write_text(
            f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{self.log}"\nsleep {sleep}\nexit {code}\n'
        )
        self.script.chmod(0o755)

    @property
    def asked(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def opener(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Opener:
    """The stand-in xdg-open (``Opener``); it exits 3 until ``set`` says otherwise."""
    return Opener(tmp_path_factory.mktemp("opener"), monkeypatch)
