"""Chat-like documents: messages packed into chunks without splitting one, senders and times kept
in the payload and usable as filters, and questions that name a sender and a month use them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

from tera_desktop.core.assistant import retrieve
from tera_desktop.core.engine import Engine
from tera_desktop.core.ingest import FileResult
from tera_desktop.core.ingest.extractors import Extracted, Section, register

START = datetime(2023, 4, 20, 9, 0)
PEOPLE = ["Sam", "Alex", "Anna"]


@register(".chat-test")
def _chat(path: Path, data: bytes) -> Extracted:
    sections = []
    for line in data.decode().splitlines():
        stamp, sender, text = line.split("|")
        sections.append(
            Section(text=f"{sender} ({stamp}): {text}", meta={"sender": sender, "timestamp": stamp})
        )
    return Extracted("chat", sections, meta={"pack_sections": True, "source_type": "chat-test"})


def write_chat(path: Path) -> list[tuple[str, str, str]]:
    rows = []
    for i in range(60):
        when = (START + timedelta(days=i)).isoformat()
        sender = PEOPLE[i % 3]
        topic = "the trip to paris" if i % 3 == 0 else "the blue cat"
        rows.append((when, sender, f"message {i} about {topic}, day {i}"))
    path.write_text("\n".join("|".join(r) for r in rows))
    return rows


def test_messages_are_packed_whole_with_senders_and_times(engine: Engine, tmp_path: Path) -> None:
    engine.settings = replace(engine.settings, chunk_tokens=48)
    rows = write_chat(tmp_path / "group.chat-test")
    (result,) = [e for e in engine.upload([tmp_path]) if isinstance(e, FileResult)]
    assert result.status == "added" and result.chunks > 3
    chunks = engine.store.chunks_of(result.doc_id, 0, 999)
    for when, sender, text in rows:  # every message is in exactly one chunk, whole
        holders = [c for c in chunks if text in c.text]
        assert len(holders) == 1
        chunk = holders[0]
        assert sender in chunk.extra["senders"]
        assert chunk.extra["date_from"] <= when <= chunk.extra["date_to"]
        assert {"sender": sender, "timestamp": when} in chunk.extra["messages"]
    assert all(c.extra["source_type"] == "chat-test" for c in chunks)
    assert sorted(engine.store.senders()) == sorted(PEOPLE)


def test_sender_and_period_filters_narrow_the_search(engine: Engine, tmp_path: Path) -> None:
    engine.settings = replace(engine.settings, chunk_tokens=48)
    write_chat(tmp_path / "group.chat-test")
    list(engine.upload([tmp_path]))
    engine.remember("the trip to paris is booked for june")
    vector = engine.embedder.embed_query("trip to paris")
    hits = engine.store.search(
        vector, 10, senders=["Sam"], date_from="2023-05-01T00:00:00", date_to="2023-05-31T23:59:59"
    )
    assert hits
    for hit in hits:
        assert "Sam" in hit.extra["senders"]
        assert (
            hit.extra["date_to"] >= "2023-05-01" and hit.extra["date_from"] <= "2023-05-31T23:59:59"
        )
    assert all(h.kind == "document" for h in hits)


def test_a_question_naming_a_sender_and_a_month_uses_them(engine: Engine, tmp_path: Path) -> None:
    engine.settings = replace(engine.settings, chunk_tokens=48)
    write_chat(tmp_path / "group.chat-test")
    list(engine.upload([tmp_path]))
    engine.remember("the trip to paris is booked for june")
    hits = retrieve(
        "what did Sam say about the trip to paris in May 2023?",
        engine.embedder,
        engine.store,
        4,
        0.0,
        date(2026, 11, 25),
    )
    first = hits[0]
    assert "Sam" in first.extra["senders"] and first.extra["date_from"] <= "2023-05-31T23:59:59"
    assert first.extra["date_to"] >= "2023-05-01"
    # few chunks match a single day: an unfiltered search fills the rest
    hits = retrieve(
        "what did Sam say about the trip to paris on 20 April 2023?",
        engine.embedder,
        engine.store,
        4,
        0.0,
        date(2026, 11, 25),
    )
    assert hits[0].extra["date_from"][:10] == "2023-04-20"
    assert len(hits) == 4
    assert any(h.kind == "fact" or h.extra["date_from"][:10] != "2023-04-20" for h in hits[1:])
