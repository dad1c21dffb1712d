"""Conversation history: one JSON file per conversation, atomic writes, the last-open one."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tera_desktop.core import conversations as conv_mod
from tera_desktop.core.conversations import (
    ChatMessage,
    Conversation,
    ConversationError,
    ConversationStore,
    make_title,
    sources_to_dicts,
)
from tera_desktop.core.errors import NotFoundError
from tera_desktop.core.paths import Paths


@dataclass(frozen=True)
class FakeSource:  # the same fields as assistant.Source
    number: int
    id: str
    kind: str
    source: str
    score: float
    text: str
    created_at: str
    title: str = ""
    page: int | None = None


def _qa(store: ConversationStore, question: str, answer: str = "an answer") -> Conversation:
    conv = store.new()
    conv.add(ChatMessage("user", question))
    conv.add(ChatMessage("assistant", answer))
    store.save(conv)
    return conv


def test_round_trip_keeps_every_field(paths: Paths) -> None:
    store = ConversationStore(paths)
    conv = store.new()
    assert conv.messages == [] and conv.title == ""
    conv.add(ChatMessage("user", "What is the gate code?"))
    source = FakeSource(1, "abc", "fact", "", 0.91, "the gate code is 4512", "2024-05-01T10:00:00")
    doc = FakeSource(2, "def", "document", "/tmp/notes.pdf", 0.7, "p. 3 text", "2024", "Notes", 3)
    conv.add(
        ChatMessage(
            "assistant",
            "It is 4512 [1]. Ünïcødé ✓",
            sources=sources_to_dicts([source, doc]),
            stopped=True,
        )
    )
    conv.add(ChatMessage("user", "And the wifi?"))
    conv.add(ChatMessage("assistant", "", no_memory=True, error="The model failed."))
    store.save(conv)

    file = paths.data / "conversations" / f"{conv.id}.json"
    assert file.is_file()
    assert json.loads(file.read_text(encoding="utf-8"))["schema_version"] == 1

    loaded = store.load(conv.id)
    assert loaded == conv
    assert loaded.title == "What is the gate code?"
    assert loaded.messages[1].sources[1] == {
        "number": 2,
        "id": "def",
        "kind": "document",
        "source": "/tmp/notes.pdf",
        "score": 0.7,
        "text": "p. 3 text",
        "created_at": "2024",
        "title": "Notes",
        "page": 3,
    }
    assert loaded.messages[1].stopped and not loaded.messages[1].no_memory
    assert loaded.messages[3].no_memory and loaded.messages[3].error == "The model failed."


def test_title_comes_from_the_first_question() -> None:
    conv = Conversation()
    conv.add(ChatMessage("assistant", "Hello!"))
    assert conv.title == ""
    conv.add(ChatMessage("user", "  where   did I\npark the car?  "))
    conv.add(ChatMessage("user", "second question"))
    assert conv.title == "where did I park the car?"
    long = make_title("word " * 40)
    assert len(long) <= 60 and long.endswith("…") and "  " not in long


def test_a_new_conversation_is_not_written_until_saved(paths: Paths) -> None:
    store = ConversationStore(paths)
    store.new()
    assert store.list() == []
    assert store.last() is None


def test_list_is_newest_first_and_last_follows_saves(paths: Paths) -> None:
    store = ConversationStore(paths)
    a = _qa(store, "first")
    b = _qa(store, "second")
    c = _qa(store, "third")
    assert [s.title for s in store.list()] == ["third", "second", "first"]
    assert store.list()[0].message_count == 2
    last = store.last()
    assert last is not None and last.id == c.id

    a.add(ChatMessage("user", "more about the first"))
    store.save(a)  # updating moves it to the top and makes it the last one
    assert [s.id for s in store.list()] == [a.id, c.id, b.id]
    assert store.last() is not None and store.last().id == a.id  # type: ignore[union-attr]

    store.set_last(b.id)  # opening one without changing it
    assert store.last().id == b.id  # type: ignore[union-attr]
    # a fresh store on the same folder (the next app start) sees the same
    assert ConversationStore(paths).last().id == b.id  # type: ignore[union-attr]


def test_delete_removes_the_file_and_forgets_it_as_last(paths: Paths) -> None:
    store = ConversationStore(paths)
    a = _qa(store, "first")
    b = _qa(store, "second")
    assert store.delete(b.id) is True
    assert store.delete(b.id) is False
    assert [s.id for s in store.list()] == [a.id]
    with pytest.raises(NotFoundError):
        store.load(b.id)
    # the last one was deleted: fall back to the newest there is
    assert store.last().id == a.id  # type: ignore[union-attr]
    store.delete(a.id)
    assert store.last() is None


def test_unknown_and_malformed_ids_are_not_found(paths: Paths) -> None:
    store = ConversationStore(paths)
    with pytest.raises(NotFoundError):
        store.load("0" * 32)
    for bad in ("../settings", "", "ABC", "a" * 31):
        with pytest.raises(NotFoundError):
            store.load(bad)
        with pytest.raises(NotFoundError):
            store.delete(bad)


def test_corrupt_files_are_skipped_and_logged(
    paths: Paths, caplog: pytest.LogCaptureFixture
) -> None:
    store = ConversationStore(paths)
    good = _qa(store, "good one")
    folder = paths.data / "conversations"
    (folder / ("1" * 32 + ".json")).write_text("{not json", encoding="utf-8")
    (folder / ("2" * 32 + ".json")).write_bytes(b"\xff\xfe\x00garbage")
    (folder / ("3" * 32 + ".json")).write_text("[1, 2, 3]", encoding="utf-8")
    (folder / ("4" * 32 + ".json")).write_text(
        json.dumps({"id": "4" * 32, "messages": [{"role": "robot", "text": "x"}]}),
        encoding="utf-8",
    )
    (folder / ("5" * 32 + ".json")).write_text(  # a file holding another id
        json.dumps({"id": good.id, "messages": []}), encoding="utf-8"
    )
    (folder / ("6" * 32 + ".json")).write_text(  # from a newer Tera
        json.dumps({"schema_version": 99, "id": "6" * 32, "messages": []}), encoding="utf-8"
    )
    (folder / "notes.txt").write_text("not a conversation", encoding="utf-8")
    (folder / f".{good.id}.json.deadbeef.tmp").write_text("{", encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="tera.conversations"):
        listed = store.list()
    assert [s.id for s in listed] == [good.id]
    assert sum("skipping a conversation" in r.getMessage() for r in caplog.records) == 6

    with pytest.raises(ConversationError, match="cannot be read"):
        store.load("1" * 32)

    # the state file pointing at a corrupt conversation: last() falls back to a good one
    store.set_last("1" * 32)
    assert store.last().id == good.id  # type: ignore[union-attr]
    # and a corrupt state file is ignored too
    store.state_file.write_text("{{{", encoding="utf-8")
    assert store.last().id == good.id  # type: ignore[union-attr]


def test_old_files_without_optional_fields_load(paths: Paths) -> None:
    store = ConversationStore(paths)
    folder = paths.data / "conversations"
    folder.mkdir(parents=True)
    conv_id = "a" * 32
    (folder / f"{conv_id}.json").write_text(
        json.dumps(
            {
                "id": conv_id,
                "created_at": "2024-01-01T00:00:00+00:00",
                "messages": [{"role": "user", "text": "hi there"}, {"role": "assistant"}],
                "unknown_future_key": 1,
            }
        ),
        encoding="utf-8",
    )
    conv = store.load(conv_id)
    assert conv.title == "hi there"
    assert conv.messages[1] == ChatMessage("assistant", "", created_at="")


def test_save_is_atomic(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while writing leaves the previous file intact and no temporary file behind."""
    store = ConversationStore(paths)
    conv = _qa(store, "keep me")
    file = store.path_of(conv.id)
    before = file.read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    conv.add(ChatMessage("user", "this save fails"))
    monkeypatch.setattr(conv_mod.os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.save(conv)
    monkeypatch.undo()
    assert file.read_bytes() == before
    assert sorted(p.name for p in file.parent.iterdir()) == [file.name, "state.json"]


def test_save_fsyncs_before_replacing(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        calls.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(conv_mod.os, "fsync", fsync)
    monkeypatch.setattr(conv_mod.os, "replace", replace)
    store = ConversationStore(paths)
    conv = store.new()
    conv.add(ChatMessage("user", "q"))
    store.save(conv)
    first_replace = calls.index("replace")
    assert "fsync" in calls[:first_replace]


def test_invalid_role_is_rejected() -> None:
    with pytest.raises(ValueError):
        ChatMessage("system", "no")
