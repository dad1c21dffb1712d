"""Take the README screenshot: the real app on a real X server (Xvfb), a short conversation with
sources, using the small real models (scripts/fetch_test_models.py).

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshot.py OUT.png
(or: bash scripts/screenshot.sh)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

FACTS = [
    "The gate code is 4512.",
    "My sister Anna's birthday is on 14 March.",
    "The wifi password is tulip-42.",
]
PROJECT = (
    "# Project Falcon\n\n## Budget\n\nThe Falcon project budget is 2.3 million euros, approved by "
    "Maria Lopez in June.\n\n## Team\n\nThe team has five engineers based in Lisbon.\n"
)


def main(out: Path) -> int:
    from fetch_test_models import ensure_test_models
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from tera_desktop.core.generator import Sampling
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings
    from tera_desktop.ui.main_window import MainWindow

    models = ensure_test_models(log=lambda *_: None)
    app = QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "Documents"
        docs.mkdir()
        (docs / "falcon-plan.md").write_text(PROJECT)
        settings = Settings(
            embedding_model=str(models["embedding"]),
            llm_model=str(models["gguf"]),
            temperature=0.0,
            max_answer_tokens=80,
        )
        window = MainWindow(get_paths(Path(tmp) / "home").ensure(), settings)
        window.resize(1240, 760)
        window.show()

        def wait(signal: object) -> None:
            loop = QEventLoop()
            signal.connect(loop.quit)  # type: ignore[attr-defined]
            QTimer.singleShot(120_000, loop.quit)
            loop.exec()

        window.start()
        wait(window.memories_changed)
        while window.llm_state == "loading":
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        for fact in FACTS:
            window.engine.remember(fact)
        window.add_paths([str(docs)])
        wait(window.ingest_finished)
        window.engine.settings = settings
        sampling = Sampling(max_tokens=80, temperature=0.0, seed=0)
        window.engine.sampling = lambda: sampling  # type: ignore[method-assign]
        for question in (
            "What is the gate code?",
            "What is the budget of Project Falcon?",
            "Who approved it?",  # a follow-up: searched with the conversation's context
        ):
            window.chat.question_asked.emit(question)
            wait(window.answer_finished)
        window.refresh_memories()
        wait(window.memories_changed)
        window.raise_()
        window.activateWindow()
        window.statusBar().clearMessage()
        pause = QEventLoop()
        QTimer.singleShot(800, pause.quit)  # let the X server show the last paint
        pause.exec()
        # The X server's pixels for the window (what a person would see on that screen).
        image = window.screen().grabWindow(window.winId())
        out.parent.mkdir(parents=True, exist_ok=True)
        image.save(str(out))
        window.close()
    print(f"screenshot: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png")))
