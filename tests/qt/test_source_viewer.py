"""Sources read in place: chips in rank order named by what they are, the matched sentence on
hover, a click opens the source viewer beside the chat with the passage highlighted in its chunk
(a PDF's page, a voice note's time, a fact's date), sources below the relevance threshold are not
listed, and a file no app can open says so in the app."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import fpdf  # fpdf2, a test-only dependency
import pytest
from conftest import Opener
from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtGui import QDesktopServices, QTextDocument
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot
from window_actions import ask, remember

from tera_desktop.core.prompts import Source
from tera_desktop.core.retrieval import retrieve_in_conversation
from tera_desktop.ui import open_file as open_file_mod
from tera_desktop.ui.chat import ChatPanel, MessageView
from tera_desktop.ui.open_file import OpenProblemDialog, open_file, open_folder
from tera_desktop.ui.source_viewer import SourceViewer, evidence_spans

LONG_FACT = "I parked the camper van on level 3 of the Riverside garage, next to the lifts."
FILLER = "\n".join(
    f"Line {i}: the minutes of an ordinary meeting about nothing much." for i in range(60)
)
EVIDENCE = "The budget for the new roof is 14,200 euros."
CHUNK = f"{FILLER}\nAfter a long discussion,\n{EVIDENCE}  The vote was unanimous.\n{FILLER}"


def _fact(number: int = 1, text: str = LONG_FACT, **kw: object) -> Source:
    return Source(number, f"f{number}", "fact", "", 0.8, text, "2024-05-01T10:00:00", **kw)  # type: ignore[arg-type]


def _pdf(number: int = 2, **kw: object) -> Source:
    fields: dict[str, object] = {
        "page": 4,
        "evidence": (EVIDENCE,),
    }
    fields.update(kw)
    return Source(
        number, f"d{number}", "document", "/home/me/Documents/roof report.pdf", 0.7, CHUNK,
        "2024-05-02T10:00:00", **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def _audio(number: int = 3) -> Source:
    return Source(
        number, f"a{number}", "document", "/home/me/Voice/memo.m4a", 0.6,
        "Remind me to call the plumber. He comes on Friday at nine.", "2024-05-03T10:00:00",
        start_s=190.0, end_s=220.0, evidence=("He comes on Friday at nine.",),
    )  # fmt: skip


@pytest.fixture
def panel(qtbot: QtBot) -> ChatPanel:
    widget = ChatPanel()
    qtbot.addWidget(widget)
    widget.resize(1000, 640)
    widget.show()
    return widget


def _answer(panel: ChatPanel, sources: list[Source]) -> MessageView:
    view = panel.chat_view.add_message("assistant", "The roof costs 14,200 euros [2].")
    view.set_sources(sources)
    return view


def _tooltip_text(tip: str) -> str:
    """What a tooltip shows, read as Qt reads it."""
    doc = QTextDocument()
    doc.setHtml(tip)
    return doc.toPlainText().strip()


# ---- chips ------------------------------------------------------------------------------------


def test_chips_are_in_rank_order_and_named_by_what_they_are(panel: ChatPanel) -> None:
    long_name = _pdf(4, page=None)
    long_name = replace(long_name, source="/tmp/" + "quarterly-board-minutes-" * 4 + "final.docx")
    view = _answer(panel, [_audio(3), _pdf(2), long_name, _fact(1)])  # given out of order
    chips = view.source_chips()
    assert [c.source.number for c in chips] == [1, 2, 3, 4]  # numbers: the session's rank
    assert [c.text() for c in chips] == [
        "[1] I parked the camper van on level 3…",  # a fact: the start of its text, at a word
        "[2] roof report.pdf p. 4",  # a PDF: its name and page
        "[3] memo.m4a 3:10",  # a voice note: its name and where the passage starts
        "[4] quarterly-board-minutes…s-final.docx",  # a long name keeps its start and its end
    ]
    assert not any("0." in c.text() for c in chips)  # no similarity score on the chips
    assert chips[0].accessibleName() == "Source 1, fact: I parked the camper van on level 3…"
    assert chips[1].accessibleName() == "Source 2, document: roof report.pdf p. 4"


def test_a_chip_shows_an_ampersand_as_written(qtbot: QtBot, panel: ChatPanel) -> None:
    view = _answer(panel, [_fact(1, "Tom & Jerry come on Friday")])
    chip = view.source_chips()[0]
    assert chip.text() == "[1] Tom && Jerry come on Friday"  # "&&" shows "&", not a mnemonic
    assert chip.accessibleName() == "Source 1, fact: Tom & Jerry come on Friday"


def test_the_viewer_follows_an_answers_final_sources(qtbot: QtBot, panel: ChatPanel) -> None:
    view = _answer(panel, [_fact(1), _pdf(2)])
    viewer = panel.source_viewer
    qtbot.mouseClick(view.source_chips()[1], Qt.MouseButton.LeftButton)
    # the answer is done: the same sources again, one with other evidence sentences
    final = replace(_pdf(2), evidence=("The vote was unanimous.",))
    view.set_sources([_fact(1), final])
    assert viewer.isVisible() and view.source_chips()[1].isChecked()
    assert viewer.highlighted_texts() == ["The vote was unanimous."]
    view.set_sources([_fact(1)])  # the source shown is no longer among them
    assert not viewer.isVisible()


def test_hovering_a_chip_shows_the_matched_sentences(panel: ChatPanel) -> None:
    view = _answer(panel, [_fact(1), _pdf(2), _audio(3)])
    fact, pdf, audio = view.source_chips()
    assert _tooltip_text(pdf.toolTip()) == EVIDENCE  # the sentence, not the whole chunk
    assert _tooltip_text(audio.toolTip()) == "He comes on Friday at nine."
    assert _tooltip_text(fact.toolTip()) == LONG_FACT  # no evidence chosen: the fact itself


# ---- the viewer ---------------------------------------------------------------------------------


def test_clicking_a_chip_opens_the_viewer_with_the_passage_highlighted(
    qtbot: QtBot, panel: ChatPanel
) -> None:
    view = _answer(panel, [_fact(1), _pdf(2)])
    viewer = panel.source_viewer
    assert not viewer.isVisible()  # hidden until used
    chip = view.source_chips()[1]
    qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
    assert viewer.isVisible() and chip.isChecked()
    assert viewer.geometry().left() >= panel.chat_view.geometry().right()  # beside the chat

    text = viewer.text_view
    assert text.isReadOnly() and text.toPlainText() == CHUNK  # the whole chunk, as plain text
    assert viewer.highlighted_texts() == [EVIDENCE]  # exactly the evidence, nothing around it
    (selection,) = text.extraSelections()
    assert selection.cursor.selectionStart() == CHUNK.index(EVIDENCE)
    assert selection.format.background().color().alpha() > 0

    def highlight_in_view() -> bool:  # scrolled to the passage (it sits past 60 lines)
        rect = text.cursorRect(selection.cursor)
        return text.verticalScrollBar().value() > 0 and text.viewport().rect().intersects(rect)

    qtbot.waitUntil(highlight_in_view, timeout=5000)

    qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)  # the same chip again: closes it
    assert not viewer.isVisible() and not chip.isChecked()


def test_highlight_finds_the_sentence_across_line_breaks_and_wide_characters(
    qtbot: QtBot,
) -> None:
    viewer = SourceViewer()
    qtbot.addWidget(viewer)
    viewer.resize(360, 400)
    chunk = "Notes 🎉🎉 from\r\nthe trip.\r\nThe ferry leaves\r\nat 7:40 from pier 2. Bring snacks."
    # evidence sentences have their whitespace collapsed; one cut short ends with " …"
    source = replace(_pdf(2), text=chunk, evidence=("The ferry leaves at 7:40 from …",))
    viewer.show_source(source)
    assert viewer.text_view.toPlainText() == chunk.replace("\r\n", "\n")
    assert viewer.highlighted_texts() == ["The ferry leaves\nat 7:40 from"]
    assert evidence_spans("a b", ("nowhere to be found",)) == []


def test_one_source_at_a_time_and_close(qtbot: QtBot, panel: ChatPanel) -> None:
    first = _answer(panel, [_fact(1), _pdf(2)])
    second = _answer(panel, [_audio(1)])
    viewer = panel.source_viewer
    qtbot.mouseClick(first.source_chips()[0], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(second.source_chips()[0], Qt.MouseButton.LeftButton)
    assert viewer.source == _audio(1) and viewer.kind_label.text() == "Source 1 · Voice note"
    assert [c.isChecked() for c in first.source_chips()] == [False, False]
    assert second.source_chips()[0].isChecked()

    qtbot.mouseClick(viewer.close_button, Qt.MouseButton.LeftButton)
    assert not viewer.isVisible() and not second.source_chips()[0].isChecked()

    qtbot.mouseClick(first.source_chips()[0], Qt.MouseButton.LeftButton)
    viewer.text_view.setFocus()
    qtbot.keyClick(viewer.text_view, Qt.Key.Key_Escape)
    assert not viewer.isVisible() and not first.source_chips()[0].isChecked()

    qtbot.mouseClick(first.source_chips()[1], Qt.MouseButton.LeftButton)
    panel.chat_view.clear()  # a new chat: the viewer goes with the messages
    assert not viewer.isVisible()


def test_viewer_names_a_pdfs_page_and_a_voice_notes_time(qtbot: QtBot, panel: ChatPanel) -> None:
    viewer = panel.source_viewer
    panel.show_source(_pdf(2, ocr=True))
    assert viewer.kind_label.text() == "Source 2 · PDF document"
    assert viewer.title == "roof report.pdf"
    assert viewer.details_label.text() == "p. 4 · Text read by OCR from an image"
    assert viewer.folder == "/home/me/Documents"
    assert viewer.open_button.isVisible()

    panel.show_source(_audio(3))
    assert viewer.kind_label.text() == "Source 3 · Voice note"
    assert viewer.title == "memo.m4a"
    assert viewer.details_label.text() == "3:10–3:40"
    assert viewer.highlighted_texts() == ["He comes on Friday at nine."]
    for control in (viewer, viewer.text_view, viewer.open_button, viewer.close_button):
        assert control.accessibleName()


def test_viewer_shows_a_facts_date_and_standing(panel: ChatPanel) -> None:
    viewer = panel.source_viewer
    fact = _fact(1, "The gate code is 4512.", status="superseded on 2026-03-01 by a newer fact")
    panel.show_source(fact)
    assert viewer.kind_label.text() == "Source 1 · Fact"
    assert viewer.title == "Fact"
    assert viewer.details_label.text() == (
        "Remembered 1 May 2024 · Superseded on 2026-03-01 by a newer fact"
    )
    assert not viewer.open_button.isVisible() and not viewer.folder
    assert viewer.text_view.toPlainText() == "The gate code is 4512."


def test_open_file_in_the_viewer_asks_to_open_the_document(qtbot: QtBot, panel: ChatPanel) -> None:
    panel.show_source(_pdf(2))
    with qtbot.waitSignal(panel.open_source_requested, timeout=1000) as blocker:
        qtbot.mouseClick(panel.source_viewer.open_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["/home/me/Documents/roof report.pdf"]


# ---- opening files ------------------------------------------------------------------------------


@pytest.fixture
def no_default_app(opener: Opener) -> Opener:
    """No app is set for any file or folder: xdg-open starts, then exits 3."""
    return opener


def _problem_dialog(qtbot: QtBot, parent: object) -> OpenProblemDialog:
    qtbot.waitUntil(
        lambda: any(d.isVisible() for d in parent.findChildren(OpenProblemDialog)),  # type: ignore[attr-defined]
        timeout=5000,
    )
    return next(d for d in parent.findChildren(OpenProblemDialog) if d.isVisible())  # type: ignore[attr-defined]


def test_opening_a_file_with_no_default_app_says_so(
    qtbot: QtBot, panel: ChatPanel, tmp_path: Path, no_default_app: Opener
) -> None:
    file = tmp_path / "plans.xyz"
    file.write_text("plans", encoding="utf-8")
    assert open_file(panel, file) is None  # xdg-open started: the answer comes a moment later
    dialog = _problem_dialog(qtbot, panel)
    assert no_default_app.asked == [str(file)]
    assert dialog.windowTitle() == "Can't Open File"
    assert dialog.message == "No app is set to open .xyz files on this computer. The file is at:"
    assert dialog.findChild(object, "openProblemPath").text() == str(file)  # type: ignore[union-attr]

    path_field = dialog.findChild(object, "openProblemPath")
    for control in (dialog.copy_button, dialog.show_folder_button, dialog.close_button, path_field):
        assert control.accessibleName()  # type: ignore[union-attr]
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == str(file)
    assert dialog.copy_button.text() == "Copied" and dialog.isVisible()

    qtbot.mouseClick(dialog.show_folder_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "no file manager" in dialog.note, timeout=5000)
    assert no_default_app.asked[-1] == str(tmp_path)  # tried the folder it is in
    assert dialog.isVisible() and not dialog.show_folder_button.isEnabled()
    qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()


def _no_watch_left() -> bool:
    """Every started xdg-open's watch has ended (its verdict given) and been deleted."""
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)  # its deleteLater()
    return not QApplication.instance().findChildren(open_file_mod._Watch)  # type: ignore[union-attr]


