"""Missing models and the facts and files that wait for them.

One setup dialog (ui/first_run.py) offers every missing model; a model it makes ready is put to
use (loaded at once, or saved in the settings when the dialog closes). Until the embedding model
is ready, facts the user types, and files and folders the user adds, wait on disk
(``core.pending_facts``) and in the sidebar; the facts are stored in order and the files read
once it is. Remembering a fact starts here, since it depends on that readiness.

Every worker starts through the window's ``run_worker``, so its handlers run on the GUI thread;
messages go through the window's ``notify``, looked up at each use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Slot

from tera_desktop import APP_NAME
from tera_desktop.core.errors import ModelMissingError, StoreError
from tera_desktop.core.pending_facts import PendingFacts
from tera_desktop.core.units import plural
from tera_desktop.ui.first_run import FirstRunDialog
from tera_desktop.ui.safe_text import show_error

if TYPE_CHECKING:
    from tera_desktop.ui.main_window import MainWindow

log = logging.getLogger("tera.ui")


class SetupController(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.memory = window.memory
        self.dialog: FirstRunDialog | None = None
        self._models: dict[str, Any] = {}  # kind → the catalog model the setup offers
        self._ready: dict[str, str] = {}  # kind → a model made ready, not put to use yet
        self.embedding_ready = False  # until it is, typed facts wait in pending_facts
        self.embedding_missing = False
        self.pending_facts = PendingFacts(window.paths.pending_facts_file)
        self._storing_pending = False
        self._pending_stored = 0
        self._pending_failed = False
        self._files_reading: list[str] = []  # waiting files handed to the library, not yet read
        self.memory.remember_requested.connect(self._on_remember_requested)

    # ---- the embedding model ---------------------------------------------------------------------
    def opened(self, missing: dict[str, str]) -> None:
        """The memory is open (and listed); ``missing``: kind → why that model is missing."""
        for kind in ("embedding", "llm"):
            if kind in missing:
                self.offer(kind, missing[kind])
        if self.dialog is not None:  # a new user is welcomed; one with memories is not
            self.dialog.set_welcome(self.window.memory_count == 0)
        if "embedding" in missing:
            self.embedding_missing = True
            self.show_pending_facts()
            self.window.notify(self.waiting_text())
            return
        self._on_embedding_ready()

    def _on_embedding_ready(self) -> None:
        """The embedding model is loaded: store the facts that waited, read the files that
        waited, sync watched folders."""
        self.embedding_ready = True
        self.embedding_missing = False
        self.window.notify("Ready.", timeout_ms=3000)
        self._store_pending_facts()
        self._read_pending_files()
        self.window.library.start_watching(catch_up=True)

    def _open_embedding(self) -> None:
        """The embedding model is on this computer now: load it, then go on as after start-up."""
        window = self.window
        window.notify("Loading the embedding model…")

        def opening(_cancel: threading.Event) -> dict[str, Any]:
            window.engine.embedding_spec()
            window.engine.embedder  # noqa: B018 - load it here, not on the first fact
            return {
                "facts": window.engine.facts(),
                "documents": window.engine.documents(),
                "count": window.engine.count(),
            }

        window.run_worker(
            "open-embedding",
            opening,
            returned=self._on_embedding_opened,
            errored=self.on_open_failed,
        )

    def _on_embedding_opened(self, result: dict[str, Any]) -> None:
        self.window._show_memories(result)
        self._on_embedding_ready()

    def waiting_text(self) -> str:
        """What waits for the embedding model, in a sentence for the status bar."""
        n, files = len(self.pending_facts), len(self.pending_facts.files())
        if not n and not files:
            return "Tera needs its embedding model to add and search memories."
        parts = []
        if n:
            parts.append("the fact you typed" if n == 1 else f"the {plural(n, 'fact')} you typed")
        if files:
            what = plural(files, "file or folder", "files or folders")
            parts.append("the file or folder you added" if files == 1 else f"the {what} you added")
        one = n + files == 1
        text = " and ".join(parts)
        return (
            f"{text[0].upper()}{text[1:]} {'waits' if one else 'wait'} for the embedding model; "
            f"{'it is' if one else 'they are'} added once it is ready."
        )

    def on_open_failed(self, exc: object) -> None:
        window = self.window
        if isinstance(exc, ModelMissingError):
            self.embedding_ready = False
            self.embedding_missing = True
            self.offer("embedding", str(exc))
            window.notify(self.waiting_text())
            return
        if isinstance(exc, StoreError):
            window.notify(str(exc), error=True)
            show_error(window, APP_NAME, f"Tera cannot open its memory.\n\n{exc}")
            return
        window._on_worker_error(exc)

    # ---- the setup dialog ------------------------------------------------------------------------
    def offer(self, kind: str, reason: str) -> None:
        """Show the one setup dialog for every missing model: a model found missing while it is
        open joins it. ``reason`` (which may name terminal commands) goes to the log only."""
        from tera_desktop.core.model_setup import model_for

        window = self.window
        if window.closing:
            return
        log.info("model setup: the %s model is missing: %s", kind, reason)
        settings = window.settings
        configured = settings.llm_model if kind == "llm" else settings.embedding_model
        model = model_for(kind, configured)
        self._models[kind] = model
        dialog = self.dialog
        if dialog is not None:
            dialog.need(kind, model)
            return
        welcome = window.memory_count == 0 and not window.paths.store.exists()  # until counted
        dialog = FirstRunDialog(window.paths, window.workers, window, welcome=welcome)
        dialog.model_ready.connect(self._on_setup_model_ready)
        dialog.busy_changed.connect(self._on_setup_busy_changed)
        dialog.finished.connect(self._on_setup_finished)
        self.dialog = dialog
        dialog.need(kind, model)
        dialog.show()  # modeless: the memory stays listed, and forget works, behind it

    @Slot()
    def show_model_setup(self) -> None:
        """Open the model setup again (e.g. from a menu) for the models still missing."""
        from tera_desktop.ui.main_window import LLM_MISSING

        window = self.window
        if self.dialog is not None:
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        if not self.embedding_missing and window.llm_state != LLM_MISSING:
            window.notify("Both models are set up. File → Settings chooses other ones.")
            return
        if self.embedding_missing:
            self.offer("embedding", "asked for by the user")
        if window.llm_state == LLM_MISSING:
            self.offer("llm", window.llm_error)

    @Slot(str, str)
    def _on_setup_model_ready(self, kind: str, path: str) -> None:
        self._ready[kind] = path
        self._apply_setup_models()

    @Slot(bool)
    def _on_setup_busy_changed(self, busy: bool) -> None:
        if not busy:
            self._apply_setup_models()

    def _apply_setup_models(self) -> None:
        """Put the models the setup made ready to use: one the settings already name is loaded
        at once (the embedding model while the language model still downloads); a different
        one (the user's own files) is saved in the settings when the setup closes, all in one
        change, since new settings reopen Tera and stop the work under way."""
        from tera_desktop.core import models

        window = self.window
        if window.closing or not self._ready:
            return
        changes: dict[str, Any] = {}
        same: list[str] = []
        for kind, path in self._ready.items():
            model = self._models.get(kind)
            installed = models.installed_path(window.paths, model) if model is not None else None
            value = model.name if model and installed and Path(installed) == Path(path) else path
            field = "llm_model" if kind == "llm" else "embedding_model"
            if getattr(window.settings, field) == value:
                same.append(kind)
            else:
                changes[field] = value
        if changes and self.dialog is not None:
            for kind in same:  # the rest waits for the setup to close
                del self._ready[kind]
        else:
            self._ready.clear()
            if changes:
                window.apply_settings(replace(window.settings, **changes))  # reopens: loads both
                return
        if "embedding" in same:
            self._open_embedding()
        if "llm" in same:
            window.load_llm()

    @Slot(int)
    def _on_setup_finished(self, result: int) -> None:
        dialog = self.dialog
        self.dialog = None
        if dialog is None or self.window.closing:
            return
        waiting = [kind for kind in dialog.kinds() if not dialog.row(kind).ready]
        dialog.deleteLater()
        self._apply_setup_models()
        if "embedding" in waiting:
            self.window.notify(
                "No embedding model yet: your memories are listed, and facts you type wait "
                "until it is ready."
            )
        elif "llm" in waiting:
            self.window.notify("No language model yet: Tera will show matching memories instead.")

    # ---- remembering -----------------------------------------------------------------------------
    @Slot(str)
    def _on_remember_requested(self, text: str) -> None:
        if not self.embedding_ready or self.pending_facts or self._storing_pending:
            self._keep_fact(text)  # stored in order once the embedding model is ready
            return
        window = self.window
        window.run_worker(
            "remember",
            lambda _c: window.engine.remember(text),
            returned=self._on_remembered,
            errored=lambda exc: self._on_remember_failed(text, exc),
        )

    def _on_remember_failed(self, text: str, exc: object) -> None:
        if isinstance(exc, ModelMissingError):  # the model went missing: the fact waits
            self.embedding_ready = False
            self.embedding_missing = True
            self._keep_fact(text)
            self.offer("embedding", str(exc))
            return
        self.window._on_worker_error(exc)

    def _on_remembered(self, result: Any) -> None:
        window = self.window
        replaces = getattr(result, "replaces", None)
        if replaces is not None:  # it updates an older fact: say which, offer Undo
            window.notify("Remembered. It replaces an older fact, kept as superseded.")
            self.memory.show_replaced(result.id, replaces.text)
        elif result.is_new:
            self.memory.hide_replaced()
            window.notify("Remembered.")
        else:
            window.notify(f"Already remembered on {result.created_at[:10]}.")
        window.refresh_memories()

    # ---- facts typed before the embedding model is ready -----------------------------------
    def _keep_fact(self, text: str) -> None:
        """Keep ``text`` (on disk too) until the embedding model can store it: nothing typed is
        dropped, not even when Tera is closed before the model is ready."""
        saved = self._keep_waiting(lambda: self.pending_facts.add(text), "it")
        if saved and not self.embedding_ready:
            self.window.notify("Saved — it will be added to memory when the model is ready.")
        self.show_pending_facts()
        self._store_pending_facts()

    def _keep_waiting(self, add: Callable[[], None], what: str) -> bool:
        """Run ``add`` (it queues in memory, then writes the file); False, said in the status
        bar, when the file could not be written."""
        try:
            add()
        except OSError as exc:
            log.warning("cannot save what waits in %s: %s", self.pending_facts.path, exc)
            self.window.notify(
                f"Kept until the model is ready, but {what} could not be saved on disk: keep "
                "Tera open until then.",
                error=True,
            )
            return False
        return True

    def show_pending_facts(self) -> None:
        """Let the sidebar show the waiting facts and files."""
        self.memory.set_pending_facts(self.pending_facts.texts(), self.pending_facts.files())

    def _store_pending_facts(self) -> None:
        """Store the waiting facts, oldest first (the embedding model is ready)."""
        window = self.window
        if (
            self._storing_pending
            or not self.pending_facts
            or not self.embedding_ready
            or window.closing
        ):
            return
        texts = self.pending_facts.texts()
        self._storing_pending = True
        self._pending_failed = False

        def storing(cancel: threading.Event) -> Any:
            for text in texts:
                if cancel.is_set():
                    return
                yield text, window.engine.remember(text)

        window.run_worker(
            "remember-waiting",
            storing,
            yielded=self._on_pending_fact_stored,
            errored=self._on_pending_facts_failed,
            finished=self._on_pending_facts_done,
        )

    def _on_pending_fact_stored(self, item: Any) -> None:
        text, result = item
        self.pending_facts.remove_first(text)
        self._pending_stored += 1
        replaces = getattr(result, "replaces", None)
        if replaces is not None:
            self.memory.show_replaced(result.id, replaces.text)
        self.show_pending_facts()

    def _on_pending_facts_failed(self, exc: object) -> None:
        self._pending_failed = True
        if isinstance(exc, ModelMissingError):
            self.embedding_ready = False
            self.embedding_missing = True
            self.offer("embedding", str(exc))
            return
        self.window._on_worker_error(exc)

    def _on_pending_facts_done(self) -> None:
        self._storing_pending = False
        stored, self._pending_stored = self._pending_stored, 0
        if stored:
            what = "the fact" if stored == 1 else f"the {plural(stored, 'fact')}"
            self.window.notify(f"Remembered {what} you typed while the model was getting ready.")
            self.window.refresh_memories()
        if self.pending_facts and not self._pending_failed:  # typed while these were stored
            self._store_pending_facts()

    # ---- files added before the embedding model is ready -----------------------------------
    def keep_files(self, paths: list[str]) -> None:
        """Keep files and folders added before the embedding model is ready (their paths, on
        disk too): they are read once it is, even after a restart."""
        if self._keep_waiting(lambda: self.pending_facts.add_files(paths), "the list"):
            what = plural(len(paths), "file or folder", "files or folders")
            verb = "is" if len(paths) == 1 else "are"
            self.window.notify(f"Saved — the {what} {verb} read when the model is ready.")
        self.show_pending_facts()

    def _read_pending_files(self) -> None:
        """Hand the waiting files to the library (the embedding model is ready); they leave the
        queue once its ingestion has finished."""
        files = self.pending_facts.files()
        if not files or self._files_reading or not self.embedding_ready or self.window.closing:
            return
        self._files_reading = files
        library = self.window.library
        library.ingest_finished.connect(
            self._on_pending_files_read, Qt.ConnectionType.SingleShotConnection
        )
        library.add_paths(files)

    @Slot()
    def _on_pending_files_read(self) -> None:
        if self.window.closing:  # cut short by quitting: they are read again at the next start
            return
        read, self._files_reading = self._files_reading, []
        self.pending_facts.remove_files(read)
        self.show_pending_facts()
