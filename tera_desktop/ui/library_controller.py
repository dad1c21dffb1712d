"""The face of what goes into the memory and comes out of it: choosing files and folders, the
ingest panel, the folder watcher, and the questions a forget asks.

The ingest queue, the watched folders, the files that wait for the embedding model and the forget
flow (scrub, redaction of saved and open chats) belong to the application core (``core/app.py``):
this controller asks it to add or forget, runs its generators on workers and shows their events.
The folder watcher calls back on its own thread and reaches the GUI thread through a signal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog

from tera_desktop.core.app import (
    ADD_QUEUED,
    ADD_STARTED,
    ADD_WAITING,
    Forgot,
    IngestStarted,
    TeraApp,
)
from tera_desktop.core.ingest import FileResult, IngestProgress
from tera_desktop.core.units import plural
from tera_desktop.core.watch import FolderWatcher
from tera_desktop.ui.memory_panel import MemoryPanel
from tera_desktop.ui.shell import Shell
from tera_desktop.workers import Worker

log = logging.getLogger("tera.ui")


class LibraryController(QObject):
    ingest_finished = Signal()  # the ingest queue is empty again
    folder_changed = Signal(str)  # emitted by the folder watcher, on its own thread

    def __init__(self, shell: Shell, memory: MemoryPanel, memory_count: Callable[[], int]) -> None:
        super().__init__(shell.parent)
        self.shell = shell
        self._memory_count = memory_count
        self.memory = memory
        self.ingest_worker: Worker | None = None
        self.watcher: FolderWatcher | None = None
        self._last_progress = 0.0
        self.folder_changed.connect(self._on_watched_folder_changed)  # queued to this thread
        memory.forget_requested.connect(self._on_forget_requested)
        memory.undo_replace_requested.connect(self._on_undo_replace_requested)
        memory.forget_all_requested.connect(self._on_forget_all_requested)
        memory.add_files_requested.connect(self.choose_files)
        memory.add_folder_requested.connect(self.choose_folder)
        memory.stop_ingest_requested.connect(self._on_stop_ingest_requested)
        memory.text_search_requested.connect(self._on_text_search_requested)

    @property
    def app(self) -> TeraApp:
        return self.shell.app

    # ---- adding files ----------------------------------------------------------------------------
    @Slot()
    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self.shell.parent, "Add files to Tera's memory", str(Path.home())
        )
        if files:
            self.add_paths(files)

    @Slot()
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.shell.parent, "Add a folder to Tera's memory", str(Path.home())
        )
        if folder:
            self.watch_folder(folder)

    def add_paths(self, paths: list[str], *, sync: bool = False, quiet: bool = False) -> None:
        """Ask the core to read files/folders (``sync``: also forget files gone from those
        folders); it queues them, or keeps them until the embedding model is ready."""
        outcome = self.app.add(paths, sync=sync)
        for path in paths if sync and outcome in (ADD_STARTED, ADD_QUEUED) else ():
            self.memory.set_folder_state(path, "syncing")
        if outcome == ADD_STARTED:
            self._start_ingest()
        elif outcome == ADD_QUEUED and not quiet:
            self.shell.notify(f"Queued {plural(len(paths), 'item')}: added after the current work.")
        elif outcome == ADD_WAITING:
            what = plural(len(paths), "file or folder", "files or folders")
            verb = "is" if len(paths) == 1 else "are"
            self.shell.notify(f"Saved — the {what} {verb} read when the model is ready.")

    def read_waiting(self) -> None:
        """Read the files that waited for the embedding model (now ready)."""
        if self.app.read_waiting_files() == ADD_STARTED:
            self._start_ingest()

    def _start_ingest(self) -> None:
        self.memory.set_ingesting(True)
        self.ingest_worker = self.shell.run_worker(
            "ingest",
            self.app.ingest,
            yielded=self._on_ingest_event,
            aborted=self._on_ingest_aborted,
            finished=self._on_ingest_finished,
        )

    def _on_ingest_event(self, event: object) -> None:
        if isinstance(event, FileResult):
            self.memory.add_file_result(event)
        elif isinstance(event, IngestStarted):
            for path in event.job.paths if event.job.sync else ():
                self.memory.set_folder_state(path, "syncing")
        elif isinstance(event, IngestProgress):
            self.memory.set_progress(event.files_done, event.files_total)
            now = time.monotonic()
            if event.within_file and now - self._last_progress > 1.0:  # a long recording
                self._last_progress = now
                self.shell.status(event.within_file, 5000)

    def _on_ingest_aborted(self) -> None:
        self.shell.notify("Stopped adding files. Files already added are kept.")

    def _on_ingest_finished(self) -> None:
        self.ingest_worker = None
        self.memory.set_ingesting(False)
        self.ingest_finished.emit()

    @Slot()
    def _on_stop_ingest_requested(self) -> None:
        if self.ingest_worker is not None:
            self.ingest_worker.cancel()

    @Slot(str)
    def _on_text_search_requested(self, query: str) -> None:
        """The sidebar's filter also finds documents by their text (a keyword search)."""

        def found(sources: set[str]) -> None:
            self.memory.set_text_matches(query, set(sources))

        def failed(exc: object) -> None:  # e.g. no memory open yet: names still filter
            log.info("text search for the filter failed: %s", exc)

        app = self.app
        self.shell.run_worker(
            "filter-search",
            lambda _c: app.engine.documents_containing(query),
            returned=found,
            errored=failed,
        )

    # ---- watched folders -------------------------------------------------------------------
    def start_watching(self, *, catch_up: bool) -> None:
        """Watch the folders in the settings; with ``catch_up``, re-sync each once (files may
        have changed while Tera was closed)."""
        app = self.app
        folders = list(app.settings.watched_folders)
        self.memory.set_watched(folders)
        if self.watcher is None:
            self.watcher = FolderWatcher(self.folder_changed.emit, ignore=app.engine.own_folders())
        try:
            self.watcher.set_folders(folders)
        except OSError as exc:  # e.g. the system's limit on watches
            self.shell.notify(f"Cannot watch folders for changes: {exc}", error=True)
        if not catch_up:
            return
        started, missing = app.catch_up()
        for folder in [*started, *(j.paths[0] for j in app.queued() if j.sync)]:
            self.memory.set_folder_state(folder, "syncing")
        if started:
            self._start_ingest()
        for folder in missing:
            self.memory.set_folder_state(folder, "missing")
            self.shell.notify(f"The watched folder {folder} is missing.", error=True)

    def stop_watching(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()

    @Slot(str)
    def _on_watched_folder_changed(self, folder: str) -> None:
        if self.shell.closing():
            return
        self.add_paths([folder], sync=True, quiet=True)

    def watch_folder(self, folder: str) -> None:
        """Keep ``folder`` in sync from now on (saved in the settings) and sync it now."""
        folder = self.app.watch(folder)
        self.start_watching(catch_up=False)
        self.add_paths([folder], sync=True)

    def unwatch_folder(self, folder: str) -> None:
        self.app.unwatch(folder)
        self.start_watching(catch_up=False)
        self.shell.notify(f"Stopped watching {folder}; its documents stay in memory.")

    # ---- forgetting ------------------------------------------------------------------------------
    @Slot(str)
    def _on_undo_replace_requested(self, fact_id: str) -> None:
        app = self.app
        self.shell.run_worker(
            "undo-replace",
            lambda _c: app.undo_supersede(fact_id),
            returned=lambda _old: self.shell.notify("Both facts are current again."),
        )

    @Slot(str, str, str)
    def _on_forget_requested(self, kind: str, key: str, label: str) -> None:
        shell, app = self.shell, self.app
        if kind == "folder":
            if shell.confirm("Stop watching", f"Stop keeping {label} in sync?"):
                self.unwatch_folder(key)
            return
        folder = app.watched_folder_of(key) if kind == "document" else None
        keep_ignoring = False
        if folder is not None:  # its folder's next sync would read it again: ask
            choice = shell.choose(
                "Forget",
                f"{label} is in the watched folder {folder}, which Tera keeps in sync. Forget "
                "it and keep ignoring it there, or stop watching the folder? (Adding the file "
                "again by name brings it back.)",
                ["Forget, keep ignoring it", "Forget, stop watching the folder"],
            )
            if choice is None:
                return
            keep_ignoring = choice == 0
            if choice == 1:
                self.unwatch_folder(folder)
        else:
            what = f"the fact “{label}”" if kind == "fact" else f"the document {label}"
            if not shell.confirm("Forget", f"Forget {what}? This cannot be undone."):
                return

        def forgetting(_cancel: threading.Event) -> Forgot:
            if kind == "fact":
                return app.forget(key)
            return app.forget_source(key, keep_ignoring=keep_ignoring)

        shell.run_worker("forget", forgetting, returned=self._on_forgotten)

    @Slot()
    def _on_forget_all_requested(self) -> None:
        shell, app = self.shell, self.app
        pending = app.waiting
        n = self._memory_count()
        waiting, files = len(pending), len(pending.files())
        if n == 0 and waiting == 0 and files == 0:
            shell.notify("There is nothing to forget.")
            return
        extra = f", and {plural(waiting, 'fact')} still waiting to be stored" if waiting else ""
        if files:
            extra += (
                f", and {plural(files, 'file or folder', 'files or folders')} waiting to be read"
            )
        text = (
            f"Forget everything Tera remembers ({plural(n, 'memory', 'memories')}: facts and "
            f"document chunks{extra})? This cannot be undone."
        )
        if not shell.confirm("Forget everything", text):
            return
        if n == 0:  # nothing stored: only the waiting items, at once
            try:
                app.forget_waiting()
            except OSError as exc:
                shell.notify(f"Cannot remove the waiting facts: {exc}", error=True)
                return
            shell.notify(f"Forgotten ({plural(waiting + files, 'waiting item')}).")
            return
        shell.run_worker("forget-all", lambda _c: app.forget_all(), returned=self._on_forgotten)

    def _on_forgotten(self, forgot: Forgot) -> None:
        result = forgot.result
        redacted = result.redacted
        were = "was" if redacted == 1 else "were"
        chats = plural(redacted, "saved chat")
        note = f"; {chats} that quoted it {were} redacted" if redacted else ""
        self.shell.notify(f"Forgotten ({plural(result.removed, 'chunk')}){note}.")
