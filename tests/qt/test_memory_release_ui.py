"""The window after its language model was unloaded for being idle (issue 12, point 7): the next
question loads it again and is answered, as before the unload."""

from __future__ import annotations

from dataclasses import replace

from window_actions import ask, remember

from tera_desktop.core.generator import LlamaGenerator
from tera_desktop.core.settings import Settings


def test_a_question_after_an_idle_unload_is_answered(  # type: ignore[no-untyped-def]
    qtbot, make_window, tiny_settings: Settings
) -> None:
    window = make_window(replace(tiny_settings, llm_unload_after_minutes=0.002))  # 0.12 s
    remember(qtbot, window, "The gate code is 4512.")
    generator = window.engine.generator
    assert isinstance(generator, LlamaGenerator)
    qtbot.waitUntil(lambda: not generator.loaded, timeout=30_000)
    assert window.llm_state == "ready"  # nothing for the user to do: it loads when asked
    message = ask(qtbot, window, "What is the gate code?")
    assert generator.loads >= 2 and generator.unloads >= 1
    assert message.text().strip()
