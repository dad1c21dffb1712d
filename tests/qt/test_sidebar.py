"""The memory sidebar reads well at any width, down to 800×560 (issue 11, point 2): facts wrap with
their date, documents show kind, name, size in chunks and status, watched folders their state,
the filter searches text, names and paths and updates the counts, the ingestion panel appears,
stops, collapses to a summary with the per-file log one click away, and every count agrees with
its noun."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem

from tera_desktop.core.ingest import ADDED, FAILED, SKIPPED, UNCHANGED, UPDATED, FileResult
from tera_desktop.core.store import DocumentInfo, FactInfo
from tera_desktop.core.units import plural
from tera_desktop.ui.ingest_panel import IngestLogDialog, summarize
from tera_desktop.ui.memory_panel import (
    DOCUMENT,
    FACT,
    FACT_LINES,
    ROLE_KEY,
    MemoryPanel,
    document_kind,
    friendly_date,
)

pytestmark = pytest.mark.qt_log_ignore(
    r"This plugin does not support propagateSizeHints", r"This plugin does not support raise\(\)"
)

CAMPER = "I parked the camper van on level 3 of the airport car park, row F, next to the lifts"
LONG_NAME = "note-087-quarterly-planning-meeting-minutes-final-version.txt"
LAST_YEAR = "2024-11-03T12:00:00+00:00"  # noon UTC: 3 Nov in every time zone


def facts() -> list[FactInfo]:
    return [
        FactInfo("f1", CAMPER, LAST_YEAR),
        FactInfo("f2", "the gate code is 4512", "2024-10-01T12:00:00+00:00"),
        FactInfo("f3", "Anna's birthday is 14 March", "2024-09-01T12:00:00+00:00", "f1"),
    ]


def documents() -> list[DocumentInfo]:
    return [
        DocumentInfo("d1", f"/home/me/projects/{LONG_NAME}", "", "h1", 12, LAST_YEAR),
        DocumentInfo("d2", "/home/me/projects/budget.pdf", "Budget 2025", "h2", 1, LAST_YEAR),
        DocumentInfo("d3", "/home/me/voice/standup.m4a", "", "h3", 2, LAST_YEAR),
    ]


@pytest.fixture
def panel(qtbot) -> MemoryPanel:  # type: ignore[no-untyped-def]
    panel = MemoryPanel()
    qtbot.addWidget(panel)
    panel.resize(320, 540)
    panel.show()
    panel.set_memories(facts(), documents())
    QApplication.processEvents()
    return panel


def _index(panel: MemoryPanel, key: str):  # type: ignore[no-untyped-def]
    item = next(i for i in panel._items() if i.data(0, ROLE_KEY) == key)
    return panel.tree.indexFromItem(item)


def _row_height(panel: MemoryPanel, key: str) -> int:
    option = QStyleOptionViewItem()
    return panel.delegate.sizeHint(option, _index(panel, key)).height()


# ---- facts -----------------------------------------------------------------------------------


def test_a_long_fact_wraps_with_its_date_and_is_not_cut(panel: MemoryPanel) -> None:
    row = panel.row("f1")
    assert row is not None and row.kind == FACT
    assert row.text == CAMPER  # the whole text is the row's text, not "I parked the camper v…"
    assert row.meta == "3 Nov 2024"
    width = panel.delegate.text_width(FACT)
    lines = panel.delegate.fact_lines(CAMPER, width)
    assert len(lines) >= 2, "a long fact in a 320 px sidebar must wrap"
    assert " ".join(lines) == CAMPER and "…" not in "".join(lines)
    fm = QFontMetrics(panel.delegate.fonts()[0])
    assert all(fm.horizontalAdvance(line) <= width for line in lines)
    short = _row_height(panel, "f2")
    tall = _row_height(panel, "f1")
    assert tall >= short + (len(lines) - 1) * fm.lineSpacing()

    panel.resize(900, 540)  # wider: fewer lines, a lower row
    QApplication.processEvents()
    wide_lines = panel.delegate.fact_lines(CAMPER, panel.delegate.text_width(FACT))
    assert len(wide_lines) < len(lines)
    assert _row_height(panel, "f1") < tall


def test_a_very_long_fact_stops_at_a_few_lines_and_keeps_all_in_its_tooltip(
    panel: MemoryPanel,
) -> None:
    text = " ".join(f"word{i}" for i in range(200))
    panel.set_memories([FactInfo("big", text, LAST_YEAR)], [])
    lines = panel.delegate.fact_lines(panel.row("big").text, panel.delegate.text_width(FACT))  # type: ignore[union-attr]
    assert len(lines) == FACT_LINES and lines[-1].endswith("…")
    item = panel._items()[0]
    assert "word199" in item.toolTip(0)


def test_a_fact_is_painted_as_plain_text(panel: MemoryPanel) -> None:
    markup = "<b>bold</b> &amp; <img src=x>"
    panel.set_memories([FactInfo("m", markup, LAST_YEAR)], [])
    lines = panel.delegate.fact_lines(panel.row("m").text, 2000)  # type: ignore[union-attr]
    assert lines == [markup]  # the characters themselves, to be drawn by QPainter.drawText
    panel.grab()  # paints without loading anything


def test_a_superseded_fact_says_so_in_its_muted_line(panel: MemoryPanel) -> None:
    row = panel.row("f3")
    assert row is not None and row.status == "superseded"
    assert row.meta == "1 Sep 2024 · replaced by a newer fact"


def test_dates_read_as_people_say_them() -> None:
    from datetime import datetime, timedelta

    now = datetime.now().astimezone()
    assert friendly_date(now.isoformat()).startswith("today ")
    assert friendly_date((now - timedelta(days=1)).isoformat()) == "yesterday"
    assert friendly_date("2019-07-04T12:00:00+00:00") == "4 Jul 2019"
    assert friendly_date("not a date") == "not a date"


# ---- documents -------------------------------------------------------------------------------


def test_document_rows_show_kind_name_chunks_and_date(panel: MemoryPanel) -> None:
    by_key = {r.key: r for r in panel.rows() if r.kind == DOCUMENT}
    long_doc = by_key[f"/home/me/projects/{LONG_NAME}"]
    assert long_doc.text == LONG_NAME
    assert long_doc.meta == "12 chunks · Text · added 3 Nov 2024"
    assert by_key["/home/me/projects/budget.pdf"].meta == "1 chunk · PDF · added 3 Nov 2024"
    assert by_key["/home/me/voice/standup.m4a"].meta == "2 chunks · Recording · added 3 Nov 2024"
    assert document_kind("scan.JPEG")[:2] == ("JPEG", "Image")
    assert document_kind("report.docx")[:2] == ("DOCX", "Word")


def test_a_long_file_name_keeps_its_start_and_extension_at_800x560(
    qtbot, make_window, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / LONG_NAME).write_text("the quarterly planning meeting moved to Thursday")
    with qtbot.waitSignal(window.ingest_finished, timeout=60_000):
        window.add_paths([str(folder / LONG_NAME)])
    qtbot.waitUntil(lambda: LONG_NAME in window.memory.visible_texts(), timeout=10_000)
    window.resize(800, 560)
    QApplication.processEvents()
    panel = window.memory
    assert panel.width() <= 400, "the sidebar should be about 320 px wide at 800×560"
    width = panel.delegate.text_width(DOCUMENT)
    shown = panel.delegate.shown_name(LONG_NAME, width)
    fm = QFontMetrics(panel.delegate.fonts()[0])
    assert fm.horizontalAdvance(shown) <= width
    assert shown != LONG_NAME and "…" in shown  # it does not fit: cut in the middle,
    assert shown.startswith("note-087") and shown.endswith(".txt")  # not "note-087.…"
    row = panel.row(str((folder / LONG_NAME).resolve()))
    assert row is not None and row.meta.startswith("1 chunk · Text · added today")


def test_document_status_follows_the_file_results(panel: MemoryPanel) -> None:
    source = "/home/me/projects/budget.pdf"
    panel.set_ingesting(True)
    panel.add_file_result(FileResult(source, UPDATED, 1))
    assert panel.row(source).meta == "1 chunk · PDF · updated 3 Nov 2024"  # type: ignore[union-attr]
    panel.add_file_result(FileResult(source, FAILED, reason="The PDF is encrypted."))
    row = panel.row(source)
    assert row is not None and row.status == FAILED
    assert row.meta.startswith("Update failed · 1 chunk · PDF")
    item = next(i for i in panel._items() if i.data(0, ROLE_KEY) == source)
    assert "The PDF is encrypted." in item.toolTip(0)


# ---- watched folders -------------------------------------------------------------------------


def test_watched_folders_show_their_state_and_documents(panel: MemoryPanel) -> None:
    panel.set_watched(["/home/me/projects", "/media/usb/archive"])
    assert panel.row("/home/me/projects").meta == "Watching · 2 documents"  # type: ignore[union-attr]
    assert panel.row("/media/usb/archive").meta == "Watching · 0 documents"  # type: ignore[union-attr]
    panel.set_folder_state("/home/me/projects", "syncing")
    assert panel.row("/home/me/projects").meta == "Syncing… · 2 documents"  # type: ignore[union-attr]
    panel.set_ingesting(True)  # the sync runs, then ends
    panel.set_ingesting(False)
    assert panel.folder_state("/home/me/projects") == "watching"
    panel.set_ingesting(True)  # a sync of a folder that is gone reports it failed
    panel.add_file_result(
        FileResult("/media/usb/archive", FAILED, reason="No such file or folder.")
    )
    panel.set_ingesting(False)
    row = panel.row("/media/usb/archive")
    assert row is not None and row.status == "missing"
    assert row.meta == "Missing: not found on disk"
    panel.set_folder_state("/not/watched", "syncing")  # ignored
    assert panel.row("/not/watched") is None
    assert panel.group_titles() == ["Facts (3)", "Watched folders (2)", "Documents (3)"]


def test_a_missing_watched_folder_is_shown_missing_by_the_window(
    qtbot, make_window, tiny_settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    gone = str(tmp_path / "usb-stick")
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "a.txt").write_text("my cat is blue")
    settings = replace(tiny_settings, watched_folders=(gone, str(kept.resolve())))
    window = make_window(settings)
    qtbot.waitUntil(lambda: window.memory_count == 1, timeout=30_000)
    qtbot.waitUntil(lambda: window.memory.ingest.state == "done", timeout=30_000)
    assert window.memory.row(gone).meta == "Missing: not found on disk"  # type: ignore[union-attr]
    qtbot.waitUntil(
        lambda: window.memory.row(str(kept.resolve())).meta == "Watching · 1 document",  # type: ignore[union-attr]
        timeout=10_000,
    )


# ---- the filter ------------------------------------------------------------------------------


def test_the_filter_searches_text_names_and_paths_and_updates_the_counts(
    panel: MemoryPanel,
) -> None:
    panel.set_watched(["/home/me/projects"])
    panel.filter_edit.setText("camper")  # a word inside a fact's text
    assert panel.visible_texts() == [CAMPER]
    assert panel.group_titles() == ["Facts (1 of 3)"]
    panel.filter_edit.setText("PROJECTS")  # a folder in the documents' paths, any case
    assert panel.visible_texts() == ["projects", LONG_NAME, "budget.pdf"]
    assert panel.group_titles() == ["Watched folders (1 of 1)", "Documents (2 of 3)"]
    panel.filter_edit.setText("budget 2025")  # every word, here from the document's title
    assert panel.visible_texts() == ["budget.pdf"]
    panel.filter_edit.setText("zebra")
    assert panel.visible_texts() == [] and panel.stack.currentWidget() is panel.empty_label
    assert "zebra" in panel.empty_label.text()
    assert panel.empty_label.textFormat() == Qt.TextFormat.PlainText
    panel.filter_edit.clear()
    assert len(panel.visible_texts()) == 7
    assert panel.group_titles() == ["Facts (3)", "Watched folders (1)", "Documents (3)"]


def test_the_filter_drops_a_selection_it_hides(panel: MemoryPanel) -> None:
    assert panel.select_key("f2") and panel.forget_button.isEnabled()
    panel.filter_edit.setText("camper")
    assert panel.selected() is None and not panel.forget_button.isEnabled()
    assert not panel.select_key("f2")  # hidden rows cannot be chosen


def test_a_refresh_keeps_the_selection_and_the_filter(panel: MemoryPanel) -> None:
    panel.filter_edit.setText("gate")
    assert panel.select_key("f2")
    more = [*facts(), FactInfo("f4", "the gate is green", LAST_YEAR)]
    panel.set_memories(more, documents())
    assert panel.visible_texts() == ["the gate code is 4512", "the gate is green"]
    assert panel.selected() == ("fact", "f2", "the gate code is 4512")
    assert panel.group_titles() == ["Facts (2 of 4)"]


def test_an_empty_memory_says_what_to_do_first(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = MemoryPanel()
    qtbot.addWidget(panel)
    panel.set_memories([], [])
    assert panel.stack.currentWidget() is panel.empty_label
    assert "Nothing remembered yet" in panel.empty_label.text()
    panel.set_memories(facts(), [])
    assert panel.stack.currentWidget() is panel.tree


# ---- the ingestion panel ---------------------------------------------------------------------


def test_the_ingest_panel_appears_stops_collapses_and_opens_its_log(
    qtbot, panel: MemoryPanel
) -> None:  # type: ignore[no-untyped-def]
    ingest = panel.ingest
    assert not ingest.isVisible()  # idle: nothing shown
    panel.set_ingesting(True)
    assert ingest.isVisible() and ingest.summary_text() == "Looking for files…"
    assert panel.stop_button.isVisible() and ingest.progress.isVisible()
    panel.set_progress(2, 5)
    assert ingest.summary_text() == "Adding 3 of 5 files…"
    assert ingest.progress.value() == 2 and ingest.progress.maximum() == 5
    panel.add_file_result(FileResult("/docs/a.md", ADDED, 3))
    panel.add_file_result(FileResult("/docs/empty.txt", FAILED, reason="The file is empty."))
    with qtbot.waitSignal(panel.stop_ingest_requested, timeout=1000):
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    assert panel.stop_button.text() == "Stopping…" and not panel.stop_button.isEnabled()
    panel.set_ingesting(False)
    assert ingest.isVisible()  # collapsed to one line: no progress bar, no Stop
    assert not ingest.progress.isVisible() and not panel.stop_button.isVisible()
    assert ingest.summary_text() == "Stopped: 1 file added, 1 failed"
    assert ingest.details_button.isVisible() and ingest.icon_label.isVisible()
    qtbot.mouseClick(ingest.details_button, Qt.MouseButton.LeftButton)
    dialog = ingest._dialog
    assert isinstance(dialog, IngestLogDialog) and dialog.isVisible()
    texts = dialog.texts()
    assert texts[0].endswith("Stopped: 1 file added, 1 failed")
    assert texts[1:] == ["✗ empty.txt: The file is empty.", "✓ a.md: added (3 chunks)"]
    assert panel.file_statuses() == texts[1:]  # problems first in the log; newest first here
    dialog.close()
    qtbot.mouseClick(ingest.dismiss_button, Qt.MouseButton.LeftButton)
    assert not ingest.isVisible()
    panel.set_ingesting(True)  # the next run starts with a live Stop
    assert panel.stop_button.text() == "Stop" and panel.stop_button.isEnabled()
    panel.set_ingesting(False)  # nothing happened in it: nothing to report
    assert not ingest.isVisible()


def test_adding_files_in_the_window_ends_in_a_summary_and_a_log(
    qtbot, make_window, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a.md").write_text("# Notes\n\nmy cat is blue")
    (folder / "b.txt").write_text("meeting on tuesday")
    (folder / "empty.txt").write_text("")
    with qtbot.waitSignal(window.ingest_finished, timeout=60_000):
        window.add_paths([str(folder)])
    ingest = window.memory.ingest
    assert ingest.isVisible() and ingest.summary_text() == "2 files added, 1 failed"
    dialog = ingest.show_log()
    assert "✗ empty.txt: The file is empty." in dialog.texts()
    assert any(t.startswith("✓ a.md: added (1 chunk)") for t in dialog.texts())
    dialog.close()
    with qtbot.waitSignal(window.ingest_finished, timeout=60_000):
        window.add_paths([str(folder)])  # again: nothing changed
    assert ingest.summary_text() == "1 file failed, 2 unchanged"


def test_summaries_name_what_happened() -> None:
    from collections import Counter

    assert summarize(Counter({ADDED: 38, FAILED: 2})) == "38 files added, 2 failed"
    assert summarize(Counter({UPDATED: 1, SKIPPED: 3})) == "1 file updated, 3 skipped"
    assert summarize(Counter({UNCHANGED: 40})) == "Up to date: 40 files checked"
    assert summarize(Counter(), stopped=True) == "Stopped: no files added"


# ---- plurals ---------------------------------------------------------------------------------


def test_counts_agree_with_their_nouns(qtbot, make_window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert plural(1, "chunk") == "1 chunk" and plural(2, "chunk") == "2 chunks"
    assert plural(1, "memory", "memories") == "1 memory"
    window = make_window()
    monkeypatch.setattr(window, "confirm", lambda title, text: True)
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        window.memory.remember_edit.setText("the gate code is 4512")
        qtbot.keyClick(window.memory.remember_edit, Qt.Key.Key_Return)
    assert window.count_label.text() == "1 memory"
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        window.memory.remember_edit.setText("my cat is blue")
        qtbot.keyClick(window.memory.remember_edit, Qt.Key.Key_Return)
    assert window.count_label.text() == "2 memories"
    assert window.memory.select_key(window.memory.rows()[0].key)
    with qtbot.waitSignal(window.memories_changed, timeout=30_000):
        qtbot.mouseClick(window.memory.forget_button, Qt.MouseButton.LeftButton)
    assert window.statusBar().currentMessage() == "Forgotten (1 chunk)."
    assert window.count_label.text() == "1 memory"


def test_the_filter_finds_documents_by_the_words_inside_them(
    qtbot, make_window, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "visit.md").write_text("# Visit\n\nThe plumber Jansen comes on Friday morning.")
    (folder / "shopping.txt").write_text("Milk, bread and apples.")
    with qtbot.waitSignal(window.ingest_finished, timeout=60_000):
        window.add_paths([str(folder)])
    qtbot.waitUntil(lambda: len(window.memory.visible_texts()) >= 2, timeout=30_000)
    window.memory.filter_edit.setText("plumber friday")  # in the text, not in any name
    qtbot.waitUntil(lambda: window.memory.visible_texts() == ["visit.md"], timeout=10_000)
    assert "Documents (1 of 2)" in window.memory.group_titles()
    window.memory.filter_edit.setText("plumber tuesday")  # every word must be in it
    qtbot.waitUntil(lambda: window.memory.visible_texts() == [], timeout=10_000)  # none has both
