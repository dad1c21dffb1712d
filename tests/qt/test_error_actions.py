"""Issue 24.2: nothing in the window sends the user to a terminal or shows a raw id. The core's
errors carry an action; the window words it as a menu item or offers a button."""

from __future__ import annotations

import uuid
import wave
from pathlib import Path

from tera_desktop.core.errors import ACTION_SETUP_MODELS, ModelMissingError, NotFoundError
from tera_desktop.core.ingest.pipeline import FileResult
from tera_desktop.ui.error_text import error_text, names_cli_or_id
from tera_desktop.ui.ingest_panel import describe


def write_silence(path: Path, seconds: float = 0.5) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(b"\0\0" * int(16_000 * seconds))
    return path


def visible_texts(window) -> list[str]:  # type: ignore[no-untyped-def]
    """The status bar's message and the ingest log's lines and tooltips."""
    from tera_desktop.ui.ingest_panel import IngestLogDialog

    texts = [window.statusBar().currentMessage(), window.memory.ingest.status_label.text()]
    dialog = IngestLogDialog(window)  # filled as the Details button fills it, not shown
    dialog.show_runs(window.memory.ingest._runs)
    for row in range(dialog.log_list.count()):
        item = dialog.log_list.item(row)
        texts += [item.text(), item.toolTip()]
    dialog.deleteLater()
    return texts


def test_the_window_words_an_action_and_never_a_command() -> None:
    err = NotFoundError("Gone.", f"Nothing has the id {uuid.uuid4()}; see `tera list`.")
    assert error_text(err) == "Gone."  # the CLI's hint names a command and an id: left out
    err = ModelMissingError("No model.", "Run `tera models download x`.", action="setup-models")
    assert error_text(err) == "No model. Get one with File → Set Up Models…"
    assert error_text(ModelMissingError("Missing", action="settings")) == (
        "Missing: File → Settings…"
    )
    assert error_text(NotFoundError("Gone.", "Try again later.")) == "Gone. Try again later."


def test_forgetting_an_unknown_id_says_so_without_the_id_or_a_command(  # type: ignore[no-untyped-def]
    qtbot, make_window, worker_errors
) -> None:
    window = make_window()
    window.confirm = lambda _title, _text: True
    gone = str(uuid.uuid4())
    window.memory.forget_requested.emit("fact", gone, "an old fact")
    qtbot.waitUntil(lambda: bool(worker_errors), timeout=10_000)
    assert isinstance(worker_errors[0], NotFoundError)
    assert gone in str(worker_errors[0])  # the CLI still names the id and `tera list`
    message = window.statusBar().currentMessage()
    assert "not in memory" in message
    assert gone not in message and not names_cli_or_id(message), message
    assert "memory list" in message
    assert not window.setup_button.isVisible()


def test_audio_without_a_speech_model_points_to_the_setup_not_a_terminal(  # type: ignore[no-untyped-def]
    qtbot, make_window, tmp_path: Path
) -> None:
    window = make_window()
    memo = write_silence(tmp_path / "memo.wav")
    with qtbot.waitSignal(window.ingest_finished, timeout=30_000):
        window.library.add_paths([memo])
    texts = visible_texts(window)
    line = next(t for t in texts if t.startswith("– memo.wav"))
    assert line == "– memo.wav: skipped: Speech model missing: File → Set Up Models…"
    for text in texts:
        assert not names_cli_or_id(text), text


def test_the_ingest_line_keeps_a_cli_hint_out() -> None:
    result = FileResult(
        "/x/memo.wav",
        "skipped",
        reason="Speech model missing",
        hint="Run `tera models download whisper-base`.",
        action=ACTION_SETUP_MODELS,
    )
    assert describe(result) == "– memo.wav: skipped: Speech model missing: File → Set Up Models…"
    assert "tera models download" in result.cli_reason  # the CLI keeps its words
    link = FileResult(
        "/x/link", "skipped", reason="A link to the folder /y: not followed.", hint="Add /y."
    )
    assert describe(link) == "– link: skipped: A link to the folder /y: not followed. Add /y."


def test_a_missing_model_error_offers_a_setup_button(  # type: ignore[no-untyped-def]
    qtbot, make_window, worker_errors
) -> None:
    window = make_window()
    opened: list[bool] = []
    window.setup.show_model_setup = lambda: opened.append(True)
    error = ModelMissingError(
        "The speech model whisper-base is not on this computer.",
        "Run `tera models download whisper-base`.",
        action=ACTION_SETUP_MODELS,
    )
    window._on_worker_error(error)
    message = window.statusBar().currentMessage()
    assert not names_cli_or_id(message), message
    assert "File → Set Up Models…" in message
    assert window.setup_button.isVisible()
    window.setup_button.click()
    assert opened == [True]
    assert not window.setup_button.isVisible()
    window.notify("Something else.")
    assert not window.setup_button.isVisible()  # the button goes with its message


def test_an_answer_error_with_a_model_action_offers_the_button(  # type: ignore[no-untyped-def]
    qtbot, make_window, worker_errors
) -> None:
    window = make_window()
    error = ModelMissingError(
        "The language model x is not on this computer.",
        "Run `tera models download x`.",
        action=ACTION_SETUP_MODELS,
    )
    window.chat_controller._on_answer_error(error)
    message = window.statusBar().currentMessage()
    assert not names_cli_or_id(message), message
    assert window.setup_button.isVisible()


def test_a_fix_in_the_window_names_no_command() -> None:
    from tera_desktop.ui.error_text import window_fix

    assert window_fix("Run `tera models download x`.", "setup-models") == (
        "Get one with File → Set Up Models…"
    )
    assert window_fix(
        "Nothing is wrong. Run `tera doctor` again when that command has finished.", None
    ) == ("Nothing is wrong.")
    assert window_fix("Choose another model in Settings.", "settings") == (
        "Choose another model in Settings."
    )
