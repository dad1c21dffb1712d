"""Forget means gone (issue 12, point 3): after each kind of forget, and after a restart, no file
under Tera's home holds the forgotten text: not the store's write-ahead log, not its segments,
not a saved conversation that quoted it. What was not forgotten is all still there.

Real parts: the tiny embedding model, the embedded Qdrant engine, the conversation store.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tera_desktop.core.conversations import ChatMessage, ConversationStore
from tera_desktop.core.engine import Engine
from tera_desktop.core.paths import Paths
from tera_desktop.core.redact import (
    REDACTED,
    REDACTED_ANSWER,
    REDACTED_QUESTION,
    Forgotten,
    redact_conversations,
)
from tera_desktop.core.settings import Settings
from tera_desktop.core.store import EdgeStore, _finish_scrub

FACT_TOKEN = "quokkafact7319"
DOC_TOKEN = "wombatdoc4402"
KEPT_TOKEN = "numbatkept5567"


def files_holding(root: Path, token: str) -> list[str]:
    """Every file under ``root`` whose bytes contain ``token`` (as UTF-8 or UTF-16)."""
    needles = (token.encode(), token.encode("utf-16-le"))
    found = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath, name)
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if any(n in data for n in needles):
                found.append(str(path.relative_to(root)))
    return found


@pytest.fixture
def home(paths: Paths) -> Path:
    return paths.data.parent


@pytest.fixture
def filled(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """A memory with a fact, a document and a fact to keep, and a saved chat that quoted all."""
    fact = engine.remember(f"the spare key code is {FACT_TOKEN}")
    engine.remember(f"the bike lock code is {KEPT_TOKEN}")
    doc = tmp_path / "docs" / "notes.txt"
    doc.parent.mkdir()
    doc.write_text(f"The attic holds the winter tyres and the {DOC_TOKEN} box.")
    list(engine.upload([doc]))
    (doc_hit,) = [d for d in engine.documents() if d.source == str(doc)]
    store = ConversationStore(engine.paths)
    conv = store.new()
    conv.add(ChatMessage("user", f"what is {FACT_TOKEN} for?"))
    conv.add(
        ChatMessage(
            "assistant",
            f"The spare key code is {FACT_TOKEN} [1]; the box is {DOC_TOKEN} [2].",
            sources=[
                {"number": 1, "id": fact.id, "kind": "fact", "source": "", "text": fact.text},
                {
                    "number": 2,
                    "id": doc_hit.doc_id,
                    "kind": "document",
                    "source": str(doc),
                    "text": f"the {DOC_TOKEN} box",
                },
            ],
            evidence=[{"source": 1, "sentence": f"code is {FACT_TOKEN}"}],
        )
    )
    other = store.new()
    other.add(ChatMessage("user", "anything about bikes?"))
    other.add(
        ChatMessage(
            "assistant",
            f"The bike lock code is {KEPT_TOKEN} [1].",
            sources=[{"number": 1, "id": "x", "kind": "fact", "text": KEPT_TOKEN}],
        )
    )
    store.save(other)
    store.save(conv)
    engine.__dict__["_test_conv_ids"] = (conv.id, other.id)
    assert files_holding(engine.paths.data, FACT_TOKEN)  # the probe finds what is there
    yield engine


def reopen(engine: Engine, settings: Settings) -> Engine:
    engine.close()
    return Engine(engine.paths, settings)


def test_forgetting_a_fact_leaves_no_trace(
    filled: Engine, home: Path, tiny_settings: Settings
) -> None:
    engine = filled
    fact = next(f for f in engine.facts() if FACT_TOKEN in f.text)
    result = engine.forget(fact.id)
    assert result.removed == 1 and result.redacted == 1
    assert files_holding(home, FACT_TOKEN) == []
    assert files_holding(engine.paths.store, KEPT_TOKEN) and files_holding(
        engine.paths.store, DOC_TOKEN
    )
    conv_id, other_id = engine.__dict__["_test_conv_ids"]
    conv = ConversationStore(engine.paths).load(conv_id)
    answer = conv.messages[1]
    assert answer.text == REDACTED_ANSWER and answer.evidence == []
    assert answer.sources[0]["text"] == REDACTED and answer.sources[0]["id"] == ""
    assert conv.messages[0].text == REDACTED_QUESTION  # the question named the memory
    assert FACT_TOKEN not in conv.title
    kept = ConversationStore(engine.paths).load(other_id)
    assert KEPT_TOKEN in kept.messages[1].text  # a chat that did not use it is untouched
    engine = reopen(engine, tiny_settings)
    try:
        assert engine.count() == 2
        assert files_holding(home, FACT_TOKEN) == []
        assert engine.search("bike lock code")[0].text.endswith(KEPT_TOKEN)
    finally:
        engine.close()


def test_forgetting_a_document_leaves_no_trace(
    filled: Engine, home: Path, tiny_settings: Settings
) -> None:
    engine = filled
    (doc,) = engine.documents()
    result = engine.forget_source(doc.source)
    assert result.removed == 1 and result.redacted == 1
    assert files_holding(home, DOC_TOKEN) == []
    assert files_holding(engine.paths.store, FACT_TOKEN)  # the fact was not forgotten
    engine = reopen(engine, tiny_settings)
    try:
        assert engine.documents() == [] and engine.count() == 2
        assert files_holding(home, DOC_TOKEN) == []
    finally:
        engine.close()


def test_forgetting_everything_leaves_no_trace(
    filled: Engine, home: Path, tiny_settings: Settings
) -> None:
    engine = filled
    result = engine.forget_all()
    assert result.removed == 3 and result.redacted == 2
    for token in (FACT_TOKEN, DOC_TOKEN, KEPT_TOKEN):
        assert files_holding(home, token) == [], token
    engine = reopen(engine, tiny_settings)
    try:
        assert engine.count() == 0
        engine.remember("a new memory after forgetting everything")
        assert engine.count() == 1
    finally:
        engine.close()


def test_many_writes_after_a_forget_do_not_bring_it_back(filled: Engine, home: Path) -> None:
    engine = filled
    fact = next(f for f in engine.facts() if FACT_TOKEN in f.text)
    engine.forget(fact.id)
    for i in range(30):
        engine.remember(f"filler memory number {i}")
    assert files_holding(home, FACT_TOKEN) == []
    assert engine.count() == 32


def test_a_scrub_killed_before_its_swap_is_undone_and_after_it_is_finished(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "memory"
    store = EdgeStore(folder, 4)
    store.close()
    shard = folder / "shard"
    # killed while copying: no marker, the half copy is thrown away
    (folder / "shard.new").mkdir()
    (folder / "shard.new" / "junk").write_text(FACT_TOKEN)
    _finish_scrub(folder)
    assert not (folder / "shard.new").exists() and shard.exists()
    # killed between the marker and the swap: the copy replaces the old shard
    subprocess.run(["cp", "-a", str(shard), str(folder / "shard.new")], check=True)
    (shard / "old-marker").write_text(FACT_TOKEN)
    (folder / "scrub-ready").write_text("x")
    _finish_scrub(folder)
    assert not (shard / "old-marker").exists() and not (folder / "scrub-ready").exists()
    assert not (folder / "shard.old").exists()
    assert files_holding(folder, FACT_TOKEN) == []
    EdgeStore(folder, 4).close()  # it opens


def test_redaction_matches_the_forgotten_fact_in_any_message(paths: Paths) -> None:
    store = ConversationStore(paths)
    conv = store.new()
    conv.add(ChatMessage("user", f"Remind me:  THE SPARE KEY code is {FACT_TOKEN}, right?"))
    store.save(conv)
    before = store.list()
    result = redact_conversations(
        store, Forgotten.of(texts=[f"the spare key code is {FACT_TOKEN}"])
    )
    assert result.conversations == 1 and result.messages == 1
    again = store.load(conv.id)
    assert FACT_TOKEN not in again.messages[0].text and REDACTED in again.messages[0].text
    assert FACT_TOKEN not in again.title
    assert [s.id for s in store.list()] == [s.id for s in before]  # order kept
