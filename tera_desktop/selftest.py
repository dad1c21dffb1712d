"""``tera-desktop --selftest``: prove a build works end to end, headless.

Opens the real window offscreen in a throwaway data folder, remembers a fact, asks about it and
checks that the answer streamed and cited that fact. It uses the models the settings point at
when they are on this computer; otherwise the tiny generated test models (so a freshly built
bundle can check itself on a machine with no models). Exit code 0 on success; 1 with the reason.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

FACT = "The selftest gate code is 4512."
QUESTION = "What is the selftest gate code?"


def _models(tmp: Path) -> tuple[str, str, str]:
    """(embedding, llm, which) — the configured models if present, else tiny generated ones."""
    from tera_desktop.core.embedder import resolve_embedding
    from tera_desktop.core.engine import resolve_llm
    from tera_desktop.core.errors import TeraError
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import load_settings

    try:
        paths = get_paths()
        settings = load_settings(paths)
        spec = resolve_embedding(paths, settings.embedding_model)
        llm = resolve_llm(paths, settings.llm_model)
        return str(spec.folder), str(llm), "configured models"
    except TeraError:
        from tera_desktop.testing.tiny_models import write_tiny_embedding_model, write_tiny_gguf

        emb = write_tiny_embedding_model(tmp / "tiny-embedding")
        gguf = write_tiny_gguf(tmp / "tiny.gguf")
        return str(emb), str(gguf), "tiny test models"


def run() -> int:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings
    from tera_desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tera-selftest-") as tmp:
        embedding, llm, which = _models(Path(tmp))
        settings = Settings(
            embedding_model=embedding, llm_model=llm, max_answer_tokens=24, llm_context=1024
        )
        window = MainWindow(get_paths(Path(tmp) / "home").ensure(), settings)
        window.show()

        def wait(signal: object, timeout_s: float = 120) -> bool:
            loop = QEventLoop()
            fired = []

            def fire(*_: object) -> None:
                fired.append(1)
                loop.quit()

            signal.connect(fire)  # type: ignore[attr-defined]
            QTimer.singleShot(int(timeout_s * 1000), loop.quit)
            loop.exec()
            return bool(fired)

        try:
            window.start()
            if not wait(window.memories_changed):
                return _fail("the memory did not open")
            deadline = time.monotonic() + 120
            while window.llm_state == "loading" and time.monotonic() < deadline:
                app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            if window.llm_state != "ready":
                return _fail(f"the language model is {window.llm_state}: {window.app.llm_detail}")
            window.memory.remember_edit.setText(FACT)
            window.memory.remember_button.click()
            if not wait(window.memories_changed) or window.memory_count != 1:
                return _fail("the fact was not remembered")
            window.chat.question_asked.emit(QUESTION)
            if not wait(window.answer_finished):
                return _fail("no answer came")
            answer = window.chat.chat_view.messages()[-1]
            sources = answer.sources()
            if not answer.text().strip():
                return _fail("the answer is empty")
            if not sources or sources[0].text != FACT:
                return _fail(f"the answer did not cite the fact (sources: {sources!r})")
        finally:
            window.close()
    print(
        f"selftest ok: window, memory, embeddings, answer with its source ({which}) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 0


def _fail(reason: str) -> int:
    print(f"selftest FAILED: {reason}", file=sys.stderr)
    return 1
