"""Issue 24.5: quitting mid-answer starts no worker after the window shut down (the answer's
end used to list the chats again, so `tera.log` said "exiting with workers still running")."""

from __future__ import annotations

from PySide6.QtCore import Qt
from window_actions import remember

from tera_desktop.workers import Worker, running_workers


def test_quitting_mid_answer_starts_nothing_after_shutdown(  # type: ignore[no-untyped-def]
    qtbot, make_window, slow_tokens, monkeypatch
) -> None:
    window = make_window()
    remember(qtbot, window, "The gate code is 4512.")
    window.chat.input.setPlainText("what is the gate code?")
    qtbot.keyClick(window.chat.input, Qt.Key.Key_Return)
    view = window.chat.chat_view.messages()[-1]
    qtbot.waitUntil(lambda: view.evidence_label.isVisible(), timeout=20_000)
    started_after: list[str] = []
    real_start = Worker.start

    def start(self: Worker) -> None:  # type: ignore[type-arg]
        if window._shutdown_done:
            started_after.append(self.name)
        real_start(self)

    monkeypatch.setattr(Worker, "start", start)
    window.close()  # a normal quit: Stop, save, shut down
    assert window._shutdown_done
    # the event loop goes on until the application quits: the answer's end arrives now
    qtbot.wait(300)
    assert started_after == []
    assert running_workers() == []
