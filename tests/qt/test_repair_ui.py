"""A damaged memory in the window (issue 26, point 2): the start says what is damaged and offers
Repair; the repair keeps the damaged copy, rebuilds the facts, and the window opens the rebuilt
memory. Real parts: the embedded Qdrant engine, the store check, the salvage child process."""

from __future__ import annotations

from test_faults_store import CASES

from tera_desktop.core.engine import Engine
from tera_desktop.core.settings import Settings
from tera_desktop.core.store_health import check_store_folder

FACTS = ("the gate code is 4512", "my cat is blue")


def test_a_damaged_memory_is_repaired_from_the_window(
    qtbot, make_window, paths, tiny_settings: Settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    with Engine(paths, tiny_settings) as engine:
        for fact in FACTS:
            engine.remember(fact)
    CASES["id tracker flipped"][0](paths.data.parent)
    assert not check_store_folder(paths.store).ok
    asked: list[str] = []
    monkeypatch.setattr(
        "tera_desktop.ui.main_window.MainWindow.confirm",
        lambda self, title, text: asked.append(text) or True,
    )
    window = make_window(start=False)
    with qtbot.waitSignal(window.memories_changed, timeout=120_000):
        window.start()  # the open fails, Repair is offered and accepted, the memory reopens
    qtbot.waitUntil(lambda: window.memory_count == 2, timeout=120_000)
    assert asked and "Repair it now?" in asked[0] and "mutable_id_tracker" in asked[0]
    assert sorted(f.text for f in window.app.engine.facts()) == sorted(FACTS)
    kept = [p for p in paths.data.iterdir() if p.name.startswith("memory-damaged-")]
    assert len(kept) == 1 and not check_store_folder(kept[0]).ok
    assert check_store_folder(paths.store).ok
