"""The chat pane's widgets: input keys, streaming, safe Markdown, sources, Send/Stop, copy."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QByteArray, Qt, QUrl
from PySide6.QtGui import QColor, QImage, QTextDocument
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QToolButton, QWidget
from pytestqt.qtbot import QtBot

from tera_desktop.core.prompts import Source
from tera_desktop.ui import markdown as md
from tera_desktop.ui.chat import (
    NO_MEMORY_NOTE,
    ChatInput,
    ChatPanel,
    ChatView,
    MessageView,
)
from tera_desktop.ui.markdown import SafeTextBrowser, SafeTextDocument, render_markdown
from tera_desktop.ui.safe_text import tooltip

# The offscreen platform cannot pass a window's size limits on and says so whenever a shown
# top-level widget gets a minimum size; that is the test platform talking, not these widgets.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

HOSTILE = '<b>x</b> <img src="http://example.com/a.png"> <script>alert(1)</script>'


@pytest.fixture
def chat_input(qtbot: QtBot) -> ChatInput:
    widget = ChatInput()
    qtbot.addWidget(widget)
    widget.show()
    widget.setFocus()
    return widget


@pytest.fixture
def panel(qtbot: QtBot) -> ChatPanel:
    widget = ChatPanel()
    qtbot.addWidget(widget)
    widget.resize(640, 480)
    widget.show()
    return widget


def _show(qtbot: QtBot, widget: QWidget, width: int = 500, height: int = 400) -> None:
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()


def _sources() -> list[Source]:
    return [
        Source(1, "f1", "fact", "", 0.834, "The gate code is <b>4512</b>.", "2024-05-01T10:00:00"),
        Source(
            2,
            "d1",
            "document",
            "/home/me/Documents/report.pdf",
            0.711,
            "Quarterly figures: revenue grew 12%.",
            "2024-05-02T10:00:00",
            title="Report",
            page=12,
        ),
    ]


def _image_fragments(document: QTextDocument) -> int:
    count = 0
    block = document.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            count += it.fragment().charFormat().isImageFormat()
            it += 1
        block = block.next()
    return count


# -- ChatInput ---------------------------------------------------------------------------------


def test_enter_sends_stripped_text_and_clears(qtbot: QtBot, chat_input: ChatInput) -> None:
    qtbot.keyClicks(chat_input, "  what is the gate code?  ")
    with qtbot.waitSignal(chat_input.send_requested, timeout=1000) as blocker:
        qtbot.keyClick(chat_input, Qt.Key.Key_Return)
    assert blocker.args == ["what is the gate code?"]
    assert chat_input.toPlainText() == ""
    assert chat_input.placeholderText() == "Ask Tera…"


def test_keypad_enter_sends(qtbot: QtBot, chat_input: ChatInput) -> None:
    qtbot.keyClicks(chat_input, "hello")
    with qtbot.waitSignal(chat_input.send_requested, timeout=1000) as blocker:
        qtbot.keyClick(chat_input, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    assert blocker.args == ["hello"]


def test_shift_enter_inserts_newline(qtbot: QtBot, chat_input: ChatInput) -> None:
    qtbot.keyClicks(chat_input, "line one")
    with qtbot.assertNotEmitted(chat_input.send_requested):
        qtbot.keyClick(chat_input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
        qtbot.keyClicks(chat_input, "line two")
    assert chat_input.toPlainText() == "line one\nline two"
    with qtbot.waitSignal(chat_input.send_requested, timeout=1000) as blocker:
        qtbot.keyClick(chat_input, Qt.Key.Key_Return)
    assert blocker.args == ["line one\nline two"]


def test_escape_requests_stop(qtbot: QtBot, chat_input: ChatInput) -> None:
    with qtbot.waitSignal(chat_input.stop_requested, timeout=1000):
        qtbot.keyClick(chat_input, Qt.Key.Key_Escape)


def test_empty_or_blank_input_does_not_send(qtbot: QtBot, chat_input: ChatInput) -> None:
    with qtbot.assertNotEmitted(chat_input.send_requested):
        qtbot.keyClick(chat_input, Qt.Key.Key_Return)
        qtbot.keyClicks(chat_input, "   ")
        qtbot.keyClick(chat_input, Qt.Key.Key_Return)
    assert chat_input.submit() is False


def test_input_grows_up_to_six_lines(chat_input: ChatInput) -> None:
    heights = {}
    for lines in (1, 3, 6, 12):
        chat_input.setPlainText("\n".join(["x"] * lines))
        heights[lines] = chat_input.height()
    assert heights[1] < heights[3] < heights[6]
    assert heights[12] == heights[6]


# -- Safe Markdown ---------------------------------------------------------------------------


def test_html_in_markdown_is_shown_literally() -> None:
    document = md.markdown_document(HOSTILE + "\n\n<div>block</div>")
    text = document.toPlainText()
    for literal in (
        "<b>x</b>",
        '<img src="http://example.com/a.png">',
        "<script>alert(1)</script>",
    ):
        assert literal in text
    assert "<div>block</div>" in text
    assert _image_fragments(document) == 0
    html = render_markdown(HOSTILE)
    assert "&lt;script&gt;" in html and "<script" not in html and "<img" not in html


def test_browser_never_loads_a_resource(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    red = tmp_path / "red.png"
    image = QImage(48, 48, QImage.Format.Format_RGB32)
    image.fill(QColor("red"))
    assert image.save(str(red))
    asked: list[str] = []

    def spy(self: object, resource_type: int, name: QUrl) -> QByteArray:
        asked.append(name.toString())
        return QByteArray()

    monkeypatch.setattr(SafeTextDocument, "loadResource", spy)
    monkeypatch.setattr(SafeTextBrowser, "loadResource", spy)

    browser = SafeTextBrowser()
    _show(qtbot, browser, 400, 200)
    browser.set_markdown(
        f"{HOSTILE}\n\n![remote](http://example.com/x.png) ![local]({red}) "
        f"![file](file://{red}) ![data](data:image/png;base64,AAAA)"
    )
    rendered = browser.grab().toImage()
    text = browser.toPlainText()
    assert "<b>x</b>" in text and "<script>alert(1)</script>" in text
    assert "[image: remote]" in text and "[image: local]" in text
    assert _image_fragments(browser.document()) == 0
    reds = sum(
        rendered.pixelColor(x, y) == QColor("red")
        for x in range(0, rendered.width(), 3)
        for y in range(0, rendered.height(), 3)
    )
    assert reds == 0  # the local image was not read from disk
    assert asked == []
    # the spy is live: a direct request reaches it, and gets nothing back
    browser.document().resource(QTextDocument.ResourceType.ImageResource.value, QUrl("http://p/q"))
    assert asked == ["http://p/q"]


def test_links_are_reported_not_followed(qtbot: QtBot) -> None:
    browser = SafeTextBrowser()
    _show(qtbot, browser)
    browser.set_markdown("see [the site](https://example.com/page)")
    assert not browser.openLinks() and not browser.openExternalLinks()
    with qtbot.waitSignal(browser.link_activated, timeout=1000) as blocker:
        browser.anchorClicked.emit(QUrl("https://example.com/page"))
    assert blocker.args == [QUrl("https://example.com/page")]
    browser.setSource(QUrl("https://example.com/page"))  # navigation is a no-op
    assert browser.toPlainText() == "see the site"


def test_markdown_list_and_code_render(qtbot: QtBot) -> None:
    browser = SafeTextBrowser()
    _show(qtbot, browser)
    browser.set_markdown("Items:\n\n- alpha\n- beta\n\n```python\nprint('hi')\n```\n\nuse `x = 1`")
    document = browser.document()
    lists, mono = [], []
    block = document.begin()
    while block.isValid():
        if block.textList() is not None:
            lists.append(block.text())
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.charFormat().fontFixedPitch():
                mono.append(fragment.text())
            it += 1
        block = block.next()
    assert lists == ["alpha", "beta"]
    assert "print('hi')" in mono and "x = 1" in mono
    assert browser.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse


def test_browser_is_as_tall_as_its_content(qtbot: QtBot) -> None:
    browser = SafeTextBrowser()
    _show(qtbot, browser, 300, 100)
    browser.set_markdown("one line")
    short = browser.height()
    browser.set_markdown("\n\n".join(f"paragraph {i}" for i in range(12)))
    assert browser.height() > short * 4
    assert browser.height() >= browser.document().size().height()
    assert browser.verticalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff


# -- MessageView -------------------------------------------------------------------------------


def test_streaming_400_pieces_is_coalesced_and_exact(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = MessageView("assistant")
    _show(qtbot, view)
    renders: list[str] = []
    real_render = view._render

    def counting_render() -> None:
        renders.append(view.text())
        real_render()

    monkeypatch.setattr(view, "_render", counting_render)
    pieces = [f"w{i} " for i in range(400)]
    for piece in pieces:
        view.append_text(piece)
    assert renders == []  # nothing re-rendered per token
    view.finish()
    assert len(renders) == 1
    assert view.text() == "".join(pieces)
    assert view.text_browser.toPlainText() == "".join(pieces).strip()
    assert view.finished and not view.stopped


def test_streamed_markdown_text_is_exact(qtbot: QtBot) -> None:
    answer = "Here:\n\n- **one** [1]\n- `two`\n\n```\n<b>code</b>\n```\n"
    view = MessageView("assistant")
    _show(qtbot, view)
    for i in range(0, len(answer), 3):
        view.append_text(answer[i : i + 3])
    qtbot.waitUntil(lambda: "Here" in view.text_browser.toPlainText(), timeout=2000)
    view.finish()
    assert view.text() == answer
    assert "<b>code</b>" in view.text_browser.toPlainText()


def test_user_and_assistant_text_show_html_literally(qtbot: QtBot) -> None:
    view = ChatView()
    _show(qtbot, view)
    question = view.add_message("user", HOSTILE)
    answer = view.add_message("assistant")
    answer.append_text(HOSTILE)
    answer.finish()
    for message in (question, answer):
        shown = message.findChild(SafeTextBrowser, "messageText")
        assert shown is not None
        assert "<b>x</b>" in shown.toPlainText()
        assert "<script>alert(1)</script>" in shown.toPlainText()


def test_copy_button_copies_the_text_as_written(qtbot: QtBot) -> None:
    view = MessageView("assistant")
    _show(qtbot, view)
    view.set_text("**bold** and <b>tags</b>")
    view.finish()
    copy = view.findChild(QToolButton, "copyButton")
    assert copy is not None
    qtbot.mouseClick(copy, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == "**bold** and <b>tags</b>"


def test_stopped_marker_after_finish_stopped(qtbot: QtBot) -> None:
    view = MessageView("assistant")
    _show(qtbot, view)
    marker = view.findChild(QLabel, "stoppedMarker")
    assert marker is not None
    view.append_text("The capital of")
    view.finish()
    assert not marker.isVisible()
    other = MessageView("assistant")
    _show(qtbot, other)
    other.append_text("The capital of")
    other.finish(stopped=True)
    stopped = other.findChild(QLabel, "stoppedMarker")
    assert stopped is not None and stopped.isVisible()
    assert "Stopped" in stopped.text()
    assert other.text() == "The capital of" and other.stopped


def test_show_error(qtbot: QtBot) -> None:
    view = MessageView("assistant")
    _show(qtbot, view)
    view.append_text("partial")
    view.show_error("The model ran out of memory. <b>")
    error = view.findChild(QLabel, "messageError")
    assert error is not None and error.isVisible()
    assert error.text() == "The model ran out of memory. <b>"
    assert error.textFormat() == Qt.TextFormat.PlainText
    assert view.finished and view.text() == "partial"


def test_source_chips_show_number_and_name_and_text(qtbot: QtBot) -> None:
    view = MessageView("assistant", "The code is 4512 [1].")
    _show(qtbot, view)
    view.set_sources(_sources())
    chips = view.findChildren(QToolButton, "sourceChip")
    assert [chip.text() for chip in chips] == [
        "[1] The gate code is <b>4512</b>.",  # a fact: its text (a QToolButton shows plain text)
        "[2] report.pdf p. 12",
    ]
    assert "The gate code is &lt;b&gt;4512&lt;/b&gt;." in chips[0].toolTip()
    assert "Quarterly figures: revenue grew 12%." in chips[1].toolTip()

    # a click selects one source at a time (the source viewer shows it: test_source_viewer.py)
    with qtbot.waitSignal(view.source_toggled, timeout=1000) as blocker:
        qtbot.mouseClick(chips[0], Qt.MouseButton.LeftButton)
    assert blocker.args == [_sources()[0], True] and chips[0].isChecked()
    qtbot.mouseClick(chips[1], Qt.MouseButton.LeftButton)
    assert chips[1].isChecked() and not chips[0].isChecked()
    with qtbot.waitSignal(view.source_toggled, timeout=1000) as blocker:
        qtbot.mouseClick(chips[1], Qt.MouseButton.LeftButton)
    assert blocker.args == [_sources()[1], False] and not chips[1].isChecked()


def test_open_emits_path_for_documents_only(qtbot: QtBot) -> None:
    view = MessageView("assistant", "answer")
    _show(qtbot, view)
    view.set_sources(_sources())
    fact, document = view.source_chips()
    assert fact.open_action is None
    assert document.open_action is not None
    with qtbot.waitSignal(view.open_source_requested, timeout=1000) as blocker:
        document.open_action.trigger()
    assert blocker.args == ["/home/me/Documents/report.pdf"]


def test_open_is_forwarded_by_the_panel(qtbot: QtBot, panel: ChatPanel) -> None:
    answer = panel.chat_view.add_message("assistant", "answer")
    answer.set_sources(_sources())
    with qtbot.waitSignal(panel.open_source_requested, timeout=1000) as blocker:
        answer.source_chips()[1].open_action.trigger()
    assert blocker.args == ["/home/me/Documents/report.pdf"]


def test_no_memory_note(qtbot: QtBot) -> None:
    view = MessageView("assistant", "I don't have anything in my memory about that.")
    _show(qtbot, view)
    view.set_sources([])
    note = view.findChild(QLabel, "noMemoryNote")
    assert note is not None and not note.isVisible()
    view.set_sources([], no_memory=True)
    assert note.isVisible() and note.text() == NO_MEMORY_NOTE
    assert view.source_chips() == []


# -- ChatView and ChatPanel ------------------------------------------------------------------


def test_chat_view_messages_and_empty_hint(qtbot: QtBot) -> None:
    view = ChatView()
    _show(qtbot, view)
    assert view.empty_hint.isVisible()
    assert set(view.empty_hint.buttons) == {"remember", "add_files", "ask"}
    question = view.add_message("user", "hi")
    answer = view.add_message("assistant")
    notice = view.add_message("notice", "Model loaded")
    assert view.messages() == [question, answer, notice]
    assert [m.role for m in view.messages()] == ["user", "assistant", "notice"]
    assert not view.empty_hint.isVisible()
    view.clear()
    assert view.messages() == []
    assert view.empty_hint.isVisible()
    with pytest.raises(ValueError):
        view.add_message("robot")


def test_chat_view_follows_stream_unless_scrolled_up(qtbot: QtBot) -> None:
    view = ChatView()
    _show(qtbot, view, 400, 200)
    bar = view.verticalScrollBar()
    for i in range(6):
        view.add_message("user", f"question {i}")
    answer = view.add_message("assistant")
    for i in range(30):
        answer.append_text(f"line {i}\n\n")
    answer.finish()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum(), timeout=3000)
    bar.setValue(0)  # the user scrolls up to read
    before = bar.maximum()
    more = view.add_message("assistant")
    view.verticalScrollBar().setValue(0)
    for i in range(30):
        more.append_text(f"more {i}\n\n")
    more.finish()
    qtbot.waitUntil(lambda: bar.maximum() > before, timeout=3000)
    assert bar.value() == 0


def test_send_and_stop_toggle_with_busy(qtbot: QtBot, panel: ChatPanel) -> None:
    button = panel.findChild(QPushButton, "sendButton")
    assert button is not None and button.text() == "Send"
    panel.input.setFocus()
    qtbot.keyClicks(panel.input, "first?")
    with qtbot.waitSignal(panel.question_asked, timeout=1000) as blocker:
        qtbot.keyClick(panel.input, Qt.Key.Key_Return)
    assert blocker.args == ["first?"]

    panel.set_busy(True)
    assert button.text() == "Stop" and button.isEnabled()
    qtbot.keyClicks(panel.input, "second?")
    with qtbot.assertNotEmitted(panel.question_asked):
        qtbot.keyClick(panel.input, Qt.Key.Key_Return)
    assert panel.input.toPlainText() == "second?"  # kept for later
    with qtbot.waitSignal(panel.stop_requested, timeout=1000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.stop_requested, timeout=1000):
        qtbot.keyClick(panel.input, Qt.Key.Key_Escape)

    panel.set_busy(False)
    assert button.text() == "Send"
    with qtbot.assertNotEmitted(panel.stop_requested):
        qtbot.keyClick(panel.input, Qt.Key.Key_Escape)
    with qtbot.waitSignal(panel.question_asked, timeout=1000) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["second?"]


def test_ask_disabled_shows_reason(qtbot: QtBot, panel: ChatPanel) -> None:
    reason = "No language model — open Settings to choose one"
    panel.set_ask_enabled(False, reason)
    button = panel.send_button
    assert not panel.input.isEnabled() and not button.isEnabled()
    assert panel.input.placeholderText() == reason
    assert panel.input.toolTip() == tooltip(reason)  # escaped: a reason may quote a file name
    panel.input.setPlainText("question")
    with qtbot.assertNotEmitted(panel.question_asked):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert panel.input.submit() is False
    panel.set_ask_enabled(True)
    assert panel.input.isEnabled() and button.isEnabled()
    assert panel.input.placeholderText() == "Ask Tera…"
    with qtbot.waitSignal(panel.question_asked, timeout=1000) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["question"]
