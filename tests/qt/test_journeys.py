"""Journeys a user takes through the real window, each crossing features (issue 19, point 5).

Real parts throughout: the window, the application core, the tiny embedding model and GGUF, the
embedded Qdrant engine, the conversation store on disk. Each test is one user's story: what they
did, in order, and what they must then see (and what must be on disk).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from test_safety_forget import files_holding
from window_actions import ask, remember

from tera_desktop.core.conversations import ChatMessage, ConversationStore
from tera_desktop.core.errors import NotFoundError
from tera_desktop.core.logs import setup_logging
from tera_desktop.core.redact import REDACTED_ANSWER
from tera_desktop.core.saved_state import DAMAGED_TAG
from tera_desktop.core.settings import Settings

PLUMBER = "My plumber is Bob Fixit, phone 0171 5559876."
ACCOUNTANT = "My accountant is Maria Keller, phone 030 5551234."


def fact_id(window, text: str) -> str:  # type: ignore[no-untyped-def]
    return next(f.id for f in window.app.engine.facts() if f.text == text)


def forget_fact(qtbot, window, monkeypatch, text: str) -> None:  # type: ignore[no-untyped-def]
    """Select a fact in the sidebar and press Forget, answering Yes."""
    monkeypatch.setattr(window, "confirm", lambda title, question: True)
    assert window.memory.select_key(fact_id(window, text))
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        window.memory.forget_button.click()


def saved(window):  # type: ignore[no-untyped-def]
    """The open conversation as saved on disk."""
    return ConversationStore(window.paths).load(window.session.conversation_id)


def test_forget_a_fact_a_chat_quoted_then_relaunch_and_carry_on(
    qtbot, make_window, monkeypatch, tmp_path: Path, tiny_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "boiler.txt").write_text("The boiler was serviced in March by Heat Ltd.")
    settings = replace(tiny_settings, watched_folders=(str(folder),))
    window = make_window(settings)
    qtbot.waitUntil(lambda: not window.app.ingesting and window.memory_count >= 1, timeout=30_000)
    remember(qtbot, window, ACCOUNTANT)
    remember(qtbot, window, PLUMBER)
    ask(qtbot, window, "Who is my plumber?")
    ask(qtbot, window, "What is his phone number?")
    plumber = fact_id(window, PLUMBER)
    quoted = [s for m in saved(window).messages for s in m.sources if s.get("id") == plumber]
    assert quoted, "the chat quoted the plumber's fact"

    forget_fact(qtbot, window, monkeypatch, PLUMBER)

    assert PLUMBER not in window.memory.visible_texts()  # the sidebar updated
    conv = saved(window)
    assert len(conv.messages) == 4 and REDACTED_ANSWER in [m.text for m in conv.messages]
    qtbot.waitUntil(lambda: len(window.chat.chat_view.messages()) == 4)  # the chat, whole
    with pytest.raises(NotFoundError):  # forgotten for good: nothing left to finish
        window.app.forget(plumber)
    assert files_holding(window.paths.data, "Fixit") == []
    window.close()

    (folder / "gutter.txt").write_text("The gutter needs cleaning before winter.")
    again = make_window(settings)  # the redacted chat is the one reopened
    qtbot.waitUntil(lambda: again.app.embedding_ready, timeout=30_000)
    qtbot.waitUntil(lambda: len(again.chat.chat_view.messages()) == 4, timeout=30_000)
    qtbot.waitUntil(  # the watched folder caught up with what changed while Tera was closed
        lambda: any(d.source.endswith("gutter.txt") for d in again.app.engine.documents()),
        timeout=30_000,
    )
    qtbot.waitUntil(lambda: not again.app.ingesting, timeout=30_000)
    before = again.app.engine.count()
    remember(qtbot, again, "The spare key is under the blue pot.")
    qtbot.waitUntil(lambda: again.memory_count == before + 1, timeout=30_000)


def test_forget_a_watched_file_while_an_answer_streams(
    qtbot, make_window, monkeypatch, tmp_path: Path, tiny_settings: Settings, slow_tokens
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "watched"
    folder.mkdir()
    doc = folder / "attic.txt"
    doc.write_text("The quokka box with code zebra4411 is in the attic.")
    window = make_window(
        replace(tiny_settings, watched_folders=(str(folder),), max_answer_tokens=48)
    )
    qtbot.waitUntil(lambda: not window.app.ingesting and window.memory_count >= 1, timeout=30_000)
    monkeypatch.setattr(window, "choose", lambda *a: 0)  # "Forget, keep ignoring it"
    with qtbot.waitSignal(window.answer_finished, timeout=60_000):
        window.chat_controller.ask("where is the quokka box?")
        qtbot.waitUntil(lambda: window.session.busy, timeout=10_000)
        window.library._on_forget_requested("document", str(doc), doc.name)
    qtbot.waitUntil(lambda: window.memory_count == 0, timeout=30_000)
    assert files_holding(window.paths.data, "zebra4411") == []  # not in the chat, not on disk
    shown = " ".join(m.text() for m in window.chat.chat_view.messages())
    assert "zebra4411" not in shown
    assert str(doc) in window.app.settings.watched_folders or window.app.watched_folder_of(str(doc))
    window.library.add_paths([str(folder)], sync=True)  # the next sync keeps ignoring it
    qtbot.waitUntil(lambda: not window.app.ingesting, timeout=30_000)
    assert window.app.engine.count() == 0


def test_an_update_inside_a_chat_then_undo(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    remember(qtbot, window, "The car is parked on level 2 of the garage.")
    ask(qtbot, window, "Where is the car parked?")
    remember(qtbot, window, "The car is now parked on level 5 of the garage.")
    old, new = (
        fact_id(window, "The car is parked on level 2 of the garage."),
        fact_id(window, "The car is now parked on level 5 of the garage."),
    )
    facts = {f.id: f for f in window.app.engine.facts()}
    assert facts[old].superseded_by == new
    ask(qtbot, window, "Where is the car parked?")
    last = saved(window).messages[-1]
    used = [s["id"] for s in last.sources]
    assert used and used[0] == new and old not in used  # only the current value is given
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        window.memory.undo_replace_requested.emit(new)
    assert not {f.id: f for f in window.app.engine.facts()}[old].superseded_by
    ask(qtbot, window, "Where is the car parked on level 2?")
    assert len(saved(window).messages) == 6  # one chat held all three turns


def test_quit_while_reading_relaunch_and_continue(
    qtbot, make_window, tiny_settings: Settings, slow_tokens
) -> None:  # type: ignore[no-untyped-def]
    settings = replace(tiny_settings, max_answer_tokens=64)
    window = make_window(settings)
    remember(qtbot, window, "The gate code is 4512.")
    window.chat_controller.ask("What is the gate code?")
    qtbot.waitUntil(lambda: window.session.busy, timeout=10_000)
    window.close()  # quit mid-answer
    again = make_window(settings)
    conv = again.session.conversation
    assert [m.role for m in conv.messages][:1] == ["user"]
    assert conv.messages[0].text == "What is the gate code?"
    ask(qtbot, again, "And what was it for?")
    conv = saved(again)
    assert conv.messages[0].text == "What is the gate code?"
    assert (
        conv.messages[-1].role == "assistant" and conv.messages[-2].text == "And what was it for?"
    )


def test_change_the_model_in_settings_mid_chat(qtbot, make_window, tiny_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    remember(qtbot, window, "The wifi password is tulip77.")
    ask(qtbot, window, "What is the wifi password?")
    chat = window.session.conversation_id
    old_engine = window.engine
    with qtbot.waitSignal(window.memories_changed, timeout=60_000):
        window.apply_settings(replace(window.settings, llm_context=384))
    qtbot.waitUntil(lambda: window.llm_state == "ready", timeout=30_000)
    assert window.engine is not old_engine and window.session.engine is window.engine
    ask(qtbot, window, "And the network name?")
    assert window.session.conversation_id == chat and len(saved(window).messages) == 4
    assert window.settings.llm_context == 384
    assert json.loads(window.paths.settings_file.read_text())["llm_context"] == 384


def _write_chat(store: ConversationStore, question: str, answer: str) -> str:
    conv = store.new()
    conv.add(ChatMessage("user", question))
    conv.add(ChatMessage("assistant", answer))
    store.save(conv)
    return conv.id


def test_a_corrupt_saved_chat_among_good_ones(qtbot, make_window, paths) -> None:  # type: ignore[no-untyped-def]
    store = ConversationStore(paths)
    good = [_write_chat(store, f"question {i}?", f"answer {i}.") for i in range(2)]
    bad = store.folder / ("f" * 32 + ".json")
    bad.write_text('{"id": "broken', encoding="utf-8")  # cut off mid-write by another tool
    store.set_last("f" * 32)  # and it is the one the app would reopen
    paths.waiting_file.write_text("{ not json", encoding="utf-8")
    setup_logging(paths)  # as the app does at launch

    window = make_window()
    qtbot.waitUntil(lambda: window.app.embedding_ready, timeout=30_000)
    status = window.statusBar().currentMessage()
    assert "Could not load" in status  # said once, in the status bar (and tera.log)
    log = paths.log_file.read_text(encoding="utf-8")
    assert "a saved chat" in log and "the facts and files that wait" in log
    assert not bad.exists() and list(store.folder.glob(f"*{DAMAGED_TAG}*"))  # set aside
    assert {c.id for c in store.list()} == set(good)
    window.chat_controller.refresh_list()
    qtbot.waitUntil(lambda: len(window.chats.conversation_ids()) == 2, timeout=10_000)
    remember(qtbot, window, "The gate code is 4512.")  # the rest of the start went on
    window.close()
    again = make_window()
    qtbot.waitUntil(lambda: again.app.embedding_ready, timeout=30_000)
    assert "Could not load" not in again.statusBar().currentMessage()  # reported once only


def test_forget_everything_with_chats_and_waiting_facts(qtbot, make_window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    remember(qtbot, window, "The boat is called Seabird.")
    ask(qtbot, window, "What is the boat called?")
    monkeypatch.setattr(window, "confirm", lambda title, question: True)
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        window.memory.forget_all_requested.emit()
    assert window.memory_count == 0
    assert files_holding(window.paths.data, "Seabird") == []
    qtbot.waitUntil(lambda: len(window.chat.chat_view.messages()) == 2)  # the chat, redacted
    ask(qtbot, window, "What is the boat called?")
    assert saved(window).messages[-1].no_memory  # nothing in memory, in the same chat
