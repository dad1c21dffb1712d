"""Opening a file or a folder with the computer's usual app, and saying so in the app when that
cannot happen.

On Linux Qt's ``QDesktopServices.openUrl`` only starts ``xdg-open`` and returns True once it has
started: when no app is set for the file, xdg-open exits with an error a moment later and Qt just
writes a line to stderr, so the click does nothing. Here ``launch`` starts xdg-open itself and
watches it for a few seconds (without blocking): if it ends in failure the user is told. Elsewhere
(macOS, Windows, inside a Flatpak or Snap, where the answer comes from a portal) Qt's answer is
used as it is. The user gets a small dialog: what happened in words, the path (selectable), a
button that copies it and, for a file, one that opens the folder it is in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from tera_desktop.ui.safe_text import one_line, plain

COPY_PATH = "Copy Path"
SHOW_IN_FOLDER = "Show in Folder"


WATCH_S = 5.0  # how long a started xdg-open is watched for a failure (an app it runs in the
# foreground, as xdg-open does on a desktop it does not know, is still running by then: success)
_POLL_MS = 100


def launch(
    path: str | Path,
    on_failed: Callable[[], object],
    on_opened: Callable[[], object] | None = None,
) -> bool:
    """Ask the computer to open ``path`` with its usual app. False when that cannot even start
    (no ``xdg-open``); True when it started, and then, on the GUI thread, ``on_failed`` is called
    if it ends in failure (no app is set for that kind of file) or ``on_opened`` if it ends well
    or is still running after ``WATCH_S``."""
    if not _uses_xdg_open():
        opened = QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
        if opened and on_opened is not None:
            QTimer.singleShot(0, on_opened)
        return opened
    opener = shutil.which("xdg-open")
    if opener is None:
        return False
    try:
        process = subprocess.Popen(
            [opener, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # the app it opens outlives Tera
        )
    except OSError:
        return False
    _Watch(process, on_failed, on_opened)
    return True


def _uses_xdg_open() -> bool:
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return False
    return not (os.path.exists("/.flatpak-info") or os.environ.get("SNAP"))


class _Watch(QObject):
    """Polls a started xdg-open until it ends or ``WATCH_S`` pass, then calls ``on_failed`` (it
    ended with an error) or ``on_opened``. Lives on the application object, so it outlasts the
    widget that asked."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        on_failed: Callable[[], object],
        on_opened: Callable[[], object] | None,
    ) -> None:
        super().__init__(QApplication.instance())
        self._process = process
        self._on_failed = on_failed
        self._on_opened = on_opened
        self._until = time.monotonic() + WATCH_S
        self._timer = QTimer(self)
        self._timer.setInterval(_POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._timer.start()

    @Slot()
    def _poll(self) -> None:
        code = self._process.poll()
        if code is None and time.monotonic() < self._until:
            return
        self._timer.stop()
        self.deleteLater()
        if code:  # ended with an error (xdg-open: 3 or 4 when no app is set for the file)
            self._on_failed()
        elif self._on_opened is not None:
            self._on_opened()


def open_file(parent: QWidget | None, path: str | Path) -> OpenProblemDialog | None:
    """Open the file at ``path`` with its usual app. When the file is gone, or no app is set to
    open it, show (without blocking) and return a dialog that says so; None when it opened or
    is being opened (a failure found later still shows the dialog)."""
    file = Path(path)
    if not file.exists():
        text = (
            f"“{_name(file)}” is no longer where Tera found it. It may have been moved, renamed or "
            "deleted. It was at:"
        )
        return _show(parent, "File Not Found", text, file, folder=file.parent)
    suffix = one_line(file.suffix.lower(), 24) if file.suffix else ""
    what = f"{suffix} files" if suffix else "this file"
    text = f"No app is set to open {what} on this computer. The file is at:"

    def failed() -> OpenProblemDialog | None:
        return _show(parent, "Can't Open File", text, file, folder=file.parent)

    return None if launch(file, failed) else failed()


def open_folder(
    parent: QWidget | None, path: str | Path, *, what: str = "The folder"
) -> OpenProblemDialog | None:
    """Open the folder at ``path`` in the file manager; when nothing can, show (without blocking)
    and return a dialog that says so (``what`` names the folder: "Your data"); None when it
    opened or is being opened."""
    folder = Path(path)
    text = f"No app is set to open folders on this computer. {what} is at:"

    def failed() -> OpenProblemDialog | None:
        return _show(parent, "Can't Open Folder", text, folder, folder=None)

    return None if launch(folder, failed) else failed()


def _name(path: Path) -> str:
    return one_line(path.name or str(path), 120)


def _show(
    parent: QWidget | None, title: str, text: str, path: Path, folder: Path | None
) -> OpenProblemDialog | None:
    if parent is not None and not shiboken6.isValid(parent):
        return None  # the window that asked has closed meanwhile
    dialog = OpenProblemDialog(parent, title, text, path, folder)
    dialog.open()  # window-modal, does not block: the app goes on (answers keep streaming)
    return dialog


class OpenProblemDialog(QDialog):
    """Why a file or folder did not open, its path (selectable, and a Copy Path button), and for a
    file a Show in Folder button. Everything is plain text: paths hold untrusted file names."""

    def __init__(
        self,
        parent: QWidget | None,
        title: str,
        text: str,
        path: Path,
        folder: Path | None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("openProblemDialog")
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.path = str(path)
        self._folder = folder

        icon = QLabel(self)
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_MessageBoxIconSize, None, self)
        icon.setPixmap(
            self.style()
            .standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation, None, self)
            .pixmap(size, size)
        )
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self._message = QLabel(self)
        self._message.setObjectName("openProblemText")
        self._message.setTextFormat(Qt.TextFormat.PlainText)
        self._message.setText(plain(text))
        self._message.setWordWrap(True)
        self._path = QLineEdit(self)
        self._path.setObjectName("openProblemPath")
        self._path.setAccessibleName("Path")
        self._path.setReadOnly(True)
        self._path.setText(one_line(self.path, 4096))
        self._path.setCursorPosition(0)
        self._path.setMinimumWidth(420)
        self._note = QLabel(self)
        self._note.setObjectName("openProblemNote")
        self._note.setTextFormat(Qt.TextFormat.PlainText)
        self._note.setWordWrap(True)
        self._note.hide()

        self._copy = QPushButton(COPY_PATH, self)
        self._copy.setObjectName("copyPathButton")
        self._copy.setAccessibleName(COPY_PATH)
        self._copy.setToolTip("Copy the path to the clipboard")
        self._copy.clicked.connect(self._on_copy_clicked)
        self._show_folder = QPushButton(SHOW_IN_FOLDER, self)
        self._show_folder.setObjectName("showInFolderButton")
        self._show_folder.setAccessibleName(SHOW_IN_FOLDER)
        self._show_folder.setToolTip("Open the folder this file is in")
        self._show_folder.clicked.connect(self._on_show_folder_clicked)
        self._show_folder.setVisible(folder is not None and folder.is_dir())
        self._close = QPushButton("Close", self)
        self._close.setObjectName("closeButton")
        self._close.setAccessibleName("Close")
        self._close.setDefault(True)
        self._close.clicked.connect(self.accept)
        for button in (self._copy, self._show_folder):
            button.setAutoDefault(False)

        self._copied_timer = QTimer(self)
        self._copied_timer.setSingleShot(True)
        self._copied_timer.setInterval(1500)
        self._copied_timer.timeout.connect(self._on_copied_feedback_done)

        body = QVBoxLayout()
        body.setSpacing(8)
        body.addWidget(self._message)
        body.addWidget(self._path)
        body.addWidget(self._note)
        top = QHBoxLayout()
        top.setSpacing(14)
        top.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(body, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self._copy)
        buttons.addWidget(self._show_folder)
        buttons.addStretch(1)
        buttons.addWidget(self._close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.setSpacing(14)
        layout.addLayout(top)
        layout.addLayout(buttons)

    @property
    def message(self) -> str:
        return self._message.text()

    @property
    def note(self) -> str:
        return self._note.text() if self._note.isVisibleTo(self) else ""

    @property
    def copy_button(self) -> QPushButton:
        return self._copy

    @property
    def show_folder_button(self) -> QPushButton:
        return self._show_folder

    @property
    def close_button(self) -> QPushButton:
        return self._close

    @Slot()
    def _on_copy_clicked(self) -> None:
        QApplication.clipboard().setText(self.path)
        self._copy.setText("Copied")
        self._copied_timer.start()

    @Slot()
    def _on_copied_feedback_done(self) -> None:
        self._copy.setText(COPY_PATH)

    @Slot()
    def _on_show_folder_clicked(self) -> None:
        if self._folder is None:
            return
        self._show_folder.setEnabled(False)  # until it is known whether the folder opened
        if not launch(self._folder, self._on_folder_failed, self._on_folder_opened):
            self._on_folder_failed()

    def _on_folder_opened(self) -> None:
        if shiboken6.isValid(self):
            self.accept()

    def _on_folder_failed(self) -> None:
        if not shiboken6.isValid(self):
            return
        self._note.setText(
            "The folder could not be opened either: no file manager is set up on this computer."
        )
        self._note.show()


__all__ = [
    "COPY_PATH", "SHOW_IN_FOLDER", "OpenProblemDialog", "launch", "open_file", "open_folder",
]  # fmt: skip
