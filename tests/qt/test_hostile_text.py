"""Hostile text in every widget that shows memory text: nothing is interpreted, loaded or opened.

Memories, file names, error messages quoting them and model output are fed to the memory sidebar
(tree rows and their tooltips, the per-file log), the Forget confirmation, the status bar, the
model label and the chat (answer, source chips and their tooltips, the source panel, the error
line). Each string is shown *and painted*, and every tooltip is actually popped up.

What proves that nothing was opened: named pipes (FIFOs) in ``<img src>``. Opening a FIFO for
reading blocks until a writer comes; a watchdog thread polls each FIFO with a non-blocking write
open, which succeeds only while someone holds the other end, counts that as a load, and lets the
reader go. ``<img src=/dev/zero>`` is shown too, under an address-space limit, so a regression
fails with an allocation error instead of eating the machine's memory.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMessageBox,
    QToolButton,
    QToolTip,
    QWidget,
)
from pytestqt.qtbot import QtBot

from tera_desktop.core.ingest import FAILED, FileResult
from tera_desktop.core.prompts import Source
from tera_desktop.core.store import DocumentInfo, FactInfo
from tera_desktop.ui import safe_text
from tera_desktop.ui.chat import MessageView
from tera_desktop.ui.memory_panel import MemoryPanel
from tera_desktop.ui.source_viewer import SourceViewer, shown_text

# The offscreen platform says so when a tooltip window is raised or sized: the platform talking.
pytestmark = pytest.mark.qt_log_ignore(
    r"This plugin does not support propagateSizeHints", r"This plugin does not support raise\(\)"
)

MB_LINE = "<b>" + "x" * 1_000_000


_WATCHDOG = r"""
import errno, os, sys, time
log, paths = sys.argv[1], sys.argv[2:]
while True:
    for p in paths:
        try:
            fd = os.open(p, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: nobody has it open for reading
                raise
            continue
        with open(log, "a") as fh:
            fh.write(p + "\n")
        os.close(fd)  # the reader gets end-of-file and goes on
    time.sleep(0.005)
"""


class FifoWatch:
    """Named pipes that count every attempt to open them for reading.

    The watchdog is a separate process: a GUI thread blocked in a Qt call may hold Python's GIL,
    so a watchdog thread in this process could never run to let it go."""

    def __init__(self, folder: Path, n: int = 2) -> None:
        self.paths = [folder / f"p{i}.fifo" for i in range(n)]
        for p in self.paths:
            os.mkfifo(p)
        self._log = folder / "fifo-opens.log"
        self._log.write_text("")
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(self._log), *map(str, self.paths)]
        )

    @property
    def opened(self) -> list[str]:
        return [line for line in self._log.read_text().splitlines() if line]

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(10)


@pytest.fixture
def fifos(tmp_path: Path) -> Iterator[FifoWatch]:
    watch = FifoWatch(tmp_path)
    yield watch
    watch.close()
    assert not watch.opened, f"a widget opened {sorted(set(watch.opened))}"


@pytest.fixture
def hostile(fifos: FifoWatch) -> list[str]:
    a, b = (str(p) for p in fifos.paths)
    return [
        f'<img src="{a}"> note',
        f"<img src={b}>",
        f'<p><img src="file://{a}"></p> file url',
        "<img src=/dev/zero> zero",
        '<a href="https://example.com/x">click me</a>',
        "<style>* { font-size: 300px; color: red }</style>styled",
        "<qt><table><tr><td>cell</td></tr></table></qt>",
        "line one\nline two & <b>bold</b>",
        "caf\udce9 (a non-UTF-8 file name)",
        MB_LINE,
    ]


@contextlib.contextmanager
def memory_cap(extra_bytes: int = 2 << 30) -> Iterator[None]:
    """Cap the address space at what is mapped now plus ``extra_bytes`` (reading /dev/zero into
    an image would otherwise grow until the machine runs out of memory)."""
    with open("/proc/self/statm") as fh:
        mapped = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = mapped + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _settle(qtbot: QtBot, widget: QWidget) -> None:
    """Lay out and paint ``widget`` for real (rendering is where rich text would load images):
    painted into its window's backing store, as on screen."""
    QApplication.processEvents()
    widget.repaint()
    QApplication.processEvents()
    qtbot.wait(20)


def _pop_tooltip(qtbot: QtBot, widget: QWidget, tip: str) -> None:
    """Show ``tip`` as Qt shows a hover tooltip, paint it, hide it."""
    QToolTip.showText(widget.mapToGlobal(QPoint(5, 5)), tip, widget)
    QApplication.processEvents()
    for label in QApplication.topLevelWidgets():
        if label.objectName() == "qtooltip_label" and label.isVisible():
            label.grab()
    QToolTip.hideText()
    QApplication.processEvents()


def assert_shows_as_text(label: QLabel) -> None:
    """A label either shows plain text, or rich text in which no tag came from the data (the
    chat's highlighted evidence: escaped text inside Tera's own <span>s)."""
    if label.textFormat() == Qt.TextFormat.PlainText:
        return
    shown = label.text().lower()
    for tag in ("<img", "<a ", "<style", "<table", "<qt>", "<b>"):
        assert tag not in shown, f"{tag} from memory text is rendered in {label.objectName()}"


def _shows_exactly(tip: str, text: str) -> bool:
    """Whether tooltip ``tip``, read as Qt reads it, shows ``text`` literally (capped)."""
    doc = QTextDocument()
    doc.setHtml(tip)
    shown = doc.toPlainText().replace("\u2029", "\n")
    want = safe_text.plain(text, safe_text.TOOLTIP_LIMIT)
    return shown.strip() == want.strip() or (
        "\ufffd" in shown and len(shown.strip()) == len(want.strip())
    )


# ---- the helper --------------------------------------------------------------------------------


def test_tooltip_escapes_and_caps(hostile: list[str]) -> None:
    for text in hostile:
        tip = safe_text.tooltip(text)
        assert tip.startswith("<qt>") and "<img" not in tip and "<a " not in tip
        assert len(tip) < 7 * safe_text.TOOLTIP_LIMIT
        assert _shows_exactly(tip, text), text[:80]
    assert safe_text.tooltip("") == ""


def test_one_line_and_plain_cap_without_scanning_everything() -> None:
    assert safe_text.one_line("a\nb\tc\x00d") == "a b cd"
    line = safe_text.one_line(MB_LINE)
    assert len(line) == safe_text.LINE_LIMIT and line.endswith("…")
    assert len(safe_text.plain(MB_LINE)) == safe_text.DIALOG_LIMIT
    assert safe_text.one_line("caf\udce9") == "caf\ufffd"  # Qt cannot hold a lone surrogate


def test_plain_label_and_message_box_are_plain_text(qtbot: QtBot, hostile: list[str]) -> None:
    for text in hostile:
        label = safe_text.plain_label(text)
        qtbot.addWidget(label)
        assert label.textFormat() == Qt.TextFormat.PlainText
        box = safe_text.confirm_box(None, text, f"Forget {text}?")
        qtbot.addWidget(box)
        assert box.textFormat() == Qt.TextFormat.PlainText
        assert box.defaultButton() is box.button(QMessageBox.StandardButton.No)
        with memory_cap():
            box.show()
            _settle(qtbot, box)
            _settle(qtbot, label)
        box.hide()


# ---- the memory sidebar ------------------------------------------------------------------------


def test_memory_panel_shows_hostile_memories_as_text(qtbot: QtBot, hostile: list[str]) -> None:
    panel = MemoryPanel()
    qtbot.addWidget(panel)
    panel.resize(500, 600)
    panel.show()
    facts = [FactInfo(f"f{i}", text, "2026-01-01T00:00:00") for i, text in enumerate(hostile)]
    docs = [
        DocumentInfo(f"d{i}", f"/home/me/{text} a.txt", text, "h", 1, "2026-01-01T00:00:00")
        for i, text in enumerate(hostile)
        if "\n" not in text
    ]
    with memory_cap():
        panel.set_memories(facts, docs)
        panel.set_watched([f"/home/me/{hostile[0]}"])
        for text in hostile:
            panel.add_file_result(FileResult(f"/home/me/{text}.txt", FAILED, reason=text))
        items = panel._items()
        assert len(items) == len(facts) + len(docs) + 1
        # what would be interpreted is checked first, so a regression fails here, not by hanging
        for fact, item in zip(facts, items, strict=False):
            assert item.text(0) == safe_text.one_line(fact.text)
            assert _shows_exactly(item.toolTip(0), fact.text), fact.text[:60]
        log = panel.ingest.show_log()  # the per-file log, behind "Details"
        listed = [log.log_list.item(i) for i in range(log.log_list.count())]
        rows = [row for row in listed if row.data(Qt.ItemDataRole.UserRole) != "run"]
        assert len(rows) == len(hostile)
        for item in items:
            assert len(item.text(0)) <= safe_text.LINE_LIMIT
            assert item.toolTip(0).startswith("<qt>") and "<img" not in item.toolTip(0)
        for row in rows:
            assert len(row.text()) <= safe_text.LINE_LIMIT
            assert row.toolTip().startswith("<qt>") and "<img" not in row.toolTip()
        _settle(qtbot, panel)
        _settle(qtbot, log)
        for item in items:
            _pop_tooltip(qtbot, panel.tree.viewport(), item.toolTip(0))
        for row in rows:
            _pop_tooltip(qtbot, log.log_list.viewport(), row.toolTip())
        log.close()
        # the filter still searches the whole text, not the shortened row
        panel.filter_edit.setText("styled")
        assert panel.visible_texts()[0].endswith("styled")
        panel.filter_edit.clear()


# ---- the main window: Forget confirmation, status bar, model label -----------------------------


def _answer_next_box(seen: list[tuple[Qt.TextFormat, str]]) -> None:
    """Paint the next modal message box, note its text format and text, and answer No."""

    def close() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, close)
            return
        box.grab()
        seen.append((box.textFormat(), box.text()))
        box.done(QMessageBox.StandardButton.No)

    QTimer.singleShot(0, close)


