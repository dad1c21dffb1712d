"""The application core (core/app.py) on its own, headless: the same object the window and the
CLI drive. Real parts: the tiny models, the embedded Qdrant engine, the files on disk."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from test_safety_forget import files_holding

from tera_desktop.core.app import (
    ADD_QUEUED,
    ADD_SKIPPED,
    ADD_STARTED,
    ADD_WAITING,
    READY,
    IngestStarted,
    MemoryChanged,
    ReadinessChanged,
    TeraApp,
    WaitingChanged,
)
from tera_desktop.core.ingest import FileResult
from tera_desktop.core.paths import Paths
from tera_desktop.core.prompts import AnswerDone, SourcesFound
from tera_desktop.core.saved_state import DAMAGED_TAG
from tera_desktop.core.settings import Settings, save_settings


def opened(paths: Paths, settings: Settings | None) -> TeraApp:
    app = TeraApp(paths, settings)
    app.open()
    return app


def test_a_settings_file_that_cannot_be_read_is_set_aside_once(
    paths: Paths, tiny_settings: Settings
) -> None:
    save_settings(paths, tiny_settings)
    paths.settings_file.write_text('{"theme": "dark", "llm_threads": ', encoding="utf-8")
    app = TeraApp(paths)
    assert [p.what for p in app.problems] == ["the settings"]
    assert app.settings == Settings().validate()  # the defaults, for now
    kept = list(paths.config.glob(f"settings{DAMAGED_TAG}*.json"))
    assert len(kept) == 1 and kept[0].read_text().startswith('{"theme": "dark"')  # untouched
    app.close()
    again = TeraApp(paths)
    assert again.problems == []  # said once
    again.close()


def test_events_tell_what_changed(paths: Paths, tiny_settings: Settings) -> None:
    app = opened(paths, tiny_settings)
    seen: list[object] = []
    app.subscribe(seen.append)
    app.remember("The gate code is 4512.")
    assert any(isinstance(e, MemoryChanged) for e in seen)
    app.load_llm()
    states = [e.state for e in seen if isinstance(e, ReadinessChanged) and e.kind == "llm"]
    assert states == ["loading", READY]
    app.close()


def test_before_the_embedding_model_facts_and_files_wait_then_go_in_order(
    paths: Paths, tiny_settings: Settings, tmp_path: Path
) -> None:
    app = TeraApp(paths, tiny_settings)  # not opened yet: the embedding model is not ready
    seen: list[object] = []
    app.subscribe(seen.append)
    doc = tmp_path / "note.txt"
    doc.write_text("The recycling goes out on Tuesdays.")
    assert app.remember("first fact typed").waiting
    assert app.remember("second fact typed").waiting
    assert app.add([str(doc)]) == ADD_WAITING
    assert app.add([str(tmp_path)], sync=True) == ADD_SKIPPED  # the catch-up syncs it later
    assert isinstance(seen[-1], WaitingChanged) and seen[-1].files == (str(doc),)
    assert json.loads(paths.waiting_file.read_text())["facts"][0]["text"] == ("first fact typed")
    app.open()
    stored = [text for text, _ in app.store_waiting()]
    assert stored == ["first fact typed", "second fact typed"]
    assert app.read_waiting_files() == ADD_STARTED
    results = [e for e in app.ingest() if isinstance(e, FileResult)]
    assert [r.status for r in results] == ["added"]
    assert not app.waiting and app.waiting.files() == [] and not paths.waiting_file.exists()
    assert app.listing().count == 3
    app.close()


def test_one_ingestion_at_a_time_and_later_work_waits_its_turn(
    paths: Paths, tiny_settings: Settings, tmp_path: Path
) -> None:
    app = opened(paths, tiny_settings)
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("Alpha notes.")
    b.write_text("Beta notes.")
    assert app.add([str(a)]) == ADD_STARTED
    assert app.add([str(b)]) == ADD_QUEUED
    events = list(app.ingest())
    jobs = [e.job.paths for e in events if isinstance(e, IngestStarted)]
    assert jobs == [(str(a),), (str(b),)] and not app.ingesting
    assert app.add([str(a)]) == ADD_STARTED  # idle again: the next one starts
    cancel = threading.Event()
    cancel.set()
    assert list(app.ingest(cancel)) == [] and not app.ingesting and app.queued() == []
    app.close()


def test_a_forget_while_an_answer_is_written_never_comes_back_with_it(
    paths: Paths, tiny_settings: Settings
) -> None:
    app = opened(paths, tiny_settings)
    app.load_llm()
    fact = app.remember("The quokka box code is zebra4411.").result
    assert fact is not None
    answer = app.ask("What is the quokka box code?")
    for event in answer:
        if isinstance(event, SourcesFound):
            assert [s.id for s in event.sources] == [fact.id]
            app.forget(fact.id)  # meanwhile, in the sidebar
            break
    done = [e for e in answer if isinstance(e, AnswerDone)]
    assert done
    assert files_holding(paths.data, "zebra4411") == []  # the saved chat was redacted as recorded
    assert app.session.take_rewritten()  # the window shows the redacted copy
    assert "zebra4411" not in json.dumps(app.session.conversation.to_dict())
    app.close()