def test_a_file_that_opens_shows_nothing_and_a_missing_one_says_so(
    qtbot: QtBot, panel: ChatPanel, tmp_path: Path, opener: Opener
) -> None:
    opener.set(code=0)  # handed to an app (as gio or kde-open do, at once)
    file = tmp_path / "notes.txt"
    file.write_text("notes", encoding="utf-8")
    assert open_file(panel, file) is None
    qtbot.waitUntil(lambda: len(opener.asked) == 1)  # one at a time: the log keeps their order
    assert open_folder(panel, tmp_path) is None
    qtbot.waitUntil(lambda: len(opener.asked) == 2)
    qtbot.waitUntil(_no_watch_left)  # both exits have been seen: still no dialog
    assert not panel.findChildren(OpenProblemDialog)

    opener.set(code=0, sleep=3)  # an app xdg-open runs itself, still open when the watch ends
    watch = open_file_mod.WATCH_S
    open_file_mod.WATCH_S = 0.5
    try:
        assert open_file(panel, file) is None
        qtbot.waitUntil(lambda: len(opener.asked) == 3)
        qtbot.waitUntil(_no_watch_left)  # the watch ended, with the stand-in still running
    finally:
        open_file_mod.WATCH_S = watch
    assert not panel.findChildren(OpenProblemDialog)

    gone = open_file(panel, tmp_path / "moved away.pdf")
    assert gone is not None and gone.windowTitle() == "File Not Found"
    assert gone.message.startswith("“moved away.pdf” is no longer where Tera found it.")
    assert opener.asked == [str(file), str(tmp_path), str(file)]  # not the missing file
    gone.close()


