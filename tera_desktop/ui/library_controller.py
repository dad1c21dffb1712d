"""What goes into the memory and comes out of it: adding files and folders (one ingest at a
time, later work queued), the watched folders kept in sync, and the forget flows.

Every worker starts through the window's ``run_worker``, so its handlers run on the GUI thread;
the folder watcher calls back on its own thread and reaches the GUI thread through a signal.
Questions and messages go through the window's ``confirm``, ``choose`` and ``notify``, looked up
at each use.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog

from tera_desktop.core.ingest import FileResult, IngestProgress
from tera_desktop.core.settings import save_settings
from tera_desktop.core.units import plural
from tera_desktop.core.watch import FolderWatcher
from tera_desktop.workers import Worker

if TYPE_CHECKING:
    from tera_desktop.ui.main_window import MainWindow


class LibraryController(QObject):
    ingest_finished = Signal()  # the ingest queue is empty again
    folder_changed = Signal(str)  # emitted by the folder watcher, on its own thread

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.memory = window.memory
        self.ingest_worker: Worker | None = None
        self._ingest_queue: list[tuple[list[str], bool]] = []
        self.watcher: FolderWatcher | None = None
        self._last_list_refresh = 0.0
        self.folder_changed.connect(self._on_watched_folder_changed)  # queued to this thread
        memory = self.memory
        memory.forget_requested.connect(self._on_forget_requested)
        memory.undo_replace_requested.connect(self._on_undo_replace_requested)
        memory.forget_all_requested.connect(self._on_forget_all_requested)
        memory.add_files_requested.connect(self.choose_files)
        memory.add_folder_requested.connect(self.choose_folder)
        memory.stop_ingest_requested.connect(self._on_stop_ingest_requested)

    # ---- adding files ----------------------------------------------------------------------------
    @Slot()
    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self.window, "Add files to Tera's memory", str(Path.home())
        )
        if files:
            self.add_paths(files)

    @Slot()
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.window, "Add a folder to Tera's memory", str(Path.home())
        )
        if folder:
            self.watch_folder(folder)

    def add_paths(self, paths: list[str], *, sync: bool = False, quiet: bool = False) -> None:
        """Ingest files/folders in the background (``sync``: also forget files gone from those
        folders); work asked for while busy is queued. Before the embedding model is ready,
        added files wait for it (``SetupController.keep_files``) and a folder sync is left to
        the catch-up that follows."""
        if not self.window.setup.embedding_ready:
            if not sync:
                self.window.setup.keep_files(paths)
            return
        if self.ingest_worker is not None:
            self._ingest_queue.append((paths, sync))
            if not quiet:
                self.window.notify(
                    f"Queued {plural(len(paths), 'item')}: added after the current work."
                )
            return
        self.memory.set_ingesting(True)
        for path in paths if sync else ():  # a watched folder being synced says so
            self.memory.set_folder_state(path, "syncing")
        window = self.window
        self.ingest_worker = window.run_worker(
            "ingest",
            lambda cancel: window.engine.upload(paths, cancel=cancel, sync=sync),
            yielded=self._on_ingest_event,
            aborted=self._on_ingest_aborted,
            finished=self._on_ingest_finished,
        )

    def _on_ingest_event(self, event: object) -> None:
        if isinstance(event, FileResult):
            self.memory.add_file_result(event)
        elif isinstance(event, IngestProgress):
            self.memory.set_progress(event.files_done, event.files_total)
            if event.within_file:  # a long recording: minutes transcribed of minutes total
                self.window.statusBar().showMessage(event.within_file, 5000)
            now = time.monotonic()
            if now - self._last_list_refresh > 2.0:  # the list follows along, cheaply
                self._last_list_refresh = now
                self.window.refresh_memories()

    def _on_ingest_aborted(self) -> None:
        self._ingest_queue.clear()
        self.window.notify("Stopped adding files. Files already added are kept.")

    def _on_ingest_finished(self) -> None:
        self.ingest_worker = None
        self.window.refresh_memories()
        if self._ingest_queue and not self.window.closing:
            paths, sync = self._ingest_queue.pop(0)
            self.add_paths(paths, sync=sync)
            return
        self.memory.set_ingesting(False)
        self.ingest_finished.emit()

    @Slot()
    def _on_stop_ingest_requested(self) -> None:
        if self.ingest_worker is not None:
            self.ingest_worker.cancel()

    # ---- watched folders -------------------------------------------------------------------
    def start_watching(self, *, catch_up: bool) -> None:
        """Watch the folders in the settings; with ``catch_up``, re-sync each once (files may
        have changed while Tera was closed)."""
        window = self.window
        folders = list(window.settings.watched_folders)
        self.memory.set_watched(folders)
        if self.watcher is None:
            self.watcher = FolderWatcher(
                self.folder_changed.emit, ignore=window.engine.own_folders()
            )
        try:
            self.watcher.set_folders(folders)
        except OSError as exc:  # e.g. the system's limit on watches
            window.notify(f"Cannot watch folders for changes: {exc}", error=True)
        if catch_up:
            for folder in folders:
                if Path(folder).is_dir():
                    self.add_paths([folder], sync=True)
                else:
                    self.memory.set_folder_state(folder, "missing")
                    window.notify(f"The watched folder {folder} is missing.", error=True)

    def stop_watching(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()

    @Slot(str)
    def _on_watched_folder_changed(self, folder: str) -> None:
        if self.window.closing:
            return
        queued = any(paths == [folder] and sync for paths, sync in self._ingest_queue)
        if not queued:
            self.add_paths([folder], sync=True, quiet=True)

    def watch_folder(self, folder: str) -> None:
        """Keep ``folder`` in sync from now on (saved in the settings) and sync it now."""
        window = self.window
        folder = str(Path(folder).expanduser().resolve())
        if folder not in window.settings.watched_folders:
            settings = replace(
                window.settings, watched_folders=(*window.settings.watched_folders, folder)
            )
            save_settings(window.paths, settings)
            window.settings = window.engine.settings = settings
        self.start_watching(catch_up=False)
        self.add_paths([folder], sync=True)

    def unwatch_folder(self, folder: str) -> None:
        window = self.window
        settings = replace(
            window.settings,
            watched_folders=tuple(f for f in window.settings.watched_folders if f != folder),
        )
        save_settings(window.paths, settings)
        window.settings = window.engine.settings = settings
        self.start_watching(catch_up=False)
        window.notify(f"Stopped watching {folder}; its documents stay in memory.")

    # ---- forgetting ------------------------------------------------------------------------------
    @Slot(str)
    def _on_undo_replace_requested(self, fact_id: str) -> None:
        window = self.window

        def undoing(_cancel: threading.Event) -> str:
            return window.engine.undo_supersede(fact_id)

        def undone(_old_id: object) -> None:
            window.notify("Both facts are current again.")
            window.refresh_memories()

        window.run_worker("undo-replace", undoing, returned=undone)

    @Slot(str, str, str)
    def _on_forget_requested(self, kind: str, key: str, label: str) -> None:
        window = self.window
        if kind == "folder":
            if window.confirm("Stop watching", f"Stop keeping {label} in sync?"):
                self.unwatch_folder(key)
            return
        folder = window.engine.watched_folder_of(key) if kind == "document" else None
        keep_ignoring = False
        if folder is not None:  # its folder's next sync would read it again: ask
            choice = window.choose(
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
            if not window.confirm("Forget", f"Forget {what}? This cannot be undone."):
                return

        def forgetting(_cancel: threading.Event) -> Any:
            if kind == "fact":
                return window.engine.forget(key)
            return window.engine.forget_source(key, keep_ignoring=keep_ignoring)

        window.run_worker("forget", forgetting, returned=self._on_forgotten)

    @Slot()
    def _on_forget_all_requested(self) -> None:
        window = self.window
        pending = window.setup.pending_facts
        n = window.memory_count
        waiting, files = len(pending), len(pending.files())
        if n == 0 and waiting == 0 and files == 0:
            window.notify("There is nothing to forget.")
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
        if not window.confirm("Forget everything", text):
            return
        if waiting or files:
            try:
                pending.clear()
            except OSError as exc:
                window.notify(f"Cannot remove the waiting facts: {exc}", error=True)
            window.setup.show_pending_facts()
        if n == 0:
            window.notify(f"Forgotten ({plural(waiting + files, 'waiting item')}).")
            return
        window.run_worker(
            "forget-all", lambda _c: window.engine.forget_all(), returned=self._on_forgotten
        )

    def _on_forgotten(self, result: Any) -> None:
        window = self.window
        session = window.session
        redacted = getattr(result, "redacted", 0)
        were = "was" if redacted == 1 else "were"
        chats = plural(redacted, "saved chat")
        note = f"; {chats} that quoted it {were} redacted" if redacted else ""
        window.notify(f"Forgotten ({plural(result.removed, 'chunk')}){note}.")
        if (
            redacted and not session.busy and window.conversations.exists(session.conversation_id)
        ):  # show (and keep) the redacted copy, not the one in memory
            window.chat_controller.show(session.open(session.conversation_id))
        window.refresh_memories()
