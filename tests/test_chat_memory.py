"""Chat-like documents: messages packed into chunks without splitting one, senders and times kept
in the payload and usable as filters, and questions that name a sender and a month use them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

from tera_desktop.core.engine import Engine
from tera_desktop.core.ingest import FileResult
from tera_desktop.core.ingest.extractors import Extracted, Section, register
from tera_desktop.core.retrieval import retrieve as _retrieve

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


def retrieve(question: str, embedder, store, top_k: int, min_score: float, today: date) -> list:  # type: ignore[no-untyped-def]
    return _retrieve(
        question, embedder, store, top_k=top_k, min_score=min_score, today=today, mode="dense"
    ).hits


def _export(path: Path) -> None:
    lines = ["12/05/2023, 09:00 - Messages and calls are end-to-end encrypted."]
    for day in range(1, 29):
        lines.append(f"{day:02d}/04/2023, 10:00 - Sam: the cat is blue, day {day}")
        lines.append(f"{day:02d}/05/2023, 10:00 - Alex: the trip to paris, day {day}")
        lines.append(f"{day:02d}/06/2023, 10:00 - Sam: the trip to paris again, day {day}")
    lines.append("14/05/2023, 18:30 - Sam: the trip to paris in may is booked")
    lines.append("continuing: we fly on the 20th")
    lines.append("15/05/2023, 08:00 - Sam: <Media omitted>")
    path.write_text("\n".join(lines), encoding="utf-8")


def test_whatsapp_export_question_finds_sams_may_messages(engine: Engine, tmp_path: Path) -> None:
    export = tmp_path / "WhatsApp Chat with Trip.txt"
    _export(export)
    (result,) = [e for e in engine.upload([export]) if isinstance(e, FileResult)]
    assert result.status == "added"
    assert sorted(engine.store.senders()) == ["Alex", "Sam"]
    hits = retrieve(
        "what did Sam say about the trip in May 2023?",
        engine.embedder,
        engine.store,
        4,
        0.0,
        date(2026, 11, 25),
    )
    assert "the trip to paris in may is booked\ncontinuing: we fly on the 20th" in hits[0].text
    assert {"sender": "Sam", "timestamp": "2023-05-14T18:30:00"} in hits[0].extra["messages"]
    assert "<Media omitted>" not in " ".join(h.text for h in hits)
    (doc,) = engine.documents()
    assert doc.title == "WhatsApp chat with Trip"