def test_the_computers_own_xdg_open_with_no_app_for_the_file_is_said_too(
    qtbot: QtBot, panel: ChatPanel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real xdg-open (installed for the tests) in a session with no desktop and no apps
    set: it exits 3, and the dialog says so. (Without xdg-open the dialog comes at once.)"""
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_CURRENT_DESKTOP", "DESKTOP_SESSION", "BROWSER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(open_file_mod, "_uses_xdg_open", lambda: True)
    file = tmp_path / "plans.tera-test-unknown"
    file.write_text("plans", encoding="utf-8")
    started = open_file(panel, file) is None  # xdg-open ran; its answer comes a moment later
    assert started == (shutil.which("xdg-open") is not None)
    dialog = _problem_dialog(qtbot, panel)
    assert dialog.windowTitle() == "Can't Open File"
    assert dialog.message.startswith("No app is set to open .tera-test-unknown files")
    dialog.close()


def test_elsewhere_qts_answer_is_used(
    qtbot: QtBot, panel: ChatPanel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS, Windows, a Flatpak or a Snap: Qt asks the system (or the portal), which answers at
    once."""
    monkeypatch.setattr(open_file_mod, "_uses_xdg_open", lambda: False)
    answers = iter([False, True])
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda _url: next(answers))
    file = tmp_path / "plans.xyz"
    file.write_text("plans", encoding="utf-8")
    dialog = open_file(panel, file)
    assert dialog is not None and dialog.windowTitle() == "Can't Open File"
    dialog.close()
    assert open_file(panel, file) is None