def test_forget_confirmation_and_status_are_plain(
    qtbot: QtBot, make_window, hostile: list[str]
) -> None:  # type: ignore[no-untyped-def]
    window = make_window(start=False)
    for text in hostile:
        for kind in ("fact", "document", "folder"):
            seen: list[tuple[Qt.TextFormat, str]] = []
            _answer_next_box(seen)
            with memory_cap():
                window.library._on_forget_requested(kind, "key", text)
            assert seen, "no confirmation was shown"
            fmt, shown = seen[0]
            assert fmt == Qt.TextFormat.PlainText
            assert len(shown) <= safe_text.DIALOG_LIMIT
        with memory_cap():
            window.notify(text, error=True)
            _settle(qtbot, window)
        assert window.statusBar().currentMessage() == safe_text.one_line(text)
        with memory_cap():
            window._set_llm_state("failed", text)
            _pop_tooltip(qtbot, window.model_label, window.model_label.toolTip())
            window._set_llm_state("ready", text)
            _settle(qtbot, window)
        assert window.model_label.textFormat() == Qt.TextFormat.PlainText


# ---- the chat ----------------------------------------------------------------------------------


def test_chat_shows_hostile_answers_and_sources_as_text(qtbot: QtBot, hostile: list[str]) -> None:
    view = MessageView("assistant")
    qtbot.addWidget(view)
    view.resize(600, 500)
    view.show()
    sources = [
        Source(i + 1, f"s{i}", "document" if i % 2 else "fact", f"/docs/{t}.txt", 0.5, t, "2026")
        for i, t in enumerate(hostile)
    ]
    viewer = SourceViewer()
    qtbot.addWidget(viewer)
    viewer.resize(400, 500)
    with memory_cap():
        view.set_text("\n\n".join(t[:2000] for t in hostile))
        view.finish()
        view.set_sources(sources)
        _settle(qtbot, view)
        chips = view.findChildren(QToolButton, "sourceChip")
        assert len(chips) == len(sources)
        for chip, source in zip(chips, sources, strict=True):
            assert _shows_exactly(chip.toolTip(), source.text)
            _pop_tooltip(qtbot, chip, chip.toolTip())
            qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)  # asks for the source viewer
            _settle(qtbot, view)
            viewer.show_source(source)
            _settle(qtbot, viewer)
            for label in viewer.findChildren(QLabel):
                assert_shows_as_text(label)
            assert viewer.text_view.toPlainText() == shown_text(source.text)
        view.show_error(hostile[0])
        _settle(qtbot, view)


def test_fifo_watch_sees_a_reader(tmp_path: Path) -> None:
    """The detector works: a real open of the FIFO is counted."""
    watch = FifoWatch(tmp_path, n=1)
    try:
        with open(watch.paths[0], "rb") as fh:  # blocks until the watchdog opens the write end
            fh.read()
        deadline = time.monotonic() + 10  # the watchdog notes the open right after it
        while not watch.opened and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        watch.close()
    assert str(watch.paths[0]) in watch.opened
