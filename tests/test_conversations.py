"""Conversation history: one JSON file per conversation, atomic writes, the last-open one."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tera_desktop.core import atomic as atomic_mod
from tera_desktop.core import conversations as conv_mod
from tera_desktop.core.conversations import (
    ChatMessage,
    Conversation,
    ConversationError,
    ConversationStore,
    make_title,
    sources_to_dicts,
)
from tera_desktop.core.errors import NotFoundError, TeraError
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
    monkeypatch.setattr(atomic_mod.os, "replace", broken_replace)
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

    monkeypatch.setattr(atomic_mod.os, "fsync", fsync)
    monkeypatch.setattr(atomic_mod.os, "replace", replace)
    store = ConversationStore(paths)
    conv = store.new()
    conv.add(ChatMessage("user", "q"))
    store.save(conv)
    first_replace = calls.index("replace")
    assert "fsync" in calls[:first_replace]


def test_invalid_role_is_rejected() -> None:
    with pytest.raises(ValueError):
        ChatMessage("system", "no")


# ---- fields added for the conversation engine ----------------------------------------------
def test_new_message_fields_round_trip(paths: Paths) -> None:
    store = ConversationStore(paths)
    conv = store.new()
    conv.add(ChatMessage("user", "What is her office number?"))
    answer = ChatMessage(
        "assistant",
        "It is 555-0142 [1].",
        query="accountant office number",
        checks={"removed_citations": [3], "not_in_memory": ["555-0199"], "ok": False},
        cut=True,
        evidence=[
            {"source": 1, "sentences": ["Her office number is 555-0142."], "spans": [[0, 9]]}
        ],
    )
    conv.add(answer)
    store.save(conv)
    loaded = store.load(conv.id).messages[1]
    assert loaded == answer
    assert loaded.query == "accountant office number" and loaded.cut is True
    assert loaded.checks["not_in_memory"] == ["555-0199"]
    assert loaded.evidence[0]["spans"] == [[0, 9]]
    # defaults for a message made without them
    plain = ChatMessage("assistant", "x")
    assert (plain.query, plain.checks, plain.cut, plain.evidence) == ("", {}, False, [])
    assert plain.checks is not ChatMessage("assistant", "y").checks  # no shared default


def test_old_files_get_defaults_for_the_new_fields(paths: Paths) -> None:
    folder = paths.data / "conversations"
    folder.mkdir(parents=True)
    conv_id = "b" * 32
    old = {  # exactly what the first release wrote
        "schema_version": 1,
        "id": conv_id,
        "title": "gate",
        "created_at": "2024-01-01T00:00:00+00:00",
        "updated_at": "2024-01-01T00:00:01+00:00",
        "messages": [
            {
                "role": "user",
                "text": "gate?",
                "created_at": "x",
                "sources": [],
                "stopped": False,
                "no_memory": False,
                "error": "",
            },
            {
                "role": "assistant",
                "text": "4512",
                "created_at": "y",
                "sources": [],
                "stopped": False,
                "no_memory": False,
                "error": "",
            },
        ],
    }
    (folder / f"{conv_id}.json").write_text(json.dumps(old), encoding="utf-8")
    message = ConversationStore(paths).load(conv_id).messages[1]
    assert (message.query, message.checks, message.cut, message.evidence) == ("", {}, False, [])
    # null values (a hand-edited file) load as the defaults too
    old["messages"][1].update({"query": None, "checks": None, "cut": None, "evidence": None})
    (folder / f"{conv_id}.json").write_text(json.dumps(old), encoding="utf-8")
    message = ConversationStore(paths).load(conv_id).messages[1]
    assert (message.query, message.checks, message.cut, message.evidence) == ("", {}, False, [])


@pytest.mark.parametrize(
    "bad",
    [
        {"checks": [1, 2]},
        {"checks": "ok"},
        {"evidence": {"a": 1}},
        {"evidence": [1]},
        {"sources": [["not", "an", "object"]]},
    ],
)
def test_new_fields_with_wrong_types_make_the_file_unreadable(paths: Paths, bad: dict) -> None:
    folder = paths.data / "conversations"
    folder.mkdir(parents=True)
    conv_id = "c" * 32
    message = {"role": "assistant", "text": "x", **bad}
    (folder / f"{conv_id}.json").write_text(
        json.dumps({"id": conv_id, "messages": [message]}), encoding="utf-8"
    )
    store = ConversationStore(paths)
    with pytest.raises(ConversationError, match="cannot be read"):
        store.load(conv_id)
    assert store.list() == [] and store.find(conv_id) is None and store.search("") == []


# ---- preview -------------------------------------------------------------------------------------
def test_summary_preview_is_the_first_answers_first_line(paths: Paths) -> None:
    store = ConversationStore(paths)
    conv = store.new()
    conv.add(ChatMessage("user", "q"))
    assert conv.summary().preview == ""
    conv.add(ChatMessage("assistant", "", stopped=True))  # an empty answer is skipped
    conv.add(ChatMessage("assistant", "\n\n## **Your accountant** is `Ms Lee`\nsecond line"))
    conv.add(ChatMessage("assistant", "a later answer"))
    store.save(conv)
    assert store.list()[0].preview == "Your accountant is Ms Lee"
    conv.messages[2].text = "- " + "word " * 40
    preview = conv.summary().preview
    assert len(preview) <= 80 and preview.endswith("…") and preview.startswith("word")


# ---- rename --------------------------------------------------------------------------------------
def test_rename_cleans_the_title_and_keeps_order_and_last(paths: Paths) -> None:
    store = ConversationStore(paths)
    a = _qa(store, "first question")
    b = _qa(store, "second question")
    store.set_last(b.id)
    before = store.load(a.id)

    renamed = store.rename(a.id, "  Taxes\n2024\t<b>draft</b>\x00 ")
    assert renamed.title == "Taxes 2024 <b>draft</b>"
    loaded = store.load(a.id)
    assert loaded.title == "Taxes 2024 <b>draft</b>"
    assert loaded.updated_at == before.updated_at and loaded.messages == before.messages
    assert [s.id for s in store.list()] == [b.id, a.id]  # the order does not change
    assert store.last().id == b.id  # type: ignore[union-attr]
    assert store.rename(a.id, "x" * 200).title == "x" * 200


@pytest.mark.parametrize("title", ["", "   ", "\n\t", "\x00\x01", "x" * 201])
def test_rename_rejects_unusable_titles(paths: Paths, title: str) -> None:
    store = ConversationStore(paths)
    conv = _qa(store, "keep this title")
    with pytest.raises(conv_mod.InvalidTitleError) as info:
        store.rename(conv.id, title)
    assert isinstance(info.value, TeraError) and str(info.value)
    assert store.load(conv.id).title == "keep this title"


def test_rename_of_a_missing_or_corrupt_conversation(paths: Paths) -> None:
    store = ConversationStore(paths)
    with pytest.raises(NotFoundError):
        store.rename("d" * 32, "title")
    with pytest.raises(NotFoundError):
        store.rename("../x", "title")
    (paths.data / "conversations").mkdir(parents=True)
    (paths.data / "conversations" / ("e" * 32 + ".json")).write_text("{", encoding="utf-8")
    with pytest.raises(ConversationError):
        store.rename("e" * 32, "title")
    assert (paths.data / "conversations" / ("e" * 32 + ".json")).read_text() == "{"


def test_rename_is_atomic(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ConversationStore(paths)
    conv = _qa(store, "old title")
    before = store.path_of(conv.id).read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_mod.os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.rename(conv.id, "new title")
    monkeypatch.undo()
    assert store.path_of(conv.id).read_bytes() == before
    assert not [p for p in store.folder.iterdir() if p.name.endswith(".tmp")]


# ---- find ----------------------------------------------------------------------------------------
def _with_id(store: ConversationStore, conv_id: str, question: str) -> Conversation:
    conv = Conversation(id=conv_id)
    conv.add(ChatMessage("user", question))
    store.save(conv)
    return conv


def test_find_by_id_prefix_and_title(paths: Paths) -> None:
    store = ConversationStore(paths)
    a = _with_id(store, "abcdef01" + "0" * 24, "Who is my accountant?")
    b = _with_id(store, "abcdef02" + "0" * 24, "Plumber")
    c = _with_id(store, "123456" + "f" * 26, "plumber")  # the same title, newer

    assert store.find(a.id).id == a.id  # type: ignore[union-attr]
    assert store.find(a.id.upper()).id == a.id  # type: ignore[union-attr]
    assert store.find("abcdef01").id == a.id  # type: ignore[union-attr]
    assert store.find(" 123456 ").id == c.id  # type: ignore[union-attr]
    assert store.find("abcdef") is None  # ambiguous prefix
    assert store.find("12345") is None  # too short to be a prefix
    assert store.find("who IS my   accountant?").id == a.id  # type: ignore[union-attr]
    assert store.find("PLUMBER").id == c.id  # type: ignore[union-attr]  (most recent)
    b.add(ChatMessage("assistant", "call Bob"))
    store.save(b)
    assert store.find("plumber").id == b.id  # type: ignore[union-attr]
    assert store.find("accountant") is None  # a title must match whole
    assert store.find("") is None and store.find("   ") is None
    assert store.find("0" * 32) is None
    assert store.find("../../etc/passwd") is None


def test_find_by_title_that_looks_like_a_prefix(paths: Paths) -> None:
    store = ConversationStore(paths)
    conv = store.new()
    conv.add(ChatMessage("user", "deadbeef"))
    store.save(conv)
    assert store.find("deadbeef").id == conv.id  # type: ignore[union-attr]


def test_find_skips_corrupt_files(paths: Paths) -> None:
    store = ConversationStore(paths)
    good = _with_id(store, "7" * 32, "good")
    (store.folder / ("7" * 31 + "8.json")).write_text("{", encoding="utf-8")
    assert store.find("7" * 31 + "8") is None
    assert store.find("7777777").id == good.id  # type: ignore[union-attr]  (unique readable)
    assert store.find("good").id == good.id  # type: ignore[union-attr]


def test_find_and_search_with_no_folder(paths: Paths) -> None:
    store = ConversationStore(paths)
    assert store.find("anything") is None
    assert store.search("anything") == [] and store.search("") == []


# ---- search --------------------------------------------------------------------------------------
def test_search_matches_all_words_in_title_or_messages(paths: Paths) -> None:
    store = ConversationStore(paths)
    acc = _qa(store, "Who is my accountant?", "Your accountant is Ms LEE, office 555-0142.")
    plumb = _qa(store, "Who is the plumber?", "Bob fixes the sink.")
    cafe = _qa(store, "Café opening hours", "It opens at 8.")
    assert [s.id for s in store.search("accountant")] == [acc.id]
    assert [s.id for s in store.search("lee OFFICE")] == [acc.id]  # words from the answer
    assert [s.id for s in store.search("accountant sink")] == []  # all words, one conversation
    assert [s.id for s in store.search("who")] == [plumb.id, acc.id]  # most recent first
    assert [s.id for s in store.search("CAFÉ")] == [cafe.id]
    assert [s.id for s in store.search("Cafe\u0301")] == [cafe.id]  # decomposed é
    assert [s.id for s in store.search("open")] == [cafe.id]  # a word part matches
    assert [s.id for s in store.search("  ")] == [s.id for s in store.list()]
    assert store.search("<img src=x>") == []
    found = store.search("555-0142")[0]
    assert found.message_count == 2 and found.preview.startswith("Your accountant")


# ---- export --------------------------------------------------------------------------------------
def test_export_markdown(paths: Paths) -> None:
    conv = Conversation(created_at="2026-11-12T14:02:00+00:00")
    conv.add(ChatMessage("user", "What is the gate code?"))
    fact = FakeSource(1, "a", "fact", "", 0.9, "the gate code is 4512", "2024-05-01T10:00:00")
    doc = FakeSource(2, "b", "document", "/home/me/notes_2024.pdf", 0.7, "...", "2024", "N", 3)
    conv.add(ChatMessage("assistant", "It is 4512 [1].", sources=sources_to_dicts([doc, fact])))
    conv.add(ChatMessage("user", "And the wifi?"))
    conv.add(ChatMessage("assistant", "The wifi pass", cut=True, stopped=True))
    conv.add(ChatMessage("user", "x"))
    conv.add(ChatMessage("assistant", "", error="The model failed."))
    conv.add(ChatMessage("user", "y"))
    conv.add(ChatMessage("assistant", "", no_memory=True))
    md = conv_mod.export_markdown(conv)
    lines = md.splitlines()
    assert lines[0] == "# What is the gate code?"
    assert "2026" in lines[2] and "November" in lines[2]
    assert "**You:** What is the gate code?" in lines
    assert "**Tera:** It is 4512 [1]." in lines
    sources_at = lines.index("Sources:")
    assert lines[sources_at + 2] == "1. Remembered 2024-05-01: “the gate code is 4512”"
    assert lines[sources_at + 3] == "2. notes\\_2024.pdf, p. 3"
    assert "**Tera:** The wifi pass" in lines
    assert any("Cut off" in ln for ln in lines) and any("Stopped" in ln for ln in lines)
    assert "*Error: The model failed.*" in lines
    assert any("Nothing in memory" in ln for ln in lines)
    assert md.endswith("\n") and not md.endswith("\n\n")


def test_export_markdown_keeps_answer_markdown_and_defuses_html() -> None:
    conv = Conversation()
    conv.add(ChatMessage("user", "<img src=/dev/zero> and ![x](file:///etc/passwd)"))
    answer = (
        "- first\n- second <script>alert(1)</script>\n\n"
        "```html\n<b>code stays</b>\n```\n"
        "Inline `<i>` stays; ![logo](http://tracker.example/p.png) does not load."
    )
    conv.add(ChatMessage("assistant", answer))
    conv.title = "# <b>Title</b> [link](x)\nsecond line"
    md = conv_mod.export_markdown(conv)
    lines = md.splitlines()
    assert lines[0] == "# \\# \\<b\\>Title\\</b\\> \\[link\\](x) second line"
    assert "**You:** &lt;img src=/dev/zero> and [image: x](file:///etc/passwd)" in lines
    tera = lines.index("**Tera:**")  # a list needs its own line after the label
    assert lines[tera + 1 : tera + 4] == ["", "- first", "- second &lt;script>alert(1)&lt;/script>"]
    assert "<b>code stays</b>" in lines and "```html" in lines
    assert "Inline `<i>` stays; [image: logo](http://tracker.example/p.png) does not load." in lines
    assert "<img" not in md and "<script" not in md and "![" not in md


def test_export_markdown_of_an_empty_or_odd_conversation() -> None:
    md = conv_mod.export_markdown(Conversation(created_at="not a date"))
    assert md == "# Untitled chat\n"
    conv = Conversation()
    conv.add(ChatMessage("assistant", "```\nunclosed code"))
    bad_sources = [
        {"number": "x", "kind": "document", "source": "C:\\docs\\a.txt", "page": True},
        {"kind": "fact", "text": ""},
    ]
    conv.messages[0].sources = bad_sources
    md = conv_mod.export_markdown(conv)
    assert "```\nunclosed code\n```" in md  # the fence is closed so the rest is not code
    assert "1. a.txt" in md and "2. Remembered" in md