def test_the_window_says_when_the_data_folder_cannot_be_opened(
    qtbot: QtBot, make_window, no_default_app: Opener
) -> None:  # type: ignore[no-untyped-def]
    window = make_window(start=False)
    menus = window.menuBar().findChildren(QMenu)
    action = next(a for m in menus for a in m.actions() if a.text() == "Open &Data Folder")
    action.trigger()
    dialog = _problem_dialog(qtbot, window)
    assert no_default_app.asked == [str(window.paths.data)]
    assert dialog.windowTitle() == "Can't Open Folder"
    assert dialog.message == "No app is set to open folders on this computer. Your data is at:"
    assert not dialog.show_folder_button.isVisible()
    dialog.close()


# ---- a real answer ------------------------------------------------------------------------------


def test_a_real_answer_lists_only_relevant_sources_in_rank_order(qtbot: QtBot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    for fact in (
        "the garden gate is green",
        "The gate code is 4512.",
        "my cat is blue",
        "I parked the camper van on level 3 of the Riverside garage.",
        "the wifi password is otter",
    ):
        remember(qtbot, window, fact)
    question = "what colour is the cat?"
    engine = window.engine
    threshold = engine.embedder.min_score
    every = engine.store.search(engine.embedder.embed_query(question), 10, mode="dense")
    below = {h.text for h in every if h.score < threshold}
    assert below, "the premise: some memories are below the relevance threshold"
    relevant = retrieve_in_conversation(  # what a chat's first question ranks with
        question, [], engine.embedder, engine.store, top_k=engine.settings.top_k,
        mode=engine.settings.retrieval,
    ).hits  # fmt: skip

    answer = ask(qtbot, window, question)
    chips = answer.source_chips()
    # in the order the session ranked them (fused rank: not the order of the cosine scores)
    assert [c.source.id for c in chips] == [s.id for s in answer.sources()]
    assert [c.source.number for c in chips] == list(range(1, len(chips) + 1))
    assert {c.source.text for c in chips} == {h.text for h in relevant}
    assert not below & {c.source.text for c in chips}  # weak matches are not listed
    assert "my cat is blue" in {c.source.text for c in chips}


def _roof_pdf(path: Path) -> None:
    pdf = fpdf.FPDF()
    pages = [
        "Minutes of the house meeting. We talked about the garden and the parking.",
        "Second item. The budget for the new roof is 14,200 euros. The vote was unanimous. "
        "Work starts in April and takes three weeks.",
        "Any other business. The next meeting is in June.",
    ]
    for text in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, text)
    path.write_bytes(bytes(pdf.output()))


