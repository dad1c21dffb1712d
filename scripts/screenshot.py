"""Take the README screenshots: the real app on a real X server (Xvfb), with the small real models
(scripts/fetch_test_models.py).

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshot.py [OUT_DIR]
(or: bash scripts/screenshot.sh)

Writes to OUT_DIR (default docs/screenshots/):
  first-run.png        a new user's first start: the setup for both models, nothing installed
  conversation.png     a conversation with a follow-up, its sources, and one open in the viewer
  sidebar-800x560.png  the whole window at 800×560: the sidebar must still read well
  dark.png             the same conversation in the dark theme
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

FACTS = [
    "The gate code is 4512.",
    "My sister Anna's birthday is on 14 March.",
    "The wifi password at the cabin is tulip-42.",
    "I parked the camper van on level 3 of the airport car park, row F, next to the lifts.",
    "The boiler was serviced in October by Gas Safe Ltd.",
    "Dr Patel's surgery on Mill Road is open Tuesdays 9 to 5.",
]
PROJECT = (
    "# Project Falcon\n\n## Budget\n\nThe Falcon project budget is 2.3 million euros, approved by "
    "Maria Lopez in June.\n\n## Team\n\nThe team has five engineers based in Lisbon.\n"
)
NOTES = {
    "roof-quotes-2026.md": "# Roof quotes\n\nJansen quoted 14,200 euros; it takes three weeks.",
    "holiday-packing-list.txt": "Passports, chargers, the blue tent, sunscreen, the camping stove.",
    "meeting-notes-quarterly-review-final.md": "# Q3 review\n\nSales grew 12% over the summer.",
    "recipes/grandmas-apple-cake.md": "# Apple cake\n\n4 apples, 200 g flour, 150 g sugar, 3 eggs.",
}
QUESTIONS = (
    "What is the gate code?",
    "What is the budget of Project Falcon?",
    "Who approved it?",  # a follow-up: searched with the conversation's context
)


def _wait(signal: Any, timeout_ms: int = 120_000) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()


def _pause(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _grab(widget: Any, out: Path) -> None:
    """The X server's pixels for the widget's window (what a person would see on that screen)."""
    widget.raise_()
    widget.activateWindow()
    _pause(800)  # let the X server show the last paint
    image = widget.screen().grabWindow(widget.winId())
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(str(out))
    print(f"screenshot: {out}")


def first_run(out: Path, tmp: Path) -> None:
    """A fresh home, the default models not installed: what a new user meets."""
    from PySide6.QtWidgets import QApplication

    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings
    from tera_desktop.ui.main_window import MainWindow

    window = MainWindow(get_paths(tmp / "new-user").ensure(), Settings())
    window.resize(1240, 760)
    window.show()
    window.start()
    for _ in range(600):
        if window.setup_dialog is not None and window.setup_dialog.isVisible():
            break
        _pause(50)
    dialog = window.setup_dialog
    if dialog is None:
        raise SystemExit("the first-run setup did not appear")
    _pause(300)
    # the whole screen: the window, and the setup in front of it
    screen = QApplication.primaryScreen()
    image = screen.grabWindow(0)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(str(out))
    print(f"screenshot: {out}")
    window.close()


def conversation(out_dir: Path, tmp: Path, models: dict[str, Path]) -> None:
    from tera_desktop.core.generator import Sampling
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings
    from tera_desktop.ui.main_window import MainWindow
    from tera_desktop.ui.theme import theme_manager

    docs = tmp / "Documents"
    (docs / "recipes").mkdir(parents=True)
    (docs / "falcon-plan.md").write_text(PROJECT)
    for name, text in NOTES.items():
        (docs / name).write_text(text)
    settings = Settings(
        embedding_model=str(models["embedding"]),
        llm_model=str(models["gguf"]),
        temperature=0.0,
        max_answer_tokens=80,
        theme="light",
    )
    window = MainWindow(get_paths(tmp / "home").ensure(), settings)
    window.resize(1240, 760)
    window.show()
    window.start()
    _wait(window.memories_changed)
    while window.llm_state == "loading":
        _pause(50)
    for fact in FACTS:
        window.engine.remember(fact)
    window.add_paths([str(docs)])
    _wait(window.ingest_finished)
    sampling = Sampling(max_tokens=80, temperature=0.0, seed=0)
    window.engine.sampling = lambda: sampling  # type: ignore[method-assign]
    for question in QUESTIONS:
        window.chat.question_asked.emit(question)
        _wait(window.answer_finished)
    window.refresh_memories()
    _wait(window.memories_changed)
    last = window.chat.chat_view.messages()[-1]
    chips = last.source_chips()
    if chips:
        chips[0].click()  # open the first source in the viewer, as a user would
    window.statusBar().clearMessage()
    _grab(window, out_dir / "conversation.png")

    theme_manager().apply("dark")
    _grab(window, out_dir / "dark.png")
    theme_manager().apply("light")

    window.chat.chat_view.messages()[-1].source_chips()[0].click() if chips else None  # close
    window.resize(800, 560)
    _pause(300)
    _grab(window, out_dir / "sidebar-800x560.png")
    window.close()


def main(out_dir: Path) -> int:
    from fetch_test_models import ensure_test_models
    from PySide6.QtWidgets import QApplication

    models = ensure_test_models(log=lambda *_: None)
    app = QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as tmp:
        first_run(out_dir / "first-run.png", Path(tmp))
        conversation(out_dir, Path(tmp), models)
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")))