def test_a_real_answer_opens_its_pdf_source_at_the_page_and_grabs_the_window(
    qtbot: QtBot, make_window, tmp_path: Path, no_default_app: Opener
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.resize(1280, 800)
    file = tmp_path / "house meeting.pdf"
    _roof_pdf(file)
    with qtbot.waitSignal(window.ingest_finished, timeout=60_000):
        window.add_paths([str(file)])
    remember(qtbot, window, "The roofer is called Jansen.")
    answer = ask(qtbot, window, "what is the budget for the new roof?")
    chip = next(c for c in answer.source_chips() if c.source.page == 2)
    assert chip.text().endswith("house meeting.pdf p. 2")
    assert "The budget for the new roof is 14,200 euros." in _tooltip_text(chip.toolTip())

    qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
    viewer = window.chat.source_viewer
    assert viewer.isVisible() and viewer.details_label.text().startswith("p. 2")
    assert viewer.kind_label.text().endswith("· PDF document")
    assert "The budget for the new roof is 14,200 euros." in viewer.highlighted_texts()
    assert viewer.text_view.toPlainText() in chip.source.text  # the chunk itself
    visible = QRect(viewer.mapTo(window, viewer.rect().topLeft()), viewer.size())
    assert window.rect().contains(visible)  # the whole viewer is inside the window
    layout = answer.layout()
    qtbot.waitUntil(  # the answer re-laid out at its new, narrower width: nothing cut off
        lambda: answer.height() >= layout.totalHeightForWidth(answer.width()), timeout=5000
    )
    assert window.grab().save("/tmp/viewer.png")

    qtbot.mouseClick(viewer.open_button, Qt.MouseButton.LeftButton)  # no app for PDFs here
    dialog = _problem_dialog(qtbot, window)
    assert no_default_app.asked == [str(file)]
    assert dialog.message == "No app is set to open .pdf files on this computer. The file is at:"
    dialog.close()
